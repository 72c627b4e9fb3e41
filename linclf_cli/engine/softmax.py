"""Softmax regression with the bias as a column of X (weights W of shape (d, K)).

Weights W of shape (d, K), inputs X of shape (n, d), one-hot targets Y of shape (n, K):

    Z = X W,   Y_hat = softmax(Z) row-wise
    C(W) = -(1/n) sum_n sum_k Y_nk ln Y_hat_nk = (1/n) sum_n [ logsumexp(Z_n) - Z_n . Y_n ]
    dC/dW = -(1/n) X^T (Y - Y_hat)

With L2 weight decay coefficient c the objective is J = C + (c/2) sum W^2 and the gradient
gains c W (the whole matrix, bias row included, as the starter and solution do).
"""

from __future__ import annotations

import numpy as np

from .functions import log_softmax, softmax

NAME = "softmax"


def num_outputs(num_classes: int) -> int:
    return num_classes


def forward(W: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Class probabilities of shape (n, K)."""
    return softmax(X @ W)


def loss_from_logits(Z: np.ndarray, Y: np.ndarray) -> float:
    """Mean cross-entropy from logits Z (n, K) and one-hot Y (n, K)."""
    return float(-np.sum(log_softmax(Z) * Y, dtype=np.float64) / Z.shape[0])


def loss(W: np.ndarray, X: np.ndarray, Y: np.ndarray) -> float:
    return loss_from_logits(X @ W, Y)


def loss_and_grad(W: np.ndarray, X: np.ndarray, Y: np.ndarray, l2: float = 0.0):
    """Mean cross-entropy of the batch (before any update) and dJ/dW, shape (d, K)."""
    Z = X @ W  # (n, K)
    Z -= Z.max(axis=1, keepdims=True)
    E = np.exp(Z)
    S = E.sum(axis=1, keepdims=True)  # (n, 1)
    # loss = mean(ln S - sum_k Y Z)
    batch_loss = float((np.sum(np.log(S), dtype=np.float64) - np.sum(Z * Y, dtype=np.float64)) / X.shape[0])
    E /= S  # Y_hat
    E -= Y
    E *= 1.0 / X.shape[0]
    grad = X.T @ E  # (d, K)
    if l2:
        grad += l2 * W
    return batch_loss, grad


def correct_from_logits(Z: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Boolean (n,): argmax of the scores equals argmax of the one-hot target."""
    return Z.argmax(axis=1) == Y.argmax(axis=1)


def accuracy(W: np.ndarray, X: np.ndarray, Y: np.ndarray) -> float:
    return float(np.mean(correct_from_logits(X @ W, Y)))
