"""Output heads and their losses, from scores ``S`` (n, K) and targets ``Y`` (n, K).

``softmax`` (softmax + cross-entropy)::

    loss = (1/n) sum_i [logsumexp(S_i) - S_i . Y_i]         dJ/dS = (softmax(S) - Y) / n

``sigmoid`` (sigmoid + binary cross-entropy averaged over the K outputs)::

    loss = (1/n) sum_i (1/K) sum_k [softplus(S_ik) - Y_ik S_ik]
    dJ/dS = (sigmoid(S) - Y) / (n K)

With K = 1 the sigmoid head is the logistic loss (targets in {0, 1}); with
K > 1 it is the multiple binary cross-entropy.  Predictions: ``S >= 0`` for one sigmoid
output, the first arg-max otherwise.  Losses are computed in log-domain (stable for |S| = 1000)
and summed in float64.

Targets ``Y`` are one-hot/probability rows (n, K) or class labels (n,) (integers, like
PyTorch's ``CrossEntropyLoss`` with class indices): the softmax head then reads the true
class's score by index (``S[i, y_i]``) instead of summing ``S * Y``; the sigmoid head uses
their one-hot rows.
"""

from __future__ import annotations

import numpy as np

from .functions import log_softmax, one_hot, sigmoid, sigmoid_exp

HEADS = ("softmax", "sigmoid")
FORMS = ("shared-exp", "log-domain")
"""How :func:`loss_and_dscores` computes (the same function, other arithmetic): ``shared-exp``
(softmax from one ``exp(S - max)``, sigmoid by ``tanh``, scaled by ``1/n``) or ``log-domain``
(softmax as ``exp(log_softmax(S))``, sigmoid in the ``exp(-|s|)`` form, divided by ``n``)."""


def _dense(head: str, S: np.ndarray, Y: np.ndarray) -> np.ndarray:
    return one_hot(Y, S.shape[1], S.dtype) if head == "sigmoid" and Y.ndim == 1 else Y


def per_sample_loss(head: str, S: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Loss of every sample, shape (n,)."""
    Y = _dense(head, S, Y)
    if head == "softmax" and Y.ndim == 1:
        return -log_softmax(S, axis=1)[np.arange(S.shape[0]), Y]
    if head == "softmax":
        return -np.sum(Y * log_softmax(S, axis=1), axis=1)
    if head == "sigmoid":
        return np.mean(np.logaddexp(0, S) - Y * S, axis=1)
    raise ValueError(f"unknown head {head!r}; choose one of {HEADS}")


def loss(head: str, S: np.ndarray, Y: np.ndarray) -> float:
    """Mean loss over the n samples, summed over the whole (n, K) matrix in float64:
    ``-sum(Y * log_softmax(S)) / n`` or ``sum(softplus(S) - Y S) / (n K)``."""
    n, K = S.shape
    Y = _dense(head, S, Y)
    if head == "softmax" and Y.ndim == 1:  # labels: -mean of ln softmax(S)[i, y_i]
        return -float(np.mean(log_softmax(S, axis=1)[np.arange(n), Y], dtype=np.float64))
    if head == "softmax":
        return float(-np.sum(Y * log_softmax(S, axis=1), dtype=np.float64) / n)
    if head == "sigmoid":
        return float(np.sum(np.logaddexp(0, S) - Y * S, dtype=np.float64) / (n * K))
    raise ValueError(f"unknown head {head!r}; choose one of {HEADS}")


def _log_domain(head: str, S: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
    n, K = S.shape
    if head == "softmax":
        logP = log_softmax(S, axis=1)
        value = float(-np.sum(Y * logP, dtype=np.float64) / n)
        G = np.exp(logP)
        G -= Y
        G /= n
        return value, G
    G = sigmoid_exp(S)
    G -= Y
    G /= n * K
    return loss(head, S, Y), G


def loss_and_dscores(head: str, S: np.ndarray, Y: np.ndarray,
                     form: str = "shared-exp") -> tuple[float, np.ndarray]:
    """Mean loss and dJ/dS, shape (n, K).

    The softmax head computes the exponentials once: with ``Z = S - max_k S`` and
    ``s = sum_k exp(Z)``, loss = ``(sum ln s - sum Z * Y) / n`` and dJ/dS = ``(exp(Z) / s - Y) / n``
    (labels: loss = ``mean(ln s_i - Z[i, y_i])``, and 1 subtracted at ``[i, y_i]``).
    """
    n, K = S.shape
    Y = _dense(head, S, Y)
    if form == "log-domain" and head in HEADS:
        return _log_domain(head, S, one_hot(Y, K, S.dtype) if Y.ndim == 1 else Y)
    if head == "softmax" and Y.ndim == 1:
        rows = np.arange(n)
        G = S - S.max(axis=1, keepdims=True)
        z_y = G[rows, Y]
        np.exp(G, out=G)
        s = G.sum(axis=1)
        value = float(np.mean(np.log(s) - z_y, dtype=np.float64))
        G /= s[:, None]
        G[rows, Y] -= 1.0
        G *= 1.0 / n
        return value, G
    if head == "softmax":
        Z = S - S.max(axis=1, keepdims=True)
        G = np.exp(Z)
        s = G.sum(axis=1, keepdims=True)
        value = float((np.sum(np.log(s), dtype=np.float64) - np.sum(Z * Y, dtype=np.float64)) / n)
        G /= s
        G -= Y
        G *= 1.0 / n
        return value, G
    if head == "sigmoid":
        G = sigmoid(S)
        G -= Y
        G *= 1.0 / (n * K)
        return loss(head, S, Y), G
    raise ValueError(f"unknown head {head!r}; choose one of {HEADS}")


def predict(S: np.ndarray) -> np.ndarray:
    """Predicted class of every row (n,): ``S >= 0`` for one output, else the first arg-max."""
    if S.shape[1] == 1:
        return (S[:, 0] >= 0).astype(np.int64)
    return S.argmax(axis=1)


def labels_of(Y: np.ndarray) -> np.ndarray:
    """Class labels (n,) of targets: labels as they are, ``Y >= 0.5`` for one output, else
    the arg-max."""
    if Y.ndim == 1:
        return Y
    if Y.shape[1] == 1:
        return (Y[:, 0] >= 0.5).astype(np.int64)
    return Y.argmax(axis=1)
