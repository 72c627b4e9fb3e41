"""Binary logistic regression with the bias as a column of X (weights w of shape (d, 1)).

Model, loss and gradient for weights w of shape (d, 1), inputs X of shape (n, d) and targets
t in {0, 1} of shape (n, 1):

    z = X w,   y_hat = sigmoid(z)
    C(w) = -(1/n) sum_n [ t ln y_hat + (1 - t) ln(1 - y_hat) ]
         =  (1/n) sum_n [ ln(1 + e^z) - t z ]                       (stable form)
    dC/dw = -(1/n) X^T (t - y_hat)

With L2 weight decay coefficient c (see ``linclf_cli.engine.l2``) the objective is
J = C + (c/2) sum w^2 and the gradient gains c w.  Predict 1 when y_hat >= 0.5, i.e. z >= 0.
"""

from __future__ import annotations

import numpy as np

from .functions import sigmoid

NAME = "binary"


def num_outputs(num_classes: int) -> int:
    return 1


def forward(w: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Probabilities y_hat of shape (n, 1)."""
    return sigmoid(X @ w)


def loss_from_logits(z: np.ndarray, t: np.ndarray) -> float:
    """Mean binary cross-entropy from logits z (n, 1) and targets t (n, 1)."""
    return float(np.mean(np.logaddexp(0.0, z) - t * z, dtype=np.float64))


def loss(w: np.ndarray, X: np.ndarray, t: np.ndarray) -> float:
    return loss_from_logits(X @ w, t)


def loss_and_grad(w: np.ndarray, X: np.ndarray, t: np.ndarray, l2: float = 0.0):
    """Mean cross-entropy of the batch (before any update) and dJ/dw, shape (d, 1)."""
    z = X @ w  # (n, 1)
    batch_loss = loss_from_logits(z, t)
    g = sigmoid(z)
    g -= t
    g *= 1.0 / X.shape[0]
    grad = X.T @ g  # (d, 1)
    if l2:
        grad += l2 * w
    return batch_loss, grad


def correct_from_logits(z: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Boolean (n,) of correct predictions: predict 1 iff sigmoid(z) >= 0.5 iff z >= 0."""
    return (z[:, 0] >= 0) == (t[:, 0] >= 0.5)


def accuracy(w: np.ndarray, X: np.ndarray, t: np.ndarray) -> float:
    return float(np.mean(correct_from_logits(X @ w, t)))
