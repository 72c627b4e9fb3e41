"""Training loops of the MLP: SGD on batches drawn with replacement, and Adam on shuffled epochs.

Both train an :mod:`linclf_cli.engine.mlp` parameter dict **in place** and return a history
dict of plain Python numbers (JSON-ready).  No I/O, no printing, no plotting; randomness
comes only from the ``numpy.random.Generator`` passed in.

``callback``, when given, is called once per iteration with a dict::

    {"iteration": int, "epoch": int, "loss": float, "learning_rate": float}

plus ``"train_acc"`` and ``"val_acc"`` on the iterations where accuracies are recorded
(``train_sgd``) or at the end of each epoch (``train_adam``, with ``"epoch_end": True``).
"""

from __future__ import annotations

import functools
import math
from typing import Callable, MutableMapping

import numpy as np

from linclf_cli.engine import mlp
from linclf_cli.engine.divergence import DivergenceGuard
from linclf_cli.engine.optim import SGD, Adam
from linclf_cli.errors import TrainingDiverged, UsageError

__all__ = ["train_sgd", "train_adam"]

Callback = Callable[[dict], None]


def _check_data(params, X, y, X_val, y_val, batch_size: int) -> None:
    X, X_val = np.asarray(X), np.asarray(X_val)
    D = params["W1"].shape[0]
    for name, A, b in (("training", X, y), ("validation", X_val, y_val)):
        if A.ndim != 2 or A.shape[1] != D:
            raise UsageError(f"The {name} inputs have shape {A.shape}; expected (n, {D}).")
        if np.shape(b) != (A.shape[0],):
            raise UsageError(
                f"The {name} labels have shape {np.shape(b)}; expected ({A.shape[0]},)."
            )
    if X.shape[0] == 0:
        raise UsageError("The training set is empty.")
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise UsageError(f"The batch size must be a positive integer, got {batch_size!r}.")


def _check_count(name: str, value) -> int:
    if isinstance(value, bool) or int(value) != value or value < 0:
        raise UsageError(f"{name} must be a non-negative integer, got {value!r}.")
    return int(value)


def _check_factor(name: str, value, *, positive: bool) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise UsageError(f"{name} must be a finite number {bound}, got {value}.")
    return value


def _check_loss(guard: DivergenceGuard, loss: float, step: int, lr: float) -> None:
    """Non-finite, or 10x the initial loss for 3 consecutive batches (divergence.py)."""
    guard.check(step, loss)  # the hint's learning rate is the configured one, not the decayed lr


