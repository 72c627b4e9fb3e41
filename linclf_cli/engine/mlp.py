r"""Fully connected ReLU network with a softmax output (the two-layer net, any depth).

Model (samples are rows, code convention ``z = x W + b``)::

    a_0 = X                                   X   : (N, D)
    z_l = a_{l-1} W_l + b_l                   W_l : (fan_in, fan_out),  b_l : (fan_out,)
    a_l = ReLU(z_l)            l = 1 .. L-1   (hidden layers)
    P   = softmax(z_L)                        P   : (N, C), rows sum to 1

Objective (mean cross-entropy plus an L2 term with **no 1/2 and no biases**)::

    J(theta) = -(1/N) sum_i log P[i, y_i]  +  reg * sum_l ||W_l||_F^2

Gradients (Delta = one-hot labels, shape (N, C))::

    G_L        = (P - Delta) / N                          dJ/dz_L,        (N, C)
    dJ/dW_l    = a_{l-1}^T G_l  +  2 reg W_l              (fan_in, fan_out)
    dJ/db_l    = sum_i G_l[i, :]                          (fan_out,)
    G_{l-1}    = (G_l W_l^T) * 1[z_{l-1} > 0]             dJ/dz_{l-1}

``1[z > 0] == 1[a > 0]`` for a = ReLU(z), so the backward pass only keeps the activations.

Parameters are a dict ``{"W1", "b1", ..., "WL", "bL"}`` so that gradient checks, optimisers
and the CLI can name them.  Every function is pure NumPy: no I/O, no printing, no global
random state.  The arithmetic runs in the parameters' dtype (float32 for speed, float64 for
gradient checks); inputs are cast to it.
"""

from __future__ import annotations

import numbers
from typing import Mapping, Sequence, Union

import numpy as np

from linclf_cli.engine.functions import log_softmax, softmax
from linclf_cli.errors import UsageError

Params = dict  # name -> ndarray: "W1", "b1", ..., "WL", "bL"
RandomSource = Union[np.random.Generator, np.random.RandomState]

__all__ = [
    "validate_sizes",
    "init_mlp",
    "num_layers",
    "layer_sizes",
    "forward_scores",
    "forward_proba",
    "softmax",
    "loss",
    "loss_and_grads",
    "predict",
    "accuracy",
]


# ----------------------------------------------------------------------------- set-up


def validate_sizes(sizes: Sequence[int]) -> list[int]:
    """Check a layer-size list ``[D, H_1, ..., H_{L-1}, C]`` and return it as ints.

    Raises
    ------
    UsageError
        If the list is empty or has fewer than two entries (input and classes), if an entry
        is not an integer, if the input or a hidden size is < 1, or if there are < 2 classes.
    """
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
        raise UsageError(
            f"Layer sizes must be a list of integers, got {sizes!r}.",
            "Give them as [input, hidden..., classes], for example [3072, 50, 10].",
        )
    sizes = list(sizes)
    if len(sizes) < 2:
        raise UsageError(
            f"The layer-size list {sizes!r} needs at least an input size and a number of "
            "classes.",
            "Give them as [input, hidden..., classes], for example [3072, 50, 10].",
        )
    out = []
    for i, s in enumerate(sizes):
        if isinstance(s, bool) or not isinstance(s, numbers.Integral):
            raise UsageError(
                f"Layer size {s!r} (position {i}) is not an integer.",
                "Every layer size must be a whole number such as 50.",
            )
        out.append(int(s))
    if out[0] < 1:
        raise UsageError(f"The input size must be at least 1, got {out[0]}.")
    for i, h in enumerate(out[1:-1], start=1):
        if h < 1:
            raise UsageError(
                f"Hidden layer {i} has size {h}; every hidden size must be at least 1."
            )
    if out[-1] < 2:
        raise UsageError(f"A softmax classifier needs at least 2 classes, got {out[-1]}.")
    return out


def init_mlp(
    sizes: Sequence[int],
    rng: RandomSource,
    std: float = 1e-4,
    dtype=np.float32,
    scheme: str = "normal",
) -> Params:
    """Initialise weights as ``std * N(0, 1)`` and biases as zeros (a ``TwoLayerNet``).

    ``scheme="he"`` scales each layer by its fan-in instead, ``sqrt(2 / fan_in) * N(0, 1)``
    (He et al. 2015), and ignores ``std``: the initialisation under which deep ReLU nets
    keep the scale of their activations and gradients from layer to layer.

    The draws happen layer by layer in the order W1, W2, ..., each a ``(fan_in, fan_out)``
    standard-normal block drawn in float64 and then cast, so a ``RandomState(seed)`` gives
    exactly a starter's ``np.random.seed(seed); std * np.random.randn(D, H)`` stream.

    Parameters
    ----------
    sizes : list of int, ``[D, H_1, ..., C]``; ``[D, C]`` is softmax regression.
    rng : numpy.random.Generator or numpy.random.RandomState.
    std : standard deviation of the weights (e.g. 1e-4; 1e-1 for a toy model).
    dtype : float32 or float64.

    Returns
    -------
    params : dict with ``W{l}`` of shape (sizes[l-1], sizes[l]) and ``b{l}`` of shape
        (sizes[l],), for l = 1 .. len(sizes) - 1.
    """
    sizes = validate_sizes(sizes)
    std = float(std)
    if not np.isfinite(std) or std < 0:
        raise UsageError(f"The initial weight std must be a finite number >= 0, got {std}.")
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise UsageError(f"dtype must be float32 or float64, got {dtype}.")
    if scheme not in ("normal", "he"):
        raise UsageError(f"Unknown initialisation scheme {scheme!r}.", "Choose 'normal' or 'he'.")
    params: Params = {}
    for l, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        scale = std if scheme == "normal" else float(np.sqrt(2.0 / fan_in))
        params[f"W{l}"] = (scale * rng.standard_normal((fan_in, fan_out))).astype(dtype)
        params[f"b{l}"] = np.zeros(fan_out, dtype=dtype)
    return params


