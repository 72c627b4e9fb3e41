"""``linclf train``: train one model from options and write one run directory."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer

from linclf_cli.runs import registry
from linclf_cli.runs.context import RunContext

from .common import err_console, handle_errors, parse_hidden, progress_callback

MODEL_HELP = ("binary (TDT4265 2 vs 3), softmax (TDT4265 10 classes), dd2424-softmax, "
              "dd2424-sigmoid (CIFAR-10 linear, DD2424), mlp (CIFAR-10 ReLU net, AML).")


TDT, DD, MLP = ("binary", "softmax"), ("dd2424-softmax", "dd2424-sigmoid"), ("mlp",)

# option (python name) -> (flag, models it applies to); CONDITIONAL: (models, condition, when)
APPLIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "classes": ("--classes", ("binary",)),
    "shuffle": ("--shuffle/--no-shuffle", TDT + DD),
    "early_stopping": ("--early-stopping/--no-early-stopping", TDT),
    "patience": ("--patience", TDT),
    "flip": ("--flip", DD),
    "decay": ("--decay", DD),
    "split": ("--split", DD),
    "optimizer": ("--optimizer", MLP),
    "hidden": ("--hidden", MLP),
    "iters": ("--iters", MLP),
}
CONDITIONAL: dict[str, tuple[tuple[str, ...], Callable[[str, bool], bool], str]] = {
    "patience": (TDT, lambda opt, es: es, "with --early-stopping"),
    "iters": (MLP, lambda opt, es: opt == "sgd", "with --optimizer sgd (adam trains for --epochs)"),
    "epochs": (MLP, lambda opt, es: opt == "adam", "with --optimizer adam (sgd runs --iters iterations)"),
}


def _refuse_inapplicable(ctx, model: str, optimizer: str, early_stopping: bool) -> None:
    """An option the user gave that the chosen model would ignore is a usage error (exit 2),
    never a silent no-op.  Only options set on the command line (or from the environment)
    count, through click's parameter sources; defaults never do."""
    from linclf_cli.errors import UsageError

    if not hasattr(ctx, "get_parameter_source"):  # called as a plain function
        return

    def given(name: str) -> bool:
        src = ctx.get_parameter_source(name)
        return src is not None and src.name in ("COMMANDLINE", "ENVIRONMENT")

    problems = []
    for name, (flag, models) in APPLIES.items():
        if given(name) and model not in models:
            problems.append(f"{flag} does not apply to --model {model} (only to {', '.join(models)})")
    for name, (models, cond, when) in CONDITIONAL.items():
        if given(name) and model in models and not cond(optimizer, early_stopping):
            flag = APPLIES.get(name, (f"--{name}",))[0]
            problems.append(f"{flag} has an effect on --model {model} only {when}")
    if problems:
        raise UsageError("; ".join(problems) + ".",
                         "Remove the option, or choose a model it applies to (see `linclf train --help`).")


def _set(params: dict, **kw) -> dict:
    params.update({k: v for k, v in kw.items() if v is not None})
    return params


