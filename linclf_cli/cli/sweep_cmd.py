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
    lambdas: Annotated[list[float], typer.Option("--l2", "--lambda", "-l", metavar="L2", help="L2 coefficient c, the text's λ (repeatable; --lambda is the old spelling) (default: 2, 0.2, 0.02, 0.002).", show_default=False)] = [],
    epochs: Annotated[int, typer.Option("--epochs", "-e", help="Epochs per point.")] = 50,
    lr: Annotated[float, typer.Option("--lr", help="Learning rate.")] = 0.01,
    batch_size: Annotated[int, typer.Option("--batch-size", "-b", help="Mini-batch size.")] = 128,
    early_stopping: Annotated[bool, typer.Option("--early-stopping/--no-early-stopping", help="Stop a point early when its validation loss stops improving (off by default, as the text has it for task 4; the course solution had it on).")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Same seed for every point.")] = 0,
    rng: Annotated[str, typer.Option("--rng", help="Shuffle stream: numpy (default_rng(seed)) or legacy (the starter's RandomState(seed)).")] = "numpy",
    dtype: Annotated[str, typer.Option("--dtype", help="float32 (fast) or float64.")] = "float32",
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Parallel trainings (default: cores).", show_default=False)] = 0,
    force: Annotated[bool, typer.Option("--force", help="Retrain finished points too.")] = False,
    out: Annotated[Path, typer.Option("--out", "-o", help="Sweep directory (one sub-directory l2-<value> per λ).")] = Path("runs/sweep-lambda"),
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="The sweep summary (sweep.json) on stdout instead of the folder.")] = False,
    executor: Annotated[str, typer.Option("--executor", help="local (processes on this machine) or dask (a Dask distributed cluster).")] = "local",
    scheduler_addr: Annotated[Optional[str], typer.Option("--scheduler", help="Dask scheduler address, tcp://HOST:8786 (default: $LINCLF_DASK_SCHEDULER).", show_default=False)] = None,
) -> None:
    """Train one softmax model per λ in parallel (finished points are skipped) and draw the 4c
    figure (validation accuracy against steps) and the 4e figure (‖W‖² against λ).

    [bold]Examples[/]

      linclf sweep-lambda
      linclf sweep-lambda --l2 1 --l2 0.1 --l2 0.01 --out runs/l2-2021 -j 2
      linclf sweep-lambda --executor dask --scheduler tcp://10.0.0.5:8786

    A preset of `linclf sweep` (one axis over the L2 coefficient, the same seed for every point).
    """
    from linclf_cli.sweeps import executors

    address = executors.check_executor(executor, scheduler_addr)
    lambdas_t = sweep.check_lambdas(lambdas or list(sweep.DEFAULT_LAMBDAS))
    base = TdtConfig(model="softmax", learning_rate=lr, batch_size=batch_size, epochs=epochs,
                     shuffle=True, early_stopping=early_stopping, seed=seed, rng=rng, dtype=dtype).resolved()
    points = sweep.point_configs(base, lambdas_t)
    fingerprint.dataset("mnist", data_dir)  # missing MNIST: a clear DataError before anything runs
    job_plans = [scheduler.plan_job("sweep", JobSpec(name, "tdt4265", cfg.to_dict(), "mnist"), out / name,
                                    data_dir, force) for name, cfg in points.items()]
    todo = [j for j in job_plans if j.status != "done"]
    client = executors.connect(address) if executor == "dask" and todo else None
    with results_lock(out, wait=False):
        try:
            with make_progress() as progress:
                hook = job_progress_hook(progress, len(todo), "sweep")
                if client is not None:
                    errors = executors.run_dask(todo, client, data_dir, sys.argv, hook)
                else:
                    errors = executors.run_local(todo, jobs or scheduler.default_workers(), data_dir, sys.argv, hook)
                hook.finish()
        finally:
            if client is not None:
                client.close()
        if errors:
            for label, msg in errors.items():
                err_console.print(f"[red]failed[/] {label}: {msg}", highlight=False)
            raise typer.Exit(1)
        metrics = {j.spec.name: io.read_json(j.out / "metrics.json") for j in job_plans}
        summary = sweep.summarize(out, lambdas_t, {j.spec.name: j.out for j in job_plans}, metrics)
        io.write_json(out / "sweep.json", summary)
    t = Table(title=f"λ sweep ({len(todo)} trained, {len(job_plans) - len(todo)} reused)")
    for c in ("λ (l2)", "val acc", "train acc", "‖W‖² (sum sq.)", "‖W‖_F", "stopped epoch"):
        t.add_column(c, justify="right")
    for r in summary["points"]:
        t.add_row(f"{r['l2']:g}", f"{r['val_accuracy']:.4f}", f"{r['train_accuracy']:.4f}",
                  f"{r['weight_sum_of_squares']:.3f}", f"{r['weight_frobenius_norm']:.3f}",
                  str(r["stopped_epoch"]))
    err_console.print(t)
    typer.echo(io.to_json(dict(summary, sweep_dir=str(out))).rstrip() if as_json else str(out))


