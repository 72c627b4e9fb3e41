"""The parallel scheduler's memory plan (tasks/scheduler.py: MemoryPlan, run_jobs' executor
factory) and the tagged shared splits it frees (runs/prepared.py), with fake jobs: no training."""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from linclf_cli.assignments.registry import SplitNeed, prepared_split
from linclf_cli.errors import UsageError
from linclf_cli.runs import prepared
from linclf_cli.tasks import scheduler
from linclf_cli.tasks.handlers import JobSpec

MB = 1 << 20


@dataclass
class Fake:
    label: str


def _plan(jobs: list[tuple[str, str | None, int]], budget: int, base: int = 0,
          size: int = 10 * MB) -> scheduler.MemoryPlan:
    """jobs: (label, split tag or None, split MB), in preference order."""
    fakes = [Fake(label) for label, _, _ in jobs]
    needs = {label: (SplitNeed(tag, mb * MB) if tag else None) for label, tag, mb in jobs}
    return scheduler.MemoryPlan(fakes, needs, {label: size for label, _, _ in jobs}, budget, base)


def _simulate(plan: scheduler.MemoryPlan, workers: int = 2) -> tuple[list, int]:
    """Run the plan with ``workers`` slots, the oldest running job ending first; returns the
    live-split sets seen after every start and the largest number of live splits."""
    running: list = []
    seen, most = [], 0
    while plan.pending or running:
        while len(running) < workers and (jp := plan.pick()) is not None:
            running.append(jp)
            assert plan.planned() <= plan.budget or len(running) == 1
            seen.append(set(plan.live))
            most = max(most, len(plan.live))
        assert running, "the plan stalled with jobs pending and nothing running"
        plan.finish(running.pop(0))
    assert not plan.live and not plan.running
    return seen, most


def _two_splits() -> list:
    return ([(f"a{i}", "A", 700) for i in range(4)] + [(f"b{i}", "B", 700) for i in range(4)]
            + [(f"t{i}", None, 0) for i in range(3)])


def test_the_budget_keeps_one_large_split_live_at_a_time():
    _, most = _simulate(_plan(_two_splits(), budget=1500 * MB, base=300 * MB))
    assert most == 1


def test_without_the_budget_both_splits_would_be_live():
    # the same jobs and order with room for everything: the policy, not the order, kept them apart
    _, most = _simulate(_plan([(f"a{i}", "A", 700) for i in range(1)] + [("b0", "B", 700)]
                              + [(f"a{i}", "A", 700) for i in range(1, 4)], budget=10 << 30))
    assert most == 2
    _, most = _simulate(_plan([(f"a{i}", "A", 700) for i in range(1)] + [("b0", "B", 700)]
                              + [(f"a{i}", "A", 700) for i in range(1, 4)], budget=1500 * MB,
                              base=300 * MB))
    assert most == 1


def test_jobs_on_a_live_split_come_first():
    plan = _plan([("a0", "A", 700), ("b0", "B", 700), ("a1", "A", 700)], budget=10 << 30)
    assert plan.pick().label == "a0"
    assert plan.pick().label == "a1"  # A is live: before the longer b0
    assert plan.pick().label == "b0"


def test_split_less_jobs_fill_a_core_the_budget_keeps_from_a_new_split():
    plan = _plan([("a0", "A", 700), ("b0", "B", 700), ("t0", None, 0)], budget=1500 * MB,
                 base=300 * MB)
    assert plan.pick().label == "a0"
    assert plan.pick().label == "t0"  # b0 does not fit beside A
    assert plan.pick() is None
    assert plan.finish(Fake("t0")) == [] and plan.pick() is None  # still blocked by a0
    assert plan.finish(Fake("a0")) == ["A"]  # A's last job: free it now
    assert plan.pick().label == "b0"


def test_a_split_is_freed_when_its_last_job_ends_not_before():
    plan = _plan([("a0", "A", 100), ("a1", "A", 100), ("a2", "A", 100)], budget=10 << 30)
    a0, a1 = plan.pick(), plan.pick()
    assert plan.finish(a0) == []  # a2 is pending
    a2 = plan.pick()
    assert plan.finish(a2) == [] and plan.finish(a1) == ["A"]
    assert plan.live == {}


def test_a_split_larger_than_the_budget_runs_alone():
    plan = _plan([("big0", "X", 2000), ("big1", "X", 2000), ("t0", None, 0)], budget=1500 * MB)
    assert plan.pick().label == "t0"  # what fits goes first
    assert plan.pick() is None  # big0 never beside another job
    plan.finish(Fake("t0"))
    assert plan.pick().label == "big0"  # nothing runs: it starts whatever its size
    assert plan.planned() > plan.budget
    assert plan.pick() is None  # the budget is passed: nothing else starts beside it
    assert plan.finish(Fake("big0")) == []
    assert plan.pick().label == "big1"
    _, most = _simulate(_plan([("big0", "X", 2000), ("t0", None, 0)], budget=1500 * MB))
    assert most == 1


