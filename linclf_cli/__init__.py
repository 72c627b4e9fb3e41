"""linclf: reproduce the classic 'neural networks from scratch' assignments end to end."""

__version__ = "0.1.0"
