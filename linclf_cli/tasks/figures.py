"""Figures that combine runs of several tasks (tasks.yaml ``figures:``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from linclf_cli.errors import UsageError
from linclf_cli.plots.figures import ACC_LABEL, LOSS_LABEL, STEPS_LABEL, Series, line_figure, smoothed
from linclf_cli.assignments.tdt4265.recipe import load_history

from .schema import FigureSpec

OVERLAY_METRICS = {
    "val_accuracy": ("history_checks", "Validation Accuracy", ACC_LABEL),
    "train_accuracy": ("history_checks", "Training Accuracy", ACC_LABEL),
    "val_loss": ("history_checks", "Validation Loss", LOSS_LABEL),
    "train_loss": ("history_steps", "Training Loss", LOSS_LABEL),
}


MAX_CLASSES = 1000  # weights.npz W is (785, K): anything wider is not a linclf MNIST model


def load_weights(run_dir: Path) -> np.ndarray:
    """W of an MNIST run, its .npz header (shape, dtype) checked before any data is read."""
    from linclf_cli.runs.io import read_npz

    path = Path(run_dir) / "weights.npz"
    if not path.is_file():
        raise UsageError(f"{run_dir} holds no weights.npz.",
                         "Point at a run directory written by `linclf train`.")
    return read_npz(path, {"W": (None, None)}, max_elements=785 * MAX_CLASSES)["W"]


def draw_figure(spec: FigureSpec, run_dirs: dict[str, Path], path: Path) -> Path:
    labels = list(spec.labels) + [""] * (len(spec.runs) - len(spec.labels))
    if spec.kind == "weights":
        from linclf_cli.plots.images import mnist_weight_rows

        return mnist_weight_rows([load_weights(run_dirs[r]) for r in spec.runs], labels, path,
                                 title=spec.title)
    which, base_label, ylabel = OVERLAY_METRICS[spec.metric]
    series = []
    for ref, suffix in zip(spec.runs, labels):
        h = load_history(run_dirs[ref])[which]
        label = f"{base_label}{suffix}"
        if which == "history_steps":
            series.append(smoothed(h["step"], h["train_loss"], 10, label))
        else:
            series.append(Series(h["step"], h[spec.metric], label))
    return line_figure(path, series, STEPS_LABEL, ylabel, spec.ylim, title=spec.title)