def test_memory_budget_from_the_environment(monkeypatch):
    monkeypatch.delenv(scheduler.BUDGET_ENV, raising=False)
    assert scheduler.memory_budget() == 1_500_000_000
    for text, want in [("2G", 2_000_000_000), ("1500MB", 1_500_000_000), ("1GiB", 1 << 30),
                       ("123456", 123456), (" 0.5 g ", 500_000_000)]:
        monkeypatch.setenv(scheduler.BUDGET_ENV, text)
        assert scheduler.memory_budget() == want
    for bad in ["lots", "-1G", "0", "1.5T", "inf"]:
        monkeypatch.setenv(scheduler.BUDGET_ENV, bad)
        with pytest.raises(UsageError, match=scheduler.BUDGET_ENV):
            scheduler.memory_budget()


def test_prepared_split_names_what_keys_the_split():
    a = prepared_split("dd2424", {"split": "bonus", "n_val": 1000, "flip": True})
    b = prepared_split("dd2424", {"split": "bonus", "n_val": 1000, "eta": 0.01})
    c = prepared_split("dd2424", {"split": "a1"})
    assert a == b and a.nbytes == 60000 * 3072 * 4 and c.nbytes == 30000 * 3072 * 4
    assert a.build_bytes > 50000 * 3072 > c.build_bytes  # bonus concatenates the five batches
    q3 = prepared_split("aml", {"optimizer": "sgd", "preprocess": "mean_image"})
    q4 = prepared_split("aml", {"optimizer": "adam", "preprocess": "normalize"})
    assert q3.tag != q4.tag and q3.nbytes == q4.nbytes == 60000 * 3072 * 4
    assert prepared_split("tdt4265", {}) is None and prepared_split("aml", {"hidden": "x"}) is None


# --------------------------------------------------------------------------- run_jobs


def _jobs(tmp_path: Path, spec: list[tuple[str, str | None, int]]) -> list[scheduler.JobPlan]:
    return [scheduler.JobPlan(label, JobSpec(label, "fake", {"split": tag, "mb": mb, "cost": -i}, None),
                              tmp_path / label, "k" * 64, {})
            for i, (label, tag, mb) in enumerate(spec)]


def test_run_jobs_keeps_to_the_budget_in_any_executor(tmp_path, monkeypatch):
    """Fake jobs in a thread pool (a pluggable executor): the splits live at once never
    pass the budget, each split is freed once, when its last job has ended."""
    monkeypatch.setattr(scheduler, "prepared_split",
                        lambda kind, p: SplitNeed(p["split"], p["mb"] * MB) if p["split"] else None)
    monkeypatch.setattr(scheduler, "estimated_memory", lambda kind, p: 10 * MB)
    monkeypatch.setattr(scheduler, "estimated_cost", lambda kind, p: p["cost"])
    monkeypatch.setattr(scheduler, "PARENT_BYTES", 50 * MB)
    monkeypatch.setattr(scheduler, "WORKER_BYTES", 100 * MB)
    monkeypatch.setenv(scheduler.BUDGET_ENV, "1500MiB")
    lock = threading.Lock()
    using: dict[str, int] = {}
    log: list = []
    freed: list = []

    def fake_run_job(job_id, kind, params, out, dd, argv, tag=None):
        assert tag == params["split"]
        with lock:
            assert tag is None or tag not in freed, f"{tag} used after it was freed"
            if tag:
                using[tag] = using.get(tag, 0) + 1
            log.append(sorted(t for t, n in using.items() if n))
        time.sleep(0.02)
        with lock:
            if tag:
                using[tag] -= 1
        return {}

    def fake_free(folder, tag):
        with lock:
            assert not using.get(tag), f"{tag} freed while a job maps it"
            freed.append(tag)

    monkeypatch.setattr(scheduler, "_run_job", fake_run_job)
    monkeypatch.setattr(prepared, "free_split", fake_free)
    monkeypatch.setattr(scheduler, "_write_job_stamp", lambda jp: None)
    made = []

    def threads(max_workers, initializer, initargs):
        made.append(max_workers)
        return cf.ThreadPoolExecutor(max_workers)  # no signal handling in threads

    spec = ([("b0", "B", 700), ("a0", "A", 700), ("a1", "A", 700), ("c0", "C", 300)]
            + [(f"t{i}", None, 0) for i in range(4)])
    errors = scheduler.run_jobs(_jobs(tmp_path, spec), 2, None, None, executor_factory=threads)
    assert errors == {} and made == [2]
    assert all(sum({"A": 700, "B": 700, "C": 300}[t] for t in x) * MB + 150 * MB <= 1500 * MB
               for x in log)
    assert not any({"A", "B"} <= set(x) for x in log)  # the two large splits never together
    assert sorted(freed) == ["A", "B", "C"]

    # the same jobs with room for everything: A and B do run side by side (the test can fail)
    log.clear(), freed.clear()
    monkeypatch.setenv(scheduler.BUDGET_ENV, "100G")
    scheduler.run_jobs(_jobs(tmp_path, spec), 2, None, None, executor_factory=threads)
    assert any({"A", "B"} <= set(x) for x in log)


