"""Layers as forward/backward pairs (cs231n ``layers.py`` shape): each backward sits beside
its forward and takes the cache its forward returned.

Samples are rows.  An affine layer maps ``a`` of shape (n, fan_in) to ``a W + b`` of shape
(n, fan_out) with ``W`` of shape (fan_in, fan_out).  Two bias layouts:

* ``vector``: the bias is its own vector ``b`` of shape (fan_out,);
* ``column``: the bias is the last row of ``W`` and the input carries a constant-1 last
  column (the bias trick: the pre-processing appends it to the images), so
  ``out = a W``.  :func:`append_ones` adds that column to a hidden activation.

Gradients, with ``G = dJ/dout`` of shape (n, fan_out)::

    dJ/dW = a^T G          dJ/db = 1^T G          dJ/da = G W^T

ReLU: ``out = max(a, 0)``, ``dJ/da = G * 1[out > 0]``.
"""

from __future__ import annotations

import numpy as np


def append_ones(a: np.ndarray) -> np.ndarray:
    """(n, m) -> (n, m + 1) with a last column of ones (the ``column`` bias layout)."""
    out = np.empty((a.shape[0], a.shape[1] + 1), dtype=a.dtype)
    out[:, :-1] = a
    out[:, -1] = 1
    return out


def affine_forward(a: np.ndarray, W: np.ndarray, b: np.ndarray | None):
    """``a W + b`` (``b=None``: the column layout, the bias is a row of W). Returns (out, cache)."""
    out = a @ W  # (n, fan_out)
    if b is not None:
        out += b
    return out, (a, W, b is not None)


def affine_backward(G: np.ndarray, cache, need_input_grad: bool = True,
                    decay: float | None = None, out: dict | None = None):
    """Gradients (dW, db or None, da or None) of an affine layer from ``G`` (n, fan_out).

    ``decay`` (a number c) adds the weight-decay gradient fused into the product,
    ``dW = c (a^T (G / c) + W)``: the scaling falls on the small G (scaled in place) and W is
    added in place, so no W-sized temporary.  ``out`` may hold reusable arrays ``"W"``, ``"b"``
    (a previous step's gradients) to write into.
    """
    a, W, has_b = cache
    out = out or {}
    db = np.sum(G, axis=0, out=_fits(out.get("b"), (G.shape[1],), G.dtype)) if has_b else None
    da = G @ W.T if need_input_grad else None  # (n, fan_in)
    dW_out = _fits(out.get("W"), W.shape, np.result_type(a, G))
    if W.flags.f_contiguous and not W.flags.c_contiguous and not decay:
        # W is the transpose of a row-major (fan_out, fan_in) matrix: its gradient in the same
        # layout, (G^T a)^T, is the product such a layout's code computes
        dWt = np.matmul(G.T, a, out=None if dW_out is None or not dW_out.flags.f_contiguous
                        else dW_out.T)
        return dWt.T, db, da
    if decay:
        G *= 1.0 / decay
        dW = np.matmul(a.T, G, out=dW_out)  # (fan_in, fan_out)
        dW += W
        dW *= decay
    else:
        dW = np.matmul(a.T, G, out=dW_out)
    return dW, db, da


def _fits(buf, shape, dtype):
    """``buf`` when it can receive an array of ``shape`` and ``dtype``, else None."""
    if isinstance(buf, np.ndarray) and buf.shape == tuple(shape) and buf.dtype == dtype:
        return buf
    return None


def relu_forward(z: np.ndarray):
    """Element-wise ``max(z, 0)``. Returns (out, cache)."""
    out = np.maximum(z, 0)
    return out, out


def relu_backward(G: np.ndarray, cache) -> np.ndarray:
    """``G * 1[out > 0]`` (equal to ``1[z > 0]``)."""
    return G * (cache > 0)