def num_layers(params: Mapping[str, np.ndarray]) -> int:
    """Number of weight layers L (``W1 .. WL``)."""
    L = 0
    while f"W{L + 1}" in params:
        L += 1
    if L == 0:
        raise UsageError("The parameter dict has no 'W1'; it is not an MLP.")
    return L


def layer_sizes(params: Mapping[str, np.ndarray]) -> list[int]:
    """``[D, H_1, ..., C]`` read back from the weight shapes."""
    L = num_layers(params)
    return [params["W1"].shape[0]] + [params[f"W{l}"].shape[1] for l in range(1, L + 1)]


# ----------------------------------------------------------------------------- forward


def _as_input(params: Mapping[str, np.ndarray], X) -> np.ndarray:
    """Cast ``X`` to the parameters' dtype (no copy when it already is) and check its width."""
    W1 = params["W1"]
    X = np.asarray(X, dtype=W1.dtype)
    if X.ndim != 2 or X.shape[1] != W1.shape[0]:
        raise UsageError(
            f"Input of shape {X.shape} does not fit a network expecting "
            f"(n_samples, {W1.shape[0]})."
        )
    return X


def _hidden_forward(params: Mapping[str, np.ndarray], X: np.ndarray, L: int) -> list:
    """Activations ``[a_0 = X, a_1, ..., a_{L-1}]``; each a_l (N, H_l) is ReLU'd in place."""
    acts = [X]
    a = X
    for l in range(1, L):
        z = a @ params[f"W{l}"]  # (N, H_l): the one GEMM of this layer
        z += params[f"b{l}"]  # broadcast (H_l,) over rows
        np.maximum(z, 0, out=z)  # ReLU in place: z becomes a_l
        acts.append(z)
        a = z
    return acts


def forward_scores(params: Mapping[str, np.ndarray], X) -> np.ndarray:
    """Raw class scores (logits) ``z_L``.

    Parameters
    ----------
    params : MLP parameter dict.
    X : ndarray of shape (N, D).

    Returns
    -------
    scores : ndarray of shape (N, C), in the parameters' dtype.
    """
    L = num_layers(params)
    X = _as_input(params, X)
    a = _hidden_forward(params, X, L)[-1]
    z = a @ params[f"W{L}"]  # (N, C)
    z += params[f"b{L}"]
    return z


def _softmax_inplace(z: np.ndarray) -> np.ndarray:
    """Row-wise stable softmax, overwriting ``z`` (N, C); returns it."""
    z -= z.max(axis=1, keepdims=True)  # largest logit of every row becomes 0
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)  # (N, 1) broadcast
    return z


def forward_proba(params: Mapping[str, np.ndarray], X) -> np.ndarray:
    """Class probabilities ``softmax(z_L)`` of shape (N, C) (what a ``TwoLayerNet`` forward returns
    when no labels are given, E.8)."""
    return _softmax_inplace(forward_scores(params, X))


# ----------------------------------------------------------------------------- loss


def _check_labels(y, n: int, C: int) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n,):
        raise UsageError(f"Labels of shape {y.shape} do not match {n} samples.")
    if n and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= C):
        raise UsageError(f"Labels must be integers in [0, {C - 1}].")
    return y


def _l2(params: Mapping[str, np.ndarray], L: int) -> float:
    """sum_l ||W_l||_F^2 (no biases)."""
    return float(sum(np.vdot(params[f"W{l}"], params[f"W{l}"]) for l in range(1, L + 1)))


def _reusable(out: dict | None, name: str, like: np.ndarray) -> np.ndarray | None:
    """``out[name]`` when it can receive a gradient shaped like ``like``, else None."""
    if out is None:
        return None
    buf = out.get(name)
    if isinstance(buf, np.ndarray) and buf.shape == like.shape and buf.dtype == like.dtype:
        return buf
    return None


