"""Seed studies: one training task rerun over seeds derived from its own seed.

``linclf run 2e --seeds 20`` and a tasks.yaml entry ``command: seeds`` (e.g. ``2e-seeds``)
build the same study: the task's one run with its own seed (``course``: with ``rng: legacy``
the course's own stream) plus ``n`` runs whose seeds are drawn from
``numpy.random.SeedSequence(task seed)`` -- a pure function of the task seed and the index,
so the study does not depend on the worker count or the order the runs finish in.  Every run
is an ordinary job of the scheduler (cached by its content key, run in parallel with ``-j``);
the study's finalisation writes

    seeds.csv    one row per seed: the seed and every scalar metric of its run
    seeds.png    a histogram per headline metric, the course-stream value marked

Each run keeps its config, metrics, provenance and validation checks (weights, figures and
per-step losses are removed, as a grid's unselected points).
and its metrics: for every numeric metric the course-stream value, the median, the range, the
mean and standard deviation over the ``n`` derived seeds, and where the course value falls.

A tasks.yaml entry repeats the task's arguments through a YAML anchor::

    - id: "2e"
      args: &args-2e {model: binary, ...}
    - id: "2e-seeds"
      command: seeds
      args: {command: train, args: *args-2e, seeds: 20}
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from linclf_cli.errors import UsageError

from .typed import ConfigError

# handlers.py registers SeedsHandler, so this module imports it only inside functions

COURSE = "course"  # the job with the task's own seed
MAX_SEEDS = 1000
# the metrics drawn as histograms, by run kind (others are summarised, not drawn)
HEADLINE = {
    "tdt4265": ("stopped_epoch", "val_accuracy", "val_loss", "train_accuracy"),
    "aml-toy": ("toy_initial_loss", "toy_final_loss"),
    "dd2424": ("train_cost_epoch1", "test_accuracy", "val_accuracy"),
    "aml": ("val_accuracy", "test_accuracy"),
    "train": ("val_accuracy", "val_loss"),
}
STUDY_COMMANDS = ("train", "toy")  # commands whose task is one seeded run
# kept small enough to clone: each seed's run keeps its config, metrics, provenance and
# validation checks; its weights, figures, test probabilities and per-step losses are removed
PRUNED_SUFFIXES = (".png", ".npz")
PRUNED_FILES = ("history_steps.csv",)


def check_n(n: Any, what: str = "--seeds") -> int:
    """The number of seeds: an integer in 1..MAX_SEEDS (UsageError otherwise)."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or not 1 <= n <= MAX_SEEDS:
        raise UsageError(f"{what} must be a whole number of seeds between 1 and {MAX_SEEDS}, got {n!r}.",
                         "Use for example --seeds 20.")
    return int(n)


def derive_seeds(seed: int, n: int) -> tuple[int, ...]:
    """``n`` seeds from the task seed: child ``i`` of ``SeedSequence(seed)``, one 32-bit word
    each (valid for both ``default_rng`` and ``RandomState``)."""
    return tuple(int(c.generate_state(1, dtype=np.uint32)[0])
                 for c in np.random.SeedSequence(int(seed)).spawn(check_n(n)))


def seed_name(i: int, n: int) -> str:
    return f"seed-{i:0{max(2, len(str(n - 1)))}d}"


@dataclass(frozen=True)
class Study:
    command: str
    base: JobSpec          # the task's own run (its seed: the course stream)
    seeds: tuple[int, ...]
    metrics: tuple[str, ...] = ()  # histogram panels; () = HEADLINE of the run kind

    @property
    def names(self) -> list[str]:
        return [seed_name(i, len(self.seeds)) for i in range(len(self.seeds))]

    def jobs(self) -> list[JobSpec]:
        from .handlers import JobSpec

        b = self.base
        return [JobSpec(COURSE, b.kind, dict(b.params), b.dataset)] + [
            JobSpec(name, b.kind, {**b.params, "seed": s}, b.dataset) for name, s in zip(self.names, self.seeds)]


def base_job(command: str, args: Any, where: str) -> JobSpec:
    """The one seeded run of a task ``command: args`` (UsageError when it has none or several)."""
    from .handlers import HANDLERS

    if command not in STUDY_COMMANDS:
        raise UsageError(f"{where}: a seed study reruns a task that trains one run "
                         f"(command {' or '.join(STUDY_COMMANDS)}), not {command!r}.",
                         "Name a training task, e.g. `linclf run 2e --seeds 20`.")
    handler = HANDLERS[command]
    jobs = handler.jobs(handler.parse_args(args, where))
    if len(jobs) != 1 or "seed" not in jobs[0].params:
        raise UsageError(f"{where}: a seed study needs a task with exactly one seeded run.")
    return jobs[0]


