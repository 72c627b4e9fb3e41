"""``linclf report``: run whatever is stale, then write REPORT.md and report.html."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from linclf_cli.report.builder import build
from linclf_cli.runs import io
from linclf_cli.tasks import scheduler
from linclf_cli.tasks.lock import results_lock
from linclf_cli.tasks.schema import load_task_file

from .common import err_console, handle_errors
from .tasks_cmd import DataDir, ResultsDir, TasksFile, run_plans, summarize


@handle_errors
def report(
    names: Annotated[list[str] | None, typer.Argument(help="Assignments or tasks to include (default: all).", show_default=False)] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Parallel trainings (default: number of cores).", show_default=False)] = 0,
    wait: Annotated[bool, typer.Option("--wait", help="If another linclf works on the results dir, wait for it.")] = False,
    tasks_file: TasksFile = Path("tasks.yaml"),
    results_dir: ResultsDir = Path("results"),
    data_dir: DataDir = None,
) -> None:
    """Regenerate every figure and number of the report: run stale tasks, then write
    RESULTS/REPORT.md and a self-contained RESULTS/report.html (math rendered offline).
    Exits 1 if any expectation fails.  Tasks whose data is missing are reported as not run.

    [bold]Examples[/]

      linclf report
      linclf report tdt4265-a1 --results-dir /tmp/results -j 2
    """
    tf = load_task_file(tasks_file)
    chosen = tf.resolve(names) if names else tf.all_tasks()
    with results_lock(results_dir, wait, lambda: err_console.print(
            f"Waiting for another linclf process on {results_dir} ...")):
        plans = scheduler.plan(tf, chosen, results_dir, data_dir)
        no_mnist = [p for p in plans if p.status == "unavailable" and p.reason.startswith("mnist")]
        if no_mnist:  # CIFAR-10 is optional ("not run"); MNIST is the core of the report
            from linclf_cli.data.locate import find_dataset

            find_dataset("mnist", data_dir)  # raises DataError naming the files and the fix
        before = {p.task.ref: p.status for p in plans}
        outcome = run_plans(plans, jobs or scheduler.default_workers(), data_dir)
        summarize(outcome, before)
        text, expectations = build(tf, plans, results_dir, _provenance())
        md, html = results_dir / "REPORT.md", results_dir / "report.html"
        from linclf_cli.report.html import write_report

        write_report(text, md, html, "linclf report")  # both rebuilt every time, atomically
        if pdf:
            from linclf_cli.report.pdf import print_pdf

            print_pdf(html, results_dir / "report.pdf")
    failed = [e for e in expectations if e["passed"] is False]
    n_pass = sum(1 for e in expectations if e["passed"])
    n_skip = sum(1 for e in expectations if e["passed"] is None)
    err_console.print(f"Wrote {md} and {results_dir / 'report.html'}: {n_pass} expectations passed, "
                      f"{len(failed)} failed, {n_skip} not run.", highlight=False)
    for e in failed:
        err_console.print(f"[red]failed[/] {e['task']}: {e['metric']} {e.get('condition', '')} "
                          f"(measured {e.get('value')})", highlight=False)
    if failed or outcome.errors:
        raise typer.Exit(1)
