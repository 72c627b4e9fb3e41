"""Image-like figures: weight visualisations and probability histograms.

Everything here uses :class:`matplotlib.figure.Figure` directly (never ``pyplot``), so it holds
no global state and is safe in threads and worker processes. PNGs are written atomically
(temp file in the same folder + ``os.replace``) and byte-for-byte deterministic for the same
data (no ``Software``/timestamp metadata).

The ``compose_*`` / ``*_images`` / ``grid_image`` functions return the exact arrays that are
drawn, so tests can check orientation and normalisation without looking at pixels.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from linclf_cli.runs.io import atomic_write_bytes
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # matplotlib is imported on first use: `linclf tasks` stays fast
    from matplotlib.figure import Figure

__all__ = [
    "DPI",
    "compose_weight_rows",
    "mnist_weight_rows",
    "template_images",
    "cifar_templates",
    "grid_image",
    "first_layer_grid",
    "probability_histograms",
    "save_figure",
]

DPI = 200  # sharp on HiDPI screens: the report shows each PNG at half its pixel width (2x)
_MNIST_SIDE = 28
_MNIST_PIXELS = _MNIST_SIDE * _MNIST_SIDE  # 784
_CIFAR_SIDE = 32
_CIFAR_PIXELS = 3 * _CIFAR_SIDE * _CIFAR_SIDE  # 3072


# --------------------------------------------------------------------------- helpers


def save_figure(fig: Figure, path: Path, palette: bool = False) -> Path:
    """Save ``fig`` as PNG atomically and deterministically; returns ``path``.

    ``palette=True`` (plots of lines, bars and text) stores the image with a 256-colour
    palette, which such figures fit without a visible difference at a third of the size;
    images of weights keep every colour.
    """
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.1,
                    metadata={"Software": None}, facecolor="white")
    finally:
        fig.clear()  # a pyplot-free Figure is garbage-collected once unreferenced
    data = buf.getvalue()
    if palette:
        from PIL import Image  # matplotlib's own dependency

        img = Image.open(io.BytesIO(data)).convert("RGB")
        img = img.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        out = io.BytesIO()
        img.save(out, format="PNG", optimize=True)
        data = out.getvalue()
    return atomic_write_bytes(Path(path), data)


def _minmax(a: np.ndarray) -> np.ndarray:
    """Scale to [0, 1] over the finite entries; non-finite -> 0; a constant array -> 0."""
    a = np.asarray(a, dtype=np.float64)
    finite = np.isfinite(a)
    if not finite.any():
        return np.zeros_like(a)
    lo, hi = float(a[finite].min()), float(a[finite].max())
    out = np.zeros_like(a)
    if hi > lo:
        out[finite] = (a[finite] - lo) / (hi - lo)
    return np.clip(out, 0.0, 1.0)


def _mnist_weights(W: np.ndarray) -> np.ndarray:
    """(785, 10) with bias row, or (784, 10) -> (784, 10). The transposes are accepted too."""
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2:
        raise ValueError(f"expected a 2-D MNIST weight matrix, got shape {W.shape}")
    if W.shape[0] not in (_MNIST_PIXELS, _MNIST_PIXELS + 1) and W.shape[1] in (_MNIST_PIXELS, _MNIST_PIXELS + 1):
        W = W.T
    if W.shape[0] == _MNIST_PIXELS + 1:
        W = W[:-1]  # last row is the bias (input augmented with a trailing 1)
    if W.shape[0] != _MNIST_PIXELS:
        raise ValueError(f"expected a (785, K) or (784, K) MNIST weight matrix, got {W.shape}")
    return W


def _cifar_rows(W: np.ndarray) -> np.ndarray:
    """(K, 3072) -> (K, 3072); a (3072, K) matrix is transposed."""
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2:
        raise ValueError(f"expected a 2-D CIFAR weight matrix, got shape {W.shape}")
    if W.shape[1] != _CIFAR_PIXELS and W.shape[0] == _CIFAR_PIXELS:
        W = W.T
    if W.shape[1] != _CIFAR_PIXELS:
        raise ValueError(f"expected a (K, 3072) CIFAR weight matrix, got {W.shape}")
    return W


def _to_hwc(flat: np.ndarray, layout: str) -> np.ndarray:
    """(N, 3072) -> (N, 32, 32, 3) from channel-major ("chw") or channel-last ("hwc") rows."""
    n = flat.shape[0]
    if layout == "chw":
        return flat.reshape(n, 3, _CIFAR_SIDE, _CIFAR_SIDE).transpose(0, 2, 3, 1)
    if layout == "hwc":
        return flat.reshape(n, _CIFAR_SIDE, _CIFAR_SIDE, 3)
    raise ValueError(f"layout must be 'chw' or 'hwc', got {layout!r}")


def _off(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


# --------------------------------------------------------------------------- MNIST (TDT4265)


def compose_weight_rows(rows: Sequence[np.ndarray]) -> np.ndarray:
    """Weight matrices -> one image of shape (28*len(rows), 28*K) in [0, 1].

    Each matrix is (785, K) (last row = bias, dropped) or (784, K); class column ``c`` is
    reshaped row-major to 28x28 and the K digits are concatenated side by side. Each band
    (one matrix) is min-max normalised over its whole concatenated image, as in the TDT4265
    solution, so every band spans exactly 0..1 (a constant band is all 0).
    """
    if len(rows) == 0:
        raise ValueError("compose_weight_rows needs at least one weight matrix")
    bands = []
    k = None
    for W in rows:
        W = _mnist_weights(W)
        if k is None:
            k = W.shape[1]
        elif W.shape[1] != k:
            raise ValueError(f"all weight matrices need the same number of classes ({k} != {W.shape[1]})")
        band = np.concatenate([W[:, c].reshape(_MNIST_SIDE, _MNIST_SIDE) for c in range(W.shape[1])], axis=1)
        bands.append(_minmax(band))
    return np.concatenate(bands, axis=0)


def mnist_weight_rows(
    rows: Sequence[np.ndarray],
    row_labels: Sequence[str],
    path: Path,
    title: str | None = None,
) -> Path:
    """One row of K digit templates (28x28, grey) per weight matrix, labelled by ``row_labels``."""
    if len(row_labels) != len(rows):
        raise ValueError(f"{len(rows)} weight matrices but {len(row_labels)} row labels")
    image = compose_weight_rows(rows)
    n, k = len(rows), image.shape[1] // _MNIST_SIDE
    from matplotlib.figure import Figure
    
    fig = Figure(figsize=(0.95 * k + 1.2, 1.05 * n + (0.9 if title else 0.5)), layout="constrained")
    axes = fig.subplots(n, k, squeeze=False)
    for r in range(n):
        for c in range(k):
            ax = axes[r, c]
            tile = image[r * _MNIST_SIDE : (r + 1) * _MNIST_SIDE, c * _MNIST_SIDE : (c + 1) * _MNIST_SIDE]
            ax.imshow(tile, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            _off(ax)
            if r == 0:
                ax.set_title(str(c), fontsize=11)
            if c == 0:
                ax.set_ylabel(str(row_labels[r]), rotation=0, ha="right", va="center", fontsize=11)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


# --------------------------------------------------------------------------- CIFAR templates (DD2424)


def template_images(W: np.ndarray) -> np.ndarray:
    """(K, 3072) class templates -> (K, 32, 32, 3) in [0, 1].

    Each row is reshaped channel-major (3, 32, 32), as the CIFAR-10 files store images, then
    transposed to (32, 32, 3); each template is min-max normalised on its own.
    """
    imgs = _to_hwc(_cifar_rows(W), "chw")
    return np.stack([_minmax(img) for img in imgs])


def cifar_templates(
    W: np.ndarray,
    label_names: Sequence[str],
    path: Path,
    title: str | None = None,
) -> Path:
    """The K class templates of ``W`` (K, 3072) side by side, captioned with ``label_names``."""
    imgs = template_images(W)
    k = imgs.shape[0]
    if len(label_names) != k:
        raise ValueError(f"{k} templates but {len(label_names)} label names")
    from matplotlib.figure import Figure
    
    fig = Figure(figsize=(1.25 * k + 0.4, 1.9 if title else 1.6), layout="constrained")
    axes = fig.subplots(1, k, squeeze=False)[0]
    for i, ax in enumerate(axes):
        ax.imshow(imgs[i], interpolation="nearest")
        _off(ax)
        ax.set_title(str(label_names[i]), fontsize=10)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


# --------------------------------------------------------------------------- first layer grid (AML)


def grid_image(W1: np.ndarray, padding: int = 1, layout: str = "hwc") -> np.ndarray:
    """(3072, H) first-layer weights (columns = hidden units) -> one RGB grid image in [0, 1].

    Like cs231n's ``visualize_grid``: each unit is a 32x32x3 image min-max normalised on its
    own, laid out row by row in a near-square grid (``ceil(sqrt(H))`` columns, as many rows as
    needed) separated by ``padding`` black pixels. ``layout`` says how a column flattens an
    image: "hwc" (cs231n's ``W1.reshape(32, 32, 3, -1)``, the default) or "chw" (raw CIFAR
    order). Shape: (rows*32 + (rows-1)*padding, cols*32 + (cols-1)*padding, 3).
    """
    W1 = np.asarray(W1, dtype=np.float64)
    if W1.ndim != 2 or W1.shape[0] != _CIFAR_PIXELS:
        raise ValueError(f"expected first-layer weights of shape (3072, H), got {W1.shape}")
    if padding < 0:
        raise ValueError("padding must be >= 0")
    imgs = _to_hwc(W1.T, layout)
    n = imgs.shape[0]
    if n == 0:
        raise ValueError("no hidden units to show")
    cols = math.ceil(math.sqrt(n))
    nrows = math.ceil(n / cols)
    s = _CIFAR_SIDE
    grid = np.zeros((nrows * s + (nrows - 1) * padding, cols * s + (cols - 1) * padding, 3))
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = r * (s + padding), c * (s + padding)
        grid[y : y + s, x : x + s] = _minmax(imgs[i])
    return grid


def first_layer_grid(
    W1: np.ndarray,
    path: Path,
    padding: int = 1,
    title: str | None = None,
    layout: str = "hwc",
    max_units: int = 100,
) -> Path:
    """Save :func:`grid_image` of ``W1`` (3072, H) as a PNG: the first ``max_units`` hidden
    units (all of them up to 100; a wider layer's image would only repeat the same kinds of
    filter at a size no screen shows)."""
    W1 = np.asarray(W1)
    grid = grid_image(W1[:, :max_units], padding=padding, layout=layout)
    h, w = grid.shape[:2]
    scale = 6.0 / max(h, w)  # about 6 inches on the long side
    from matplotlib.figure import Figure
    
    fig = Figure(figsize=(max(w * scale, 1.0), max(h * scale, 1.0) + (0.4 if title else 0.0)), layout="constrained")
    ax = fig.subplots()
    ax.imshow(grid, interpolation="nearest")
    _off(ax)
    if title:
        ax.set_title(title)
    return save_figure(fig, path)


# --------------------------------------------------------------------------- histograms


def probability_histograms(
    panels: Mapping[str, tuple[np.ndarray, np.ndarray]],
    path: Path,
    bins: int = 20,
) -> Path:
    """Per model, histograms of the ground-truth-class probability, split by correctness.

    ``panels`` maps a model name (e.g. "softmax + CE") to ``(p_true, correct)``: ``p_true``
    (n,) the predicted probability of the true class, ``correct`` (n,) bool. One subplot per
    model, side by side, with the correctly and incorrectly classified samples as two
    histograms over [0, 1] (``bins`` equal bins).
    """
    if not panels:
        raise ValueError("probability_histograms needs at least one panel")
    edges = np.linspace(0.0, 1.0, bins + 1)
    n = len(panels)
    from matplotlib.figure import Figure
    
    fig = Figure(figsize=(5.0 * n, 3.8), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    for ax, (name, (p_true, correct)) in zip(axes, panels.items()):
        p = np.asarray(p_true, dtype=np.float64).reshape(-1)
        ok = np.asarray(correct, dtype=bool).reshape(-1)
        if p.shape != ok.shape:
            raise ValueError(f"{name!r}: p_true has {p.size} values but correct has {ok.size}")
        keep = np.isfinite(p)
        p, ok = np.clip(p[keep], 0.0, 1.0), ok[keep]
        ax.hist(p[ok], bins=edges, alpha=0.65, color="tab:green", label=f"correctly classified (n={int(ok.sum())})")
        ax.hist(p[~ok], bins=edges, alpha=0.65, color="tab:red", label=f"incorrectly classified (n={int((~ok).sum())})")
        ax.set_xlim(0.0, 1.0)
        ax.set_xlabel("probability of the ground-truth class")
        ax.set_ylabel("number of samples")
        ax.set_title(str(name))
        ax.legend(loc="upper center", fontsize=9)
    return save_figure(fig, path, palette=True)