@handle_errors
def train(
    ctx: typer.Context,
    model: Annotated[str, typer.Option("--model", "-m", help=MODEL_HELP)] = "softmax",
    classes: Annotated[tuple[int, int], typer.Option("--classes", help="binary: positive and negative digit.")] = (2, 3),
    lr: Annotated[Optional[float], typer.Option("--lr", help="Learning rate (default: the assignment's: 0.05 binary, 0.01 softmax, 0.001 dd2424, 1e-4 mlp sgd, 1e-3 mlp adam).", show_default=False)] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", "-b", help="Mini-batch size (default: 128 TDT4265, 100 DD2424, 200 AML).", show_default=False)] = None,
    epochs: Annotated[Optional[int], typer.Option("--epochs", "-e", help="Epochs (default: 50 TDT4265, 40 DD2424, 10 mlp adam).", show_default=False)] = None,
    shuffle: Annotated[Optional[bool], typer.Option("--shuffle/--no-shuffle", help="Reshuffle every epoch (default: off for binary, on otherwise).", show_default=False)] = None,
    early_stopping: Annotated[bool, typer.Option("--early-stopping/--no-early-stopping", help="TDT4265: stop after --patience checks without a new best validation loss.")] = False,
    patience: Annotated[int, typer.Option("--patience", help="TDT4265: validation checks without improvement before stopping.")] = 10,
    l2: Annotated[float, typer.Option("--l2", help="Regularisation: TDT4265 coefficient c (gradient c*W, the 2022 lambda); DD2424/AML lambda of lambda*sum W^2 (gradient 2*lambda*W; Adam: weight decay).")] = 0.0,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed (default: 0; 42 for DD2424).", show_default=False)] = None,
    dtype: Annotated[str, typer.Option("--dtype", help="float32 (fast, default) or float64.")] = "float32",
    flip: Annotated[bool, typer.Option("--flip", help="DD2424: random horizontal flips (p = 0.5).")] = False,
    decay: Annotated[str, typer.Option("--decay", help="DD2424: none, step (÷10 every 10 epochs) or plateau.")] = "none",
    split: Annotated[str, typer.Option("--split", help="DD2424: a1 (batch 1/2/test) or bonus (all data minus 1000).")] = "a1",
    optimizer: Annotated[str, typer.Option("--optimizer", help="mlp: sgd (AML NumPy part) or adam (PyTorch part).")] = "sgd",
    hidden: Annotated[list[str], typer.Option("--hidden", help="mlp hidden sizes: --hidden 50, --hidden 128,64 or repeated.")] = ["50"],
    iters: Annotated[Optional[int], typer.Option("--iters", help="mlp sgd: iterations (default: 1000).", show_default=False)] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Run directory (default: runs/<model>-<time>).", show_default=False)] = None,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Dataset folder (else $LINCLF_DATA_DIR, then the user cache).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run directory and its metrics as JSON on stdout (instead of the path).")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an earlier linclf run directory at --out (anything else there is always refused).")] = False,
) -> None:
    """Train one model and write a run directory (config.yaml, run.json, metrics.json, history,
    weights, figures).

    [bold]Examples[/]

      linclf train --model binary --epochs 50                [dim]# TDT4265 task 2b[/]
      linclf train --model binary --epochs 500 --early-stopping
      linclf train --model softmax --l2 2.0 --out runs/l2-2  [dim]# task 4b, λ = 2[/]
      linclf train --model dd2424-softmax --l2 0.1           [dim]# DD2424 run 3[/]
      linclf train --model mlp --hidden 50 --iters 1000      [dim]# AML Q3b default run[/]
      linclf train --model mlp --optimizer adam --hidden 128,64
    """
    kind, fixed = registry.train_kind(model)
    _refuse_inapplicable(ctx, model, optimizer, early_stopping)
    params: dict = dict(fixed)
    if kind == "tdt4265":
        _set(params, classes=list(classes), learning_rate=lr, batch_size=batch_size, epochs=epochs,
             shuffle=shuffle, l2=l2, early_stopping=early_stopping, patience=patience, seed=seed,
             dtype=dtype)
    elif kind == "dd2424":
        _set(params, eta=lr, n_batch=batch_size, n_epochs=epochs, shuffle=shuffle, lam=l2, seed=seed,
             dtype=dtype, flip=flip, decay=decay, split=split)
    else:  # aml
        _set(params, optimizer=optimizer, hidden=parse_hidden(hidden), learning_rate=lr,
             batch_size=batch_size, epochs=epochs, num_iters=iters, reg=l2, seed=seed, dtype=dtype)
    # validate everything before any data is read or anything is written
    from linclf_cli.tasks.typed import build

    build(registry.KINDS[kind].config, params, "options").resolved()
    out = out or Path("runs") / f"{model}-{datetime.now():%Y%m%d-%H%M%S}"
    from linclf_cli.runs.rundir import check_replaceable

    check_replaceable(out, force=force)  # never replace or hide what linclf did not write
    with progress_callback(f"train {model}") as cb:
        metrics = registry.execute(kind, params, out, RunContext(data_dir=data_dir, argv=sys.argv, progress=cb))
    summary = ", ".join(f"{k.replace('_', ' ')} {metrics[k]:.4f}" for k in
                        ("train_accuracy", "val_accuracy", "test_accuracy", "val_loss") if k in metrics)
    if metrics.get("stopped_step") is not None:
        summary += f"; stopped early at step {metrics['stopped_step']} (epoch {metrics['stopped_epoch']})"
    err_console.print(f"[green]done[/] {summary}", highlight=False)
    if as_json:
        from linclf_cli.runs.io import to_json

        typer.echo(to_json({"run_dir": str(out), "metrics": metrics}).rstrip())
    else:
        typer.echo(str(out))
