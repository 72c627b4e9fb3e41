"""Plan, cache and run tasks.

Layout: ``<results>/<assignment>/<task>/`` is the task directory.  A task's runs (jobs) are
published there (a single run *is* the task directory; several runs get sub-directories),
each followed by ``job.json`` holding its content key.  After its jobs, the task is
finalised: figures, expectations and finally ``task.json`` with the task's key.

Keys are SHA-256 hashes of everything that can change a number: the resolved config, the
data files' checksums and the engine version (jobs); the task definition, its jobs' keys
and its dependencies' keys (tasks).  Anything whose key matches is skipped.  Because run
directories are published atomically and the key files are written last, an interrupted
run (even ``kill -9``) is simply redone next time.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import hashlib
import json
import multiprocessing as mp
import os
import shutil
import signal
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from linclf_cli.engine import ENGINE_VERSION
from linclf_cli.errors import DataError, LinclfError, OutputError, UsageError
from linclf_cli.runs import io, prepared
from linclf_cli.runs.context import RunContext
from linclf_cli.assignments.registry import (RUNS_FORMAT, SplitNeed, estimated_cost,
                                             estimated_memory, prepared_split)
from linclf_cli.assignments.registry import execute as execute_run
from linclf_cli.runs.rundir import inside

from . import expectations, fingerprint
from .handlers import HANDLERS, JobSpec
from .schema import Task, TaskFile

TASK_FORMAT = "3"  # bump when finalisation (figures, task metrics) changes


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class JobPlan:
    task_ref: str
    spec: JobSpec
    out: Path
    key: str
    components: dict
    status: str = "missing"  # done | stale | missing | unavailable
    reason: str = ""

    @property
    def label(self) -> str:
        return self.task_ref + (f" [{self.spec.name}]" if self.spec.name else "")


@dataclass
class TaskPlan:
    task: Task
    parsed: Any
    dir: Path
    jobs: list[JobPlan]
    key: str = ""
    status: str = "missing"  # up-to-date | stale | missing | unavailable | failed
    reason: str = ""
    result: dict | None = None  # task.json once available


@dataclass
class Outcome:
    plans: list[TaskPlan]
    ran_jobs: list[str] = field(default_factory=list)
    finalized: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def task_dir(results: Path, task: Task) -> Path:
    return inside(results, task.assignment, task.id)  # proven inside: no '..', no links out


def _read_json(path: Path) -> dict | None:
    try:
        return io.read_json(path)
    except (OSError, ValueError):
        return None


def _stale_reason(old: dict, new: dict) -> str:
    names = {"params": "config changed", "data": "data changed", "engine": "engine version changed",
             "kind": "run kind changed"}
    diffs = [names.get(k, f"{k} changed") for k in new if old.get(k) != new.get(k)]
    return ", ".join(diffs) or "key changed"


def plan_job(label: str, spec: JobSpec, out: Path, data_dir: Path | None,
             force: bool = False) -> JobPlan:
    """Key and status of one run published at ``out`` (done, stale and why, missing, or
    unavailable when its dataset cannot be found)."""
    try:
        data_fp = fingerprint.dataset(spec.dataset, data_dir)
    except DataError:
        data_fp = None
    comps = {"kind": spec.kind, "params": _hash(spec.params), "data": data_fp,
             "engine": ENGINE_VERSION, "format": RUNS_FORMAT}
    jp = JobPlan(label, spec, out, _hash(comps), comps)
    old = _read_json(out / "job.json")
    if data_fp is None:
        jp.status, jp.reason = "unavailable", f"{spec.dataset} data not found (see `linclf data where`)"
    elif force:
        jp.status, jp.reason = "stale", "--force"
    elif old is None:
        jp.status, jp.reason = "missing", "never run (or interrupted)"
    elif (bad := expectations.check_record(old, out / "job.json", "job")
          or expectations.check_record(_read_json(out / "metrics.json"), out / "metrics.json", "metrics")
          or io.npz_problem(out / "weights.npz")):
        jp.status, jp.reason = "stale", f"unreadable: {bad}"  # redone, never trusted
    elif old.get("key") == jp.key:
        jp.status = "done"
    else:
        jp.status, jp.reason = "stale", _stale_reason(old.get("components", {}), comps)
    return jp


def plan(tf: TaskFile, tasks: list[Task], results: Path, data_dir: Path | None,
         force: bool = False) -> list[TaskPlan]:
    """Status of ``tasks`` and their dependencies (dependencies first)."""
    plans: dict[str, TaskPlan] = {}
    for task in tf.closure(tasks):
        handler = HANDLERS[task.spec.command]
        parsed = handler.parse_args(task.spec.args, task.ref)
        tdir = task_dir(results, task)
        jobs = [plan_job(task.ref, spec, inside(tdir, spec.name) if spec.name else tdir, data_dir, force)
                for spec in handler.jobs(parsed)]
        unavailable = next((j.reason for j in jobs if j.status == "unavailable"), "")
        tp = TaskPlan(task, parsed, tdir, jobs)
        deps = [plans[u] for u in task.uses]
        tp.key = _hash({"spec": dataclasses.asdict(task.spec), "figures": [dataclasses.asdict(f) for f in task.figures],
                        "jobs": [j.key for j in jobs], "deps": [d.key for d in deps], "format": TASK_FORMAT})
        bad_dep = next((d for d in deps if d.status == "unavailable"), None)
        old = _read_json(tdir / "task.json")
        if unavailable:
            tp.status, tp.reason = "unavailable", unavailable
        elif bad_dep is not None:
            tp.status, tp.reason = "unavailable", f"needs {bad_dep.task.ref}: {bad_dep.reason}"
        elif any(j.status != "done" for j in jobs):
            j = next(j for j in jobs if j.status != "done")
            tp.status = "missing" if old is None else "stale"
            tp.reason = f"{j.label}: {j.reason}"
        elif old is None:
            tp.status, tp.reason = "missing", "not finalised (or interrupted)"
        elif bad := expectations.check_record(old, tdir / "task.json", "task"):
            tp.status, tp.reason = "stale", f"unreadable: {bad}"  # redone, never trusted
        elif old.get("key") != tp.key:
            changed = next((d.task.ref for d in deps if d.key != old.get("deps", {}).get(d.task.ref)), None)
            tp.status = "stale"
            tp.reason = f"dependency {changed} changed" if changed else "task definition changed"
        else:  # expectations evaluated again from the metrics: a stored `passed` is not trusted
            tp.status = "up-to-date"
            tp.result = expectations.reevaluate(task, old, {u: (plans[u].result or {}).get("metrics", {})
                                                            for u in task.uses})
        if force and tp.status == "up-to-date":
            tp.status, tp.reason = "stale", "--force"
        plans[task.ref] = tp
    return list(plans.values())


# --------------------------------------------------------------------------- execution

_progress_queue = None
_parent_pid: int | None = None


class ParentDied(BaseException):
    """Raised in a worker whose parent process has died: the run is abandoned (its temporary
    directory discarded), never published.  A BaseException, so nothing on the way catches it."""


def _die_with_parent(parent_pid: int | None) -> None:
    """Linux: have the kernel SIGKILL this worker when the process that forked it dies (an
    orphan of ``kill -9`` must not go on training and publish into a results directory that a
    new run may own).  Elsewhere the progress callback polls ``os.getppid()`` instead."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            PR_SET_PDEATHSIG = 1
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no prctl: polling only
            pass
    if parent_pid is not None and os.getppid() != parent_pid:  # died before prctl took effect
        os._exit(1)


