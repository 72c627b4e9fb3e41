"""One-layer linear classifier ``S = X W^T + b`` (W of shape (K, d)), softmax/CE and sigmoid/MBCE.

The fast path of :class:`~linclf_cli.engine.model.Model` with no hidden layer and a bias vector.

Samples are **rows**: ``X`` is (n, d), ``Y`` one-hot (n, K), ``y`` integer labels (n,).
Parameters follow the assignment: ``W`` is (K, d) and ``b`` is (K,), so the scores are

    S = X W^T + 1 b^T                                   (n, K)

Softmax + cross-entropy (main exercise)::

    P     = softmax(S)  (row-wise)
    loss  = (1/n) sum_i -log P[i, y_i]      = (1/n) sum_i sum_k -Y_ik log P_ik
    cost  = loss + lam * sum_kj W_kj^2      (no 1/2, W only, never b)
    G     = P - Y                            (n, K)
    dW    = (1/n) G^T X + 2 lam W            (K, d)
    db    = (1/n) G^T 1                      (K,)

Sigmoid + multiple binary cross-entropy (bonus 2.2)::

    P     = sigma(S)  (element-wise)
    l_i   = -(1/K) sum_k [(1 - Y_ik) log(1 - P_ik) + Y_ik log P_ik]
          =  (1/K) sum_k [softplus(S_ik) - Y_ik S_ik]        (stable form)
    loss  = (1/n) sum_i l_i ;  cost = loss + lam * sum W^2
    G     = (P - Y) / K                      (the softmax gradient's structure, divided by K)
    dW    = (1/n) G^T X + 2 lam W ;  db = (1/n) G^T 1

Both losses are evaluated from log-domain expressions (log-sum-exp with the row maximum
subtracted; ``softplus(s) = logaddexp(0, s)``), so scores of +-1000 give finite losses
and gradients without overflow warnings.

Rules: pure NumPy, no I/O, no printing, no global random state (every stochastic function
takes a :class:`numpy.random.Generator`).  Computations keep the dtype of ``W``/``X``
(float32 for training speed, float64 for gradient checks); scalar losses are returned as
Python floats.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import UsageError
from . import heads
from .functions import log_softmax, one_hot, softmax
from .functions import sigmoid_exp as sigmoid

__all__ = [
    "MODELS",
    "resolve_model",
    "init_params",
    "scores",
    "softmax",
    "log_softmax",
    "sigmoid",
    "predict_proba_softmax",
    "predict_proba_sigmoid",
    "predict_proba",
    "softmax_cost_grad",
    "softmax_loss_cost",
    "sigmoid_cost_grad",
    "sigmoid_loss_cost",
    "cost_grad",
    "loss_cost",
    "per_sample_loss",
    "one_hot",
    "predict",
    "accuracy",
    "evaluate_chunked",
]

MODELS: tuple[str, ...] = ("softmax", "sigmoid")
"""Model names: ``softmax`` (softmax + cross-entropy), ``sigmoid`` (sigmoid + MBCE)."""

DEFAULT_CHUNK = 10_000


# --------------------------------------------------------------------------- helpers


def resolve_model(model: str) -> str:
    """Normalise and validate a model name.

    Parameters
    ----------
    model : str
        ``"softmax"`` or ``"sigmoid"`` (case-insensitive; ``"mbce"`` is accepted as an
        alias of ``"sigmoid"``, ``"ce"`` of ``"softmax"``).

    Returns
    -------
    str : the canonical name.

    Raises
    ------
    UsageError : for any other name.
    """
    aliases = {"softmax": "softmax", "ce": "softmax", "sigmoid": "sigmoid", "mbce": "sigmoid"}
    key = str(model).strip().lower()
    if key not in aliases:
        raise UsageError(
            f"Unknown linear model {model!r}.",
            f"Choose one of: {', '.join(MODELS)}.",
        )
    return aliases[key]


def init_params(
    K: int,
    d: int,
    rng: np.random.Generator,
    std: float = 0.01,
    bias: str = "normal",
    dtype=np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """Initial ``W`` and ``b``.

    ``W ~ N(0, std^2)`` is drawn first (as ``std * rng.standard_normal((K, d))`` in
    float64, then cast, so float32 and float64 runs start from the same values).  Then

    * ``bias="normal"`` (2020-2024 editions): ``b ~ N(0, std^2)``, drawn **after** W;
    * ``bias="zero"`` (2025-2026 editions): ``b = 0`` (no random numbers consumed).

    Parameters
    ----------
    K, d : number of classes and input dimension.
    rng : numpy.random.Generator.
    std : standard deviation of the normal draws.
    bias : ``"normal"`` or ``"zero"``.
    dtype : dtype of the returned arrays.

    Returns
    -------
    W : (K, d) ndarray.
    b : (K,) ndarray.
    """
    if K < 1 or d < 1:
        raise UsageError(f"init_params needs K >= 1 and d >= 1, got K={K}, d={d}.")
    if not std >= 0:
        raise UsageError(f"The initial weight std must be >= 0, got {std}.")
    W = (std * rng.standard_normal((K, d))).astype(dtype, copy=False)
    if bias == "normal":
        b = (std * rng.standard_normal(K)).astype(dtype, copy=False)
    elif bias == "zero":
        b = np.zeros(K, dtype=dtype)
    else:
        raise UsageError(f"Unknown bias initialisation {bias!r}.", "Choose 'normal' or 'zero'.")
    return W, b


def scores(W: np.ndarray, b: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Scores ``S = X W^T + b``: X (n, d), W (K, d), b (K,) -> (n, K)."""
    return X @ W.T + b


