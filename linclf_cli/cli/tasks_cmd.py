"""``linclf tasks`` and ``linclf run``: list and run the report tasks of tasks.yaml.

The tasks file is ``--tasks-file``, else ``./tasks.yaml``, else the copy shipped inside the
package, so both work from any directory; the one used is named on stderr.  Results go to
``--results-dir``, by default ``./results`` in the current directory (never next to a
packaged tasks file, which lives inside the installation).
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from linclf_cli.errors import LinclfError, UsageError
from linclf_cli.sweeps import executors
from linclf_cli.tasks import scheduler
from linclf_cli.tasks.lock import results_lock
from linclf_cli.tasks.schema import TaskFile, load_task_file

from .common import err_console, handle_errors, job_progress_hook, make_progress

TasksFile = Annotated[Optional[Path], typer.Option(
    "--tasks-file", "-f", show_default=False,
    help="The task definitions (default: tasks.yaml in the current directory, else the copy shipped with linclf).")]
ResultsDir = Annotated[Path, typer.Option("--results-dir", "-r", help="Where task outputs go (default: results/ in the current directory).")]
DataDir = Annotated[Optional[Path], typer.Option("--data-dir", help="Dataset folder (else $LINCLF_DATA_DIR, then the user cache).")]
ExecutorOpt = Annotated[str, typer.Option("--executor", help="Where the trainings run: local (processes, -j) or dask (a Dask distributed cluster; needs linclf[distributed]).")]
SchedulerAddr = Annotated[Optional[str], typer.Option("--scheduler", help="--executor dask: the scheduler, tcp://HOST:8786 (default: $LINCLF_DASK_SCHEDULER).", show_default=False)]

STATUS_STYLE = {"up-to-date": "green", "stale": "yellow", "missing": "yellow",
                "unavailable": "dim", "failed": "red"}
STATUS_TEXT = {"up-to-date": "up to date", "unavailable": "skipped"}
TO_RUN = ("missing", "stale")
DATASET_NAMES = {"mnist": "MNIST", "cifar10": "CIFAR-10"}


def packaged_tasks_file() -> Path:
    """The tasks.yaml shipped inside the package (a symlink to the repository's in a checkout)."""
    return Path(str(resources.files("linclf_cli") / "tasks.yaml"))


def find_tasks_file(option: Path | None, cwd: Path | None = None) -> tuple[Path, str]:
    """``--tasks-file``, else ./tasks.yaml, else the packaged copy -> (path, where it came from)."""
    if option is not None:
        return Path(option), "--tasks-file"
    local = (cwd or Path.cwd()) / "tasks.yaml"
    if local.is_file():
        return Path("tasks.yaml") if cwd is None else local, "current directory"
    return packaged_tasks_file(), "shipped with linclf"


def load_tasks(option: Path | None) -> TaskFile:
    """Find, name (one line on stderr) and load the tasks file."""
    path, source = find_tasks_file(option)
    err_console.print(f"[dim]Tasks file: {escape(str(path))} ({source})[/]", highlight=False)
    return load_task_file(path)


def select(tf: TaskFile, names: list[str], all_: bool) -> list:
    if all_ or not names:
        if not all_ and not names:
            raise UsageError("Name the tasks to run, or pass --all.",
                             "See `linclf tasks` for the list, e.g. `linclf run 2b 3b`.")
        return tf.all_tasks()
    return tf.resolve(names)


def _reason(p: scheduler.TaskPlan) -> str:
    """Why a task is not up to date, in words (dataset names as people write them)."""
    from .progress import display_label

    text = p.reason.replace(f"{p.task.assignment}/", "")  # 2b rather than tdt4265-a1/2b
    head, sep, rest = text.partition(": ")
    if sep and p.status == "missing" and rest.startswith("never run"):
        text = rest  # which of its runs is first does not matter
    elif sep and head.split(" [")[0] == p.task.id:  # "4c [l2-2]: config changed" -> "λ = 2: ..."
        text = (display_label(head).removeprefix(p.task.id).strip() + ": " + rest).removeprefix(": ")
    for key, name in DATASET_NAMES.items():
        text = text.replace(f"{key} data not found", f"{name} not found")
    return text.replace(" (or interrupted)", "")  # a run cut short leaves nothing: same thing


def status_table(plans: list[scheduler.TaskPlan], title: str = "Tasks", explain: bool = True,
                 width: int = 80) -> Table:
    """One line per task at ``width`` columns: ids and statuses never cut, long titles end in
    '…' (left out when fewer than 16 columns would remain for them), the reasons wrap between
    words.  Skipped (data missing) tasks give their reason once per assignment, below the
    table (see :func:`skipped_lines`)."""
    show_why = explain and any(p.status not in ("up-to-date", "unavailable") for p in plans)
    why_w = min(26, max([0] + [len(_reason(p)) for p in plans if p.status not in ("up-to-date", "unavailable")]))
    ref_w = max([4] + [len(p.task.ref) for p in plans])
    show_title = not show_why or width - (ref_w + 10 + why_w + 6) >= 16
    # expand + ratio: the task and status columns keep their width, title and why share the rest
    t = Table(title=title, box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False, title_justify="left",
              expand=True)
    t.add_column("task", no_wrap=True, min_width=max([4] + [len(p.task.ref) for p in plans]))
    t.add_column("status", no_wrap=True, min_width=10)
    if show_title:
        t.add_column("title", no_wrap=True, overflow="ellipsis", ratio=1)
    if show_why:
        t.add_column("why", overflow="ellipsis", max_width=26)  # wraps between words past 26
    for p in plans:
        style = STATUS_STYLE.get(p.status, "")
        status = STATUS_TEXT.get(p.status, p.status)
        row = [p.task.ref, f"[{style}]{status}[/]" if style else status] + ([escape(p.task.spec.title)] if show_title else [])
        if show_why:
            row.append(escape(_reason(p)) if p.status not in ("up-to-date", "unavailable") else "")
        t.add_row(*row)
    return t


def skipped_lines(plans: list[scheduler.TaskPlan]) -> list[str]:
    """``skipped dd2424-a1 (8 tasks): CIFAR-10 not found (...)``: one line per assignment."""
    groups: dict[str, list[str]] = {}
    reasons: dict[str, str] = {}
    for p in plans:
        if p.status == "unavailable":
            groups.setdefault(p.task.assignment, []).append(p.task.ref)
            root = re.sub(r"^(needs \S+: )+", "", _reason(p))
            reasons.setdefault(p.task.assignment, root)
    return [f"skipped {a} ({len(refs)} task{'s' * (len(refs) != 1)}): {reasons[a]}" for a, refs in groups.items()]


def count_line(plans: list[scheduler.TaskPlan]) -> str:
    """``31 tasks: 16 up to date, 3 to run, 12 skipped (data missing)``."""
    c = Counter(p.status for p in plans)
    parts = [f"{c['up-to-date']} up to date"]
    if c["stale"] + c["missing"]:
        parts.append(f"{c['stale'] + c['missing']} to run ({c['missing']} missing, {c['stale']} stale)")
    if c["unavailable"]:
        parts.append(f"{c['unavailable']} skipped (data missing)")
    if c["failed"]:
        parts.append(f"{c['failed']} failed")
    return f"{len(plans)} task{'s' * (len(plans) != 1)}: " + ", ".join(parts)


def plan_rows(plans: list[scheduler.TaskPlan]) -> list[dict]:
    return [{"task": p.task.ref, "title": p.task.spec.title, "command": p.task.spec.command,
             "status": p.status, "reason": p.reason, "dir": str(p.dir)} for p in plans]


def run_plans(plans, workers: int, data_dir, console=None, executor_factory=None) -> scheduler.Outcome:
    """Execute with one Rich progress display covering every job.  The overall bar counts
    each distinct training once (identical runs of two tasks are trained once and copied).
    ``executor_factory``: where the trainings run (None: local processes; see --executor)."""
    progress = make_progress(console)
    todo = [j for p in plans if p.status in TO_RUN for j in p.jobs if j.status != "done"]
    with progress:
        hook = job_progress_hook(progress, len({j.key for j in todo}))
        outcome = scheduler.execute(plans, workers, data_dir, sys.argv, hook, executor_factory)
        hook.finish()
    return outcome


@handle_errors
def tasks(
    names: Annotated[Optional[list[str]], typer.Argument(metavar="NAME", help="Only these tasks or assignments (2b, tdt4265-a1/2b, dd2424-a1).", show_default=False)] = None,
    stale: Annotated[bool, typer.Option("--stale", help="Only tasks that `linclf run` would run (missing or stale).")] = False,
    tasks_file: TasksFile = None,
    results_dir: ResultsDir = Path("results"),
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")] = False,
) -> None:
    """List the tasks with their status: up to date, stale or missing (and why), or skipped
    (data missing), then a count.

    [bold]Examples[/]

      linclf tasks
      linclf tasks dd2424-a1
      linclf tasks --stale
      linclf tasks --results-dir /tmp/results --json
    """
    tf = load_tasks(tasks_file)
    chosen = tf.resolve(names) if names else tf.all_tasks()
    wanted = {t.ref for t in chosen}
    plans = [p for p in scheduler.plan(tf, chosen, results_dir, data_dir) if p.task.ref in wanted]
    if stale:
        plans = [p for p in plans if p.status in TO_RUN]
    if as_json:
        typer.echo(json.dumps(plan_rows(plans), indent=2))
        return
    out = Console()
    out.print(status_table(plans, width=out.width))
    for line in skipped_lines(plans):
        out.print(f"[dim]{escape(line)}[/]", highlight=False, soft_wrap=True)
    out.print(count_line(plans), highlight=False)


@handle_errors
def run(
    names: Annotated[Optional[list[str]], typer.Argument(metavar="NAME", help="Task ids (2b, tdt4265-a1/2b) or assignment ids.", show_default=False)] = None,
    all_: Annotated[bool, typer.Option("--all", help="Run every task.")] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Parallel trainings (default: number of cores).", show_default=False)] = 0,
    force: Annotated[bool, typer.Option("--force", help="Rerun even if up to date.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would run; run nothing.")] = False,
    explain: Annotated[bool, typer.Option("--explain", help="With --dry-run: say why each task would run.")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="If another linclf works on the results dir, wait for it.")] = False,
    tasks_file: TasksFile = None,
    results_dir: ResultsDir = Path("results"),
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Every task's status, folder and error as JSON on stdout.")] = False,
    executor: ExecutorOpt = "local",
    scheduler_addr: SchedulerAddr = None,
    seeds: Annotated[Optional[int], typer.Option(
        "--seeds", show_default=False,
        help="Rerun each named training task over N seeds derived from its seed (independent of -j): "
             "a seed study in RESULTS/<assignment>/<task>-seeds/ with every seed's metrics, the course-stream "
             "value, median and range of each metric, and a histogram.")] = None,
) -> None:
    """Run tasks (and what they use) into RESULTS/<assignment>/<task>/, skipping up-to-date ones.

    [bold]Examples[/]

      linclf run 2b 3b
      linclf run --all -j 2
      linclf run tdt4265-a1 --dry-run --explain
      linclf run 4c --force --json
      linclf run dd2424-a1 --executor dask --scheduler tcp://HOST:8786
      linclf run 2e --seeds 20 -j 2
    """
    if jobs < 0:
        raise UsageError(f"--jobs must be >= 1, got {jobs}.")
    executors.check_executor(executor, scheduler_addr)  # a bad --executor before anything runs
    if seeds is not None:
        from linclf_cli.tasks import seeds as seed_study

        seed_study.check_n(seeds)
        if all_ or not names:
            raise UsageError("--seeds needs the training tasks named.", "For example `linclf run 2e --seeds 20`.")
    tf = load_tasks(tasks_file)
    chosen = select(tf, names or [], all_)
    if seeds is not None:
        chosen = seed_study.seed_studies(tf, chosen, seeds)
    workers = jobs or scheduler.default_workers()
    if dry_run:
        plans = scheduler.plan(tf, chosen, results_dir, data_dir, force)
        n = sum(1 for p in plans if p.status in TO_RUN)
        if as_json:
            typer.echo(json.dumps({"dry_run": True, "workers": workers, "tasks": plan_rows(plans)}, indent=2))
            return
        out = Console()
        out.print(status_table(plans, "Dry run: what would happen", explain, out.width))
        for line in skipped_lines(plans):
            err_console.print(f"[dim]{escape(line)}[/]", highlight=False, soft_wrap=True)
        err_console.print(f"{n} task(s) would run with {workers} worker(s).")
        return
    with executors.Executor(executor, scheduler_addr, workers) as ex, results_lock(
            results_dir, wait, lambda: err_console.print(f"Waiting for another linclf process on {results_dir} ...")):
        plans = scheduler.plan(tf, chosen, results_dir, data_dir, force)
        requested = {t.ref for t in chosen}
        unavailable = [p for p in plans if p.status == "unavailable" and p.task.ref in requested]
        if unavailable and (names and not all_):
            p = unavailable[0]
            raise LinclfError(f"Task {p.task.ref} cannot run: {_reason(p)}")
        before = {p.task.ref: p.status for p in plans}
        outcome = run_plans(plans, ex.jobs, data_dir, executor_factory=ex.factory)
    summarize(outcome, before)
    if as_json:
        typer.echo(json.dumps({"tasks": [dict(r, was=before[r["task"]]) for r in plan_rows(outcome.plans)],
                               "trained": outcome.ran_jobs, "finalized": outcome.finalized,
                               "errors": outcome.errors}, indent=2))
    if outcome.errors:
        raise typer.Exit(1)


