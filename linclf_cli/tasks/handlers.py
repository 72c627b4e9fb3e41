"""What each ``command:`` of tasks.yaml means: its args, the runs it needs, its own metrics."""

from __future__ import annotations

import contextlib
import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from linclf_cli.errors import UsageError
from linclf_cli.assignments.tdt4265 import sweep
from linclf_cli.assignments.registry import KINDS, train_kind
from linclf_cli.assignments.tdt4265.recipe import TdtConfig

from .typed import ConfigError, build


@dataclass(frozen=True)
class JobSpec:
    """One training/check run.  ``name`` "" means the task directory itself."""

    name: str
    kind: str
    params: dict
    dataset: str | None


@contextlib.contextmanager
def located(where: str) -> Iterator[None]:
    """Turn a UsageError raised while validating a task's args into a ConfigError that names
    the file and key path (ConfigErrors already do and pass through)."""
    try:
        yield
    except ConfigError:
        raise
    except UsageError as exc:
        raise ConfigError(f"{where}: {exc.message}", exc.hint) from None


class Handler:
    command = ""

    def parse_args(self, args: dict, where: str) -> Any:
        raise NotImplementedError

    def jobs(self, parsed: Any) -> list[JobSpec]:
        return []

    def finalize(self, task_dir: Path, parsed: Any, job_metrics: dict[str, dict],
                 deps: dict[str, Path] | None = None) -> dict:
        """The task's own metrics.  ``deps`` maps each used task's ref to its directory."""
        return dict(job_metrics.get("", {}))


class TrainHandler(Handler):
    """``train``: one run of ``linclf train`` with these options."""

    command = "train"

    def parse_args(self, args, where):
        args = dict(args or {})
        if "model" not in args:
            raise ConfigError(f"{where}: missing required key 'model'.")
        with located(where):
            kind, fixed = train_kind(args.pop("model"))
            cfg = build(KINDS[kind].config, {**args, **fixed}, where).resolved()
        return kind, cfg

    def jobs(self, parsed):
        kind, cfg = parsed
        return [JobSpec("", kind, cfg.to_dict(), KINDS[kind].dataset(cfg))]


class GradcheckHandler(Handler):
    """``gradcheck``: the TDT4265 gradient-approximation test for these models and L2 values."""

    command = "gradcheck"

    def parse_args(self, args, where):
        with located(where):
            return build(KINDS["gradcheck-tdt"].config, args, where).resolved()

    def jobs(self, cfg):
        return [JobSpec("", "gradcheck-tdt", cfg.to_dict(), cfg.dataset)]


class SweepLambdaHandler(Handler):
    """``sweep-lambda``: one softmax run per L2 coefficient (``l2: [values]``, the text's
    lambda; ``lambdas`` is accepted as the old spelling), plus the 4c and 4e figures (a preset
    of the sweep code: a one-axis grid over ``l2``, every point with the task's seed)."""

    command = "sweep-lambda"

    def parse_args(self, args, where):
        args = dict(args or {})
        if "l2" in args and "lambdas" in args:
            raise ConfigError(f"{where}: 'lambdas' and 'l2' name the same option; give one of them.")
        key = "lambdas" if "lambdas" in args else "l2"
        lambdas = args.pop(key, list(sweep.DEFAULT_LAMBDAS))
        if not isinstance(lambdas, list):
            raise ConfigError(f"{where}.{key}: expected a list of numbers, got {lambdas!r}.")
        with located(where):
            base = build(TdtConfig, {"model": "softmax", **args}, where).resolved()
            return sweep.point_configs(base, lambdas), tuple(float(v) for v in lambdas)

    def jobs(self, parsed):
        points, _ = parsed
        return [JobSpec(name, "tdt4265", cfg.to_dict(), "mnist") for name, cfg in points.items()]

    def finalize(self, task_dir, parsed, job_metrics, deps=None):
        points, lambdas = parsed
        return sweep.summarize(task_dir, lambdas, {n: task_dir / n for n in points}, job_metrics)


class DiscussHandler(Handler):
    """``discuss``: a discussion task; it runs nothing and reads the tasks it uses."""

    command = "discuss"

    def parse_args(self, args, where):
        if args:
            raise ConfigError(f"{where}: 'discuss' takes no args, got {args!r}.")
        return None


