"""Gradient checks as a runnable job: choose the data, run the library checks, collect rows.

Every row is a dict with at least: check, model, l2, n_weights, max_abs_error, bound,
max_rel_error, passed.  The CLI renders them; tasks (1a, 1b, 4a) store them in
metrics.json and the report quotes them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from linclf_cli.data.mnist import load_mnist
from linclf_cli.data.splits import binary_subset, tdt4265_split
from linclf_cli.engine.functions import one_hot
from linclf_cli.engine.preprocess import pre_process_images
from linclf_cli.engine.tdt_gradcheck import tdt4265_gradcheck

TDT_MODELS = ("binary", "softmax")


def tdt_check_data(model: str, data_dir: Path | None, synthetic: bool, n: int = 100,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """The first ``n`` pre-processed training images (float64) and targets for ``model``."""
    if synthetic:
        rng = np.random.default_rng(seed)
        images = rng.integers(0, 256, size=(n, 784), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n) if model == "softmax" else rng.integers(0, 2, size=n) + 2
        source = f"synthetic ({n} random images, seed {seed})"
    else:
        m = load_mnist(data_dir)
        images, labels, _, _ = tdt4265_split(m)
        source = f"MNIST, first {n} training images" + (" of the 2-vs-3 subset" if model == "binary" else "")
    if model == "binary":
        images, T = binary_subset(images, labels, 2, 3, dtype=np.float64)
        return pre_process_images(images[:n], np.float64), T[:n], source
    return (pre_process_images(images[:n], np.float64), one_hot(labels[:n], 10, np.float64), source)


def tdt_gradchecks(models=TDT_MODELS, l2_values=(0.0, 2.0), data_dir: Path | None = None,
                   synthetic: bool = False, eps: float = 1e-3, seed: int = 0) -> list[dict]:
    rows = []
    for model in models:
        X, T, source = tdt_check_data(model, data_dir, synthetic)
        for l2 in l2_values:
            r = tdt4265_gradcheck(model, X, T, l2=l2, rng=np.random.default_rng(seed), eps=eps)
            rows.append({"check": "tdt4265", "param": "W", "data": source, **r})
    return rows
