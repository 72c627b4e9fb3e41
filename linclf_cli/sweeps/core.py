"""Plan a sweep folder, train what is missing, summarise.

Layout of ``--out DIR``: ``sweep.csv``, ``sweep.json`` and ``spec.yaml`` at the top, the
figures beside them, one run directory per point below (``p-<hash of its config>/``, as
``linclf train`` writes it, plus the scheduler's ``job.json`` content key, written last).
A point whose key matches is skipped, so a rerun after a crash or ``kill -9`` trains only
what was not published, and a widened grid only its new points.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from linclf_cli.errors import DataError

from .spec import Point, SweepSpec


@dataclass
class Planned:
    point: Point
    job: object  # scheduler.JobPlan


@dataclass
class SweepOutcome:
    planned: list[Planned]
    trained: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # point name -> message
    summary: dict | None = None


def plan_points(points: list[Point], out: Path, data_dir: Path | None, force: bool = False,
                remote_data: bool = False) -> list[Planned]:
    """A JobPlan per point at ``out/<point name>`` (the task scheduler's keys and checks).

    ``remote_data``: the data lives on the workers (``--executor dask``); when the client
    has no copy, the data component of the key says so instead of making the point
    unavailable."""
    from linclf_cli.assignments.registry import KINDS
    from linclf_cli.assignments.train import TrainConfig
    from linclf_cli.runs.rundir import inside
    from linclf_cli.tasks import scheduler
    from linclf_cli.tasks.handlers import JobSpec

    out_plans = []
    for p in points:
        cfg = TrainConfig(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in p.config.items()})
        spec = JobSpec(p.name, "train", p.config, KINDS["train"].dataset(cfg))
        jp = scheduler.plan_job(_label(p), spec, inside(out, p.name), data_dir, force)
        if jp.status == "unavailable" and remote_data:
            comps = dict(jp.components, data="on-workers")
            jp = dataclasses.replace(jp, key=scheduler._hash(comps), components=comps)
            old = scheduler._read_json(jp.out / "job.json")
            jp.status, jp.reason = ("done", "") if (old and old.get("key") == jp.key and not force) else ("missing", "")
        out_plans.append(Planned(p, jp))
    return out_plans


def _label(p: Point) -> str:
    """``learning_rate=0.01 l2=0`` (the progress line's name; the point's folder follows)."""
    from .results import value_text

    return " ".join(f"{k}={value_text(v)}" for k, v in p.values.items()) or "sweep"


def run_sweep(spec: SweepSpec, out: Path, *, executor: str = "local", jobs: int = 1,
              client=None, data_dir: Path | None = None, force: bool = False, argv=None,
              hook_factory: Callable[[int], Callable] | None = None) -> SweepOutcome:
    """Plan, train what is missing (under the folder's lock), write sweep.csv/json + figures."""
    from linclf_cli.tasks.lock import results_lock

    from . import executors, results

    points = spec.points()
    planned = plan_points(points, out, data_dir, force, remote_data=executor == "dask")
    missing = [p for p in planned if p.job.status == "unavailable"]
    if missing:
        raise DataError(f"Sweep point {missing[0].point.name}: {missing[0].job.reason}.",
                        "Fetch it with `linclf data fetch`, or pass --data-dir.")
    todo = [p.job for p in planned if p.job.status != "done"]
    hook = hook_factory(len(todo)) if hook_factory else None
    outcome = SweepOutcome(planned, reused=[p.point.name for p in planned if p.job.status == "done"])
    with results_lock(out, wait=False):
        if executor == "dask":
            errors = executors.run_dask(todo, client, data_dir, argv, hook)
        else:
            errors = executors.run_local(todo, jobs, data_dir, argv, hook)
        outcome.errors = {jp.spec.name: errors[jp.label] for jp in todo if jp.label in errors}
        outcome.trained = [jp.spec.name for jp in todo if jp.label not in errors]
        if hook is not None and hasattr(hook, "finish"):
            hook.finish()
        outcome.summary = results.summarize(out, spec, planned, outcome.errors)
    return outcome
