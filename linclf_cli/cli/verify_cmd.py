"""``linclf verify``: rerun tasks from scratch and compare with the committed results."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from linclf_cli.errors import UsageError
from linclf_cli.tasks import scheduler, verify as V

from .common import err_console, handle_errors
from .tasks_cmd import DataDir, TasksFile, load_tasks, run_plans


def _existing_dir(path: Path, option: str) -> Path:
    if not path.is_dir():
        hint = ("Name the committed results folder to check (by default results/)." if option == "--results-dir"
                else "Name a results folder written by `linclf run` or `linclf report`.")
        raise UsageError(f"{option} {path} is not a folder.", hint)
    return path


def _fresh_dir(path: Path) -> Path:
    """``--keep DIR``: a new or empty folder (never one holding anything)."""
    if path.exists() and (not path.is_dir() or path.is_symlink() or any(path.iterdir())):
        raise UsageError(f"--keep {path} exists and is not an empty folder.",
                         "Name a new folder; verify never writes into one holding files.")
    path.mkdir(parents=True, exist_ok=True)
    return path


def render(verdicts: list[V.TaskVerdict], console: Console) -> None:
    bad = [v for v in verdicts if v.status == "differs"]
    if bad:
        t = Table(title="Differences: committed vs regenerated")
        for c in ("task", "what", "committed", "regenerated", "detail"):
            t.add_column(c, overflow="fold")
        for v in bad:
            for d in v.differences:
                c, r = d.values() if (d.committed is not None or d.regenerated is not None) else ("", "")
                t.add_row(escape(v.task), escape(d.what), escape(c), escape(r), escape(d.detail))
        console.print(t)
    for v in verdicts:
        if v.status in ("not-run", "not-committed"):
            console.print(f"[dim]{v.status} {escape(v.task)}: {escape(v.note)}[/]", highlight=False)
    style = "red" if bad else "green"
    console.print(f"[bold {style}]{escape(V.summary(verdicts))}[/]", highlight=False, soft_wrap=True)


@handle_errors
def verify(
    names: Annotated[Optional[list[str]], typer.Argument(metavar="NAME", help="Task ids (2b, tdt4265-a1/2b) or assignment ids; default every task.", show_default=False)] = None,
    results_dir: Annotated[Path, typer.Option("--results-dir", "-r", help="The committed results to check.")] = Path("results"),
    tasks_file: TasksFile = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Parallel trainings (default: number of cores).", show_default=False)] = 0,
    data_dir: DataDir = None,
    against: Annotated[Optional[Path], typer.Option("--against", help="Compare with this already-regenerated results folder instead of rerunning.", show_default=False)] = None,
    keep: Annotated[Optional[Path], typer.Option("--keep", help="Regenerate into this new (or empty) folder and keep it, instead of a temporary one.", show_default=False)] = None,
    rtol: Annotated[float, typer.Option("--rtol", help="Relative tolerance for numbers.")] = V.DEFAULT_RTOL,
    atol: Annotated[float, typer.Option("--atol", help="Absolute tolerance for numbers.")] = V.DEFAULT_ATOL,
    figure_tol: Annotated[float, typer.Option("--figure-tol", help="Largest RMS pixel difference (0-255) for figures; 0 = identical pixels.")] = V.DEFAULT_FIGURE_TOL,
    strict: Annotated[bool, typer.Option("--strict", help="Also fail on tasks committed but not rerunnable here (data missing) and on tasks that ran but were not committed.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable verdicts on stdout.")] = False,
) -> None:
    """Rerun tasks from scratch in a temporary folder and compare with RESULTS: exit 1 on any difference.

    Every metric (task.json, metrics.json, history and sweep CSVs) must agree within --atol + --rtol x |committed| (integers, booleans and strings exactly), every expectation's pass/fail exactly, and every figure within --figure-tol RMS (matplotlib's image comparison; another size is a difference).

    Tasks whose data is missing here (and tasks run here but not committed) are listed, not failed; --strict fails on them.

    [bold]Examples[/]

      linclf verify 2b
      linclf verify tdt4265-a1 -j 2
      linclf verify -r submission/results -f submission/tasks.yaml
      linclf verify --against /tmp/regenerated --strict --json
    """
    for name, value in (("--rtol", rtol), ("--atol", atol), ("--figure-tol", figure_tol)):
        if not value >= 0:
            raise UsageError(f"{name} must be a number >= 0, got {value}.")
    if jobs < 0:
        raise UsageError(f"--jobs must be >= 1, got {jobs}.")
    if against is not None and keep is not None:
        raise UsageError("--against and --keep cannot be combined.",
                         "--against compares with a folder already regenerated; --keep regenerates into one.")
    _existing_dir(results_dir, "--results-dir")
    tf = load_tasks(tasks_file)
    chosen = tf.resolve(names) if names else tf.all_tasks()
    tol = V.Tolerance(atol=atol, rtol=rtol, figure_rms=figure_tol)
    console = err_console if as_json else Console()

    tmp: Path | None = None
    errors: dict[str, str] = {}
    try:
        if against is not None:
            regen = _existing_dir(against, "--against")
            plans = scheduler.plan(tf, chosen, regen, data_dir)
        else:
            regen = _fresh_dir(keep) if keep is not None else Path(tempfile.mkdtemp(prefix="linclf-verify-"))
            tmp = None if keep is not None else regen
            plans = scheduler.plan(tf, chosen, regen, data_dir, force=True)
            outcome = run_plans(plans, jobs or scheduler.default_workers(), data_dir)
            errors = dict(outcome.errors)
        unavailable = {p.task.ref: p.reason for p in plans if p.status == "unavailable"}
        verdicts = V.compare_trees(results_dir, regen, [t.ref for t in chosen], unavailable=unavailable,
                                   errors=errors, strict=strict, tol=tol)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    if as_json:
        typer.echo(json.dumps([v.to_dict() for v in verdicts], indent=2, default=str))
    render(verdicts, console)
    if any(v.status == "differs" for v in verdicts):
        raise typer.Exit(1)
