"""The pure-NumPy engine: models, losses, gradients, trainers.  No I/O, plotting or printing.

``ENGINE_VERSION`` is part of every cached result's key: bump it whenever a change can alter
any number a run produces.
"""

ENGINE_VERSION = "2"
