"""TDT4265 pre-processing: pixels [0, 255] -> [-1, 1], then the bias trick.

    X_pre = [x / 127.5 - 1, 1]      shape (n, 784) uint8 -> (n, 785)

The constant 1 is appended as the *last* column, as the course solution does; the weight row
785 is therefore the bias.
"""

from __future__ import annotations

import numpy as np


def pre_process_images(images: np.ndarray, dtype=np.float32) -> np.ndarray:
    """Scale uint8 images of shape (n, 784) to [-1, 1] and append a bias column.

    Returns
    -------
    X : ndarray of shape (n, 785) in ``dtype``; column 784 is all ones.
    """
    images = np.asarray(images)
    if images.ndim != 2:
        raise ValueError(f"expected images of shape (n, d), got {images.shape}")
    n, d = images.shape
    out = np.empty((n, d + 1), dtype=dtype)
    np.divide(images, 127.5, out=out[:, :d], casting="unsafe")  # exact: 255/127.5 == 2
    out[:, :d] -= 1
    out[:, d] = 1
    return out
