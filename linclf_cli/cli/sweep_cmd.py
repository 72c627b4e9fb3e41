"""``linclf sweep-lambda``: one softmax run per L2 coefficient, then the 4c and 4e figures."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from linclf_cli.assignments.tdt4265 import sweep
from linclf_cli.runs import io
from linclf_cli.assignments.tdt4265.recipe import TdtConfig
from linclf_cli.tasks import fingerprint, scheduler
from linclf_cli.tasks.handlers import JobSpec
from linclf_cli.tasks.lock import results_lock

from .common import err_console, handle_errors, job_progress_hook, make_progress
from .tasks_cmd import DataDir


@handle_errors
def sweep_lambda(
    lambdas: Annotated[list[float], typer.Option("--lambda", "-l", help="L2 coefficient c (repeatable) (default: 2, 0.2, 0.02, 0.002).", show_default=False)] = [],
    epochs: Annotated[int, typer.Option("--epochs", "-e", help="Epochs per point.")] = 50,
    lr: Annotated[float, typer.Option("--lr", help="Learning rate.")] = 0.01,
    batch_size: Annotated[int, typer.Option("--batch-size", "-b", help="Mini-batch size.")] = 128,
    early_stopping: Annotated[bool, typer.Option("--early-stopping/--no-early-stopping", help="Stop a point early when its validation loss stops improving (off by default, as the text has it for task 4; the course solution had it on).")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Same seed for every point.")] = 0,
    dtype: Annotated[str, typer.Option("--dtype", help="float32 (fast) or float64.")] = "float32",
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Parallel trainings (default: cores).", show_default=False)] = 0,
    force: Annotated[bool, typer.Option("--force", help="Retrain finished points too.")] = False,
    out: Annotated[Path, typer.Option("--out", "-o", help="Sweep directory (one sub-directory per λ).")] = Path("runs/sweep-lambda"),
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="The sweep summary (sweep.json) on stdout instead of the folder.")] = False,
) -> None:
    """Train one softmax model per λ in parallel (finished points are skipped) and draw the 4c
    figure (validation accuracy against steps) and the 4e figure (‖W‖² against λ).

    [bold]Examples[/]

      linclf sweep-lambda
      linclf sweep-lambda -l 1 -l 0.1 -l 0.01 --out runs/l2-2021 -j 2
    """
    lambdas_t = sweep.check_lambdas(lambdas or list(sweep.DEFAULT_LAMBDAS))
    base = TdtConfig(model="softmax", learning_rate=lr, batch_size=batch_size, epochs=epochs,
                     shuffle=True, early_stopping=early_stopping, seed=seed, dtype=dtype).resolved()
    points = sweep.point_configs(base, lambdas_t)
    fingerprint.dataset("mnist", data_dir)  # missing MNIST: a clear DataError before anything runs
    job_plans = [scheduler.plan_job("sweep", JobSpec(name, "tdt4265", cfg.to_dict(), "mnist"), out / name,
                                    data_dir, force) for name, cfg in points.items()]
    todo = [j for j in job_plans if j.status != "done"]
    with results_lock(out, wait=False):
        with make_progress() as progress:
            hook = job_progress_hook(progress, len(todo), "sweep")
            errors = scheduler.run_jobs(todo, jobs or scheduler.default_workers(), data_dir, sys.argv, hook)
            hook.finish()
        if errors:
            for label, msg in errors.items():
                err_console.print(f"[red]failed[/] {label}: {msg}", highlight=False)
            raise typer.Exit(1)
        metrics = {j.spec.name: io.read_json(j.out / "metrics.json") for j in job_plans}
        summary = sweep.summarize(out, lambdas_t, {j.spec.name: j.out for j in job_plans}, metrics)
        io.write_json(out / "sweep.json", summary)
    t = Table(title=f"λ sweep ({len(todo)} trained, {len(job_plans) - len(todo)} reused)")
    for c in ("λ", "val acc", "train acc", "‖W‖² (sum sq.)", "‖W‖_F", "stopped epoch"):
        t.add_column(c, justify="right")
    for r in summary["points"]:
        t.add_row(f"{r['lambda']:g}", f"{r['val_accuracy']:.4f}", f"{r['train_accuracy']:.4f}",
                  f"{r['weight_sum_of_squares']:.3f}", f"{r['weight_frobenius_norm']:.3f}",
                  str(r["stopped_epoch"]))
    err_console.print(t)
    typer.echo(io.to_json(dict(summary, sweep_dir=str(out))).rstrip() if as_json else str(out))
