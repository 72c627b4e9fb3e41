"""``linclf train``: train one model from options and write one run directory."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Optional

import typer
from typing import Annotated

from linclf_cli.runs import registry, tdt4265
from linclf_cli.runs.context import RunContext

from .common import err_console, handle_errors, progress_callback

EXAMPLES = """
[bold]Examples[/]

  linclf train --model binary --epochs 50            [dim]# TDT4265 task 2b[/]
  linclf train --model binary --epochs 500 --early-stopping
  linclf train --model softmax --epochs 50           [dim]# task 3b[/]
  linclf train --model softmax --l2 2.0 --out runs/l2-2  [dim]# task 4b, lambda = 2 (2022)[/]
"""


@handle_errors
def train(
    model: Annotated[str, typer.Option("--model", "-m", help="binary (2 vs 3 logistic regression) or softmax (10 classes).")] = "softmax",
    classes: Annotated[tuple[int, int], typer.Option("--classes", help="Binary task: positive and negative digit.")] = (2, 3),
    lr: Annotated[Optional[float], typer.Option("--lr", help="Learning rate [default: 0.05 binary, 0.01 softmax].")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", "-b", help="Mini-batch size.")] = 128,
    epochs: Annotated[int, typer.Option("--epochs", "-e", help="Number of epochs.")] = 50,
    shuffle: Annotated[Optional[bool], typer.Option("--shuffle/--no-shuffle", help="Reshuffle every epoch [default: off binary, on softmax].")] = None,
    early_stopping: Annotated[bool, typer.Option("--early-stopping/--no-early-stopping", help="Stop after --patience checks without a new best validation loss.")] = False,
    patience: Annotated[int, typer.Option("--patience", help="Validation checks without improvement before stopping.")] = 10,
    l2: Annotated[float, typer.Option("--l2", help="L2 coefficient c added to the gradient as c*W (= the 2022 lambda; 2021 lambda = c/2).")] = 0.0,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the shuffling generator.")] = 0,
    dtype: Annotated[str, typer.Option("--dtype", help="float32 (fast, default) or float64.")] = "float32",
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Run directory [default: runs/<model>-<time>].")] = None,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Dataset folder (else $LINCLF_DATA_DIR, then the user cache).")] = None,
) -> None:
    """Train one model and write a run directory (config, run.json, metrics, history, weights, figures)."""
    cfg = tdt4265.TdtConfig(
        model=model, classes=tuple(classes), learning_rate=lr, batch_size=batch_size,
        epochs=epochs, shuffle=shuffle, l2=l2, early_stopping=early_stopping,
        patience=patience, seed=seed, dtype=dtype).resolved()
    out = out or Path("runs") / f"{model}-{datetime.now():%Y%m%d-%H%M%S}"
    with progress_callback(f"train {model}") as cb:
        metrics = registry.execute("tdt4265", cfg.to_dict(), out,
                                   RunContext(data_dir=data_dir, argv=sys.argv, progress=cb))
    stop = (f", stopped early at step {metrics['stopped_step']} (epoch {metrics['stopped_epoch']})"
            if metrics["stopped_step"] is not None else "")
    err_console.print(
        f"[green]done[/] {metrics['steps']} steps{stop}: train acc {metrics['train_accuracy']:.4f}, "
        f"val acc {metrics['val_accuracy']:.4f}, val loss {metrics['val_loss']:.4f}")
    typer.echo(str(out))


train.__doc__ = (train.__doc__ or "") + "\n" + EXAMPLES
