"""Mini-batch gradient descent for a bias-column linear model, checks every k steps.

The semantics of a course starter that checks five times per epoch:

* weights start at zero;
* every epoch walks ``n // batch_size`` batches in order (the last incomplete batch is
  dropped), optionally after a reshuffle drawn from a seeded ``numpy.random.Generator``;
* step s: loss and gradient of the mini-batch, then ``W -= lr * grad``; the recorded
  training loss is the mini-batch loss *before* the update;
* when ``s % (steps_per_epoch // 5) == 0`` (step 0 included) a validation check computes,
  with the weights *after* the update of step s, the validation loss and accuracy and the
  accuracy (and loss) on the whole training set;
* early stopping: stop at the check where ``patience`` consecutive checks have not beaten
  the best validation loss so far (``patience=None`` disables it).  The stop step and the
  0-based epoch of the loop are recorded.

Speed: the checks dominate the arithmetic (each one multiplies the whole 30 000 x 785
training + validation matrix with W).  Instead of one memory-bound matrix-vector-like product
per check, the trainer snapshots W at each check and evaluates ``block`` checks at once with
one compute-bound GEMM ``X @ [W_1 ... W_m]``.  With early stopping the trainer therefore runs
at most ``block`` checks ahead of the decision; when the decision says "stop at check j" it
restores the snapshot of check j and truncates the history, so the results are exactly those
of the step-by-step loop.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import ModuleType
from typing import Callable

import numpy as np

from linclf_cli.errors import TrainingDiverged, UsageError

from . import logistic, softmax
from .divergence import DivergenceGuard

MODELS: dict[str, ModuleType] = {"binary": logistic, "softmax": softmax}
EVAL_THREADS = 1  # blocks of checks evaluated concurrently with training (overlap=True)


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one training run of a bias-column linear model.

    ``l2`` is the weight-decay coefficient c added to the gradient (c W); it equals the
    2022 text's lambda (R = 1/2 sum W^2) and twice the 2021 text's lambda (R = sum W^2).
    """

    learning_rate: float
    batch_size: int
    epochs: int
    shuffle: bool = False
    l2: float = 0.0
    early_stopping: bool = False
    patience: int = 10
    restore_best: bool = False

    def validate(self, n_train: int | None) -> None:
        """Check the ranges; ``n_train`` (the training-set size) bounds the batch size, and
        ``None`` (size not known yet) checks only that it is at least 1."""
        if not np.isfinite(self.learning_rate) or self.learning_rate <= 0:
            raise UsageError(
                f"The learning rate must be a positive number, got {self.learning_rate}.",
                "Use for example --lr 0.01.",
            )
        if n_train is None and self.batch_size < 1:
            raise UsageError(f"The batch size must be at least 1, got {self.batch_size}.",
                             "Use for example --batch-size 128.")
        if n_train is not None and (self.batch_size < 1 or self.batch_size > n_train):
            raise UsageError(
                f"The batch size must lie between 1 and the training-set size {n_train}, "
                f"got {self.batch_size}.",
                "Use for example --batch-size 128.",
            )
        if self.epochs < 1:
            raise UsageError(f"The number of epochs must be at least 1, got {self.epochs}.")
        if not np.isfinite(self.l2) or self.l2 < 0:
            raise UsageError(f"The L2 coefficient must be >= 0, got {self.l2}.")
        if self.early_stopping and self.patience < 1:
            raise UsageError(f"The early-stopping patience must be >= 1, got {self.patience}.")


