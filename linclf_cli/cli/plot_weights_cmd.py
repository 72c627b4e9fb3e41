"""``linclf plot-weights``: each class's weights as a 28x28 image, one row per run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from linclf_cli.errors import UsageError

from .common import handle_errors


@handle_errors
def plot_weights(
    runs: Annotated[list[Path], typer.Argument(metavar="RUN_DIR", help="Run directories holding weights.npz (one row each).", show_default=False)],
    labels: Annotated[list[str], typer.Option("--label", metavar="TEXT", help="Row label (repeatable, in run order).")] = [],
    out: Annotated[Path, typer.Option("--out", "-o", help="PNG file to write.")] = Path("weights.png"),
    title: Annotated[Optional[str], typer.Option("--title", help="Figure title (default: none).", show_default=False)] = None,
) -> None:
    """Render each digit's weight vector (bias excluded) as a 28x28 image, the ten digits side by
    side, one row per run, each row min-max normalised, grey colormap.

    [bold]Examples[/]

      linclf plot-weights results/tdt4265-a1/3b results/tdt4265-a1/4b \\
          --label "λ = 0" --label "λ = 2" -o weights.png
    """
    from linclf_cli.plots.images import mnist_weight_rows
    from linclf_cli.tasks.figures import load_weights

    if labels and len(labels) != len(runs):
        raise UsageError(f"Got {len(labels)} labels for {len(runs)} runs.", "Give one --label per run, or none.")
    Ws = []
    for r in runs:
        W = load_weights(r)
        if W.shape[0] not in (784, 785) or W.shape[1] < 1:
            raise UsageError(f"{r}: weights of shape {W.shape} are not MNIST weights (785 x K).")
        Ws.append(W)
    mnist_weight_rows(Ws, labels or [Path(r).name for r in runs], out, title=title)
    from .links import echo_path

    echo_path(out)  # a clickable file:// link on a terminal