def make_study(command: str, args: Any, n: Any, where: str, metrics=()) -> Study:
    n = check_n(n, f"{where}: seeds" if where else "--seeds")
    base = base_job(command, args, where)
    return Study(command, base, derive_seeds(base.params["seed"], n), tuple(metrics))


class SeedsHandler:
    """``seeds``: a seed study of one training task (see the module docstring); a
    :class:`~linclf_cli.tasks.handlers.Handler` by its methods."""

    command = "seeds"
    KEYS = ("command", "args", "seeds", "metrics")

    def parse_args(self, args, where):
        if not isinstance(args, dict):
            raise ConfigError(f"{where}: expected a mapping of options, got {args!r}.")
        for k in args:
            if k not in self.KEYS:
                from .typed import unknown_key_error

                raise unknown_key_error(str(k), self.KEYS, where)
        if "seeds" not in args or "args" not in args:
            raise ConfigError(f"{where}: a seed study needs 'args' (the task's arguments) and 'seeds' (how many).")
        metrics = args.get("metrics", [])
        if not isinstance(metrics, list) or not all(isinstance(m, str) and m for m in metrics):
            raise ConfigError(f"{where}.metrics: expected a list of metric names, got {metrics!r}.")
        from .handlers import located

        with located(where):
            return make_study(str(args.get("command", "train")), args["args"], args["seeds"],
                              f"{where}.args", metrics)

    def jobs(self, study):
        return study.jobs()

    def finalize(self, task_dir, study, job_metrics, deps=None):
        return summarize(Path(task_dir), study, job_metrics)


# --------------------------------------------------------------------------- summary


def _scalar(v) -> bool:
    return v is None or (isinstance(v, numbers.Real) and not isinstance(v, bool) and np.isfinite(v))


def _numeric(v) -> bool:
    return v is not None and _scalar(v)


def metric_summary(course, values: list) -> dict:
    """Course value, median, range, mean, std over the seeds' values (None: not reported)."""
    xs = np.array([v for v in values if v is not None], dtype=np.float64)
    out = {"course": course, "n": int(xs.size), "n_missing": len(values) - int(xs.size)}
    if xs.size == 0:
        return {**out, "median": None, "min": None, "max": None, "mean": None, "std": None,
                "course_within_range": None, "course_percentile": None}
    out.update(median=float(np.median(xs)), min=float(xs.min()), max=float(xs.max()),
               mean=float(xs.mean()), std=float(xs.std(ddof=1)) if xs.size > 1 else 0.0)
    if _numeric(course):
        out["course_within_range"] = bool(xs.min() <= course <= xs.max())
        # share of seeds below the course value (ties count half): 0.5 = in the middle
        out["course_percentile"] = float((np.sum(xs < course) + 0.5 * np.sum(xs == course)) / xs.size)
    else:
        out["course_within_range"] = out["course_percentile"] = None
    return out


def summarize(out_dir: Path, study: Study, job_metrics: dict[str, dict]) -> dict:
    """seeds.csv, seeds.png and the study's metrics from its finished runs."""
    from linclf_cli.runs import io

    course = job_metrics[COURSE]
    per = [job_metrics[n] for n in study.names]
    for name in [COURSE, *study.names]:  # files written by the study's own runs
        for f in sorted((out_dir / name).glob("*")):
            if (f.suffix in PRUNED_SUFFIXES or f.name in PRUNED_FILES) and f.is_file() and not f.is_symlink():
                f.unlink()
    keys = [k for k, v in course.items() if _scalar(v) and all(_scalar(m.get(k)) for m in per)
            and any(_numeric(m.get(k)) for m in [course, *per])]
    summary = {k: metric_summary(course.get(k), [m.get(k) for m in per]) for k in keys}
    cols: dict[str, list] = {"name": [COURSE, *study.names],
                             "seed": [study.base.params["seed"], *study.seeds]}
    for k in keys:
        cols[k] = ["" if m.get(k) is None else m[k] for m in [course, *per]]
    io.write_csv(out_dir / "seeds.csv", {k: np.array(v, dtype=object) for k, v in cols.items()})
    panels = [k for k in (study.metrics or HEADLINE.get(study.base.kind, ())) if k in summary
              and summary[k]["n"] > 0]
    files = ["seeds.csv"]
    if panels:
        histogram_figure(out_dir / "seeds.png", {k: ([m.get(k) for m in per], course.get(k)) for k in panels},
                         f"{len(per)} seeds derived from seed {study.base.params['seed']}")
        files.append("seeds.png")
    return {"kind": study.base.kind, "n_seeds": len(per), "task_seed": study.base.params["seed"],
            "rng": study.base.params.get("rng", "numpy"), "seeds": list(study.seeds),
            "metrics": summary, "panels": panels, "files": files}


