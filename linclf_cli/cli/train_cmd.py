"""``linclf train``: train one model from options and write one run directory."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer

from linclf_cli.assignments import registry
from linclf_cli.runs.context import RunContext

from .common import err_console, handle_errors, parse_hidden, progress_callback

MODEL_HELP = ("linear or mlp, or a course shortcut: binary, softmax, dd2424-softmax, "
              "dd2424-sigmoid, mlp (see above).")

# shortcut -> the orthogonal options it expands to (used when it is combined with one of them)
SHORTCUTS: dict[str, dict] = {
    "binary": {"recipe": "tdt4265", "data": "mnist-2v3", "model": "linear", "head": "sigmoid"},
    "softmax": {"recipe": "tdt4265", "data": "mnist", "model": "linear", "head": "softmax"},
    "dd2424-softmax": {"recipe": "dd2424", "data": "cifar10", "model": "linear", "head": "softmax"},
    "dd2424-sigmoid": {"recipe": "dd2424", "data": "cifar10", "model": "linear", "head": "sigmoid"},
    "mlp": {"recipe": "aml2020", "data": "cifar10", "model": "mlp"},
}
ORTHOGONAL = ("recipe", "data", "head", "l2_form", "schedule", "iterations")
RECIPE_DATA = {"tdt4265": "mnist", "dd2424": "cifar10", "aml2020": "cifar10"}


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
    "rng": ("--rng", TDT + DD),  # the AML CIFAR trainer draws from default_rng(seed) only
}
CONDITIONAL: dict[str, tuple[tuple[str, ...], Callable[[str, bool], bool], str]] = {
    "patience": (TDT, lambda opt, es: es, "with --early-stopping"),
    "iters": (MLP, lambda opt, es: opt == "sgd", "with --optimizer sgd (adam trains for --epochs)"),
    "epochs": (MLP, lambda opt, es: opt == "adam", "with --optimizer adam (sgd runs --iters iterations)"),
}


def _given(ctx, name: str) -> bool:
    if not hasattr(ctx, "get_parameter_source"):  # called as a plain function
        return False
    src = ctx.get_parameter_source(name)
    return src is not None and src.name in ("COMMANDLINE", "ENVIRONMENT")


def _orthogonal_params(ctx, model: str, opts: dict) -> dict:
    """The orthogonal trainer's options (assignments/train.py TrainConfig) from the CLI's.

    A shortcut model expands to its recipe, data, model and head; explicit options win (a
    shortcut's recipe stays only while --data is not given).  Options with no meaning for
    the orthogonal trainer are usage errors (exit 2)."""
    from linclf_cli.errors import UsageError

    if _given(ctx, "split"):
        raise UsageError("--split picks a DD2424 split of --model dd2424-*; it does not apply to the "
                         "orthogonal trainer (--recipe dd2424 uses data_batch_1/2 and the test batch).",
                         "Remove --split, or use --model dd2424-softmax without orthogonal options.")
    if _given(ctx, "patience") and not opts["early_stopping"]:
        raise UsageError("--patience has an effect only with --early-stopping.", "Add --early-stopping.")
    p: dict = {}
    if model in SHORTCUTS:
        p.update(SHORTCUTS[model])
        if _given(ctx, "data") or _given(ctx, "recipe"):
            p.pop("recipe")
    else:
        p["model"] = model
    for name in ORTHOGONAL:
        if opts.get(name) is not None:
            p[name] = opts[name]
    if "data" not in p:
        p["data"] = RECIPE_DATA.get(p.get("recipe"), "cifar10" if p["model"] == "mlp" else "mnist")
    if _given(ctx, "classes"):
        p["classes"] = list(opts["classes"])
    if _given(ctx, "hidden"):
        p["hidden"] = parse_hidden(opts["hidden"])
    if _given(ctx, "iters"):
        p["iterations"] = opts["iters"]
    if _given(ctx, "decay"):
        p["schedule"] = {"none": "constant"}.get(opts["decay"], opts["decay"])
    if _given(ctx, "optimizer"):
        p["optimizer"] = opts["optimizer"]
    if _given(ctx, "shuffle"):
        raise UsageError("--shuffle/--no-shuffle belongs to the shortcut models; the orthogonal trainer "
                         "uses the recipe's sampler.", "Remove it, or choose another --recipe.")
    _set(p, learning_rate=opts["lr"], batch_size=opts["batch_size"], epochs=opts["epochs"],
         seed=opts["seed"], rng=opts["rng"], dtype=opts["dtype"], l2=opts["l2"], flip=opts["flip"] or None,
         early_stopping=opts["early_stopping"] or None, patience=opts["patience"])
    return p


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
                         "Remove the option, choose a model it applies to, or name a --recipe/--data to use "
                         "the orthogonal trainer, where it applies to every model (see `linclf train --help`).")


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
    rng: Annotated[Optional[str], typer.Option("--rng", help="Random stream: numpy (default_rng(seed), the default) or legacy (RandomState(seed), a starter's np.random.seed stream); recorded in config.yaml and run.json. Not for --model mlp without orthogonal options.", show_default=False)] = None,
    dtype: Annotated[str, typer.Option("--dtype", help="float32 (fast, default) or float64.")] = "float32",
    flip: Annotated[bool, typer.Option("--flip", help="DD2424: random horizontal flips (p = 0.5).")] = False,
    decay: Annotated[str, typer.Option("--decay", help="DD2424: none, step (÷10 every 10 epochs) or plateau.")] = "none",
    split: Annotated[str, typer.Option("--split", help="DD2424: a1 (batch 1/2/test) or bonus (all data minus 1000).")] = "a1",
    optimizer: Annotated[str, typer.Option("--optimizer", help="mlp: sgd (AML NumPy part) or adam (PyTorch part).")] = "sgd",
    hidden: Annotated[list[str], typer.Option("--hidden", metavar="SIZES", help="mlp hidden sizes: --hidden 50, --hidden 128,64 or repeated.")] = ["50"],
    iters: Annotated[Optional[int], typer.Option("--iters", help="mlp sgd: iterations (default: 1000).", show_default=False)] = None,
    recipe: Annotated[Optional[str], typer.Option("--recipe", help="Orthogonal trainer: a course's defaults: tdt4265, dd2424 or aml2020 (default: the data's natural recipe, recorded in config.yaml).", show_default=False)] = None,
    data: Annotated[Optional[str], typer.Option("--data", help="Orthogonal trainer: mnist, mnist-2v3 (--classes picks other digits), cifar10, or a folder with the four MNIST-named IDX files.", show_default=False)] = None,
    head: Annotated[Optional[str], typer.Option("--head", help="Orthogonal trainer: softmax (cross-entropy) or sigmoid (binary cross-entropy averaged over the outputs).", show_default=False)] = None,
    l2_form: Annotated[Optional[str], typer.Option("--l2-form", help="Orthogonal trainer: half ((λ/2)ΣW², gradient λW: TDT4265) or full (λΣW², gradient 2λW: DD2424, AML). Default: the recipe's.", show_default=False)] = None,
    schedule: Annotated[Optional[str], typer.Option("--schedule", help="Orthogonal trainer: constant, step (÷10 every 10 epochs), exponential (×0.95 per epoch) or plateau.", show_default=False)] = None,
    iterations: Annotated[Optional[int], typer.Option("--iterations", help="Orthogonal trainer: train this many steps instead of --epochs.", show_default=False)] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Run directory (default: runs/<model>-<time>).", show_default=False)] = None,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Dataset folder (else $LINCLF_DATA_DIR, then the user cache).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run directory and its metrics as JSON on stdout (instead of the path).")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an earlier linclf run directory at --out (anything else there is always refused).")] = False,
) -> None:
    """Train one model and write a run directory (config.yaml, run.json, metrics.json, history,
    weights, figures).

    --model linear|mlp is the orthogonal trainer: combine it with --recipe, --data, --head and the rest. The course shortcuts run the course's own trainer and expand to a recipe plus options: binary = --recipe tdt4265 --data mnist-2v3 --model linear --head sigmoid; softmax = --recipe tdt4265 --data mnist --model linear; dd2424-softmax / dd2424-sigmoid = --recipe dd2424 --data cifar10 --model linear --head softmax|sigmoid; mlp without orthogonal options = --recipe aml2020 --data cifar10 --model mlp.

    [bold]Examples[/]

      linclf train --model binary --epochs 50                [dim]# TDT4265 task 2b[/]
      linclf train --model binary --epochs 500 --early-stopping
      linclf train --model softmax --rng legacy  [dim]# the starter's stream[/]
      linclf train --model softmax --l2 2.0 --out runs/l2-2  [dim]# task 4b, λ = 2[/]
      linclf train --model dd2424-softmax --l2 0.1           [dim]# DD2424 run 3[/]
      linclf train --model mlp --hidden 50 --iters 1000      [dim]# AML Q3b default run[/]
      linclf train --model mlp --optimizer adam --hidden 128,64
      linclf train --model mlp --data mnist --hidden 128,64  [dim]# any combination[/]
      linclf train --model linear --data cifar10 --optimizer adam --early-stopping
      linclf train --model linear --data my-idx-folder --l2-form full
    """
    opts = dict(recipe=recipe, data=data, head=head, l2_form=l2_form, schedule=schedule,
                iterations=iterations, classes=classes, hidden=hidden, iters=iters, decay=decay,
                optimizer=optimizer, lr=lr, batch_size=batch_size, epochs=epochs, seed=seed,
                rng=rng, dtype=dtype, l2=l2, flip=flip, early_stopping=early_stopping, patience=patience)
    if model not in ("linear", *SHORTCUTS):
        from linclf_cli.errors import UsageError

        raise UsageError(f"Unknown model {model!r}.",
                         f"Choose one of: linear, {', '.join(SHORTCUTS)} (see `linclf train --help`).")
    orthogonal = model == "linear" or any(opts[k] is not None for k in ORTHOGONAL)
    if orthogonal:
        kind, params = "train", _orthogonal_params(ctx, model, opts)
    else:
        kind, fixed = registry.train_kind(model)
        _refuse_inapplicable(ctx, model, optimizer, early_stopping)
        params = dict(fixed)
    if kind == "train":
        pass
    elif kind == "tdt4265":
        _set(params, classes=list(classes), learning_rate=lr, batch_size=batch_size, epochs=epochs,
             shuffle=shuffle, l2=l2, early_stopping=early_stopping, patience=patience, seed=seed,
             rng=rng, dtype=dtype)
    elif kind == "dd2424":
        _set(params, learning_rate=lr, batch_size=batch_size, epochs=epochs, shuffle=shuffle, l2=l2,
             seed=seed, rng=rng, dtype=dtype, flip=flip, schedule=decay, split=split)
    else:  # aml
        _set(params, optimizer=optimizer, hidden=parse_hidden(hidden), learning_rate=lr,
             batch_size=batch_size, epochs=epochs, iterations=iters, l2=l2, seed=seed, dtype=dtype)
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
