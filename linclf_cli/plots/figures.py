"""Line figures with the TDT4265 starter's conventions (Agg, no pyplot state).

* x axis "Number of Training Steps"; loss y axis "Cross Entropy Loss - Average";
  accuracy y axis "Accuracy";
* the per-step training loss is drawn as a mean over 10 steps with a +-std band, labelled
  "Training Loss mean over 10 steps" (the starter's ``plot_loss``);
* legends on every figure, placed below the axes so they never cover a curve;
* y-limits given by the caller (the task's suggested ones) are kept only while they show the
  data: when fewer than :data:`MIN_INSIDE` of the plotted points fall inside them (a run whose
  loss is far from the one the limits were chosen for), the axis follows the data instead.
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
MIN_INSIDE = 0.5  # fraction of the plotted points that preset y-limits must show to be kept


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


def effective_ylim(series: Sequence[Series], ylim: Sequence[float] | None) -> tuple[float, float] | None:
    """``ylim`` if at least :data:`MIN_INSIDE` of the finite y values of ``series`` lie inside it,
    else ``None`` (autoscale). Preset limits keep the course's framing (a loss spike above the
    range is clipped, as in the starter's plots) but never leave a figure with empty axes."""
    if ylim is None:
        return None
    lo, hi = float(min(ylim)), float(max(ylim))
    ys = [np.asarray(s.y, dtype=np.float64).ravel() for s in series]
    y = np.concatenate(ys) if ys else np.empty(0)
    y = y[np.isfinite(y)]
    if y.size == 0:
        return (lo, hi)
    inside = float(np.mean((y >= lo) & (y <= hi)))
    return (lo, hi) if inside >= MIN_INSIDE else None


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
    ylim = effective_ylim(series, ylim)
    if ylim is not None:
        ax.set_ylim(*ylim)
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()  # before the legend: the axes keep their size, the saved image grows
    # below the x label, outside the axes: a legend inside can cover a curve whatever "best" picks
    labels = ax.get_legend_handles_labels()[1]
    longest = max((len(t) for t in labels), default=0)
    ncol = 3 if longest <= 28 else (2 if longest <= 52 else 1)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=max(1, min(ncol, len(labels))),
              frameon=False, fontsize=9)
    return save_figure(fig, path, palette=True)