def _as_dtype(Y: np.ndarray, like: np.ndarray) -> np.ndarray:
    Y = np.asarray(Y)
    return Y if Y.dtype == like.dtype else Y.astype(like.dtype)


def _reg(W: np.ndarray, lam: float) -> float:
    if lam == 0:
        return 0.0
    return float(lam) * float(np.sum(np.square(W, dtype=np.float64)))


def per_sample_loss(S: np.ndarray, Y: np.ndarray, model: str) -> np.ndarray:
    """Per-sample loss (n,) from scores ``S`` (n, K) and (one-hot) targets ``Y`` (n, K).

    ``softmax``: ``-sum_k Y_ik log softmax(S)_ik``.
    ``sigmoid``: ``(1/K) sum_k [softplus(S_ik) - Y_ik S_ik]`` (= MBCE, stable form).
    """
    if model not in MODELS:
        raise UsageError(f"Unknown linear model {model!r}.", f"Choose one of: {', '.join(MODELS)}.")
    return heads.per_sample_loss(model, S, _as_dtype(Y, S))


# --------------------------------------------------------------------------- softmax / CE


def predict_proba_softmax(W: np.ndarray, b: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Class probabilities ``softmax(X W^T + b)``, shape (n, K)."""
    return softmax(scores(W, b, X))


def softmax_cost_grad(
    W: np.ndarray, b: np.ndarray, X: np.ndarray, Y: np.ndarray, lam: float
) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Cross-entropy loss, cost and their gradient on a (mini-)batch.

    Parameters
    ----------
    W : (K, d) ; b : (K,) ; X : (n, d) ; Y : (n, K) one-hot ; lam : float >= 0.

    Returns
    -------
    loss : float, mean cross-entropy.
    cost : float, ``loss + lam * sum(W**2)``.
    dW : (K, d), ``(1/n) (P - Y)^T X + 2 lam W``.
    db : (K,), ``(1/n) sum_i (P - Y)_i``.
    """
    return _softmax_cost_grad_from_scores(scores(W, b, X), W, X, Y, lam)


def _softmax_cost_grad_from_scores(S, W, X, Y, lam):
    """The rest of :func:`softmax_cost_grad` once ``S = X W^T + b`` is known."""
    Y = _as_dtype(Y, S)
    logP = log_softmax(S)
    n = X.shape[0]
    loss = float(-np.sum(Y * logP, dtype=np.float64) / n)
    G = np.exp(logP)
    G -= Y
    G /= n
    dW = G.T @ X
    if lam:
        dW += (2.0 * lam) * W
    db = np.sum(G, axis=0)
    return loss, loss + _reg(W, lam), dW, db


def softmax_loss_cost(
    W: np.ndarray, b: np.ndarray, X: np.ndarray, Y: np.ndarray, lam: float,
    chunk: int = DEFAULT_CHUNK,
) -> tuple[float, float]:
    """Mean cross-entropy and cost, evaluated in chunks of ``chunk`` rows (no gradient)."""
    return loss_cost(W, b, X, Y, lam, "softmax", chunk=chunk)


# --------------------------------------------------------------------------- sigmoid / MBCE


def predict_proba_sigmoid(W: np.ndarray, b: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Independent per-class probabilities ``sigma(X W^T + b)``, shape (n, K)."""
    return sigmoid(scores(W, b, X))


def sigmoid_cost_grad(
    W: np.ndarray, b: np.ndarray, X: np.ndarray, Y: np.ndarray, lam: float
) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Multiple binary cross-entropy loss, cost and gradient on a (mini-)batch.

    Parameters
    ----------
    W : (K, d) ; b : (K,) ; X : (n, d) ; Y : (n, K) one-hot ; lam : float >= 0.

    Returns
    -------
    loss : float, ``(1/n) sum_i -(1/K) sum_k [(1-y) log(1-p) + y log p]``.
    cost : float, ``loss + lam * sum(W**2)``.
    dW : (K, d), ``(1/n) ((P - Y)/K)^T X + 2 lam W``.
    db : (K,), ``(1/n) sum_i (P - Y)_i / K``.
    """
    return _sigmoid_cost_grad_from_scores(scores(W, b, X), W, X, Y, lam)


def _sigmoid_cost_grad_from_scores(S, W, X, Y, lam):
    """The rest of :func:`sigmoid_cost_grad` once ``S = X W^T + b`` is known."""
    Y = _as_dtype(Y, S)
    n, K = S.shape
    loss = float(np.sum(np.logaddexp(0, S) - Y * S, dtype=np.float64) / (n * K))
    G = sigmoid(S)
    G -= Y
    G /= n * K
    dW = G.T @ X
    if lam:
        dW += (2.0 * lam) * W
    db = np.sum(G, axis=0)
    return loss, loss + _reg(W, lam), dW, db


def sigmoid_loss_cost(
    W: np.ndarray, b: np.ndarray, X: np.ndarray, Y: np.ndarray, lam: float,
    chunk: int = DEFAULT_CHUNK,
) -> tuple[float, float]:
    """Mean MBCE loss and cost, evaluated in chunks of ``chunk`` rows (no gradient)."""
    return loss_cost(W, b, X, Y, lam, "sigmoid", chunk=chunk)


# --------------------------------------------------------------------------- model dispatch

_COST_GRAD: dict[str, Callable] = {"softmax": softmax_cost_grad, "sigmoid": sigmoid_cost_grad}
_COST_GRAD_FROM_SCORES: dict[str, Callable] = {
    "softmax": _softmax_cost_grad_from_scores, "sigmoid": _sigmoid_cost_grad_from_scores}
"""``model -> f(S, W, X, Y, lam) -> (loss, cost, dW, db)`` with the scores ``S = X W^T + b``
already computed (the trainer computes them in a GEMM it shares with the evaluation)."""
_PROBA: dict[str, Callable] = {"softmax": predict_proba_softmax, "sigmoid": predict_proba_sigmoid}


def cost_grad(
    W: np.ndarray, b: np.ndarray, X: np.ndarray, Y: np.ndarray, lam: float, model: str = "softmax"
) -> tuple[float, float, np.ndarray, np.ndarray]:
    """``(loss, cost, dW, db)`` for ``model`` (see :func:`softmax_cost_grad`)."""
    return _COST_GRAD[resolve_model(model)](W, b, X, Y, lam)


def predict_proba(W: np.ndarray, b: np.ndarray, X: np.ndarray, model: str = "softmax") -> np.ndarray:
    """Probabilities (n, K) for ``model``: softmax rows or element-wise sigmoids."""
    return _PROBA[resolve_model(model)](W, b, X)


def loss_cost(
    W: np.ndarray, b: np.ndarray, X: np.ndarray, Y: np.ndarray, lam: float,
    model: str = "softmax", chunk: int = DEFAULT_CHUNK,
) -> tuple[float, float]:
    """Mean loss and cost over all rows of ``X``, in chunks of ``chunk`` rows.

    Memory is bounded by ``chunk * K`` score entries; the sum is accumulated in float64.

    Returns
    -------
    loss, cost : floats.
    """
    loss, _ = _chunked(W, b, X, Y, None, resolve_model(model), chunk)
    return loss, loss + _reg(W, lam)


def _chunked(W, b, X, Y, y, model, chunk):
    """Return (mean loss or nan when Y is None and y is None, accuracy or nan)."""
    n = X.shape[0]
    if n == 0:
        return float("nan"), float("nan")
    chunk = max(1, int(chunk))
    K = W.shape[0]
    total = 0.0
    correct = 0
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        S = scores(W, b, X[start:stop])
        if Y is not None:
            Yc = Y[start:stop]
        elif y is not None:
            Yc = one_hot(y[start:stop], K, dtype=S.dtype)
        else:
            Yc = None
        if Yc is not None:
            total += float(np.sum(per_sample_loss(S, Yc, model), dtype=np.float64))
        if y is not None:
            correct += int(np.count_nonzero(np.argmax(S, axis=1) == y[start:stop]))
    loss = total / n if (Y is not None or y is not None) else float("nan")
    acc = correct / n if y is not None else float("nan")
    return loss, acc


def evaluate_chunked(
    W: np.ndarray, b: np.ndarray, X: np.ndarray, Y: np.ndarray | None, y: np.ndarray | None,
    lam: float, model: str = "softmax", chunk: int = DEFAULT_CHUNK,
) -> tuple[float, float, float]:
    """Loss, cost and accuracy over all of ``X`` in one chunked pass.

    Parameters
    ----------
    W : (K, d) ; b : (K,) ; X : (n, d).
    Y : (n, K) one-hot or None (then built from ``y`` chunk by chunk).
    y : (n,) integer labels or None (then accuracy is nan).
    lam : regularisation strength for the cost.

    Returns
    -------
    loss, cost, accuracy : floats.
    """
    loss, acc = _chunked(W, b, X, Y, y, resolve_model(model), chunk)
    return loss, loss + _reg(W, lam), acc


def predict(W: np.ndarray, b: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Predicted labels ``argmax_k S_ik`` (n,) (same for softmax and sigmoid outputs)."""
    return np.argmax(scores(W, b, X), axis=1)


def accuracy(
    W: np.ndarray, b: np.ndarray, X: np.ndarray, y: np.ndarray, chunk: int = DEFAULT_CHUNK
) -> float:
    """Fraction of rows whose argmax score equals ``y`` (chunked)."""
    _, acc = _chunked(W, b, X, None, np.asarray(y), "softmax", chunk)
    return acc
