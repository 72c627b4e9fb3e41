"""Line figures with the TDT4265 starter's conventions (Agg, no pyplot state).

* x axis "Number of Training Steps"; loss y axis "Cross Entropy Loss - Average";
  accuracy y axis "Accuracy";
* the per-step training loss is drawn as a mean over 10 steps with a +-std band, labelled
  "Training Loss mean over 10 steps" (the starter's ``plot_loss``);
* legends on every figure; y-limits given by the caller (the task's suggested ones).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # matplotlib is imported on first use: `linclf tasks` stays fast
    from matplotlib.figure import Figure

from .images import save_figure

STEPS_LABEL = "Number of Training Steps"
LOSS_LABEL = "Cross Entropy Loss - Average"
ACC_LABEL = "Accuracy"


@dataclass
class Series:
    x: np.ndarray
    y: np.ndarray
    label: str
    band: np.ndarray | None = None  # +- half-width around y
    style: str = "-"


def smoothed(steps: np.ndarray, values: np.ndarray, window: int = 10, label: str = "Training Loss") -> Series:
    """The starter's ``plot_loss(..., npoints_to_average=10)``: mean and std per 10 steps,
    placed at the middle step of each window; raw values if there are fewer than 10."""
    steps = np.asarray(steps)
    values = np.asarray(values, dtype=np.float64)
    k = len(values) // window
    if k == 0 or window == 1:
        return Series(steps, values, label)
    v = values[: k * window].reshape(k, window)
    x = steps[np.arange(k) * window + window // 2]
    return Series(x, v.mean(axis=1), f"{label} mean over {window} steps", band=v.std(axis=1))


def line_figure(path: Path, series: Sequence[Series], xlabel: str, ylabel: str,
                ylim: Sequence[float] | None = None, title: str | None = None,
                xscale: str = "linear", figsize=(7.0, 4.5)) -> Path:
    from matplotlib.figure import Figure
    
    fig = Figure(figsize=figsize)
    ax = fig.add_subplot(1, 1, 1)
    for s in series:
        (line,) = ax.plot(s.x, s.y, s.style, label=s.label)
        if s.band is not None:
            ax.fill_between(s.x, s.y - s.band, s.y + s.band, alpha=0.2, color=line.get_color(),
                            label=s.label.replace("mean", "variance"))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_xscale(xscale)
    if ylim is not None:
        ax.set_ylim(*ylim)
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, path)
