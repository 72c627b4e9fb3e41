"""Evaluator strategies of :func:`~linclf_cli.engine.fit.fit`: how the checks are computed.

A check measures loss and accuracy on the validation set (and the training set) for the
parameters of one step.  ``fit`` hands every check to its evaluator with
``submit(step, epoch, params, train)`` (``train``: the check's training metrics when ``fit``
measured them itself, from the mini-batch or the epoch's passes, else None) and applies the early-stopping rule to the evaluated checks
``decided(final)`` returns, oldest first, as ``(step, epoch, (val_loss, val_acc, train_loss,
train_acc), snapshot)``; ``snapshot`` is the check's parameters, or ``None`` when they are
the live parameters (the check was evaluated at once).

* :class:`Chunked` evaluates each check at once, in chunks of rows: any model.
* :class:`BlockGemm` is the fast path of a linear model (no hidden layer) whose checks come
  every few steps: it snapshots the weights at each check and evaluates ``block`` checks with
  one compute-bound GEMM ``X @ [W_1 ... W_m]`` instead of ``m`` memory-bound products, in a
  background thread while training goes on (BLAS and ufuncs release the GIL).  Its results
  arrive up to two blocks late, so ``fit`` runs ahead of the early-stopping decision and, when
  the decision says "stop at check j", restores that check's snapshot and truncates: the
  results are exactly those of the step-by-step loop.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import heads

EVAL_THREADS = 1  # blocks evaluated concurrently with training (a second thread measured ~5 % faster on 2 cores)


def evaluate(model, params: dict, X: np.ndarray, Y: np.ndarray, chunk: int = 10_000):
    """(mean loss, accuracy) of ``model`` on (X, Y), in chunks of rows."""
    total, correct = 0.0, 0
    for lo in range(0, X.shape[0], chunk):
        S = model.scores(params, X[lo:lo + chunk])
        Yc = Y[lo:lo + chunk]
        total += float(np.sum(heads.per_sample_loss(model.head, S, Yc), dtype=np.float64))
        correct += int(np.count_nonzero(heads.predict(S) == heads.labels_of(Yc)))
    return total / X.shape[0], correct / X.shape[0]


def batched_metrics(X: np.ndarray, T: np.ndarray, Ws: list, bs: list | None = None,
                    chunk: int = 8192):
    """Loss and accuracy of every linear model ``X @ Ws[j] (+ bs[j])`` on (X, T), one GEMM
    per chunk of rows.  One output: the sigmoid head (predict 1 iff the score is >= 0);
    K > 1 outputs: the softmax head.

    The product is laid out class-major, Z[k, j, i] = (X @ Ws[j])[i, k], so every reduction
    over the K classes is K elementwise operations on contiguous (m, rows) slabs instead of
    a slow reduction over a short last axis.

    X : (n, d); T : targets (n, K); Ws : m weight matrices (d, K); bs : m biases (K,) or None.
    Returns losses, accuracies: ndarrays of shape (m,), float64.
    """
    m = len(Ws)
    K = Ws[0].shape[1]
    WcatT = np.stack(Ws, axis=0).transpose(2, 0, 1).reshape(K * m, -1)  # row k*m + j = Ws[j][:, k]
    bcat = None if bs is None else np.stack(bs, axis=0).T.reshape(K, m, 1)
    loss_sum = np.zeros(m)
    correct = np.zeros(m)
    labels = T.argmax(axis=1) if K > 1 else None
    for start in range(0, X.shape[0], chunk):
        Xc, Tc = X[start:start + chunk], T[start:start + chunk]
        c = len(Xc)
        Z = (WcatT @ Xc.T).reshape(K, m, c)  # Z[k, j, i]: class k, snapshot j, example i
        if bcat is not None:
            Z += bcat
        if K == 1:  # sigmoid: mean of ln(1 + e^z) - t z; predict 1 iff z >= 0
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


class Chunked:
    """Every check evaluated at once by :func:`evaluate` (any model)."""

    def __init__(self, chunk: int = 10_000) -> None:
        self.chunk = chunk
        self.seconds = 0.0

    def open(self, model, data: tuple, eval_train=True, **_) -> None:
        self.model, self.data, self.eval_train = model, data, eval_train
        self._ready: list = []

    def submit(self, step: int, epoch: int, params: dict, train=None) -> None:
        t0 = time.perf_counter()
        X, Y, Xv, Yv = self.data
        v = evaluate(self.model, params, Xv, Yv, self.chunk)
        if train is not None:
            t = train
        elif self.eval_train is True:
            t = evaluate(self.model, params, X, Y, self.chunk)
        else:
            t = (math.nan, math.nan)
        self._ready.append((step, epoch, (*v, *t), None))
        self.seconds += time.perf_counter() - t0
        return v[0]

    def decided(self, final: bool = False) -> list:
        out, self._ready = self._ready, []
        return out

    def close(self) -> None:
        pass


class BlockGemm:
    """Checks of a linear model evaluated ``block`` at a time in one GEMM (see the module
    docstring); ``overlap`` evaluates each block in a background thread.  Results do not
    depend on ``block`` or ``overlap``."""

    def __init__(self, block: int = 16, overlap: bool = True) -> None:
        if block < 1:
            raise ValueError("block must be >= 1")
        self.block, self.overlap = block, overlap
        self.seconds = 0.0

    lookahead = True  # decides up to two blocks late

    def open(self, model, data: tuple, eval_train=True, **_) -> None:
        if model.depth != 1 or (model.head == "sigmoid" and model.sizes[-1] != 1) or eval_train is not True:
            raise ValueError("BlockGemm evaluates linear softmax or one-output sigmoid models, "
                             "training set included")
        self.data = data
        self._pending: list = []
        self._inflight: list = []  # (future or result, its checks), oldest first
        self._executor = ThreadPoolExecutor(max_workers=EVAL_THREADS) if self.overlap else None

    def _evaluate(self, blk: list):
        with np.errstate(over="ignore", invalid="ignore"):
            t0 = time.perf_counter()
            X, Y, Xv, Yv = self.data
            Ws = [p["W1"] for _, _, p in blk]
            bs = [p["b1"] for _, _, p in blk] if "b1" in blk[0][2] else None
            v_loss, v_acc = batched_metrics(Xv, Yv, Ws, bs)
            t_loss, t_acc = batched_metrics(X, Y, Ws, bs)
            return (v_loss, v_acc, t_loss, t_acc), time.perf_counter() - t0

    def _start(self) -> None:
        if self._pending:
            blk, self._pending = self._pending, []
            ex = self._executor
            self._inflight.append((ex.submit(self._evaluate, blk) if ex else self._evaluate(blk), blk))

    def submit(self, step: int, epoch: int, params: dict, train=None) -> None:
        self._pending.append((step, epoch, {k: p.copy() for k, p in params.items()}))
        if len(self._pending) >= self.block:
            self._start()

    def decided(self, final: bool = False) -> list:
        """Evaluated checks, oldest first: all of them when ``final``, else those of every
        block but the newest ``EVAL_THREADS`` in flight (waiting for them)."""
        if final:
            self._start()
        keep = 0 if final or self._executor is None else EVAL_THREADS
        out = []
        while len(self._inflight) > keep:
            fut, blk = self._inflight.pop(0)
            metrics, dt = fut.result() if self._executor else fut
            self.seconds += dt
            out.extend((s, e, tuple(m[j] for m in metrics), p) for j, (s, e, p) in enumerate(blk))
        return out

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)


FUSE_MIN_ROWS = 64
"""Smallest mini-batch whose training-set evaluation :class:`FusedTrain` fuses into the pass."""


def _rows_gemm(A: np.ndarray, Bt: np.ndarray) -> np.ndarray:
    """``A @ Bt`` computed with at least :data:`FUSE_MIN_ROWS` rows (``A`` is padded by
    repeating its rows), so that its rows are those of any bigger product bit for bit."""
    m = A.shape[0]
    if m >= FUSE_MIN_ROWS or m == 0:
        return A @ Bt
    return (A[np.arange(FUSE_MIN_ROWS) % m] @ Bt)[:m]


class FusedTrain:
    """Per-epoch checks of a linear model (bias vector) whose training-set evaluation is
    fused into the next epoch's pass.

    The loss and accuracy of the *whole training set* for the parameters after epoch e are
    computed during the pass of epoch e + 1: every mini-batch is gathered anyway, and one GEMM
    against ``[W; W_e]`` (2K rows) gives both its training scores (current W) and its
    evaluation scores (snapshot W_e) for barely more than the cost of one (a K = 10 GEMM is
    bound by reading the batch, not by FLOPs).  The rows an epoch skips are evaluated apart,
    and so is the last check.  Per-sample losses are scattered to their row and summed in
    ``chunk`` blocks in row order, the scores are the same GEMM rows, so the numbers are bit
    for bit those of :class:`Chunked`; training itself is unchanged.  The validation set is
    evaluated at once.

    A row of a GEMM is the same row of a bigger GEMM bit for bit only when both have enough
    rows: OpenBLAS computes one row by GEMV and up to 32 rows by other kernels (measured,
    OpenBLAS 0.3.31 Haswell), which sum in another order.  So the fusion needs batches of
    >= FUSE_MIN_ROWS rows (smaller batches get the separate pass), the skipped rows are scored
    padded to that many rows, and a last ``chunk`` block smaller than that is scored as the
    chunked pass scores it.

    ``open`` re-homes ``params["W1"]`` as the transpose of the first K rows of the joint
    matrix (so training updates it in place there): the model's W1 is then a transposed view.
    """

    lookahead = True  # a check's training metrics arrive one epoch late

    def __init__(self, chunk: int = 10_000) -> None:
        self.chunk = max(1, int(chunk))
        self.seconds = 0.0

    def open(self, model, data: tuple, eval_train=True, params: dict | None = None,
             batch_size: int = 0) -> None:
        if model.depth != 1 or model.column or eval_train is not True:
            raise ValueError("FusedTrain evaluates linear models with a bias vector, training "
                             "set included")
        self.model, self.data = model, data
        X = data[0]
        n, d = X.shape
        K = model.sizes[-1]
        self.K, self.n = K, n
        self._ready: list = []
        self._pending = None  # (step, epoch, val metrics) of the snapshot being evaluated
        self._Wcat = np.empty((2 * K, d), dtype=params["W1"].dtype)
        self._Wcat[:K] = params["W1"].T
        params["W1"] = self._Wcat[:K].T  # trained in place
        self._W_snap = self._Wcat[K:]
        self._b_snap = params["b1"].copy()
        self._losses = np.empty(n, dtype=X.dtype)  # per-sample training losses of the snapshot
        self._hits = np.empty(n, dtype=bool)
        self._seen = np.zeros(n, dtype=bool)  # rows the pass has scored this epoch
        self.fuse = batch_size >= FUSE_MIN_ROWS
        tail = n % self.chunk
        self._tail = slice(n - tail, n) if 0 < tail < FUSE_MIN_ROWS else None

    def _snap_params(self) -> dict:
        return {"W1": self._W_snap.T, "b1": self._b_snap}

    def _snap_loss(self, Se, Yb, where) -> None:
        self._losses[where] = heads.per_sample_loss(self.model.head, Se, Yb)
        self._hits[where] = heads.predict(Se) == heads.labels_of(Yb)

    def batch_scores(self, idx, Xb, Yb, params):
        """Training scores of the current parameters, the snapshot's evaluated alongside."""
        if not self.fuse or self._pending is None:
            return None
        K = self.K
        S2 = Xb @ self._Wcat.T  # [training scores | snapshot scores]
        self._snap_loss(S2[:, K:] + self._b_snap, Yb, idx)
        self._seen[idx] = True
        return S2[:, :K] + params["b1"]

    def _direct(self) -> tuple:
        X, Y = self.data[0], self.data[1]
        return evaluate(self.model, self._snap_params(), X, Y, self.chunk)

    def _fused_total(self) -> tuple:
        X, Y = self.data[0], self.data[1]
        rest = np.flatnonzero(~self._seen)  # the rows this epoch skipped
        if rest.size:
            Se = _rows_gemm(X[rest], self._W_snap.T) + self._b_snap
            self._snap_loss(Se, Y[rest], rest)
        if self._tail is not None:
            t = self._tail
            self._snap_loss(self.model.scores(self._snap_params(), X[t]), Y[t], t)
        total = 0.0
        for lo in range(0, self.n, self.chunk):  # the blocks and order of evaluate()
            total += float(np.sum(self._losses[lo:min(self.n, lo + self.chunk)], dtype=np.float64))
        return total / self.n, int(np.count_nonzero(self._hits)) / self.n

    def _finish(self, t) -> None:
        step, epoch, v = self._pending
        self._ready.append((step, epoch, (*v, *t), None))
        self._pending = None

    def submit(self, step: int, epoch: int, params: dict, train=None) -> float:
        t0 = time.perf_counter()
        if self._pending is not None:  # the previous snapshot: its pass just ended
            self._finish(self._fused_total() if self.fuse else self._direct())
        self._W_snap[...] = params["W1"].T
        self._b_snap[...] = params["b1"]
        self._seen[:] = False
        v = evaluate(self.model, self._snap_params(), self.data[2], self.data[3], self.chunk)
        self._pending = (step, epoch, v)
        if not (math.isfinite(v[0]) and np.isfinite(self._W_snap).all()
                and np.isfinite(self._b_snap).all()):
            self._finish(self._direct())  # possibly diverged: the training loss now, not later
        self.seconds += time.perf_counter() - t0
        return v[0]

    def decided(self, final: bool = False) -> list:
        if final and self._pending is not None:
            self._finish(self._direct())
        out, self._ready = self._ready, []
        return out

    def close(self) -> None:
        pass
