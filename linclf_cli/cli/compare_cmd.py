"""``linclf compare``: runs side by side: the config that differs, the metrics, one figure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from linclf_cli.errors import UsageError
from linclf_cli.runs.catalog import METRICS, config_diff, curves, load_run

from .common import err_console, handle_errors


def _cell(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e4 else f"{v:.3e}"
    return str(v)


def _labels(runs) -> list[str]:
    """Shortest distinct labels: the folder names, or the paths when those repeat."""
    names = [r.path.name for r in runs]
    return names if len(set(names)) == len(names) else [str(r.path) for r in runs]


def _sweep_points(path: Path) -> list[Path]:
    """A sweep folder (sweep.json at the top, not itself a run) -> its finished points, in
    the sweep's order; anything else as given."""
    from linclf_cli.runs import io
    from linclf_cli.runs.catalog import is_run_dir

    if is_run_dir(path) or not (path / "sweep.json").is_file():
        return [path]
    try:
        points = io.read_json(path / "sweep.json").get("points", [])
    except (OSError, ValueError, AttributeError):
        raise UsageError(f"{path}/sweep.json is unreadable.", "Rerun the sweep to rewrite it.") from None
    names = [p.get("point") for p in points if isinstance(p, dict) and p.get("status") == "done"]
    return [path / n for n in names if isinstance(n, str) and is_run_dir(path / n)]


@handle_errors
def compare(
    run_dirs: Annotated[list[Path], typer.Argument(metavar="RUN_DIR", help="Two or more run directories (see `linclf runs`), or a sweep folder (`linclf sweep --out`): its points.", show_default=False)],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write a figure overlaying their loss and accuracy curves (PNG).", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The differing config and the metrics as JSON on stdout.")] = False,
) -> None:
    """Compare runs: the config values that differ, the final metrics, and (with -o) one
    figure overlaying their loss and accuracy curves.

    [bold]Examples[/]

      linclf compare runs/l2-0 runs/l2-2
      linclf compare results/tdt4265-a1/3b results/tdt4265-a1/4b -o compare.png
      linclf compare runs/aml-grid -o grid.png       [dim]# every point of a sweep[/]
    """
    run_dirs = [d for p in run_dirs for d in _sweep_points(p)]
    if len(run_dirs) < 2:
        raise UsageError("compare needs at least two run directories.", "For example `linclf compare runs/a runs/b`.")
    if out is not None and out.suffix.lower() != ".png":
        raise UsageError(f"--out must name a .png file, got {out}.", "For example -o compare.png.")
    runs = [load_run(p) for p in run_dirs]
    labels = _labels(runs)
    diff = config_diff(runs)
    metric_keys = [k for k in (*METRICS, "stopped_epoch") if any(r.metrics.get(k) is not None for r in runs)]
    if out is not None:
        from linclf_cli.plots.compare import compare_figure

        compare_figure({lab: curves(r) for lab, r in zip(labels, runs)}, out)
    if as_json:
        typer.echo(json.dumps({
            "runs": [str(r.path) for r in runs],
            "config": diff,
            "metrics": {k: [r.metrics.get(k) for r in runs] for k in metric_keys},
            "figure": str(out) if out else None}, indent=2))
    else:
        t = Table(box=box.SIMPLE_HEAD, padding=(0, 1))
        t.add_column("", no_wrap=True, style="bold")
        for lab in labels:
            t.add_column(lab, justify="right", overflow="fold")
        if not diff:
            t.add_row("config", *["same"] * len(runs))
        for k, vals in diff.items():
            t.add_row(k, *map(_cell, vals))
        t.add_section()
        for k in metric_keys:
            t.add_row(k.replace("_", " "), *(_cell(r.metrics.get(k)) for r in runs))
        Console().print(t)
    if out is not None:
        from .links import file_link

        err_console.print(f"Wrote {file_link(out, err_console)}", highlight=False)
