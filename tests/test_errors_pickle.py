"""linclf's exceptions survive the trip from a worker process to the parent (pickle): an
exception that cannot be unpickled breaks the whole process pool, and every later job then
fails with "the worker process died" instead of its own message (a diverging sweep point did)."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import pickle

import pytest

from linclf_cli.errors import (DataError, Interrupted, LinclfError, OutputError, TrainingDiverged,
                               UsageError)
from linclf_cli.typed import ConfigError

CASES = [
    LinclfError("m", "h"), UsageError("bad option", "use --x"), DataError("no data"),
    OutputError("cannot write"), ConfigError("bad key", "did you mean"),
    TrainingDiverged(237, 213.4, 0.004, 2.303), TrainingDiverged(3, float("nan"), None),
    Interrupted(15),
]


@pytest.mark.parametrize("exc", CASES, ids=lambda e: type(e).__name__)
def test_round_trip_keeps_type_message_and_fields(exc):
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is type(exc)
    assert str(back) == str(exc)
    for attr in ("hint", "step", "learning_rate", "suggested_learning_rate", "signum"):
        if hasattr(exc, attr):
            assert repr(getattr(back, attr)) == repr(getattr(exc, attr)), attr


def _diverge(_):
    raise TrainingDiverged(237, 213.4, 0.004, 2.303)


def _ok(x):
    return x * 2


def test_a_diverging_job_in_a_process_pool_reports_itself_and_the_pool_lives_on():
    with cf.ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        bad = pool.submit(_diverge, 0)
        with pytest.raises(TrainingDiverged, match="loss reached 213.4 at step 237"):
            bad.result(timeout=60)
        assert pool.submit(_ok, 21).result(timeout=60) == 42  # not a BrokenProcessPool
