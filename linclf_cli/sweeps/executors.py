"""Where a sweep's points train: ``local`` processes or a ``dask`` cluster.

Both take the scheduler's :class:`~linclf_cli.tasks.scheduler.JobPlan` list (the points still
to train) and return ``label -> error message`` for the points that failed; every point that
succeeded has been published at ``jp.out`` (atomically) and stamped with its ``job.json``.

Both are the task scheduler's ``run_jobs``: ``local`` with its process pool (``-j N``),
``dask`` with :class:`DaskPool` through its ``executor_factory`` hook (also what ``linclf
run``/``report --executor dask`` use), which submits one Dask task per point
(``client.submit(..., pure=False, retries=2)``); Dask itself retries a point whose worker dies.  A worker trains into its own temporary folder and
returns the run directory's files as bytes; only the client writes into the sweep folder, so
the workers need the package and the data, never a shared results folder.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Callable

from linclf_cli.errors import LinclfError, UsageError

EXECUTORS = ("local", "dask")
ENV_SCHEDULER = "LINCLF_DASK_SCHEDULER"
CONNECT_TIMEOUT_S = 5.0


class ClusterError(LinclfError):
    """The Dask scheduler cannot be reached, or Dask is not installed: exit 1."""


def check_executor(executor: str, scheduler: str | None) -> str | None:
    """Validate ``--executor``/``--scheduler`` (UsageError); the scheduler address or None."""
    if executor not in EXECUTORS:
        raise UsageError(f"Unknown --executor {executor!r}.", f"Choose one of: {', '.join(EXECUTORS)}.")
    address = scheduler or os.environ.get(ENV_SCHEDULER) or None
    if executor == "local":
        if scheduler:
            raise UsageError("--scheduler applies only to --executor dask.", "Add --executor dask, or drop --scheduler.")
        return None
    if not address:
        raise UsageError("--executor dask needs the scheduler's address.",
                         f"Pass --scheduler tcp://HOST:8786 or set {ENV_SCHEDULER}.")
    return address


def import_distributed():
    try:
        import distributed
    except ImportError:
        raise ClusterError("--executor dask needs Dask distributed, which is not installed.",
                           "Install it with `pip install 'linclf[distributed]'` (on the client and every worker).") from None
    return distributed


def connect(address: str, timeout: float = CONNECT_TIMEOUT_S):
    """A Dask client for ``address``; ClusterError within ``timeout`` seconds when unreachable."""
    distributed = import_distributed()
    import logging

    for name in ("distributed.client", "distributed.comm", "distributed.core"):
        logging.getLogger(name).setLevel(logging.CRITICAL)  # our own message says it once
    try:
        return distributed.Client(address, timeout=f"{timeout}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(f"Cannot reach the Dask scheduler at {address} within {timeout:g} s "
                           f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no answer'}).",
                           "Start one with `dask scheduler` and workers with `dask worker ADDRESS`, "
                           "or check the address and the firewall.") from None


def run_local(jobs: list, n_workers: int, data_dir: Path | None, argv, hook) -> dict[str, str]:
    from linclf_cli.tasks import scheduler

    return scheduler.run_jobs(jobs, n_workers, data_dir, argv, hook)


def train_point(kind: str, params: dict, data_dir: str | None, argv) -> dict:
    """On a worker: train one point into a worker-local temporary folder; its files as bytes,
    or the error a user can fix (not retried: another worker would fail the same way)."""
    from linclf_cli.assignments.registry import execute
    from linclf_cli.runs.context import RunContext

    from .allocator import usual_allocator

    tmp = Path(tempfile.mkdtemp(prefix="linclf-point-"))
    try:
        out = tmp / "run"
        ctx = RunContext(data_dir=Path(data_dir) if data_dir else None, argv=argv)
        try:
            with usual_allocator():  # not the nanny's MALLOC_TRIM_THRESHOLD_ (see allocator.py)
                execute(kind, params, out, ctx)
        except LinclfError as exc:
            return {"error": f"on worker {socket.gethostname()} (pid {os.getpid()}): {exc}"}
        return {"files": {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_dask(jobs: list, client, data_dir: Path | None, argv,
             hook: Callable | None = None) -> dict[str, str]:
    """The scheduler's run_jobs with a :class:`DaskPool`: every point trains on the cluster
    (as many at once as it has worker threads), each published here as it comes back."""
    from linclf_cli.tasks import scheduler

    return scheduler.run_jobs(jobs, max(2, cluster_threads(client)), data_dir, argv, hook,
                              executor_factory=dask_executor_factory(client))


# ----------------------------------------------------------------------------- the scheduler's pool hook


class DaskPool:
    """A ``concurrent.futures.Executor`` for the task scheduler's ``executor_factory`` hook
    (``linclf run``/``report --executor dask``): each ``submit(_run_job, id, kind, params, out,
    data_dir, argv, ...)`` trains the run on a Dask worker (:func:`train_point`) and, when its
    files come back, publishes them at ``out`` on this machine; the future's result is the
    run's metrics (its exception: the worker's message).  The scheduler's initializer (signal
    handlers, parent-death signal, shared splits) is for local worker processes and is not
    run on the Dask workers."""

    def __init__(self, client, max_workers: int) -> None:
        self.client = client
        self.max_workers = max_workers
        self._dask: list = []

    def submit(self, fn, job_id, kind, params, out, data_dir, argv, *rest, **kw):
        import concurrent.futures as cf

        from linclf_cli.runs import io

        result: cf.Future = cf.Future()
        result.set_running_or_notify_cancel()
        dfut = self.client.submit(train_point, kind, params, data_dir, argv, pure=False, retries=2,
                                  key=f"linclf-{Path(out).name}-{os.urandom(4).hex()}")
        self._dask.append(dfut)

        def arrived(df) -> None:  # on the client's thread: publish, then settle the future
            try:
                res = df.result()
                if "error" in res:
                    raise LinclfError(res["error"])
                _publish_files(Path(out), res["files"])
                result.set_result(io.read_json(Path(out) / "metrics.json"))
            except BaseException as exc:  # noqa: BLE001 - delivered to the scheduler's settle()
                if not result.done():
                    result.set_exception(exc if isinstance(exc, Exception) else LinclfError(str(exc)))

        dfut.add_done_callback(arrived)
        return result

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        if cancel_futures:
            for f in self._dask:
                f.cancel()


def _publish_files(out: Path, files: dict[str, bytes]) -> None:
    from linclf_cli.runs import io
    from linclf_cli.runs.rundir import PLAIN_NAME, RunDir

    with RunDir(out) as rd:
        for name, data in files.items():
            if not PLAIN_NAME.match(name) or name in ("job.json", "task.json"):
                raise LinclfError(f"A worker returned a file named {name!r}; refused.")
            io.atomic_write_bytes(rd.path / name, data)
        rd.commit()


def dask_executor_factory(client):
    """``executor_factory`` for ``scheduler.run_jobs``/``execute``: a :class:`DaskPool` (its
    size is the scheduler's -j; the cluster's workers decide how many train at once)."""
    def factory(max_workers, initializer, initargs):  # noqa: ARG001 - no local initializer
        return DaskPool(client, max_workers)

    factory.memory_budget = 1 << 62  # the runs' memory is the workers', not this machine's
    return factory


def cluster_threads(client) -> int:
    """How many points the cluster trains at once (its worker threads), at least 1."""
    try:
        return max(1, sum(client.nthreads().values()))
    except Exception:  # noqa: BLE001
        return 1


class Executor:
    """``--executor``/``--scheduler`` of ``linclf run``/``report``: a context manager giving
    the scheduler's ``executor_factory`` (None: local processes) and the number of parallel
    trainings (the cluster's worker threads for dask); the client is closed on exit."""

    def __init__(self, executor: str, scheduler: str | None, jobs: int) -> None:
        self.address = check_executor(executor, scheduler)
        self.kind, self.jobs = executor, jobs
        self.client = None

    def __enter__(self) -> "Executor":
        if self.kind == "dask":
            self.client = connect(self.address)
            self.jobs = max(2, cluster_threads(self.client))  # >= 2: the pool path, never in-process
        return self

    @property
    def factory(self):
        return dask_executor_factory(self.client) if self.client is not None else None

    def __exit__(self, *exc) -> None:
        if self.client is not None:
            self.client.close()