@dataclass
class TrainResult:
    """Weights and history of a run.  Arrays are indexed by step or by check."""

    W: np.ndarray
    steps: int
    steps_per_epoch: int
    val_every: int
    stopped_step: int | None
    stopped_epoch: int | None
    best_val_loss: float
    best_step: int
    train_loss: np.ndarray  # (steps,) mini-batch loss before each update
    checks: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def steps_per_validation(steps_per_epoch: int) -> int:
    """The starter's ``num_batches_per_epoch // 5``, at least 1 for tiny data."""
    return max(steps_per_epoch // 5, 1)


def batched_metrics(model: ModuleType, X: np.ndarray, T: np.ndarray, Ws: list[np.ndarray],
                    chunk: int = 8192):
    """Loss and accuracy of every weight matrix in ``Ws`` on (X, T) with one GEMM per chunk.

    The product is laid out class-major, Z[k, j, i] = (X @ Ws[j])[i, k], so every reduction
    over the K classes is K elementwise operations on contiguous (m, rows) slabs instead of
    a slow reduction over a short last axis.

    Parameters
    ----------
    X : ndarray of shape (n, d).   T : targets of shape (n, K).
    Ws : m weight matrices of shape (d, K).

    Returns
    -------
    losses, accuracies : ndarrays of shape (m,), float64.
    """
    m = len(Ws)
    K = Ws[0].shape[1]
    WcatT = np.stack(Ws, axis=0).transpose(2, 0, 1).reshape(K * m, -1)  # row k*m + j = Ws[j][:, k]
    loss_sum = np.zeros(m)
    correct = np.zeros(m)
    labels = T.argmax(axis=1) if K > 1 else None
    for start in range(0, X.shape[0], chunk):
        Xc, Tc = X[start:start + chunk], T[start:start + chunk]
        c = len(Xc)
        Z = (WcatT @ Xc.T).reshape(K, m, c)  # Z[k, j, i]: class k, snapshot j, example i
        if K == 1:  # binary: mean of ln(1 + e^z) - t z; predict 1 iff z >= 0
            z, t = Z[0], Tc[:, 0]
            loss_sum += np.sum(np.logaddexp(0.0, z) - t * z, axis=1, dtype=np.float64)
            correct += np.sum((z >= 0) == (t >= 0.5), axis=1)
            continue
        # softmax: mean of logsumexp(z) - z_y; correct iff the first maximum is at y
        lab = labels[start:start + chunk]
        zmax = Z[0].copy()
        for k in range(1, K):
            np.maximum(zmax, Z[k], out=zmax)
        sumexp = np.zeros_like(zmax)
        first = np.full(zmax.shape, K, dtype=np.int16)
        for k in range(K - 1, -1, -1):
            sumexp += np.exp(Z[k] - zmax)
            np.copyto(first, k, where=Z[k] == zmax)
        z_true = np.take_along_axis(Z, np.broadcast_to(lab, (1, m, c)), axis=0)[0]  # (m, c)
        loss_sum += np.sum(np.log(sumexp) + zmax - z_true, axis=1, dtype=np.float64)
        correct += np.sum(first == lab, axis=1)
    n = X.shape[0]
    return loss_sum / n, correct / n


@np.errstate(over="ignore", invalid="ignore")  # divergence is detected and reported explicitly
def train(
    model: str | ModuleType,
    X_train: np.ndarray,
    T_train: np.ndarray,
    X_val: np.ndarray,
    T_val: np.ndarray,
    cfg: TrainConfig,
    rng: np.random.Generator,
    callback: Callable[[int, int], None] | None = None,
    block: int = 16,
    overlap: bool = True,
) -> TrainResult:
    """Train a bias-column linear model from zero weights by mini-batch gradient descent.

    Parameters
    ----------
    model : "binary", "softmax" or the model module.
    X_train : ndarray of shape (n, d), pre-processed (bias column included).
    T_train : targets of shape (n, K): (n, 1) in {0, 1} for binary, one-hot for softmax.
    X_val, T_val : the validation set, same layout.
    cfg : hyperparameters.   rng : source of the per-epoch shuffles.
    callback : called as ``callback(steps_done, total_steps, fields)`` for progress display;
        ``fields``: epoch (1-based), epochs, loss (this step's), val_accuracy (latest known or None);
        an early-stopped run ends with one call at the step it stopped, adding stopped_step and
        stopped_epoch (0-based, as metrics.json has them).
    block : checks evaluated per batched GEMM (results do not depend on it).
    overlap : evaluate each block of checks in a background thread while training goes on
        (BLAS and ufuncs release the GIL, so this uses a second core; results are identical).
    """
    mod = MODELS[model] if isinstance(model, str) else model
    n, d = X_train.shape
    cfg.validate(n)
    if block < 1:
        raise ValueError("block must be >= 1")
    B = cfg.batch_size
    spe = n // B
    val_every = steps_per_validation(spe)
    total = spe * cfg.epochs
    dtype = X_train.dtype
    W = np.zeros((d, T_train.shape[1]), dtype=dtype)
    lr = dtype.type(cfg.learning_rate)
    l2 = float(cfg.l2)
    step_loss = np.empty(total, dtype=np.float64)

    cols: dict[str, list] = {k: [] for k in (
        "step", "epoch", "val_loss", "val_accuracy", "train_loss", "train_accuracy")}
    pending: list[tuple[int, int, np.ndarray]] = []
    state = {"best": np.inf, "best_step": -1, "since": 0, "stop": None, "best_W": None}
    t_eval = 0.0
    guard = DivergenceGuard(cfg.learning_rate)

    # evaluation (the bulk of the arithmetic) runs on a second core; a second evaluation
    # thread measured only ~5 % faster on 2 cores, so one keeps speculation shallow
    executor = ThreadPoolExecutor(max_workers=EVAL_THREADS) if overlap else None
    inflight: list[tuple[object, list]] = []  # (future or result, its checks), oldest first

    def evaluate(blk: list) -> tuple:
        with np.errstate(over="ignore", invalid="ignore"):
            t0 = time.perf_counter()
            Ws = [w for _, _, w in blk]
            v_loss, v_acc = batched_metrics(mod, X_val, T_val, Ws)
            t_loss, t_acc = batched_metrics(mod, X_train, T_train, Ws)
            return (v_loss, v_acc, t_loss, t_acc), time.perf_counter() - t0

    def submit() -> None:
        """Start evaluating the pending checks (in the background thread when overlapping)."""
        if pending:
            blk = list(pending)
            pending.clear()
            inflight.append((executor.submit(evaluate, blk) if executor else evaluate(blk), blk))

    def drain(keep: int = 0) -> None:
        """Apply the early-stopping rule to evaluated checks, in order, until at most ``keep``
        blocks are still in flight (or the run has stopped)."""
        nonlocal t_eval
        while len(inflight) > keep and state["stop"] is None:
            fut, blk = inflight.pop(0)
            (v_loss, v_acc, t_loss, t_acc), dt = fut.result() if executor else fut
            t_eval += dt
            for j, (s, e, w) in enumerate(blk):
                if not np.isfinite(v_loss[j]):
                    raise TrainingDiverged(s, float(v_loss[j]), cfg.learning_rate)
                for key, val in (("step", s), ("epoch", e), ("val_loss", v_loss[j]),
                                 ("val_accuracy", v_acc[j]), ("train_loss", t_loss[j]),
                                 ("train_accuracy", t_acc[j])):
                    cols[key].append(val)
                if v_loss[j] < state["best"]:
                    state.update(best=float(v_loss[j]), best_step=s, since=0)
                    if cfg.restore_best:
                        state["best_W"] = w
                else:
                    state["since"] += 1
                    if cfg.early_stopping and state["since"] >= cfg.patience:
                        state["stop"] = (s, e, w)
                        break

    try:
        t_start = time.perf_counter()
        step = 0
        idx_buf = None
        Xb = np.empty((B, d), dtype=dtype)
        Tb = np.empty((B, T_train.shape[1]), dtype=T_train.dtype)
        done = False
        for epoch in range(cfg.epochs):
            order = rng.permutation(n) if cfg.shuffle else None
            for i in range(spe):
                if order is None:
                    Xb_, Tb_ = X_train[i * B:(i + 1) * B], T_train[i * B:(i + 1) * B]
                else:
                    idx_buf = order[i * B:(i + 1) * B]
                    Xb_ = np.take(X_train, idx_buf, axis=0, out=Xb)
                    Tb_ = np.take(T_train, idx_buf, axis=0, out=Tb)
                loss, grad = mod.loss_and_grad(W, Xb_, Tb_, l2)
                step_loss[step] = loss
                try:
                    guard.check(step, loss)  # non-finite, or 10x the initial loss (divergence.py)
                except TrainingDiverged:
                    submit()  # an earlier check may already have stopped the run
                    drain(0)
                    if state["stop"] is None:
                        raise
                    done = True
                    break
                grad *= lr
                W -= grad
                if step % val_every == 0:
                    pending.append((step, epoch, W.copy()))
                    if len(pending) >= block:
                        submit()
                        drain(keep=EVAL_THREADS if executor else 0)  # evaluate while training on
                        if state["stop"] is not None:
                            done = True
                            break
                step += 1
                if callback is not None:  # fields for display; val accuracy of the latest evaluated check
                    va = cols["val_accuracy"]
                    callback(step, total, {"epoch": epoch + 1, "epochs": cfg.epochs, "loss": float(loss),
                                           "val_accuracy": float(va[-1]) if va else None})
            if done:
                break
        if not done:
            submit()
            drain(0)

        stopped_step = stopped_epoch = None
        if state["stop"] is not None:
            stopped_step, stopped_epoch, W = state["stop"]
            step = stopped_step + 1
            if callback is not None:  # the display ends where the run stopped, not where it ran ahead to
                callback(step, total, {"epoch": stopped_epoch + 1, "epochs": cfg.epochs,
                                       "stopped_step": stopped_step, "stopped_epoch": stopped_epoch,
                                       "loss": float(step_loss[stopped_step]),
                                       "val_accuracy": float(cols["val_accuracy"][-1])})
        if cfg.restore_best and state["best_W"] is not None:
            W = state["best_W"]
        t_total = time.perf_counter() - t_start
        checks = {k: np.asarray(v) for k, v in cols.items()}
        return TrainResult(
            W=W,
            steps=step,
            steps_per_epoch=spe,
            val_every=val_every,
            stopped_step=stopped_step,
            stopped_epoch=stopped_epoch,
            best_val_loss=state["best"],
            best_step=state["best_step"],
            train_loss=step_loss[:step].copy(),
            checks=checks,
            seconds={"train": t_total, "evaluation": t_eval},
        )

    finally:
        if executor is not None:
            executor.shutdown(wait=True)


def final_metrics(model: str | ModuleType, W: np.ndarray, X_train, T_train, X_val, T_val) -> dict:
    """Loss and accuracy on the full training and validation sets, and the weight norms."""
    mod = MODELS[model] if isinstance(model, str) else model
    tl, ta = batched_metrics(mod, X_train, T_train, [W])
    vl, va = batched_metrics(mod, X_val, T_val, [W])
    W64 = W.astype(np.float64)
    ss = float(np.sum(W64 * W64))
    return {
        "train_loss": float(tl[0]),
        "val_loss": float(vl[0]),
        "train_accuracy": float(ta[0]),
        "val_accuracy": float(va[0]),
        "weight_sum_of_squares": ss,
        "weight_frobenius_norm": float(np.sqrt(ss)),
    }