# --------------------------------------------------------------------------- grid, depth, histograms, toy

GRID_KINDS = ("dd2424", "aml")  # run kinds that report val/test accuracies
SELECTABLE = ("val_accuracy", "best_val_accuracy")  # never a test metric: no test-set leakage
POINT_METRICS = ("train_accuracy", "val_accuracy", "best_val_accuracy", "train_loss", "val_loss",
                 "final_loss", "at_chance")
TEST_METRICS = ("test_accuracy", "test_accuracy_full", "test_loss")
_UNSAFE = re.compile(r"[^A-Za-z0-9.+-]")


def value_text(v: Any) -> str:
    """A grid value as it appears in a point name and grid.csv (``[100, 50]`` -> ``100x50``)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "x".join(value_text(x) for x in v)
    return str(v)


def point_name(values: dict) -> str:
    """Deterministic job name of a grid point, e.g. ``l2-0.001_learning_rate-0.01_batch_size-100``."""
    return "_".join(f"{k}-{_UNSAFE.sub('', value_text(v))}" for k, v in values.items())


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


@dataclass(frozen=True)
class GridParsed:
    kind: str
    select: str
    fields: tuple[str, ...]
    points: dict  # name -> (values: dict field -> value, resolved config)
    report_test: str = "best"  # "best": only the selected point's test accuracy; "all": every point's
    baseline: str | None = None  # a used task whose test accuracy the points are compared with


def parse_grid(args: Any, where: str, allowed: tuple[str, ...] = ("kind", "base", "grid", "select",
                                                                   "report_test", "baseline"),
               kind: str | None = None) -> GridParsed:
    """Validate a grid's args and build every point's config (``typed.build`` + ``resolved``)."""
    import typing

    from linclf_cli.assignments.grid import expand_grid
    from linclf_cli.tasks.typed import coerce, unknown_key_error

    if not isinstance(args, dict):
        raise ConfigError(f"{where}: expected a mapping of options, got {args!r}.")
    for k in args:
        if k not in allowed:
            raise unknown_key_error(str(k), allowed, where)
    kind = kind or args.get("kind")
    if kind not in GRID_KINDS:
        raise ConfigError(f"{where}.kind: expected one of {', '.join(GRID_KINDS)}, got {kind!r}.")
    cls = KINDS[kind].config
    base = args.get("base") or {}
    grid = args.get("grid")
    select = args.get("select", "val_accuracy")
    if select not in SELECTABLE:
        raise ConfigError(f"{where}.select: expected one of {', '.join(SELECTABLE)}, got {select!r}.",
                          "Points are selected on validation data; the test set is evaluated once.")
    report_test = args.get("report_test", "best")
    if report_test not in ("best", "all"):
        raise ConfigError(f"{where}.report_test: expected 'best' or 'all', got {report_test!r}.")
    baseline = args.get("baseline")
    if baseline is not None and not isinstance(baseline, str):
        raise ConfigError(f"{where}.baseline: expected a task id (a string), got {baseline!r}.")
    if baseline is not None and report_test != "all":
        raise ConfigError(f"{where}.baseline: comparing with a baseline needs every point's test "
                          "accuracy; set report_test: all.")
    with located(f"{where}.base"):
        build(cls, base, f"{where}.base").resolved()
    if not isinstance(grid, dict) or not grid:
        raise ConfigError(f"{where}.grid: expected a non-empty mapping of field -> list of values, "
                          f"got {grid!r}.")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls) if f.init}
    aliases = getattr(cls, "ALIASES", {})  # the course spellings (tasks files renamed them already)
    axes: dict[str, list] = {}
    for written, values in grid.items():
        field_name = aliases.get(written, written)
        fw = f"{where}.grid.{written}"
        if field_name not in fields:
            raise unknown_key_error(str(written), fields | set(aliases), f"{where}.grid")
        if field_name in axes:
            raise ConfigError(f"{fw}: it names the same option as another axis; give one of them.")
        if any(aliases.get(k, k) == field_name for k in base):
            raise ConfigError(f"{fw}: {field_name!r} is also set in base; set it in one place.")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{fw}: expected a non-empty list of values, got {values!r}.")
        axes[field_name] = [coerce(v, hints[field_name], f"{fw}[{i}]") for i, v in enumerate(values)]
    points: dict = {}
    for values in expand_grid(axes):  # the sweep code's grid: the product, last axis fastest
        name = point_name(values)
        if name in points:
            raise ConfigError(f"{where}.grid: two points share the name {name!r} (duplicate values?).")
        with located(f"{where}.grid (point {name})"):
            cfg = build(cls, {**base, **{k: _plain(v) for k, v in values.items()}},
                        f"{where} (point {name})").resolved()
        points[name] = ({k: _plain(v) for k, v in values.items()}, cfg)
    return GridParsed(kind, select, tuple(axes), points, report_test, baseline)


def dep_dir(deps: dict[str, Path] | None, task_id: str) -> tuple[str, Path]:
    """The (ref, directory) of a used task named ``task_id`` (bare id or ``assignment/id``)."""
    deps = deps or {}
    if task_id in deps:
        return task_id, deps[task_id]
    hits = [r for r in deps if r.split("/", 1)[-1] == task_id]
    if len(hits) != 1:
        raise ConfigError(f"Task {task_id!r} is not among the tasks this one uses "
                          f"({', '.join(deps) or 'none'}).", f"Add {task_id!r} to uses.")
    return hits[0], deps[hits[0]]


def _read_metrics(d: Path) -> dict:
    from linclf_cli.errors import OutputError
    from linclf_cli.runs import io

    try:
        return io.read_json(Path(d) / "metrics.json")
    except (OSError, ValueError):
        raise OutputError(f"{d}/metrics.json is missing or unreadable.", "Rerun with --force.") from None


PRUNED_SUFFIXES = (".npz", ".png")  # what a grid's non-selected points do not keep


def summarize_grid(task_dir: Path, g: GridParsed, job_metrics: dict[str, dict],
                   deps: dict[str, Path] | None = None) -> dict:
    """Every point's values and validation metrics; the selected point with its test accuracy.

    Only the selected point's test metrics are reported unless ``report_test: all`` (an
    ablation, where every point's test accuracy is the quantity of interest)."""
    from linclf_cli.errors import OutputError
    from linclf_cli.runs import io

    rows = []
    for name, (values, _) in g.points.items():
        m = job_metrics[name]
        if g.select not in m:
            raise OutputError(f"{task_dir / name}/metrics.json has no {g.select!r}.")
        row = {"name": name, **values}
        row.update({k: m[k] for k in POINT_METRICS if k in m})
        if g.report_test == "all":
            row.update({k: m[k] for k in TEST_METRICS if k in m})
        rows.append(row)
    best_name = max(g.points, key=lambda n: job_metrics[n][g.select])  # first maximum, grid order
    best_m = job_metrics[best_name]
    # Keep results/ small enough to clone: every point keeps its config, metrics and histories
    # (its table row and curves can be redrawn from them); only the selected point keeps its
    # weights, figures and test probabilities. These files were written by the point's own run.
    for name in g.points:
        if name == best_name:
            continue
        for f in sorted((Path(task_dir) / name).glob("*")):
            if (f.suffix in PRUNED_SUFFIXES and f.is_file() and not f.is_symlink()):
                f.unlink()
    best = {**next(r for r in rows if r["name"] == best_name),
            **{k: best_m[k] for k in TEST_METRICS if k in best_m}}
    out = {"kind": g.kind, "select": g.select, "fields": list(g.fields), "n_points": len(rows),
           "test_evaluated": g.report_test, "points": rows, "best": best, "best_name": best_name,
           "best_val_accuracy": best_m.get("val_accuracy"),
           "best_test_accuracy": best_m.get("test_accuracy")}
    if g.report_test == "all":
        if g.baseline is not None:
            ref, d = dep_dir(deps, g.baseline)
            bm = _read_metrics(d)
            ref_acc = bm["test_accuracy"]
            out["baseline"] = {"task": ref, "test_accuracy": ref_acc,
                               "val_accuracy": bm.get("val_accuracy")}
        else:
            ref_acc = rows[0]["test_accuracy"]
            out["baseline"] = {"task": None, "point": rows[0]["name"], "test_accuracy": ref_acc}
        first = rows[0]
        changes = []
        for r in rows:
            r["test_gain"] = r["test_accuracy"] - ref_acc
            diff = [f for f in g.fields if r[f] != first[f]]
            if len(diff) == 1:
                changes.append({"field": diff[0], "value": r[diff[0]], "name": r["name"],
                                "test_accuracy": r["test_accuracy"], "test_gain": r["test_gain"]})
        out["best"]["test_gain"] = best["test_accuracy"] - ref_acc
        out["single_changes"] = changes
        out["largest_single_gain"] = max(changes, key=lambda c: c["test_gain"]) if changes else None
        out["max_test_accuracy"] = max(r["test_accuracy"] for r in rows)
    cols = ["name", *g.fields, *[k for k in (*POINT_METRICS, *TEST_METRICS, "test_gain") if k in rows[0]]]
    lines = [",".join(cols)] + [",".join(value_text(r.get(c, "")) for c in cols) for r in rows]
    io.atomic_write_text(task_dir / "grid.csv", "\n".join(lines) + "\n")
    out["files"] = ["grid.csv"]
    return out