def test_a_failed_job_still_frees_its_split(tmp_path, monkeypatch):
    monkeypatch.setattr(scheduler, "prepared_split",
                        lambda kind, p: SplitNeed(p["split"], p["mb"] * MB) if p["split"] else None)
    monkeypatch.setattr(scheduler, "estimated_cost", lambda kind, p: p["cost"])
    freed = []
    monkeypatch.setattr(prepared, "free_split", lambda folder, tag: freed.append(tag))

    def fake_run_job(job_id, kind, params, out, dd, argv, tag=None):
        raise RuntimeError("boom")

    monkeypatch.setattr(scheduler, "_run_job", fake_run_job)
    errors = scheduler.run_jobs(_jobs(tmp_path, [("a0", "A", 100), ("a1", "A", 100)]), 2, None, None,
                                executor_factory=lambda n, init, args: cf.ThreadPoolExecutor(n))
    assert set(errors) == {"a0 [a0]", "a1 [a1]"} and freed == ["A"]


# --------------------------------------------------------------------------- prepared


def _build():
    return {"X": np.arange(12, dtype=np.float32).reshape(3, 4), "y": np.arange(3)}


DATA = prepared.data_key({"a.bin": "11" * 32})


@pytest.fixture
def folder(tmp_path):
    with prepared.shared_folder(tmp_path) as f:
        prepared.set_shared_dir(f)
        try:
            yield f
        finally:
            prepared.set_shared_dir(None)
            prepared.set_split_tag(None)
            prepared.clear()


def _splits(f: Path) -> list[Path]:
    return [p for p in f.iterdir() if p.is_dir() and not p.name.startswith(".")]


def test_a_tagged_split_outlives_its_job_until_the_scheduler_frees_it(folder):
    prepared.set_split_tag("dd2424:bonus")
    prepared.shared_arrays("t", DATA, (1,), _build)
    prepared.release()  # the job ends: unmapped, but the next job of the tag finds it
    assert prepared._HELD == [] and prepared._SLOT == {} and len(_splits(folder)) == 1
    assert prepared.free_split(folder, "aml:other") is False and len(_splits(folder)) == 1
    assert prepared.free_split(folder, "dd2424:bonus") is True and _splits(folder) == []


def test_an_untagged_split_goes_with_its_job(folder):
    prepared.shared_arrays("t", DATA, (2,), _build)
    prepared.release()
    assert _splits(folder) == []


def test_publishing_never_holds_a_large_split_twice(tmp_path, monkeypatch):
    """The private pages of a consumable array are given back as they are copied."""
    monkeypatch.setattr(prepared, "CHUNK", 1 << 20)
    X = np.random.default_rng(0).standard_normal((2000, 3072)).astype(np.float32)  # 24 MB
    want = X.copy()
    kept = want.copy()
    arrays = {"X": X, "kept": kept}
    del X
    eaten: list = []
    prepared._publish_split(tmp_path / "s", arrays, consume=True, eaten=eaten)
    got = prepared._open_split(tmp_path / "s")
    assert np.array_equal(got["X"], want) and np.array_equal(got["kept"], want)
    assert np.array_equal(kept, want)  # referenced elsewhere: never emptied
    if prepared._madvise_free() is not None:
        assert eaten == ["X"]
        assert not np.any(arrays["X"].ravel()[1024:-1024])  # given back: zero pages (but the ends)


def test_a_broken_pool_fails_the_remaining_jobs_without_a_crash(tmp_path, monkeypatch):
    """A worker that dies breaks the pool: the jobs submitted later fail with the same
    message as the running ones (the run goes on to report them), their splits freed."""
    from concurrent.futures.process import BrokenProcessPool

    monkeypatch.setattr(scheduler, "prepared_split",
                        lambda kind, p: SplitNeed(p["split"], p["mb"] * MB) if p["split"] else None)
    monkeypatch.setattr(scheduler, "estimated_cost", lambda kind, p: p["cost"])
    freed = []
    monkeypatch.setattr(prepared, "free_split", lambda folder, tag: freed.append(tag))

    class Broken(cf.Executor):
        calls = 0

        def submit(self, fn, *args, **kw):
            Broken.calls += 1
            if Broken.calls > 1:
                raise BrokenProcessPool("A child process terminated abruptly")
            f = cf.Future()
            f.set_exception(BrokenProcessPool("A child process terminated abruptly"))
            return f

    errors = scheduler.run_jobs(_jobs(tmp_path, [("a0", "A", 100), ("a1", "A", 100), ("t0", None, 0)]),
                                2, None, None, executor_factory=lambda n, init, args: Broken())
    assert errors == {label: "the worker process died" for label in ("a0 [a0]", "a1 [a1]", "t0 [t0]")}
    assert freed == ["A"] and Broken.calls == 3