def summarize(outcome: scheduler.Outcome, before: dict[str, str] | None = None) -> None:
    """One line per assignment whose data is missing, each failure, then the closing count:
    ``31 tasks: 3 run (5 trainings), 16 up to date, 12 skipped (data missing)``."""
    plans = outcome.plans
    for line in skipped_lines(plans):
        err_console.print(f"[dim]{escape(line)}[/]", highlight=False)
    for label, msg in outcome.errors.items():
        err_console.print(f"[bold red]failed[/] {escape(label)}: {escape(msg)}", highlight=False)
    ran = set(outcome.finalized)
    was_up = (lambda p: before.get(p.task.ref) == "up-to-date") if before else (lambda p: p.task.ref not in ran)
    up = sum(1 for p in plans if p.status == "up-to-date" and p.task.ref not in ran and was_up(p))
    skipped = sum(1 for p in plans if p.status == "unavailable")
    failed = sum(1 for p in plans if p.status == "failed")
    n_train = len(outcome.ran_jobs)
    parts = [f"{len(ran)} run ({n_train} training{'s' * (n_train != 1)})", f"{up} up to date"]
    if skipped:
        parts.append(f"{skipped} skipped (data missing)")
    if failed:
        parts.append(f"[bold red]{failed} failed[/]")
    err_console.print(f"{len(plans)} task{'s' * (len(plans) != 1)}: " + ", ".join(parts), highlight=False)