def histogram_figure(path: Path, panels: dict[str, tuple[list, Any]], title: str) -> Path:
    """One histogram per metric over the seeds' values, the course-stream value as a line."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    from linclf_cli.plots.images import save_figure

    n = len(panels)
    cols = min(n, 2)  # two panels a row: four side by side made their text unreadably small in the report
    rows = -(-n // cols)
    fig = Figure(figsize=(4.6 * cols, 3.3 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    axes = axes[:n]
    for ax, (name, (values, course)) in zip(axes, panels.items()):
        xs = np.array([v for v in values if v is not None], dtype=np.float64)
        integer = bool(xs.size) and np.all(xs == np.round(xs)) and (course is None or float(course).is_integer())
        if integer:  # one bar per value (stop epochs)
            lo, hi = float(min(xs.min(), course if course is not None else xs.min())), float(
                max(xs.max(), course if course is not None else xs.max()))
            bins = np.arange(lo - 0.5, hi + 1.5, 1.0)
        else:
            bins = min(12, max(4, xs.size // 2))
        ax.hist(xs, bins=bins, color="tab:blue", alpha=0.75, label=f"{xs.size} seeds")
        if xs.size:
            ax.axvline(float(np.median(xs)), color="tab:gray", ls="--", label="median")
        if _numeric(course):
            ax.axvline(float(course), color="tab:red", lw=2, label="course stream")
        ax.set_xlabel(name.replace("_", " "))
        ax.set_ylabel("number of seeds")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=bool(integer)))  # labels that do not collide
    # one legend for all panels, below them: inside a panel it hid bars and lines
    handles: dict = {}
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, h)
    fig.suptitle(title, fontsize=10)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncols=len(handles),
                   fontsize=8, frameon=False)
    return save_figure(fig, path, palette=True)


def study_task(task, n: int, taken: set[str]):
    """A ``seeds`` task (not in any tasks file) studying ``task`` over ``n`` seeds, with id
    ``<id>-seeds`` (``<id>-seeds<n>`` when the tasks file already has that id)."""
    from .schema import Task, TaskSpec

    n = check_n(n)
    spec = task.spec
    make_study(spec.command, spec.args, n, task.ref)  # UsageError now for a task without one run
    tid = f"{spec.id}-seeds"
    if f"{task.assignment}/{tid}" in taken:
        tid = f"{spec.id}-seeds{n}"
    new = TaskSpec(id=tid, title=f"{spec.title}: spread over {n} seeds", command="seeds",
                   args={"command": spec.command, "args": spec.args, "seeds": n})
    return Task(task.assignment, new, (), ())


def seed_studies(tf, tasks: list, n: int) -> list:
    """The seed-study tasks for ``linclf run TASK... --seeds n``: the tasks file's own
    ``<id>-seeds`` task where it is this very study, else a new one (:func:`study_task`)."""
    n = check_n(n)
    taken = set(tf.by_ref())
    out = []
    for t in tasks:
        if t.spec.command not in STUDY_COMMANDS:
            raise UsageError(f"--seeds reruns training tasks; {t.ref} is a {t.spec.command!r} task.",
                             "Name training tasks only, e.g. `linclf run 2e 3b --seeds 20`.")
        out.append(matching_study(tf, t, n) or study_task(t, n, taken))
    return out


def matching_study(tf, task, n: int):
    """The tasks file's own ``<id>-seeds`` task when it studies ``task`` over ``n`` seeds."""
    t = tf.by_ref().get(f"{task.assignment}/{task.id}-seeds")
    if t is None or t.spec.command != "seeds":
        return None
    a = t.spec.args
    if a.get("seeds") == n and a.get("args") == task.spec.args and a.get("command", "train") == task.spec.command:
        return t
    return None


__all__ = ["SeedsHandler", "Study", "derive_seeds", "make_study", "summarize", "study_task",
           "matching_study", "seed_studies", "check_n"]