def _quiet_overflow(fn):
    """Run ``fn`` under a fresh ``np.errstate``: overflow on the way to a NaN/inf loss is
    expected and is reported as :class:`TrainingDiverged`, not as RuntimeWarnings."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with np.errstate(over="ignore", invalid="ignore"):
            return fn(*args, **kwargs)

    return wrapper


@_quiet_overflow
def train_sgd(
    params: MutableMapping[str, np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    *,
    learning_rate: float = 1e-3,
    learning_rate_decay: float = 0.95,
    reg: float = 5e-6,
    num_iters: int = 100,
    batch_size: int = 200,
    rng: np.random.Generator,
    callback: Callback | None = None,
) -> dict:
    """A ``TwoLayerNet.train``: SGD on mini-batches drawn with replacement.

    Every iteration ``it = 0 .. num_iters - 1``:

    1. draw ``batch_size`` indices **with replacement**, ``rng.choice(N, batch_size,
       replace=True)`` (the starter used the global ``np.random.choice``; the stream differs,
       the distribution does not);
    2. loss and gradients of ``J`` (mean cross-entropy + ``reg * sum ||W||^2``) on the batch;
    3. ``theta <- theta - learning_rate * grad``;
    4. if ``it % iterations_per_epoch == 0`` (including ``it = 0``), with
       ``iterations_per_epoch = max(N // batch_size, 1)``: record the accuracy on the
       **current mini-batch** (after the update, as the starter does) and on the full
       validation set, then ``learning_rate *= learning_rate_decay`` (E.9).

    Parameters
    ----------
    params : MLP parameter dict, updated in place.
    X : ndarray of shape (N, D); y : int ndarray of shape (N,).
    X_val : ndarray of shape (N_val, D); y_val : int ndarray of shape (N_val,).
    rng : numpy.random.Generator for the batch indices.
    callback : optional, see the module docstring.

    Returns
    -------
    history : dict with
        ``loss_history`` (num_iters floats, batch loss before each update),
        ``train_acc_history`` and ``val_acc_history`` (floats),
        ``acc_iterations`` (the iterations at which they were recorded),
        ``learning_rate_history`` (the rate used by the iterations starting at each record),
        ``iterations_per_epoch`` and ``final_learning_rate``.

    Raises
    ------
    TrainingDiverged
        When a batch loss is NaN or infinite (before the update of that iteration).
    """
    _check_data(params, X, y, X_val, y_val, batch_size)
    num_iters = _check_count("num_iters", num_iters)
    reg = _check_factor("reg", reg, positive=False)
    learning_rate_decay = _check_factor("learning_rate_decay", learning_rate_decay, positive=True)
    opt = SGD(learning_rate)
    N = np.shape(X)[0]
    iterations_per_epoch = max(N // int(batch_size), 1)
    history: dict = {
        "loss_history": [],
        "train_acc_history": [],
        "val_acc_history": [],
        "acc_iterations": [],
        "learning_rate_history": [],
        "iterations_per_epoch": iterations_per_epoch,
    }
    grads = None  # gradient buffers, reused from the second iteration on
    guard = DivergenceGuard(learning_rate)
    for it in range(num_iters):
        idx = rng.choice(N, int(batch_size), replace=True)  # (B,) with replacement
        X_batch, y_batch = X[idx], y[idx]
        loss, grads = mlp.loss_and_grads(params, X_batch, y_batch, reg, out=grads)
        _check_loss(guard, loss, it, opt.lr)
        history["loss_history"].append(loss)
        opt.step(params, grads)
        info = {
            "iteration": it,
            "epoch": it // iterations_per_epoch,
            "loss": loss,
            "learning_rate": opt.lr,
        }
        if it % iterations_per_epoch == 0:
            train_acc = float(np.mean(mlp.predict(params, X_batch) == y_batch))
            val_acc = mlp.accuracy(params, X_val, y_val)
            history["train_acc_history"].append(train_acc)
            history["val_acc_history"].append(val_acc)
            history["acc_iterations"].append(it)
            history["learning_rate_history"].append(opt.lr)
            info.update(train_acc=train_acc, val_acc=val_acc)
            opt.lr *= learning_rate_decay
        if callback is not None:
            callback(info)
    history["final_learning_rate"] = opt.lr
    return history


@_quiet_overflow
def train_adam(
    params: MutableMapping[str, np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    *,
    lr: float = 1e-3,
    weight_decay: float = 1e-3,
    lr_decay: float = 0.95,
    epochs: int = 10,
    batch_size: int = 200,
    rng: np.random.Generator,
    callback: Callback | None = None,
) -> dict:
    """A PyTorch-style MLP loop: Adam on shuffled mini-batches, per-epoch lr decay.

    Every epoch: ``perm = rng.permutation(N)``; walk ``perm`` in chunks of ``batch_size``,
    **including the last partial batch** (a ``DataLoader(shuffle=True)`` without
    ``drop_last``); on each batch take the plain mean cross-entropy (``nn.CrossEntropyLoss``:
    no L2 term besides Adam's coupled ``weight_decay``, which covers biases too, like
    ``torch.optim.Adam(model.parameters(), weight_decay=reg)``) and one Adam step.  After the
    epoch, ``lr *= lr_decay`` (the starter's ``update_lr``).

    Parameters
    ----------
    params : MLP parameter dict, updated in place.
    X : ndarray of shape (N, D); y : int ndarray of shape (N,).
    X_val : ndarray of shape (N_val, D); y_val : int ndarray of shape (N_val,).
    rng : numpy.random.Generator for the per-epoch shuffles.
    callback : optional, see the module docstring.

    Returns
    -------
    history : dict with
        ``loss_history`` (every batch loss, before its update),
        ``epoch_loss_history`` (per epoch, the unweighted mean of its batch losses),
        ``train_acc_history`` (per epoch, accuracy of the predictions made during the
        epoch's forward passes, i.e. before each batch's update, over all N samples),
        ``val_acc_history`` (per epoch, full validation set after the epoch),
        ``learning_rate_history`` (the rate used during each epoch),
        ``iterations_per_epoch`` (ceil(N / batch_size)) and ``final_learning_rate``.

    Raises
    ------
    TrainingDiverged
        When a batch loss is NaN or infinite.
    """
    _check_data(params, X, y, X_val, y_val, batch_size)
    epochs = _check_count("epochs", epochs)
    lr_decay = _check_factor("lr_decay", lr_decay, positive=True)
    opt = Adam(lr, weight_decay=weight_decay)
    N = np.shape(X)[0]
    B = int(batch_size)
    history: dict = {
        "loss_history": [],
        "epoch_loss_history": [],
        "train_acc_history": [],
        "val_acc_history": [],
        "learning_rate_history": [],
        "iterations_per_epoch": -(-N // B),
    }
    step = 0
    grads = None  # gradient buffers, reused from the second step on
    guard = DivergenceGuard(lr)
    for epoch in range(epochs):
        perm = rng.permutation(N)
        losses: list[float] = []
        correct = 0
        for start in range(0, N, B):
            idx = perm[start : start + B]
            y_batch = y[idx]
            loss, grads, pred = mlp.loss_and_grads(
                params, X[idx], y_batch, 0.0, return_pred=True, out=grads
            )
            _check_loss(guard, loss, step, opt.lr)
            correct += int(np.count_nonzero(pred == y_batch))
            losses.append(loss)
            opt.step(params, grads)
            if callback is not None:
                callback(
                    {"iteration": step, "epoch": epoch, "loss": loss, "learning_rate": opt.lr}
                )
            step += 1
        history["loss_history"].extend(losses)
        epoch_loss = float(np.mean(losses))
        train_acc = correct / N
        val_acc = mlp.accuracy(params, X_val, y_val)
        history["epoch_loss_history"].append(epoch_loss)
        history["train_acc_history"].append(train_acc)
        history["val_acc_history"].append(val_acc)
        history["learning_rate_history"].append(opt.lr)
        if callback is not None:
            callback(
                {
                    "iteration": step - 1,
                    "epoch": epoch,
                    "loss": epoch_loss,
                    "learning_rate": opt.lr,
                    "train_acc": train_acc,
                    "val_acc": val_acc,
                    "epoch_end": True,
                }
            )
        opt.lr *= lr_decay
    history["final_learning_rate"] = opt.lr
    return history