def _check_parent() -> None:
    if _parent_pid is not None and os.getppid() != _parent_pid:
        raise ParentDied()


def _init_worker(queue, single_thread: bool, parent_pid: int | None = None,
                 shared_dir: str | None = None) -> None:
    global _progress_queue, _parent_pid
    _progress_queue = queue
    _parent_pid = parent_pid
    prepared.set_shared_dir(shared_dir)  # prepared splits: one read-only copy for all workers
    # Ctrl-C reaches the whole process group: the parent alone reacts (and terminates the
    # workers); SIGTERM from the parent kills a worker at once (its temporary directory is
    # removed by the parent).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
    _die_with_parent(parent_pid)
    if single_thread:
        try:
            from threadpoolctl import threadpool_limits

            threadpool_limits(1)
        except ImportError:  # pragma: no cover
            pass


def _run_job(job_id: int, kind: str, params: dict, out: str, data_dir: str | None,
             argv: list[str] | None, split_tag: str | None = None) -> dict:
    prepared.set_split_tag(split_tag)  # the split the scheduler planned for this job
    try:
        return _run_job_body(job_id, kind, params, out, data_dir, argv)
    finally:
        prepared.release()  # nothing held between jobs: the scheduler frees what is unneeded


def _run_job_body(job_id: int, kind: str, params: dict, out: str, data_dir: str | None,
                  argv: list[str] | None) -> dict:
    last = [-1.0]
    if _progress_queue is not None:
        _progress_queue.put((job_id, 0, 0, {}))  # started: no longer queued

    def progress(done: int, total: int, fields: dict | None = None) -> None:
        _check_parent()  # portable fallback of the parent-death signal
        if _progress_queue is not None and total:
            frac = done / total
            if frac - last[0] >= 0.01 or done == total:
                last[0] = frac
                _progress_queue.put((job_id, done, total, fields or {}))

    ctx = RunContext(data_dir=Path(data_dir) if data_dir else None, argv=argv, progress=progress)
    return execute_run(kind, params, Path(out), ctx)


