"""``linclf report``: run whatever is stale, then write REPORT.md and report.html."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from linclf_cli.report.builder import build
from linclf_cli.runs import io
from linclf_cli.tasks import scheduler
from linclf_cli.tasks.lock import results_lock

from .common import err_console, handle_errors
from .links import file_link, open_in_browser
from .tasks_cmd import (DataDir, ExecutorOpt, ResultsDir, SchedulerAddr, TasksFile, load_tasks, run_plans,
                        summarize)


@handle_errors
def report(
    names: Annotated[list[str] | None, typer.Argument(metavar="NAME", help="Assignments or tasks to include (default: all).", show_default=False)] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Parallel trainings (default: number of cores).", show_default=False)] = 0,
    wait: Annotated[bool, typer.Option("--wait", help="If another linclf works on the results dir, wait for it.")] = False,
    open_: Annotated[bool, typer.Option("--open", help="Open report.html in the default web browser when it is written.")] = False,
    pdf: Annotated[bool, typer.Option("--pdf", help="Also write RESULTS/report.pdf by printing report.html with a headless Chromium (must be installed).")] = False,
    tasks_file: TasksFile = None,
    results_dir: ResultsDir = Path("results"),
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="The files written and the expectations (passed, failed, not run) as JSON on stdout.")] = False,
    executor: ExecutorOpt = "local",
    scheduler_addr: SchedulerAddr = None,
) -> None:
    """Regenerate every figure and number of the report: run stale tasks, then write
    RESULTS/REPORT.md and a self-contained RESULTS/report.html (math rendered offline).
    Exits 1 if any expectation fails.  Tasks whose data is missing are reported as not run.
    --pdf prints the report with a headless Chromium (`apt-get install chromium`).

    [bold]Examples[/]

      linclf report
      linclf report tdt4265-a1 --results-dir /tmp/results -j 2
      linclf report tdt4265-a1 --pdf --open
      linclf report --executor dask --scheduler tcp://HOST:8786
    """
    from linclf_cli.sweeps import executors

    executors.check_executor(executor, scheduler_addr)  # a bad --executor before anything runs
    if pdf:  # before any training: say how to get a browser rather than fail at the end
        from linclf_cli.report.pdf import require_chromium

        require_chromium()
    tf = load_tasks(tasks_file)  # --tasks-file, ./tasks.yaml, else the packaged copy
    chosen = tf.resolve(names) if names else tf.all_tasks()
    with executors.Executor(executor, scheduler_addr, jobs or scheduler.default_workers()) as ex, results_lock(
            results_dir, wait, lambda: err_console.print(f"Waiting for another linclf process on {results_dir} ...")):
        plans = scheduler.plan(tf, chosen, results_dir, data_dir)
        no_mnist = [p for p in plans if p.status == "unavailable" and p.reason.startswith("mnist")]
        if no_mnist:  # CIFAR-10 is optional ("not run"); MNIST is the core of the report
            from linclf_cli.data.locate import find_dataset

            find_dataset("mnist", data_dir)  # raises DataError naming the files and the fix
        before = {p.task.ref: p.status for p in plans}
        outcome = run_plans(plans, ex.jobs, data_dir, executor_factory=ex.factory)
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
    written = [md, html] + ([results_dir / "report.pdf"] if pdf else [])
    err_console.print(f"Wrote {', '.join(file_link(f, err_console) for f in written)}: {n_pass} expectations "
                      f"passed, {len(failed)} failed, {n_skip} not run.", highlight=False)
    if open_ and not open_in_browser(html):
        err_console.print(f"Could not start a web browser; open {file_link(html, err_console)} yourself.",
                          highlight=False)
    for e in failed:
        err_console.print(f"[red]failed[/] {e['task']}: {e['metric']} {e.get('condition', '')} "
                          f"(measured {e.get('value')})", highlight=False)
    if as_json:
        import json

        typer.echo(json.dumps({"files": [str(f) for f in written], "expectations": {
            "passed": n_pass, "failed": len(failed), "not_run": n_skip}, "failed": failed,
            "errors": outcome.errors}, indent=2, default=str))
    if failed or outcome.errors:
        raise typer.Exit(1)


def _provenance() -> dict:
    """What built the report, for its closing section: linclf version, git commit, command."""
    import shlex
    import sys

    from linclf_cli import __version__
    from linclf_cli.runs.provenance import git_commit

    prog = Path(sys.argv[0]).name if sys.argv else ""
    args = sys.argv[1:] if prog in ("linclf", "linclf.exe", "__main__.py") else None
    command = "linclf " + shlex.join(args) if args is not None else None
    return {"version": __version__, "commit": git_commit(), "command": command}