def loss_and_grads(
    params: Mapping[str, np.ndarray],
    X,
    y,
    reg: float = 0.0,
    *,
    return_pred: bool = False,
    out: dict | None = None,
):
    """Regularised mean cross-entropy and its gradient (one GEMM per layer per direction).

    Parameters
    ----------
    params : MLP parameter dict (``W1, b1, ..., WL, bL``).
    X : ndarray of shape (N, D); cast to the parameters' dtype.
    y : int ndarray of shape (N,), labels in [0, C).
    reg : L2 strength; adds ``reg * sum_l ||W_l||_F^2`` (gradient ``2 reg W_l``).
    return_pred : also return the argmax predictions of this forward pass (before any update).
    out : optional grads dict from a previous call with the same parameters; its arrays are
        overwritten and returned instead of allocating new ones (training loops pass it back
        every step).

    Returns
    -------
    loss : float, J above.
    grads : dict with the same keys and shapes as ``params``.
    pred : int ndarray of shape (N,), only when ``return_pred``.
    """
    L = num_layers(params)
    reg = float(reg)
    X = _as_input(params, X)
    n = X.shape[0]
    if n == 0:
        raise UsageError("Cannot compute a loss on an empty batch.")
    C = params[f"W{L}"].shape[1]
    y = _check_labels(y, n, C)
    rows = np.arange(n)

    # forward
    acts = _hidden_forward(params, X, L)  # [X, a_1, ..., a_{L-1}]
    G = acts[-1] @ params[f"W{L}"]  # logits z_L, (N, C)
    G += params[f"b{L}"]
    pred = G.argmax(axis=1) if return_pred else None
    G -= G.max(axis=1, keepdims=True)  # shifted logits: max of each row is 0
    z_y = G[rows, y]  # (N,) shifted logit of the true class (a copy)
    np.exp(G, out=G)
    s = G.sum(axis=1)  # (N,) in [1, C]
    # -log P[i, y_i] = log s_i - z_y: finite even when P[i, y_i] underflows (logits ~ 1e3)
    data_loss = float(np.mean(np.log(s) - z_y, dtype=np.float64))
    loss = data_loss + (reg * _l2(params, L) if reg else 0.0)

    # backward: G holds exp(z - max); turn it into dJ/dz_L = (P - Delta) / N in place
    G /= s[:, None]  # P
    G[rows, y] -= 1.0
    G *= 1.0 / n
    grads: dict = {}
    for l in range(L, 0, -1):
        a_prev, W = acts[l - 1], params[f"W{l}"]
        kW, kb = f"W{l}", f"b{l}"
        grads[kb] = np.sum(G, axis=0, out=_reusable(out, kb, params[kb]))  # (fan_out,)
        G_prev = None
        if l > 1:
            G_prev = G @ W.T  # (N, fan_in) = dJ/da_{l-1}
            np.multiply(G_prev, a_prev > 0, out=G_prev)  # ReLU gate 1[z_{l-1} > 0], in place
        if reg:
            # dW = a^T G + 2 reg W computed as 2 reg (a^T (G / 2 reg) + W): the scaling is on
            # the small (N, fan_out) G, and W is added in place, so no W-sized temporary
            # (a large allocation costs page faults on every step)
            G *= 1.0 / (2.0 * reg)
            dW = np.matmul(a_prev.T, G, out=_reusable(out, kW, W))  # (fan_in, fan_out)
            dW += W
            dW *= 2.0 * reg
        else:
            dW = np.matmul(a_prev.T, G, out=_reusable(out, kW, W))
        grads[kW] = dW
        G = G_prev
    grads = {k: grads[k] for l in range(1, L + 1) for k in (f"W{l}", f"b{l}")}  # W1, b1, ...
    if return_pred:
        return loss, grads, pred
    return loss, grads


def loss(params: Mapping[str, np.ndarray], X, y, reg: float = 0.0) -> float:
    """Objective J only (forward pass; used by numerical gradient checks)."""
    L = num_layers(params)
    z = forward_scores(params, X)  # (N, C)
    y = _check_labels(y, z.shape[0], z.shape[1])
    logp_y = log_softmax(z, axis=1)[np.arange(z.shape[0]), y]  # (N,)
    data_loss = -float(np.mean(logp_y, dtype=np.float64))
    return data_loss + (reg * _l2(params, L) if reg else 0.0)


# ----------------------------------------------------------------------------- evaluation


def predict(params: Mapping[str, np.ndarray], X, batch_size: int | None = 10_000) -> np.ndarray:
    """Predicted labels ``argmax_c z_L`` of shape (N,), evaluated ``batch_size`` rows at a
    time to bound memory (``None``: all at once)."""
    X = _as_input(params, X)
    n = X.shape[0]
    if batch_size is None or n <= batch_size:
        return forward_scores(params, X).argmax(axis=1)
    out = np.empty(n, dtype=np.intp)
    for start in range(0, n, batch_size):
        out[start : start + batch_size] = forward_scores(
            params, X[start : start + batch_size]
        ).argmax(axis=1)
    return out


def accuracy(params: Mapping[str, np.ndarray], X, y, batch_size: int | None = 10_000) -> float:
    """Fraction of rows of ``X`` (N, D) whose prediction equals ``y`` (N,)."""
    y = np.asarray(y)
    if y.size == 0:
        return float("nan")
    return float(np.mean(predict(params, X, batch_size) == y))
