"""Hyperparameter sweeps over any option of ``linclf train`` (the orthogonal ``TrainConfig``).

* :mod:`.spec` parses and validates a sweep: ``--grid name=v1,v2``, random search
  (``--random N --space name=log:lo:hi|lin:lo:hi|a,b,c``) or a YAML spec file, and expands it
  into points.  A point's identity is the content hash of its resolved train config; its seed
  derives from the sweep seed and the point's swept values (never from order or worker count).
* :mod:`.executors` runs points: ``local`` (the task scheduler's process pool) or ``dask``
  (Dask distributed: workers train into a worker-local temporary folder and send the files
  back; the client publishes each run directory atomically).
* :mod:`.core` plans a sweep folder (finished points are skipped: resumable after a crash or
  ``kill -9``; a widened grid trains only its new points), runs it and summarises it.
* :mod:`.results` writes ``sweep.csv``/``sweep.json`` and selects the best point;
  :mod:`.figures` draws the metric against each parameter, a heatmap and the top-5 curves.
"""