class GridHandler(Handler):
    """``grid``: one run of ``kind`` per point of the grid (parallel; each point cached on its
    own, so an interrupted or extended grid only runs what is missing), then the point with
    the highest validation accuracy (``select``) and its test accuracy.  A preset of the sweep
    code (``linclf_cli.sweeps.spec.expand_grid``) with the task's seed for every point and the
    task's own point names, so its cache keys and numbers are those it always had.

    args: ``{kind: dd2424|aml, base: {config fields}, grid: {field: [values]}, select:
    val_accuracy, report_test: best|all, baseline: <used task id>}``."""

    command = "grid"

    def parse_args(self, args, where):
        return parse_grid(args, where)

    def jobs(self, g):
        return [JobSpec(name, g.kind, cfg.to_dict(), KINDS[g.kind].dataset(cfg))
                for name, (_, cfg) in g.points.items()]

    def finalize(self, task_dir, g, job_metrics, deps=None):
        return summarize_grid(task_dir, g, job_metrics, deps)


class DepthHandler(GridHandler):
    """``depth``: AML Q4c, one AML run per hidden-layer list (``hidden: [[50], [50, 50], ...]``),
    all else from ``base``; per depth the training/validation accuracy and whether it stayed
    at chance, and the test accuracy of the best depth only."""

    command = "depth"

    def parse_args(self, args, where):
        if not isinstance(args, dict):
            raise ConfigError(f"{where}: expected a mapping of options, got {args!r}.")
        rest = {k: v for k, v in args.items() if k != "hidden"}
        if "hidden" not in args:
            raise ConfigError(f"{where}: missing required key 'hidden' (a list of hidden-size lists).")
        if "grid" in rest or "kind" in rest:
            from linclf_cli.tasks.typed import unknown_key_error

            raise unknown_key_error("grid" if "grid" in rest else "kind", ("base", "hidden", "select"), where)
        return parse_grid({**rest, "grid": {"hidden": args["hidden"]}}, where,
                          allowed=("base", "grid", "select"), kind="aml")

    def finalize(self, task_dir, g, job_metrics, deps=None):
        from linclf_cli.plots.figures import Series, line_figure
        from linclf_cli.assignments.aml2020 import recipe as aml

        out = summarize_grid(task_dir, g, job_metrics, deps)
        depths, series = [], []
        for name, (values, cfg) in g.points.items():
            m = job_metrics[name]
            layers = len(cfg.hidden) + 1
            depths.append({"layers": layers, "hidden": list(cfg.hidden), "name": name,
                           "train_accuracy": m["train_accuracy"], "val_accuracy": m["val_accuracy"],
                           "best_val_accuracy": m["best_val_accuracy"], "final_loss": m.get("final_loss"),
                           "at_chance": m["at_chance"]})
            h = aml.load_history(task_dir / name)["history_epochs"]
            series.append(Series(h["epoch"], h["val_accuracy"], f"{layers} layers", style="o-"))
        line_figure(task_dir / "depth_val_accuracy.png", series, "Epoch", "Validation accuracy",
                    title="Validation accuracy per depth (Adam)")
        chance = [d["layers"] for d in depths if d["at_chance"]]
        best = next(d for d in depths if d["name"] == out["best_name"])
        out.update({"depths": depths, "at_chance_layers": chance, "n_at_chance": len(chance),
                    "best_layers": best["layers"],
                    "files": out["files"] + ["depth_val_accuracy.png"]})
        return out


