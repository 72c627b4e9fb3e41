"""``linclf tasks`` and ``linclf run``: list and run the report tasks of tasks.yaml."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from linclf_cli.errors import LinclfError, UsageError
from linclf_cli.tasks import scheduler
from linclf_cli.tasks.lock import results_lock
from linclf_cli.tasks.schema import TaskFile, load_task_file

from .common import err_console, handle_errors, job_progress_hook, make_progress

TasksFile = Annotated[Path, typer.Option("--tasks-file", "-f", help="The task definitions.")]
ResultsDir = Annotated[Path, typer.Option("--results-dir", "-r", help="Where task outputs go.")]
DataDir = Annotated[Optional[Path], typer.Option("--data-dir", help="Dataset folder (else $LINCLF_DATA_DIR, then the user cache).")]

STATUS_STYLE = {"up-to-date": "green", "stale": "yellow", "missing": "yellow",
                "unavailable": "dim", "failed": "red"}


def select(tf: TaskFile, names: list[str], all_: bool) -> list:
    if all_ or not names:
        if not all_ and not names:
            raise UsageError("Name the tasks to run, or pass --all.",
                             "See `linclf tasks` for the list, e.g. `linclf run 2b 3b`.")
        return tf.all_tasks()
    return tf.resolve(names)


def status_table(plans: list[scheduler.TaskPlan], title: str = "Tasks", explain: bool = True) -> Table:
    t = Table(title=title)
    for c in ("task", "title", "command", "status") + (("why",) if explain else ()):
        t.add_column(c, overflow="fold")
    for p in plans:
        style = STATUS_STYLE.get(p.status, "")
        row = [p.task.ref, p.task.spec.title, p.task.spec.command,
               f"[{style}]{p.status}[/]" if style else p.status]
        t.add_row(*row, *((p.reason,) if explain else ()))
    return t


def run_plans(plans, workers: int, data_dir, console=None) -> scheduler.Outcome:
    """Execute with one Rich progress display covering every job."""
    progress = make_progress(console)
    todo = [j for p in plans if p.status in ("missing", "stale") for j in p.jobs if j.status != "done"]
    with progress:
        hook = job_progress_hook(progress, len(todo))
        outcome = scheduler.execute(plans, workers, data_dir, sys.argv, hook)
    return outcome


@handle_errors
def tasks(
    tasks_file: TasksFile = Path("tasks.yaml"),
    results_dir: ResultsDir = Path("results"),
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")] = False,
) -> None:
    """List every task with its status: up to date, stale (and why), missing, or unavailable.

    [bold]Examples[/]

      linclf tasks
      linclf tasks --results-dir /tmp/results --json
    """
    tf = load_task_file(tasks_file)
    plans = scheduler.plan(tf, tf.all_tasks(), results_dir, data_dir)
    if as_json:
        typer.echo(json.dumps([{"task": p.task.ref, "title": p.task.spec.title, "command": p.task.spec.command,
                                "status": p.status, "reason": p.reason} for p in plans], indent=2))
    else:
        Console().print(status_table(plans))


@handle_errors
def run(
    names: Annotated[Optional[list[str]], typer.Argument(help="Task ids (2b, tdt4265-a1/2b) or assignment ids.", show_default=False)] = None,
    all_: Annotated[bool, typer.Option("--all", help="Run every task.")] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Parallel trainings (default: number of cores).", show_default=False)] = 0,
    force: Annotated[bool, typer.Option("--force", help="Rerun even if up to date.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would run; run nothing.")] = False,
    explain: Annotated[bool, typer.Option("--explain", help="With --dry-run: say why each task would run.")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="If another linclf works on the results dir, wait for it.")] = False,
    tasks_file: TasksFile = Path("tasks.yaml"),
    results_dir: ResultsDir = Path("results"),
    data_dir: DataDir = None,
) -> None:
    """Run tasks (and what they use) into RESULTS/<assignment>/<task>/, skipping up-to-date ones.

    [bold]Examples[/]

      linclf run 2b 3b
      linclf run --all -j 2
      linclf run tdt4265-a1 --dry-run --explain
      linclf run 4c --force
    """
    if jobs < 0:
        raise UsageError(f"--jobs must be >= 1, got {jobs}.")
    tf = load_task_file(tasks_file)
    chosen = select(tf, names or [], all_)
    workers = jobs or scheduler.default_workers()
    if dry_run:
        plans = scheduler.plan(tf, chosen, results_dir, data_dir, force)
        Console().print(status_table(plans, "Dry run: what would happen", explain))
        n = sum(1 for p in plans if p.status in ("missing", "stale"))
        err_console.print(f"{n} task(s) would run with {workers} worker(s).")
        return
    with results_lock(results_dir, wait, lambda: err_console.print(
            f"Waiting for another linclf process on {results_dir} ...")):
        plans = scheduler.plan(tf, chosen, results_dir, data_dir, force)
        requested = {t.ref for t in chosen}
        unavailable = [p for p in plans if p.status == "unavailable" and p.task.ref in requested]
        if unavailable and (names and not all_):
            p = unavailable[0]
            raise LinclfError(f"Task {p.task.ref} cannot run: {p.reason}")
        outcome = run_plans(plans, workers, data_dir)
    summarize(outcome)
    if outcome.errors:
        raise typer.Exit(1)


def summarize(outcome: scheduler.Outcome) -> None:
    up = sum(1 for p in outcome.plans if p.status == "up-to-date")
    err_console.print(f"{len(outcome.ran_jobs)} run(s) executed, {len(outcome.finalized)} task(s) "
                      f"updated, {up} up to date.")
    for p in outcome.plans:
        if p.status == "unavailable":
            err_console.print(f"[dim]skipped {p.task.ref}: {p.reason}[/]", highlight=False)
    for label, msg in outcome.errors.items():
        err_console.print(f"[bold red]failed[/] {label}: {msg}", highlight=False)
