"""Data augmentation for flattened CIFAR images : horizontal flips.

Layout (the CIFAR python pickle): each row of ``X`` (n, 3072) holds three channel blocks of
1024 values (R, G, B), each a row-major 32x32 image, so entry
``c * 1024 + r * 32 + j`` is channel ``c``, image row ``r``, column ``j``.

A horizontal flip maps column ``j`` to ``31 - j`` inside every row of every channel::

    X_flipped[:, c*1024 + r*32 + j] = X[:, c*1024 + r*32 + (31 - j)]

i.e. ``X_flipped = X[:, perm]`` for the index vector ``perm`` of :func:`flip_permutation`
(an involution: ``perm[perm] == arange``).

Rules: pure NumPy, no I/O, randomness only through a passed ``numpy.random.Generator``.
Augment each **mini-batch** when it is drawn; never the whole training set.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..errors import UsageError

__all__ = ["flip_permutation", "flip", "random_flip"]


@lru_cache(maxsize=8)
def _flip_permutation_cached(height: int, width: int, channels: int) -> np.ndarray:
    idx = np.arange(channels * height * width, dtype=np.intp).reshape(channels, height, width)
    perm = np.ascontiguousarray(idx[:, :, ::-1]).reshape(-1)
    perm.flags.writeable = False
    return perm


def flip_permutation(height: int = 32, width: int = 32, channels: int = 3) -> np.ndarray:
    """Column index vector that flips flattened channel-major images left-right.

    Parameters
    ----------
    height, width, channels : image geometry; the flattened layout is (channels, height,
        width) in C order (CIFAR pickle: 3 x 32 x 32 = 3072).

    Returns
    -------
    perm : (channels * height * width,) read-only intp array with
        ``perm[c*H*W + r*W + j] = c*H*W + r*W + (W - 1 - j)``; ``X[:, perm]`` flips every row.
    """
    if min(height, width, channels) < 1:
        raise UsageError(
            f"Image geometry must be positive, got {channels}x{height}x{width}."
        )
    return _flip_permutation_cached(int(height), int(width), int(channels))


def flip(X: np.ndarray, perm: np.ndarray | None = None) -> np.ndarray:
    """Flip every row of ``X`` (n, d) horizontally; returns a new array."""
    X = np.asarray(X)
    perm = _resolve_perm(X, perm)
    return X[:, perm]


def _resolve_perm(X: np.ndarray, perm: np.ndarray | None) -> np.ndarray:
    if X.ndim != 2:
        raise ValueError(f"expected a 2-D batch (n, d), got shape {X.shape}")
    if perm is None:
        if X.shape[1] != 3072:
            raise ValueError(
                f"rows have {X.shape[1]} entries; pass perm=flip_permutation(h, w, c) "
                "for images other than 3x32x32"
            )
        return flip_permutation()
    perm = np.asarray(perm)
    if perm.shape != (X.shape[1],):
        raise ValueError(f"perm has shape {perm.shape}, expected ({X.shape[1]},)")
    return perm


def random_flip(
    X_batch: np.ndarray,
    rng: np.random.Generator,
    p: float = 0.5,
    perm: np.ndarray | None = None,
) -> np.ndarray:
    """Flip each row of a mini-batch independently with probability ``p``.

    Exactly ``n`` uniform numbers are drawn from ``rng`` whatever ``p`` is (so the random
    stream does not depend on ``p``).  Only the selected rows are gathered through ``perm``;
    there is no Python loop over images.

    Parameters
    ----------
    X_batch : (n, d) array; never modified.
    rng : numpy.random.Generator.
    p : flip probability in [0, 1].
    perm : optional (d,) flip index vector; defaults to :func:`flip_permutation` for
        d = 3072.

    Returns
    -------
    (n, d) new array of the same dtype.
    """
    if not 0.0 <= p <= 1.0:
        raise UsageError(f"The flip probability must lie in [0, 1], got {p}.")
    X = np.asarray(X_batch)
    perm = _resolve_perm(X, perm)
    rows = np.flatnonzero(rng.random(X.shape[0]) < p)
    out = X.copy()
    if rows.size:
        out[rows] = np.take(X[rows], perm, axis=1)  # gather rows, then permute columns
    return out
