"""Mini-batch gradient descent for the one-layer (W, b) classifier (softmax or sigmoid),
with the evaluation of the whole training set fused into the next epoch's pass.

Objective (see :mod:`linclf_cli.engine.linear` for the losses)::

    J(W, b) = (1/n) sum_i l(W x_i + b, y_i) + lam * sum W^2
    dJ/dW   = (1/|B|) G_B^T X_B + 2 lam W ,   dJ/db = (1/|B|) G_B^T 1
    G       = P - Y  (softmax/CE)   or   (P - Y) / K  (sigmoid/MBCE)

Vanilla mini-batch GD: per epoch ``n // n_batch`` sequential updates (an incomplete last
batch is dropped) ``W <- W - eta dJ/dW``, ``b <- b - eta dJ/db``; no momentum.  With
``shuffle`` the sample order is a fresh ``rng.permutation(n)`` every epoch and each
mini-batch is gathered through it into one preallocated buffer (the training set is never
copied per epoch); with ``flip`` the rows of that buffer are flipped in place, each with
probability ``flip_prob``.

Loss, cost and accuracy on the **whole** training and validation sets are recorded before
training (epoch 0) and after every epoch.  The validation set is evaluated in chunks after
each epoch; the training set's evaluation for the parameters after epoch e is fused into
the pass of epoch e + 1 (batches of >= FUSE_MIN_ROWS rows; see the comment in
:func:`train_fused`), which reads the training set once per epoch instead of twice and
gives the same numbers bit for bit.  The progress callback of epoch e therefore comes when
epoch e + 1 ends (the last right after the last epoch).

Pure NumPy, no I/O, no printing; randomness only through the passed Generator.  The
random stream, for a given seed, is: init W (then b when ``bias_init="normal"``), then per
epoch the permutation (if ``shuffle``) followed by one uniform draw per mini-batch row for
each mini-batch (if ``flip``).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import TrainingDiverged, UsageError
from .divergence import DivergenceGuard
from . import linear as core
from .augment import flip_permutation  # noqa: F401  (the flip done in place below)
from .schedules import ConstantLR

__all__ = [
    "HISTORY_KEYS",
    "FusedResult",
    "train_fused",
    "evaluate",
    "ground_truth_probabilities",
]

FUSE_MIN_ROWS = 64
"""Smallest mini-batch whose training-set evaluation is fused into the next epoch's pass."""

HISTORY_KEYS = (
    "epoch",
    "lr",
    "train_loss",
    "train_cost",
    "val_loss",
    "val_cost",
    "train_accuracy",
    "val_accuracy",
)
"""Keys of :attr:`FusedResult.history`; each maps to a list of ``n_epochs + 1`` values."""


@dataclass
class FusedResult:
    """Outcome of :func:`train_fused`.

    Attributes
    ----------
    W : (K, d) final weights.
    b : (K,) final biases.
    history : dict of per-epoch lists (keys :data:`HISTORY_KEYS`), row 0 = initial
        parameters (its ``lr`` is the rate of epoch 1), row e = after epoch e (its ``lr`` is
        the rate used during epoch e).
    seconds : wall-clock seconds of the whole call (training and evaluation).
    model : ``"softmax"`` or ``"sigmoid"``.
    lam : regularisation strength.
    steps : total number of parameter updates.
    """

    W: np.ndarray
    b: np.ndarray
    history: dict = field(default_factory=dict)
    seconds: float = 0.0
    model: str = "softmax"
    lam: float = 0.0
    steps: int = 0


def _validate_data(name, X, Y, y):
    X = np.asarray(X)
    Y = np.asarray(Y)
    y = np.asarray(y)
    if X.ndim != 2:
        raise UsageError(f"{name} inputs must be a 2-D array (n, d), got shape {X.shape}.")
    if Y.ndim != 2 or Y.shape[0] != X.shape[0]:
        raise UsageError(
            f"{name} one-hot targets must have shape ({X.shape[0]}, K), got {Y.shape}."
        )
    if y.shape != (X.shape[0],):
        raise UsageError(f"{name} labels must have shape ({X.shape[0]},), got {y.shape}.")
    return X, Y, y


