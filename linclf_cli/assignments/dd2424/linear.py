"""The DD2424 one-layer classifier ``S = X W^T + b`` (W of shape (K, d)) on the engine's one
model, and its trainer on ``fit``.

The course's parameters are ``W`` (K, d) and ``b`` (K,); the engine's
:class:`~linclf_cli.engine.model.Model` sees ``{"W1": W.T, "b1": b}`` (a transposed view, so
the products are the course's ``X W^T`` and ``G^T X``).  Heads: ``softmax`` (cross-entropy)
and ``sigmoid`` (multiple binary cross-entropy), computed in the log domain
(``numerics="log-domain"``); L2 ``lam * sum W^2`` over W only (``L2(lam, "full", "weights")``)::

    cost = loss + lam * sum W^2      dW = (1/n) G^T X + 2 lam W      db = (1/n) G^T 1
    G = P - Y (softmax)   or   (P - Y) / K (sigmoid)

:func:`train_fused` is vanilla mini-batch GD on ``fit``: ``n // n_batch`` updates per epoch
(in order or reshuffled), optional random flips, a per-epoch schedule, and checks before
training and after every epoch through the evaluator that fuses the training set's
evaluation into the next epoch's pass (``evaluators.FusedTrain``).  The random stream for a
seed: init W (then b with ``bias_init="normal"``), then per epoch the permutation (if
``shuffle``) and one uniform draw per mini-batch row for each mini-batch (if ``flip``).
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from linclf_cli.engine import heads
from linclf_cli.engine.augment import random_flip
from linclf_cli.engine.evaluators import FusedTrain
from linclf_cli.engine.evaluators import evaluate as _evaluate
from linclf_cli.engine.fit import FitConfig, fit
from linclf_cli.engine.functions import log_softmax, one_hot, softmax  # noqa: F401 (re-exported)
from linclf_cli.engine.functions import sigmoid_exp as sigmoid
from linclf_cli.engine.model import Model
from linclf_cli.engine.optim import SGD
from linclf_cli.engine.regularizers import L2
from linclf_cli.engine.samplers import Sampler
from linclf_cli.engine.schedules import ConstantLR
from linclf_cli.errors import UsageError

MODELS: tuple[str, ...] = ("softmax", "sigmoid")
DEFAULT_CHUNK = 10_000
HISTORY_KEYS = ("epoch", "lr", "train_loss", "train_cost", "val_loss", "val_cost",
                "train_accuracy", "val_accuracy")
"""Keys of :attr:`FusedResult.history`; each maps to a list of ``n_epochs + 1`` values."""


def resolve_model(model: str) -> str:
    """``softmax`` (alias ``ce``) or ``sigmoid`` (alias ``mbce``), case-insensitive."""
    aliases = {"softmax": "softmax", "ce": "softmax", "sigmoid": "sigmoid", "mbce": "sigmoid"}
    key = str(model).strip().lower()
    if key not in aliases:
        raise UsageError(f"Unknown linear model {model!r}.", f"Choose one of: {', '.join(MODELS)}.")
    return aliases[key]


def model_for(K: int, d: int, lam: float = 0.0, model: str = "softmax") -> Model:
    return Model((d, K), head=resolve_model(model), bias="vector",
                 l2=L2(float(lam), "full", "weights"), numerics="log-domain")


def _p(W, b) -> dict:
    return {"W1": W.T, "b1": b}


def init_params(K: int, d: int, rng: np.random.Generator, std: float = 0.01,
                bias: str = "normal", dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """``W = std * rng.standard_normal((K, d))`` (float64, then cast), then ``b`` drawn the
    same way after W (``bias="normal"``, 2020-24 editions) or zero (``"zero"``, 2025-26)."""
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


def scores(W, b, X) -> np.ndarray:
    """``S = X W^T + b``: (n, K)."""
    return X @ W.T + b


def _as_dtype(Y, like):
    Y = np.asarray(Y)
    return Y if Y.dtype == like.dtype else Y.astype(like.dtype)


def per_sample_loss(S, Y, model: str) -> np.ndarray:
    """Per-sample loss (n,) from scores and one-hot targets."""
    if model not in MODELS:
        raise UsageError(f"Unknown linear model {model!r}.", f"Choose one of: {', '.join(MODELS)}.")
    return heads.per_sample_loss(model, S, _as_dtype(Y, S))


def cost_grad(W, b, X, Y, lam: float, model: str = "softmax"):
    """``(loss, cost, dW, db)`` on a (mini-)batch (the engine's Model.loss)."""
    m = model_for(W.shape[0], W.shape[1], lam, model)
    loss, cost, g = m.loss(_p(W, b), X, _as_dtype(Y, W))
    return loss, cost, g["W1"].T, g["b1"]


def softmax_cost_grad(W, b, X, Y, lam):
    return cost_grad(W, b, X, Y, lam, "softmax")


def sigmoid_cost_grad(W, b, X, Y, lam):
    return cost_grad(W, b, X, Y, lam, "sigmoid")


_COST_GRAD: dict[str, Callable] = {"softmax": softmax_cost_grad, "sigmoid": sigmoid_cost_grad}


def predict_proba_softmax(W, b, X):
    return softmax(scores(W, b, X))


def predict_proba_sigmoid(W, b, X):
    return sigmoid(scores(W, b, X))


def predict_proba(W, b, X, model: str = "softmax"):
    return (predict_proba_softmax if resolve_model(model) == "softmax" else predict_proba_sigmoid)(W, b, X)


def evaluate_chunked(W, b, X, Y, y, lam: float, model: str = "softmax", chunk: int = DEFAULT_CHUNK):
    """Loss, cost and accuracy over all of ``X`` in chunks (``Y`` None: one-hot of ``y``;
    ``y`` None: accuracy nan)."""
    n = X.shape[0]
    if n == 0:
        return math.nan, math.nan, math.nan
    m = model_for(W.shape[0], W.shape[1], lam, model)
    if Y is None and y is None:
        return math.nan, math.nan, math.nan
    dt = np.result_type(X, W, b)  # the scores' dtype
    T = np.asarray(Y).astype(dt, copy=False) if Y is not None else one_hot(y, W.shape[0], dt)
    loss, acc = _evaluate(m, _p(W, b), X, T, max(1, int(chunk)))  # accuracy: arg-max of T = y
    return loss, loss + m.l2.penalty(_p(W, b)), (acc if y is not None else math.nan)


def loss_cost(W, b, X, Y, lam, model: str = "softmax", chunk: int = DEFAULT_CHUNK):
    loss, cost, _ = evaluate_chunked(W, b, X, Y, None, lam, resolve_model(model), chunk)
    return loss, cost


def softmax_loss_cost(W, b, X, Y, lam, chunk: int = DEFAULT_CHUNK):
    return loss_cost(W, b, X, Y, lam, "softmax", chunk)


def sigmoid_loss_cost(W, b, X, Y, lam, chunk: int = DEFAULT_CHUNK):
    return loss_cost(W, b, X, Y, lam, "sigmoid", chunk)


def predict(W, b, X) -> np.ndarray:
    return np.argmax(scores(W, b, X), axis=1)


def _accuracy(W, b, X, y, chunk):
    correct = 0
    for lo in range(0, X.shape[0], max(1, int(chunk))):
        correct += int(np.count_nonzero(predict(W, b, X[lo:lo + chunk]) == y[lo:lo + chunk]))
    return correct / X.shape[0]


def accuracy(W, b, X, y, chunk: int = DEFAULT_CHUNK) -> float:
    if X.shape[0] == 0:
        return math.nan
    return _accuracy(W, b, X, np.asarray(y), chunk)


# --------------------------------------------------------------------------- the trainer


@dataclass
class FusedResult:
    """W (K, d), b (K,), history (HISTORY_KEYS lists: row 0 the initial parameters, its lr
    that of epoch 1; row e after epoch e), wall seconds, model, lam, steps."""

    W: np.ndarray
    b: np.ndarray
    history: dict = field(default_factory=dict)
    seconds: float = 0.0
    model: str = "softmax"
    lam: float = 0.0
    steps: int = 0


def _validate_data(name, X, Y, y):
    X, Y, y = np.asarray(X), np.asarray(Y), np.asarray(y)
    if X.ndim != 2:
        raise UsageError(f"{name} inputs must be a 2-D array (n, d), got shape {X.shape}.")
    if Y.ndim != 2 or Y.shape[0] != X.shape[0]:
        raise UsageError(f"{name} one-hot targets must have shape ({X.shape[0]}, K), got {Y.shape}.")
    if y.shape != (X.shape[0],):
        raise UsageError(f"{name} labels must have shape ({X.shape[0]},), got {y.shape}.")
    return X, Y, y


def train_fused(X_train, Y_train, y_train, X_val, Y_val, y_val, *, model: str = "softmax",
                lam: float = 0.0, eta: float = 0.001, n_batch: int = 100, n_epochs: int = 40,
                shuffle: bool = True, flip: bool = False, schedule=None,
                rng: np.random.Generator, init_std: float = 0.01, bias_init: str = "normal",
                dtype=np.float32, callback: Callable | None = None, flip_prob: float = 0.5,
                eval_chunk: int = DEFAULT_CHUNK, W0: np.ndarray | None = None,
                b0: np.ndarray | None = None) -> FusedResult:
    """Train ``W, b`` by vanilla mini-batch gradient descent (see the module docstring).

    Raises UsageError for invalid arguments, TrainingDiverged when a loss is NaN or inf.
    ``callback(epoch, n_epochs, fields)`` after each epoch's evaluation (fields: epoch, epochs,
    loss = training loss, val_accuracy); the training set's evaluation of epoch e completes
    during epoch e + 1, so that call comes when epoch e + 1 ends (the last right after it)."""
    t0 = time.perf_counter()
    model = resolve_model(model)
    X_train, Y_train, y_train = _validate_data("Training", X_train, Y_train, y_train)
    X_val, Y_val, y_val = _validate_data("Validation", X_val, Y_val, y_val)
    n, d = X_train.shape
    K = Y_train.shape[1]
    if n == 0:
        raise UsageError("The training set is empty.")
    if X_val.shape[1] != d or Y_val.shape[1] != K:
        raise UsageError(f"Validation data has d={X_val.shape[1]}, K={Y_val.shape[1]}; "
                         f"training data has d={d}, K={K}.")
    try:
        lam, eta = float(lam), float(eta)
    except (TypeError, ValueError):
        raise UsageError("lam and eta must be numbers.") from None
    if not (eta > 0 and math.isfinite(eta)):
        raise UsageError(f"The learning rate eta must be > 0, got {eta}.")
    if not (lam >= 0 and math.isfinite(lam)):
        raise UsageError(f"The regularisation lambda must be >= 0, got {lam}.")
    if isinstance(n_batch, bool) or int(n_batch) != n_batch or not 1 <= n_batch <= n:
        raise UsageError(f"The batch size must be an integer between 1 and n = {n}, got {n_batch}.")
    if isinstance(n_epochs, bool) or int(n_epochs) != n_epochs or n_epochs < 1:
        raise UsageError(f"The number of epochs must be an integer >= 1, got {n_epochs}.")
    if not isinstance(rng, np.random.Generator):
        raise UsageError("train_fused needs rng=numpy.random.Generator (e.g. default_rng(seed)).")
    if flip and not 0.0 <= flip_prob <= 1.0:
        raise UsageError(f"The flip probability must lie in [0, 1], got {flip_prob}.")
    if flip and d != 3072:
        raise UsageError(f"Horizontal flips need 3x32x32 images (d = 3072), the data has d = {d}.")
    if schedule is not None and not (hasattr(schedule, "lr") and hasattr(schedule, "step")):
        raise UsageError("schedule must provide lr(epoch) and step(val_loss).")
    dtype = np.dtype(dtype)
    X_train, Y_train = X_train.astype(dtype, copy=False), Y_train.astype(dtype, copy=False)
    X_val, Y_val = X_val.astype(dtype, copy=False), Y_val.astype(dtype, copy=False)
    if W0 is not None or b0 is not None:
        if W0 is None or b0 is None:
            raise UsageError("Pass both W0 and b0, or neither.")
        W, b = np.array(W0, dtype=dtype), np.array(b0, dtype=dtype)
        if W.shape != (K, d) or b.shape != (K,):
            raise UsageError(f"W0/b0 must have shapes ({K}, {d}) and ({K},).")
    else:
        W, b = init_params(K, d, rng, std=init_std, bias=bias_init, dtype=dtype)
    net = model_for(K, d, lam, model)
    params = _p(W, b)
    sampler = Sampler(n, int(n_batch), "shuffle" if shuffle else "in-order", rng=rng)
    augment = functools.partial(random_flip, p=flip_prob) if flip else None
    E = int(n_epochs)

    def report(e: int, loss: float, val_accuracy: float) -> None:
        callback(e, E, {"epoch": e, "epochs": E, "loss": loss, "val_accuracy": val_accuracy})

    def cb(step, total, f):  # at the end of epoch e + 1 the check of epoch e is complete
        if callback is not None and f.get("epoch_end") and f["epoch"] >= 2:
            report(f["epoch"] - 1, f["loss"], f["val_accuracy"])

    res = fit(net, params, (X_train, Y_train, X_val, Y_val), FitConfig(epochs=E),
              SGD(eta), sampler, schedule=schedule if schedule is not None else ConstantLR(eta),
              augment=augment, rng=rng, callback=cb, evaluator=FusedTrain(eval_chunk))
    h = res.history
    if callback is not None:
        report(E, float(h["train_loss"][-1]), float(h["val_accuracy"][-1]))
    hist = {"epoch": list(range(len(h["step"]))), "lr": h["lr"].tolist(),
            **{k: h[k].tolist() for k in HISTORY_KEYS[2:]}}
    return FusedResult(W=np.array(res.params["W1"].T), b=res.params["b1"], history=hist,
                       seconds=time.perf_counter() - t0, model=model, lam=lam, steps=res.steps)


def evaluate(W, b, X, y, model: str = "softmax", chunk: int = DEFAULT_CHUNK) -> dict:
    """Mean loss (no regulariser) and accuracy on ``X`` with labels ``y``."""
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        loss, _, acc = evaluate_chunked(W, b, np.asarray(X), None, np.asarray(y), 0.0, model, chunk)
    return {"loss": loss, "accuracy": acc}


def ground_truth_probabilities(W, b, X, y, model: str = "softmax", chunk: int = DEFAULT_CHUNK):
    """Probability given to the true class, and whether the prediction is right (bonus 2.2)."""
    model = resolve_model(model)
    X, y = np.asarray(X), np.asarray(y)
    n = X.shape[0]
    p_true = np.empty(n, dtype=np.result_type(X.dtype, W.dtype, np.float32))
    correct = np.empty(n, dtype=bool)
    chunk = max(1, int(chunk))
    with np.errstate(over="ignore", under="ignore"):
        for lo in range(0, n, chunk):
            hi = min(n, lo + chunk)
            S = scores(W, b, X[lo:hi])
            P = softmax(S) if model == "softmax" else sigmoid(S)
            yc = y[lo:hi]
            p_true[lo:hi] = P[np.arange(hi - lo), yc]
            correct[lo:hi] = np.argmax(S, axis=1) == yc
    return p_true, correct
