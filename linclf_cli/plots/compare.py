"""One figure overlaying several runs' curves: loss (left) and accuracy (right), one colour
per run; training solid, validation dashed.  Takes data and a path (Agg, no pyplot state)."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from .images import save_figure

X_LABELS = {"step": "Number of Training Steps", "iteration": "Iteration", "epoch": "Epoch"}


def compare_figure(runs: Mapping[str, Mapping[str, tuple[str, np.ndarray, np.ndarray]]], path: Path,
                   smooth: int = 10) -> Path:
    """``runs``: label -> curves as :func:`linclf_cli.runs.catalog.curves` returns them.
    Per-step training losses longer than ``20 * smooth`` points are drawn as a mean over
    ``smooth`` steps (as the TDT4265 starter does) so several runs stay readable."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.4))
    ax_loss, ax_acc = fig.subplots(1, 2)
    colours = [f"C{i % 10}" for i in range(len(runs))]
    xlabels = {"loss": set(), "acc": set()}
    for colour, (label, cur) in zip(colours, runs.items()):
        for name, ax, part in (("train_loss", ax_loss, "loss"), ("val_loss", ax_loss, "loss"),
                               ("train_accuracy", ax_acc, "acc"), ("val_accuracy", ax_acc, "acc")):
            if name not in cur:
                continue
            xname, x, y = cur[name]
            if name == "train_loss" and len(y) > 20 * smooth:
                n = len(y) // smooth * smooth
                x, y = x[:n:smooth], y[:n].reshape(-1, smooth).mean(axis=1)
            ax.plot(x, y, color=colour, linestyle="-" if name.startswith("train") else "--",
                    linewidth=1.2, label=f"{label} ({name.split('_')[0]})")
            xlabels[part].add(X_LABELS.get(xname, xname))
    for ax, part, ylabel in ((ax_loss, "loss", "Loss"), (ax_acc, "acc", "Accuracy")):
        ax.set_xlabel(" / ".join(sorted(xlabels[part])) or "step")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2, fontsize="small", frameon=False)
        else:
            ax.text(0.5, 0.5, "no curve recorded", ha="center", va="center", transform=ax.transAxes)
    ax_loss.set_title("Loss (training solid, validation dashed)", fontsize="medium")
    ax_acc.set_title("Accuracy", fontsize="medium")
    fig.tight_layout()
    return save_figure(fig, path, palette=True)
