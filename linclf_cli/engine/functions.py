"""Elementwise and row-wise building blocks shared by every model.

All functions are numerically stable for extreme logits (|z| = 1000 gives no overflow and no
NaN) and keep the input dtype.
"""

from __future__ import annotations

import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function 1 / (1 + exp(-z)), computed as (1 + tanh(z/2)) / 2 (no overflow)."""
    out = np.tanh(z * 0.5)
    out += 1.0
    out *= 0.5
    return out


def sigmoid_exp(S: np.ndarray) -> np.ndarray:
    """The same logistic function in the exp(-|s|) form (``e = exp(-|s|) <= 1``): the linear
    model's sigmoid head was computed with it (its committed numbers depend on these bits)."""
    e = np.exp(-np.abs(S))
    return np.where(S >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(S.dtype, copy=False)


def log_sigmoid(z: np.ndarray) -> np.ndarray:
    """ln sigmoid(z) = -ln(1 + exp(-z)), stable for any z."""
    return -np.logaddexp(0.0, -z)


def log_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """Row-wise ln softmax(z); subtracting the row max keeps exp() in range."""
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """Row-wise softmax; invariant to adding a constant to a row."""
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


def one_hot(labels: np.ndarray, num_classes: int, dtype=np.float32) -> np.ndarray:
    """Labels of shape (n,) or (n, 1) -> one-hot matrix of shape (n, num_classes)."""
    y = np.asarray(labels).reshape(-1).astype(np.int64)
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}")
    out = np.zeros((y.size, num_classes), dtype=dtype)
    out[np.arange(y.size), y] = 1
    return out