# ----------------------------------------------------------------------------- linclf sweep


@handle_errors
def sweep_any(
    grid: Annotated[list[str], typer.Option("--grid", "-g", metavar="NAME=V1,V2", help="NAME=V1,V2,... : one grid axis over a train option (repeatable; the grid is their product). Layer lists as 128x64.", show_default=False)] = [],
    random: Annotated[Optional[int], typer.Option("--random", metavar="N", help="Random search: draw N points from the --space options.", show_default=False)] = None,
    space: Annotated[list[str], typer.Option("--space", metavar="NAME=SPACE", help="NAME=log:LOW:HIGH, NAME=lin:LOW:HIGH or NAME=A,B,C (a choice), for --random (repeatable).", show_default=False)] = [],
    spec_file: Annotated[Optional[Path], typer.Option("--spec", metavar="FILE", help="A YAML sweep spec (fixed, grid or random + space, seed, same_seed, select, mode); options given here override it.", show_default=False)] = None,
    set_: Annotated[list[str], typer.Option("--set", metavar="NAME=VALUE", help="NAME=VALUE: fix any other train option (repeatable), e.g. --set flip=true.", show_default=False)] = [],
    recipe: Annotated[Optional[str], typer.Option("--recipe", help="tdt4265, dd2424 or aml2020 (default: the data's natural recipe).", show_default=False)] = None,
    data: Annotated[Optional[str], typer.Option("--data", help="mnist, mnist-2v3, cifar10 or a folder of IDX files.", show_default=False)] = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="linear or mlp.", show_default=False)] = None,
    head: Annotated[Optional[str], typer.Option("--head", help="softmax or sigmoid.", show_default=False)] = None,
    optimizer: Annotated[Optional[str], typer.Option("--optimizer", help="sgd or adam.", show_default=False)] = None,
    schedule: Annotated[Optional[str], typer.Option("--schedule", help="constant, step, exponential or plateau.", show_default=False)] = None,
    lr: Annotated[Optional[float], typer.Option("--lr", help="Learning rate.", show_default=False)] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", "-b", help="Mini-batch size.", show_default=False)] = None,
    epochs: Annotated[Optional[int], typer.Option("--epochs", "-e", help="Epochs per point.", show_default=False)] = None,
    iterations: Annotated[Optional[int], typer.Option("--iterations", help="Steps per point instead of --epochs.", show_default=False)] = None,
    l2: Annotated[Optional[float], typer.Option("--l2", help="L2 coefficient.", show_default=False)] = None,
    l2_form: Annotated[Optional[str], typer.Option("--l2-form", help="half or full.", show_default=False)] = None,
    hidden: Annotated[Optional[str], typer.Option("--hidden", help="mlp hidden sizes, e.g. 128x64.", show_default=False)] = None,
    dtype: Annotated[Optional[str], typer.Option("--dtype", help="float32 or float64.", show_default=False)] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Sweep seed (default 0): the random search's draws and every point's seed (a hash of it and the point's values).", show_default=False)] = None,
    rng: Annotated[Optional[str], typer.Option("--rng", help="Every point's random stream: numpy (default_rng(seed)) or legacy (RandomState(seed)).", show_default=False)] = None,
    same_seed: Annotated[Optional[bool], typer.Option("--same-seed/--derived-seeds", help="Every point uses the sweep seed itself (common random numbers) instead of a derived one.", show_default=False)] = None,
    select: Annotated[Optional[str], typer.Option("--select", help="Metric that picks the best point: val_accuracy (default), val_loss, train_accuracy, train_loss, train_cost.", show_default=False)] = None,
    minimize: Annotated[Optional[bool], typer.Option("--minimize/--maximize", help="Direction of --select (default: minimise losses, maximise accuracies).", show_default=False)] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Sweep folder: sweep.csv at the top, one run directory per point below (default: runs/sweep).", show_default=False)] = None,
    executor: Annotated[str, typer.Option("--executor", help="local (processes on this machine) or dask (a Dask distributed cluster).")] = "local",
    scheduler_addr: Annotated[Optional[str], typer.Option("--scheduler", help="Dask scheduler address, tcp://HOST:8786 (default: $LINCLF_DASK_SCHEDULER).", show_default=False)] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="local: parallel trainings (default: cores).", show_default=False)] = 0,
    force: Annotated[bool, typer.Option("--force", help="Retrain finished points too.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List the points and which would train; train nothing.")] = False,
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="The sweep summary (sweep.json: every point's values and metrics, the best one) on stdout.")] = False,
) -> None:
    """Sweep any option of `linclf train` over a grid or a random search; one run directory
    per point (keyed by its content: a rerun skips finished points, a widened grid trains only
    the new ones), then sweep.csv, the best point and figures.

    Points' seeds derive from --seed and the point's values, never from order or workers: the same sweep gives bit-identical points with -j 1, -j 2 or a Dask cluster.

    [bold]Examples[/]

      linclf sweep --model mlp -g lr=1e-3,5e-3 -g hidden=100,200 -o runs/grid
      linclf sweep --random 24 --space lr=log:1e-4:1e-2 --space l2=log:1e-5:1e-1
      linclf sweep --spec sweep.yaml -o runs/s1 -j 2 --select val_loss
      linclf sweep --spec s.yaml --executor dask --scheduler tcp://HOST:8786
      linclf runs runs/grid --sort val_accuracy --reverse
    """
    from linclf_cli.sweeps import core, executors, spec as sweep_spec

    address = executors.check_executor(executor, scheduler_addr)
    fixed = {"recipe": recipe, "data": data, "model": model, "head": head, "optimizer": optimizer,
             "schedule": schedule, "learning_rate": lr, "batch_size": batch_size, "epochs": epochs,
             "iterations": iterations, "l2": l2, "l2_form": l2_form, "hidden": hidden, "rng": rng, "dtype": dtype}
    spec = sweep_spec.from_options(grid, space, set_, random, fixed, spec_file, seed, same_seed, select,
                                   None if minimize is None else ("min" if minimize else "max"))
    points = spec.points()  # every point validated before anything is read or written
    out = out or Path("runs/sweep")
    if dry_run:
        planned = core.plan_points(points, out, data_dir, force, remote_data=executor == "dask")
        rows = [{"point": p.point.name, **p.point.values, "status": p.job.status} for p in planned]
        if as_json:
            typer.echo(io.to_json({"sweep": spec.to_dict(), "points": rows}).rstrip())
        else:
            for r in rows:
                err_console.print(f"{r['status']:>8}  {r['point']}  " + ", ".join(
                    f"{k}={v}" for k, v in r.items() if k not in ("point", "status")), highlight=False)
        return
    client = executors.connect(address) if executor == "dask" else None
    try:
        with make_progress() as progress:
            outcome = core.run_sweep(
                spec, out, executor=executor, jobs=jobs or scheduler.default_workers(), client=client,
                data_dir=data_dir, force=force, argv=sys.argv,
                hook_factory=lambda n: job_progress_hook(progress, n, f"sweep ({len(points)} points)"))
    finally:
        if client is not None:
            client.close()
    s = outcome.summary
    _print_sweep(spec, s, outcome)
    if as_json:
        typer.echo(io.to_json(dict(s, sweep_dir=str(out))).rstrip())
    else:
        typer.echo(str(out))
    if outcome.errors:
        raise typer.Exit(1)


def _print_sweep(spec, s: dict, outcome) -> None:
    from linclf_cli.sweeps.results import value_text

    t = Table(title=f"sweep: {len(outcome.trained)} trained, {len(outcome.reused)} reused, "
                    f"{len(outcome.errors)} failed (best by {s['select']}, {s['mode']})")
    t.add_column("point")
    for n in spec.swept:
        t.add_column(n, justify="right")
    for c in ("val acc", "val loss", "status"):
        t.add_column(c, justify="right")
    best = (s.get("best") or {}).get("point")
    for r in s["points"]:
        va, vl = r.get("val_accuracy"), r.get("val_loss")
        t.add_row(("* " if r["point"] == best else "  ") + r["point"], *(value_text(r[n]) for n in spec.swept),
                  "-" if va is None else f"{va:.4f}", "-" if vl is None else f"{vl:.4f}", r["status"])
    err_console.print(t)
    for name, msg in s["failed"].items():
        err_console.print(f"[red]failed[/] {name}: {msg}", highlight=False)