def train_fused(
    X_train: np.ndarray,
    Y_train: np.ndarray,
    y_train: np.ndarray,
    X_val: np.ndarray,
    Y_val: np.ndarray,
    y_val: np.ndarray,
    *,
    model: str = "softmax",
    lam: float = 0.0,
    eta: float = 0.001,
    n_batch: int = 100,
    n_epochs: int = 40,
    shuffle: bool = True,
    flip: bool = False,
    schedule=None,
    rng: np.random.Generator,
    init_std: float = 0.01,
    bias_init: str = "normal",
    dtype=np.float32,
    callback: Callable[[int, int], None] | None = None,
    flip_prob: float = 0.5,
    eval_chunk: int = core.DEFAULT_CHUNK,
    W0: np.ndarray | None = None,
    b0: np.ndarray | None = None,
) -> FusedResult:
    """Train ``W, b`` by vanilla mini-batch gradient descent.

    Parameters
    ----------
    X_train : (n, d) ; Y_train : (n, K) one-hot ; y_train : (n,) int labels.
    X_val : (m, d) ; Y_val : (m, K) ; y_val : (m,).
    model : ``"softmax"`` (CE) or ``"sigmoid"`` (MBCE).
    lam : L2 strength (>= 0) on W only.
    eta : learning rate (> 0), used when ``schedule`` is None.
    n_batch : mini-batch size, ``1 <= n_batch <= n``.
    n_epochs : number of epochs (>= 1).
    shuffle : reshuffle the training order every epoch.
    flip : random horizontal flips (probability ``flip_prob``) of each mini-batch; the rows
        must be 3x32x32 images (d = 3072).
    schedule : None (constant ``eta``) or an object with ``lr(epoch) -> float`` and
        ``step(val_loss)`` (see :mod:`linclf_cli.engine.schedules`).  It is deep-copied, so
        the caller's object keeps its state.
    rng : numpy.random.Generator (required), for init, shuffling and flips.
    init_std, bias_init : passed to :func:`~linclf_cli.engine.linear.init_params`.
    dtype : compute dtype (inputs are cast once if needed).
    callback : ``callback(epoch, n_epochs, fields)`` after each epoch's evaluation (fields: epoch,
        epochs, loss = training loss, val_accuracy) for progress display.
    eval_chunk : rows per chunk when evaluating the full sets.
    W0, b0 : optional initial parameters (copied) instead of a random init.

    Returns
    -------
    FusedResult

    Raises
    ------
    UsageError : invalid arguments.
    TrainingDiverged : a mini-batch loss/cost, or an epoch's training loss, is NaN or inf.
    """
    t0 = time.perf_counter()
    model = core.resolve_model(model)
    X_train, Y_train, y_train = _validate_data("Training", X_train, Y_train, y_train)
    X_val, Y_val, y_val = _validate_data("Validation", X_val, Y_val, y_val)
    n, d = X_train.shape
    K = Y_train.shape[1]
    if n == 0:
        raise UsageError("The training set is empty.")
    if X_val.shape[1] != d or Y_val.shape[1] != K:
        raise UsageError(
            f"Validation data has d={X_val.shape[1]}, K={Y_val.shape[1]}; "
            f"training data has d={d}, K={K}."
        )
    try:
        lam = float(lam)
        eta = float(eta)
    except (TypeError, ValueError):
        raise UsageError("lam and eta must be numbers.") from None
    if not (eta > 0 and math.isfinite(eta)):
        raise UsageError(f"The learning rate eta must be > 0, got {eta}.")
    if not (lam >= 0 and math.isfinite(lam)):
        raise UsageError(f"The regularisation lambda must be >= 0, got {lam}.")
    if isinstance(n_batch, bool) or int(n_batch) != n_batch or not 1 <= n_batch <= n:
        raise UsageError(
            f"The batch size must be an integer between 1 and n = {n}, got {n_batch}."
        )
    if isinstance(n_epochs, bool) or int(n_epochs) != n_epochs or n_epochs < 1:
        raise UsageError(f"The number of epochs must be an integer >= 1, got {n_epochs}.")
    n_batch = int(n_batch)
    n_epochs = int(n_epochs)
    if not isinstance(rng, np.random.Generator):
        raise UsageError("train_fused needs rng=numpy.random.Generator (e.g. default_rng(seed)).")
    if flip and not 0.0 <= flip_prob <= 1.0:
        raise UsageError(f"The flip probability must lie in [0, 1], got {flip_prob}.")
    if flip:
        if d != 3072:
            raise UsageError(
                f"Horizontal flips need 3x32x32 images (d = 3072), the data has d = {d}."
            )
    if schedule is None:
        sched = ConstantLR(eta)
    else:
        if not (hasattr(schedule, "lr") and hasattr(schedule, "step")):
            raise UsageError("schedule must provide lr(epoch) and step(val_loss).")
        sched = copy.deepcopy(schedule)

    dtype = np.dtype(dtype)
    X_train = X_train.astype(dtype, copy=False)
    Y_train = Y_train.astype(dtype, copy=False)
    X_val = X_val.astype(dtype, copy=False)
    Y_val = Y_val.astype(dtype, copy=False)

    if W0 is not None or b0 is not None:
        if W0 is None or b0 is None:
            raise UsageError("Pass both W0 and b0, or neither.")
        W = np.array(W0, dtype=dtype)
        b = np.array(b0, dtype=dtype)
        if W.shape != (K, d) or b.shape != (K,):
            raise UsageError(f"W0/b0 must have shapes ({K}, {d}) and ({K},).")
    else:
        W, b = core.init_params(K, d, rng, std=init_std, bias=bias_init, dtype=dtype)

    history: dict[str, list] = {k: [] for k in HISTORY_KEYS}

    # Fused evaluation.  The loss, cost and accuracy of the *whole training set* for the
    # parameters after epoch e are computed during the pass of epoch e + 1: every mini-batch
    # is gathered anyway, and one GEMM against [W; W_e] (2K rows) gives both its training
    # scores (current W) and its evaluation scores (snapshot W_e) for barely more than the
    # cost of one (a K = 10 GEMM is bound by reading the batch, not by FLOPs).  The rows an
    # epoch skips (n % n_batch) are evaluated apart, and so is the last epoch.  Per-sample
    # losses are scattered to their row and summed in eval_chunk blocks in row order, the
    # scores are the same GEMM rows, so the history is bit-for-bit that of a separate
    # chunked pass (core.evaluate_chunked); training itself is unchanged.
    cost_grad = core._COST_GRAD_FROM_SCORES[model]
    Wcat = np.empty((2 * K, d), dtype=dtype)
    Wcat[:K] = W
    W = Wcat[:K]          # trained in place; Wcat[K:] holds the snapshot being evaluated
    W_snap = Wcat[K:]
    b_snap = b.copy()
    losses = np.empty(n, dtype=dtype)  # per-sample training losses of the snapshot
    hits = np.empty(n, dtype=bool)      # and whether its prediction is right
    # A row of a GEMM is the same row of a bigger GEMM bit for bit only when both have
    # enough rows: OpenBLAS computes one row by GEMV and up to 32 rows by other kernels
    # (measured, OpenBLAS 0.3.31 Haswell), which sum in another order.  So the fusion needs
    # batches of >= FUSE_MIN_ROWS rows (smaller batches get the separate pass, as before), the
    # skipped rows are scored padded to that many rows, and a last eval_chunk block smaller
    # than that is scored as the chunked pass scores it.
    eval_chunk = max(1, int(eval_chunk))
    fuse = n_batch >= FUSE_MIN_ROWS
    tail = n % eval_chunk
    tail = slice(n - tail, n) if 0 < tail < FUSE_MIN_ROWS else None
    steps_per_epoch = n // n_batch
    used = steps_per_epoch * n_batch
    gather = shuffle or flip  # flips need a private copy of the batch
    Xbuf = np.empty((n_batch, d), dtype=dtype) if gather else None

    def eval_val(Wp, bp):
        return core.evaluate_chunked(Wp, bp, X_val, Y_val, y_val, lam, model, eval_chunk)

    def snap_loss(Se, Yb, yb, where) -> None:
        losses[where] = core.per_sample_loss(Se, Yb, model)
        hits[where] = np.argmax(Se, axis=1) == yb

    def snap_total() -> tuple[float, float, float]:
        if tail is not None:
            snap_loss(core.scores(W_snap, b_snap, X_train[tail]), Y_train[tail], y_train[tail],
                      tail)
        correct = int(np.count_nonzero(hits))
        total = 0.0
        for lo in range(0, n, eval_chunk):  # same blocks and order as core._chunked
            total += float(np.sum(losses[lo:min(n, lo + eval_chunk)], dtype=np.float64))
        loss = total / n
        return loss, loss + core._reg(W_snap, lam), correct / n

    def finish(row: dict, tr) -> None:
        row["train"] = tr
        e, lr_e = row["epoch"], row["lr"]
        va = row["val"]
        for key, val in zip(HISTORY_KEYS, (e, lr_e, tr[0], tr[1], va[0], va[1], tr[2], va[2])):
            history[key].append(val)
        if e >= 1:
            if not math.isfinite(tr[0]) or not math.isfinite(tr[1]):
                raise TrainingDiverged(row["step"], tr[0], lr_e)
            if callback is not None:
                callback(e, n_epochs, {"epoch": e, "epochs": n_epochs, "loss": tr[0],
                                       "val_accuracy": va[2]})

    def direct(row: dict) -> None:
        finish(row, core.evaluate_chunked(W_snap, b_snap, X_train, Y_train, y_train, lam,
                                          model, eval_chunk))

    def snapshot(epoch: int, lr_e: float) -> dict:
        W_snap[...] = W
        b_snap[...] = b
        return {"epoch": epoch, "lr": lr_e, "step": step, "val": eval_val(W_snap, b_snap)}

    step = 0
    guard = DivergenceGuard(eta)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        pending = snapshot(0, float(sched.lr(1)))
        for epoch in range(1, n_epochs + 1):
            lr = float(sched.lr(epoch))
            if not (lr > 0 and math.isfinite(lr)):
                raise UsageError(f"The schedule gave an invalid learning rate {lr} at epoch {epoch}.")
            order = rng.permutation(n) if shuffle else None
            for j in range(steps_per_epoch):
                lo, hi = j * n_batch, (j + 1) * n_batch
                if order is None:
                    where = slice(lo, hi)
                    Yb, yb = Y_train[lo:hi], y_train[lo:hi]
                    if gather:
                        np.copyto(Xbuf, X_train[lo:hi])
                        Xb = Xbuf
                    else:
                        Xb = X_train[lo:hi]
                else:
                    where = order[lo:hi]
                    Xb = np.take(X_train, where, axis=0, out=Xbuf)
                    Yb, yb = Y_train[where], y_train[where]
                if fuse:
                    S2 = Xb @ Wcat.T           # [training scores | snapshot scores]
                    snap_loss(S2[:, K:] + b_snap, Yb, yb, where)
                    S = S2[:, :K] + b
                if flip:
                    flipped = np.flatnonzero(rng.random(n_batch) < flip_prob)
                    if flipped.size:
                        # in place: Xb[flipped][:, flip_permutation()], i.e. each of the
                        # 96 image rows of 32 pixels reversed (augment.py)
                        Xb3 = Xb.reshape(n_batch, 96, 32)
                        Xb3[flipped] = Xb3[flipped][:, :, ::-1]
                        S = None
                if not fuse or S is None:
                    S = Xb @ W.T + b
                step += 1
                loss, cost, dW, db = cost_grad(S, W, Xb, Yb, lam)
                if not math.isfinite(cost):
                    raise TrainingDiverged(step, cost, lr)
                guard.check(step, loss)  # non-finite, or 10x the initial loss (divergence.py)
                W -= lr * dW
                b -= lr * db
            if not fuse:
                if not pending.get("done"):
                    direct(pending)
            else:
                if used < n:  # rows this epoch skipped
                    where = order[used:] if order is not None else slice(used, n)
                    Se = _rows_gemm(X_train[where], W_snap.T) + b_snap
                    snap_loss(Se, Y_train[where], y_train[where], where)
                if not pending.get("done"):
                    finish(pending, snap_total())
            pending = snapshot(epoch, lr)
            if not (math.isfinite(pending["val"][0]) and math.isfinite(pending["val"][1])
                    and np.isfinite(W).all() and np.isfinite(b).all()):
                direct(pending)  # possibly diverged: check the training loss now, not later
                pending["done"] = True
            sched.step(pending["val"][0])
        if not pending.get("done"):
            direct(pending)
    W = np.array(W)  # not a view of Wcat

    return FusedResult(
        W=W,
        b=b,
        history=history,
        seconds=time.perf_counter() - t0,
        model=model,
        lam=lam,
        steps=step,
    )


