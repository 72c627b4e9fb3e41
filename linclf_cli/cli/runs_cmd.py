"""``linclf runs``: list run directories with their key parameters and final metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from linclf_cli.runs.catalog import find_runs, sort_runs

from .common import err_console, handle_errors


def _num(v, fmt: str) -> str:
    if v is None:
        return "-"
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return format(v, fmt)
    return str(v).replace(" ", "")


def _model(row: dict) -> str:
    """The short model name (``linclf train --model`` style)."""
    kind, _, model = row["model"].partition("/")
    if kind == "tdt4265":
        return model
    if kind == "aml":
        return f"mlp-{model}" if model else "mlp"
    return f"{kind}-{model}" if model else kind


def runs_table(rows: list[dict], title: str) -> Table:
    """One line per run: ids never cut (the run column keeps its full width)."""
    cells = [[r["name"], _model(r), _num(r["lr"], "g"), _num(r["l2"], "g"), _num(r["epochs"], "d"),
              _num(r["val_accuracy"], ".4f"), _num(r["test_accuracy"], ".4f")] for r in rows]
    heads = ["run", "model", "lr", "l2", "epochs", "val acc", "test acc"]
    keep = [i for i in range(len(heads)) if i < 2 or any(c[i] != "-" for c in cells)]  # no empty columns
    heads, cells = [heads[i] for i in keep], [[c[i] for i in keep] for c in cells]
    t = Table(title=title, box=box.SIMPLE_HEAD, padding=(0, 1), collapse_padding=True,
              pad_edge=False, title_justify="left")
    for i, h in enumerate(heads):
        width = max([len(h)] + [len(c[i]) for c in cells])
        t.add_column(h, justify="left" if i < 2 else "right", no_wrap=True,
                     min_width=width, overflow="ellipsis")
    for c in cells:
        t.add_row(*c)
    return t


@handle_errors
def runs(
    folder: Annotated[Path, typer.Argument(help="Folder holding run directories: runs/ (linclf train), a sweep folder or a results/ tree.")] = Path("runs"),
    sort: Annotated[Optional[str], typer.Option("--sort", "-s", help="Sort by a column: name, model, lr, batch, epochs, l2, seed, train_accuracy, val_accuracy, test_accuracy, val_loss, finished.", show_default=False)] = None,
    reverse: Annotated[bool, typer.Option("--reverse", "-r", help="Reverse the order (largest first).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON list on stdout (every parameter and metric shown, plus batch, seed, train accuracy, val loss, stopped epoch, finished).")] = False,
) -> None:
    """List the run directories under FOLDER (every folder holding config.yaml and
    metrics.json) with their key parameters and final metrics.

    [bold]Examples[/]

      linclf runs
      linclf runs results --sort val_accuracy --reverse
      linclf runs runs/sweep-lambda --json
    """
    found = sort_runs(find_runs(folder), sort, reverse)
    rows = [r.row() for r in found]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        err_console.print(f"No run directories under {folder}.", highlight=False)
        return
    Console().print(runs_table(rows, f"{len(rows)} run(s) under {folder}"))
