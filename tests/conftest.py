"""Shared fixtures.

Real-data tests read the datasets through ``LINCLF_DATA_DIR``.  Unset: they skip with a
reason.  Set (as ``.ci/run`` does) but unreadable: they FAIL, so CI can never pass by
silently skipping them.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest
from threadpoolctl import threadpool_limits

matplotlib.use("Agg")

# One BLAS thread, as every linclf run uses: results are bit-for-bit reproducible and the
# small per-step GEMMs are fastest single-threaded.
_blas_limit = threadpool_limits(1)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = os.environ.get("LINCLF_DATA_DIR")
    if not d:
        pytest.skip("LINCLF_DATA_DIR not set: real-MNIST tests skipped")
    from linclf_cli.data.mnist import load_mnist
    from linclf_cli.errors import DataError

    try:
        load_mnist(Path(d))
    except DataError as exc:
        pytest.fail(f"LINCLF_DATA_DIR={d} is set but MNIST cannot be read there: {exc}")
    return Path(d)