@dataclass(frozen=True)
class HistogramsParsed:
    runs: dict  # label -> task id
    bins: int = 20


class HistogramsHandler(Handler):
    """``histograms``: DD2424 bonus 2.2.  No runs of its own: from the DD2424 train tasks it
    uses (``runs: {label: task id}``), the test-set histograms of the ground-truth class
    probability, split by correctness, and a summary per model."""

    command = "histograms"

    def parse_args(self, args, where):
        if not isinstance(args, dict):
            raise ConfigError(f"{where}: expected a mapping of options, got {args!r}.")
        for k in args:
            if k not in ("runs", "bins"):
                from linclf_cli.tasks.typed import unknown_key_error

                raise unknown_key_error(str(k), ("runs", "bins"), where)
        runs = args.get("runs")
        if not isinstance(runs, dict) or not runs:
            raise ConfigError(f"{where}.runs: expected a mapping of label -> task id, got {runs!r}.")
        for label, t in runs.items():
            if not isinstance(t, str) or not t:
                raise ConfigError(f"{where}.runs.{label}: expected a task id (a string), got {t!r}.")
        bins = args.get("bins", 20)
        if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
            raise ConfigError(f"{where}.bins: expected an integer >= 1, got {bins!r}.")
        return HistogramsParsed({str(k): v for k, v in runs.items()}, bins)

    def finalize(self, task_dir, parsed, job_metrics, deps=None):
        import numpy as np

        from linclf_cli.assignments.dd2424 import recipe as dd2424
        from linclf_cli.runs import io

        dirs, panels = {}, []
        for label, task_id in parsed.runs.items():
            ref, d = dep_dir(deps, task_id)
            dirs[label] = d
            m = _read_metrics(d)
            z = io.read_npz(Path(d) / "test_probabilities.npz", {"p_true": (None,), "correct": (None,)})
            p, ok = np.asarray(z["p_true"], dtype=np.float64), np.asarray(z["correct"], dtype=bool)

            def mean(a):
                return float(a.mean()) if a.size else None

            panels.append({
                "label": label, "task": ref, "model": m.get("model"),
                "learning_rate": m.get("learning_rate"), "l2": m.get("l2"), "test_accuracy": m["test_accuracy"],
                "train_accuracy": m["train_accuracy"], "val_accuracy": m["val_accuracy"],
                "accuracy_gap": m["train_accuracy"] - m["val_accuracy"],
                "train_loss": m["train_loss"], "val_loss": m["val_loss"],
                "loss_gap": m["val_loss"] - m["train_loss"],
                "n_correct": int(ok.sum()), "n_incorrect": int((~ok).sum()),
                "mean_p_true_correct": mean(p[ok]), "mean_p_true_incorrect": mean(p[~ok]),
                "median_p_true": float(np.median(p)),
                "frac_incorrect_below_0.1": mean((p[~ok] < 0.1).astype(float)),
            })
        dd2424.histograms_figure(dirs, task_dir / "histograms.png", bins=parsed.bins)
        sep = all(pn["mean_p_true_correct"] is not None and pn["mean_p_true_incorrect"] is not None
                  and pn["mean_p_true_correct"] > pn["mean_p_true_incorrect"] for pn in panels)
        return {"panels": panels, "correct_more_confident": sep, "files": ["histograms.png"]}


class ToyHandler(Handler):
    """``toy``: the AML toy checks (Q1 forward and loss, Q2d gradient check, Q3a toy SGD) in
    one run of kind ``aml-toy``; it needs no data."""

    command = "toy"

    def parse_args(self, args, where):
        with located(where):
            return build(KINDS["aml-toy"].config, args, where).resolved()

    def jobs(self, cfg):
        return [JobSpec("", "aml-toy", cfg.to_dict(), None)]


HANDLERS: dict[str, Handler] = {h.command: h for h in (
    TrainHandler(), GradcheckHandler(), SweepLambdaHandler(), DiscussHandler(),
    GridHandler(), DepthHandler(), HistogramsHandler(), ToyHandler())}
from .seeds import SeedsHandler  # noqa: E402 - seed studies (tasks/seeds.py imports this module lazily)

HANDLERS[SeedsHandler.command] = SeedsHandler()