def _rows_gemm(A: np.ndarray, Bt: np.ndarray) -> np.ndarray:
    """``A @ Bt`` computed with at least :data:`FUSE_MIN_ROWS` rows (``A`` is padded by
    repeating its rows), so that its rows are those of any bigger product bit for bit."""
    m = A.shape[0]
    if m >= FUSE_MIN_ROWS or m == 0:
        return A @ Bt
    return (A[np.arange(FUSE_MIN_ROWS) % m] @ Bt)[:m]


def evaluate(
    W: np.ndarray, b: np.ndarray, X: np.ndarray, y: np.ndarray, model: str = "softmax",
    chunk: int = core.DEFAULT_CHUNK,
) -> dict:
    """Mean loss (no regulariser) and accuracy on ``X`` (n, d) with labels ``y`` (n,).

    Returns
    -------
    dict with ``loss`` and ``accuracy`` (floats).
    """
    y = np.asarray(y)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        loss, _, acc = core.evaluate_chunked(W, b, np.asarray(X), None, y, 0.0, model, chunk)
    return {"loss": loss, "accuracy": acc}


def ground_truth_probabilities(
    W: np.ndarray, b: np.ndarray, X: np.ndarray, y: np.ndarray, model: str = "softmax",
    chunk: int = core.DEFAULT_CHUNK,
) -> tuple[np.ndarray, np.ndarray]:
    """Probability given to the true class, and whether the prediction is right.

    For the bonus 2.2 histograms (drawn separately for correct and incorrect examples).

    Parameters
    ----------
    W : (K, d) ; b : (K,) ; X : (n, d) ; y : (n,) int labels.
    model : ``"softmax"`` (softmax probabilities) or ``"sigmoid"`` (per-class sigmoids).

    Returns
    -------
    p_true : (n,) float, ``P[i, y_i]``.
    correct : (n,) bool, ``argmax_k S[i, k] == y_i`` (the predicted class, as in
        :func:`evaluate`).
    """
    model = core.resolve_model(model)
    X = np.asarray(X)
    y = np.asarray(y)
    n = X.shape[0]
    p_true = np.empty(n, dtype=np.result_type(X.dtype, W.dtype, np.float32))
    correct = np.empty(n, dtype=bool)
    chunk = max(1, int(chunk))
    with np.errstate(over="ignore", under="ignore"):
        for lo in range(0, n, chunk):
            hi = min(n, lo + chunk)
            S = core.scores(W, b, X[lo:hi])
            P = core.softmax(S) if model == "softmax" else core.sigmoid(S)
            yc = y[lo:hi]
            p_true[lo:hi] = P[np.arange(hi - lo), yc]
            # argmax of the scores (= argmax of P, without ties from saturated sigmoids)
            correct[lo:hi] = np.argmax(S, axis=1) == yc
    return p_true, correct