def _terminate_pool(pool: cf.Executor, grace: float = 1.0) -> None:
    """Kill the pool's worker processes (SIGTERM, then SIGKILL after ``grace`` seconds) and
    drop its queued jobs.  ``shutdown(cancel_futures=True)`` alone waits for running jobs."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for p in procs:
        try:
            p.terminate()
        except (OSError, ValueError):  # already gone
            pass
    pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + grace
    for p in procs:
        try:
            p.join(max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join(1.0)
        except (OSError, ValueError, AssertionError):
            pass


def _discard_temporaries(out: Path) -> None:
    """Remove the temporary directories (``.NAME.tmp-*``, see runs.rundir) a killed worker
    left for the run at ``out``.  Only called once that worker is dead, under the results lock."""
    try:
        for tmp in out.parent.glob(f".{out.name}.tmp-*"):
            if tmp.is_dir() and not tmp.is_symlink():
                shutil.rmtree(tmp, ignore_errors=True)
    except OSError:
        pass


def _copy_run(src: Path, dst: Path) -> None:
    """Publish a copy of the run directory ``src`` at ``dst`` atomically (job.json excluded)."""
    import shutil

    from linclf_cli.runs.rundir import RunDir

    with RunDir(dst) as rd:
        for p in src.iterdir():
            if p.is_file() and p.name not in ("job.json", "task.json"):
                shutil.copy2(p, rd.path / p.name)
        rd.commit()


def _write_job_stamp(jp: JobPlan) -> None:
    io.write_json(jp.out / "job.json", {"key": jp.key, "components": jp.components,
                                        "kind": jp.spec.kind, "params": jp.spec.params})


ProgressHook = Callable[..., None]
# hook(event, label, done, total[, fields]): event is start (queued), progress (running; fields
# as RunContext.progress gives them), done, failed or finalized

ExecutorFactory = Callable[[int, Callable[..., None], tuple], cf.Executor]
# factory(max_workers, initializer, initargs) -> an Executor whose workers each ran
# initializer(*initargs) first; run_jobs submits _run_job to it, at most max_workers at a time.


def process_pool(max_workers: int, initializer: Callable[..., None], initargs: tuple) -> cf.Executor:
    """The default executor: worker processes of the default multiprocessing context."""
    return cf.ProcessPoolExecutor(max_workers=max_workers, mp_context=mp.get_context(),
                                  initializer=initializer, initargs=initargs)


# --------------------------------------------------------------------------- memory plan

BUDGET_ENV = "LINCLF_MEMORY_BUDGET"
DEFAULT_BUDGET = 1_500_000_000  # bytes: the whole report, parent + workers + shared splits
# measured (PSS less shared memory, benchmarks/bench_cifar_report.py): the scheduler process
# 22-38 MB; a worker 112-175 MB (interpreter, imports, its share of the CIFAR-10 map, what
# its allocator kept from earlier jobs)
PARENT_BYTES = 40 << 20
WORKER_BYTES = 150 << 20
_UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9,
          "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30}


def memory_budget(value: str | None = None) -> int:
    """Bytes the parallel scheduler may plan for (``$LINCLF_MEMORY_BUDGET``: a number of
    bytes, or with a unit: 1.5G, 1500MB, 2GiB; default 1.5 GB)."""
    raw = os.environ.get(BUDGET_ENV) if value is None else value
    if raw is None or not raw.strip():
        return DEFAULT_BUDGET
    text = raw.strip().lower().replace(" ", "")
    num = text.rstrip("kmgib")
    unit = text[len(num):]
    try:
        n = float(num) * _UNITS[unit]
    except (ValueError, KeyError):
        n = float("nan")
    if not n > 0 or n == float("inf"):
        raise UsageError(f"{BUDGET_ENV}={raw!r} is not a memory size.",
                         f"Give bytes or a size with a unit, e.g. {BUDGET_ENV}=1.5G or 1500MB.")
    return int(n)


class MemoryPlan:
    """Which job to start next so that the planned memory stays within ``budget``.

    Each job declares the prepared split it maps (``SplitNeed``: tag, size and what preparing
    it holds besides, counted for the job that prepares it; or None) and its own working set.  A split is *live* from the start of its first job until its last
    job (pending or running) ends; then :meth:`finish` returns its tag to free.  Planned
    memory = ``base`` (the processes) + live splits + running jobs' working sets.  A job
    starts only when it keeps that within the budget, preferring jobs whose split is live
    (then the given order: longest first); when nothing runs, the first pending job starts
    whatever its size (a split larger than the budget runs alone).  Only the order of runs
    depends on this, never a result.
    """

    def __init__(self, jobs: list, needs: dict[str, SplitNeed | None], sizes: dict[str, int],
                 budget: int, base: int = 0):
        self.pending = list(jobs)  # in preference order
        self.needs, self.sizes, self.budget, self.base = needs, sizes, budget, base
        self.users: dict[str, int] = {}
        for jp in self.pending:
            if (n := needs.get(jp.label)) is not None:
                self.users[n.tag] = self.users.get(n.tag, 0) + 1
        self.live: dict[str, int] = {}
        self.running: dict[str, Any] = {}
        self.extra: dict[str, int] = {}  # running jobs that prepare their split: its build_bytes
        self.peak = 0  # the largest planned memory while running

    def planned(self) -> int:
        return (self.base + sum(self.live.values())
                + sum(self.sizes.get(label, 0) + self.extra.get(label, 0) for label in self.running))

    def _cost(self, jp) -> int:
        """Planned memory added by starting ``jp``."""
        n = self.needs.get(jp.label)
        extra = self.sizes.get(jp.label, 0)
        return extra + (n.nbytes + n.build_bytes if n is not None and n.tag not in self.live else 0)

    def pick(self):
        """The next job to start (removed from pending), or None: wait for one to end."""
        if not self.pending:
            return None
        room = self.budget - self.planned()
        fits = [jp for jp in self.pending if self._cost(jp) <= room]
        on_live = [jp for jp in fits if (n := self.needs.get(jp.label)) is not None and n.tag in self.live]
        choice = (on_live or fits or [None])[0]
        if choice is None and not self.running:
            choice = self.pending[0]  # alone: nothing else holds memory now
        if choice is not None:
            self.pending.remove(choice)
            n = self.needs.get(choice.label)
            if n is not None and n.tag not in self.live:
                self.live[n.tag] = n.nbytes
                self.extra[choice.label] = n.build_bytes
            self.running[choice.label] = choice
            self.peak = max(self.peak, self.planned())
        return choice

    def finish(self, jp) -> list[str]:
        """``jp`` ended (done or failed): the tags of the splits no other job needs now."""
        self.running.pop(jp.label, None)
        self.extra.pop(jp.label, None)
        n = self.needs.get(jp.label)
        if n is None:
            return []
        self.users[n.tag] -= 1
        if self.users[n.tag] > 0:
            return []
        self.live.pop(n.tag, None)
        return [n.tag]


def plan_memory(jobs: list[JobPlan], n_workers: int, budget: int | None = None) -> MemoryPlan:
    """The memory plan of ``jobs`` run longest first by ``n_workers`` processes."""
    order = sorted(jobs, key=lambda jp: -estimated_cost(jp.spec.kind, jp.spec.params))
    needs = {jp.label: prepared_split(jp.spec.kind, jp.spec.params) for jp in order}
    sizes = {jp.label: estimated_memory(jp.spec.kind, jp.spec.params) for jp in order}
    return MemoryPlan(order, needs, sizes, memory_budget() if budget is None else budget,
                      base=PARENT_BYTES + n_workers * WORKER_BYTES)


def run_jobs(jobs: list[JobPlan], n_workers: int, data_dir: Path | None, argv: list[str] | None,
             hook: ProgressHook | None = None,
             executor_factory: ExecutorFactory | None = None) -> dict[str, str]:
    """Run ``jobs`` (in parallel when n_workers > 1, in the executor ``executor_factory``
    makes: default :func:`process_pool`); returns label -> error message."""
    errors: dict[str, str] = {}
    hook = hook or (lambda *a: None)

    def settle(jp: JobPlan, result: Callable[[], object]) -> None:
        """Wait for one job; stamp it done, or record why it failed (a bug in one run must
        not lose the others' results)."""
        try:
            result()
            _write_job_stamp(jp)
            hook("done", jp.label, 1, 1)
            return
        except LinclfError as exc:
            errors[jp.label] = str(exc)
        except BrokenProcessPool:
            errors[jp.label] = "the worker process died"
        except Exception as exc:  # noqa: BLE001
            errors[jp.label] = f"internal error: {type(exc).__name__}: {exc}"
        hook("failed", jp.label, 0, 0)

    if not jobs:
        return errors
    if executor_factory is None and (n_workers <= 1 or len(jobs) == 1):  # a factory: always its pool
        for jp in jobs:
            hook("start", jp.label, 0, 0)
            hook("progress", jp.label, 0, 0, {})  # running now
            ctx = RunContext(data_dir=data_dir, argv=argv,
                             progress=lambda done, total, fields=None, label=jp.label:
                             hook("progress", label, done, total, fields or {}))
            settle(jp, lambda jp=jp, ctx=ctx: execute_run(jp.spec.kind, jp.spec.params, jp.out, ctx))
        return errors

    memory_budget()  # a bad $LINCLF_MEMORY_BUDGET is a usage error before anything starts
    with prepared.shared_folder() as shared:  # removed when the run ends, also on Ctrl-C
        _run_pool(jobs, n_workers, data_dir, argv, hook, settle,
                  str(shared) if shared is not None else None,
                  executor_factory=executor_factory)
    return errors


def _run_pool(jobs: list[JobPlan], n_workers: int, data_dir: Path | None,
              argv: list[str] | None, hook: ProgressHook, settle: Callable,
              shared: str | None, executor_factory: ExecutorFactory | None = None) -> None:
    queue = mp.get_context().Queue()
    dd = str(data_dir) if data_dir else None
    workers = min(n_workers, len(jobs))
    pool = (executor_factory or process_pool)(workers, _init_worker,
                                              (queue, True, os.getpid(), shared))
    futures: dict = {}
    settled: set[str] = set()
    # Longest runs first, within the memory plan: the cores stay busy until the last run ends
    # and at most the budget's worth of prepared splits is live (order never changes a result).
    mplan = plan_memory(jobs, workers, getattr(executor_factory, "memory_budget", None))  # remote: its own
    order = list(mplan.pending)
    ids = {jp.label: i for i, jp in enumerate(order)}
    try:
        for jp in order:
            hook("start", jp.label, 0, 0)  # queued
        while mplan.pending or futures:
            while len(futures) < workers and (jp := mplan.pick()) is not None:
                need = mplan.needs.get(jp.label)
                try:
                    fut = pool.submit(_run_job, ids[jp.label], jp.spec.kind, jp.spec.params,
                                      str(jp.out), dd, argv, need.tag if need else None)
                except BrokenProcessPool as exc:  # a worker died: every later job fails the same
                    fut = cf.Future()
                    fut.set_exception(exc)
                futures[fut] = jp
            done, _ = cf.wait(set(futures), timeout=0.1, return_when=cf.FIRST_COMPLETED)
            while not queue.empty():
                try:
                    job_id, d, t, fields = queue.get_nowait()
                except Exception:  # noqa: BLE001 - queue raced empty
                    break
                hook("progress", order[job_id].label, d, t, fields)
            for fut in done:
                jp = futures.pop(fut)
                settle(jp, fut.result)
                settled.add(jp.label)
                for tag in mplan.finish(jp):  # no pending job needs it: out of /dev/shm now
                    prepared.free_split(shared, tag)
    except BaseException:
        # Ctrl-C, SIGTERM (Interrupted) or a bug here: stop the running jobs now instead of
        # waiting for them to finish, then remove what they had half-written
        _terminate_pool(pool)
        for jp in jobs:
            if jp.label not in settled:
                _discard_temporaries(jp.out)
        raise
    pool.shutdown(wait=True)


def finalize(tp: TaskPlan, plans: dict[str, TaskPlan]) -> dict:
    """Figures, own metrics, expectations, then task.json (written last)."""
    from .figures import draw_figure

    handler = HANDLERS[tp.task.spec.command]
    job_metrics = {}
    for jp in tp.jobs:
        m = _read_json(jp.out / "metrics.json")
        if m is None:
            raise OutputError(f"{jp.out}/metrics.json is missing or unreadable.", "Rerun with --force.")
        job_metrics[jp.spec.name] = m
    tp.dir.mkdir(parents=True, exist_ok=True)
    metrics = handler.finalize(tp.dir, tp.parsed, job_metrics, {ref: plans[ref].dir for ref in tp.task.uses})
    run_dirs = {ref: plans[ref].dir for ref in tp.task.uses}
    run_dirs[tp.task.ref] = tp.dir
    figures = [draw_figure(f, run_dirs, tp.dir / f.file) for f in tp.task.figures]
    missing = [o for o in tp.task.spec.outputs if not (tp.dir / o).exists()]
    if missing:
        raise OutputError(f"Task {tp.task.ref} did not produce {', '.join(missing)}.",
                          "Check the task's outputs list in tasks.yaml.")
    deps_metrics = {ref: (plans[ref].result or {}).get("metrics", {}) for ref in tp.task.uses}
    checks = expectations.evaluate(tp.task, metrics, deps_metrics)
    result = {
        "task": tp.task.ref,
        "title": tp.task.spec.title,
        "command": tp.task.spec.command,
        "key": tp.key,
        "deps": {ref: plans[ref].key for ref in tp.task.uses},
        "metrics": metrics,
        "figures": [str(p.relative_to(tp.dir)) for p in figures],
        "expectations": checks,
        "passed": all(c["passed"] for c in checks),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    io.write_json(tp.dir / "task.json", result)
    tp.result, tp.status, tp.reason = result, "up-to-date", ""
    return result


def execute(plans: list[TaskPlan], n_workers: int, data_dir: Path | None,
            argv: list[str] | None = None, hook: ProgressHook | None = None,
            executor_factory: ExecutorFactory | None = None) -> Outcome:
    """Run every stale job (in ``executor_factory``'s pool, see run_jobs), then finalise every
    stale task (dependencies first)."""
    outcome = Outcome(plans)
    todo = [jp for tp in plans if tp.status in ("missing", "stale") for jp in tp.jobs
            if jp.status in ("missing", "stale")]
    # identical runs (same key, e.g. 4b's lambda = 2 and 4c's) are trained once and copied
    first: dict[str, JobPlan] = {}
    copies: list[tuple[JobPlan, JobPlan]] = []
    for jp in todo:
        if jp.key in first:
            copies.append((jp, first[jp.key]))
        else:
            first[jp.key] = jp
    unique = list(first.values())
    outcome.errors.update(run_jobs(unique, n_workers, data_dir, argv, hook, executor_factory))
    for jp, src in copies:
        if src.label in outcome.errors:
            outcome.errors[jp.label] = outcome.errors[src.label]
            continue
        _copy_run(src.out, jp.out)
        _write_job_stamp(jp)
    outcome.ran_jobs = [jp.label for jp in unique if jp.label not in outcome.errors]
    by_ref = {tp.task.ref: tp for tp in plans}
    for tp in plans:
        if tp.status not in ("missing", "stale"):
            continue
        failed = [jp.label for jp in tp.jobs if jp.label in outcome.errors]
        failed_dep = next((u for u in tp.task.uses if by_ref[u].status == "failed"), None)
        if failed or failed_dep:
            tp.status = "failed"
            tp.reason = (f"run failed: {outcome.errors[failed[0]]}" if failed
                         else f"dependency {failed_dep} failed")
            outcome.errors.setdefault(tp.task.ref, tp.reason)
            continue
        try:
            finalize(tp, by_ref)
            outcome.finalized.append(tp.task.ref)
            if hook:
                hook("finalized", tp.task.ref, 1, 1)
        except LinclfError as exc:
            tp.status, tp.reason = "failed", str(exc)
            outcome.errors[tp.task.ref] = str(exc)
    return outcome


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)
