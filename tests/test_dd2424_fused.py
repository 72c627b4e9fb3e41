"""The DD2424 trainer's fused evaluation is bit-for-bit the straightforward loop.

The reference below is the trainer as it was before the evaluation of the training set was
fused into the next epoch's pass (gather each mini-batch, flip a copy, ``cost_grad``, then a
separate chunked pass over the training and validation sets after every epoch).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from linclf_cli.assignments.dd2424 import linear as core
from linclf_cli.engine.augment import flip_permutation, random_flip
from linclf_cli.assignments.dd2424.linear import HISTORY_KEYS, train_fused
from linclf_cli.engine.schedules import ConstantLR, PlateauDecay


def reference(X, Y, y, Xv, Yv, yv, *, model, lam, eta, n_batch, n_epochs, shuffle, flip,
              rng, flip_prob=0.5, schedule=None, eval_chunk=core.DEFAULT_CHUNK):
    W, b = core.init_params(Y.shape[1], X.shape[1], rng)
    sched = schedule or ConstantLR(eta)
    hist = {k: [] for k in HISTORY_KEYS}
    perm = flip_permutation() if flip else None

    def record(e, lr):
        tr = core.evaluate_chunked(W, b, X, Y, y, lam, model, eval_chunk)
        va = core.evaluate_chunked(W, b, Xv, Yv, yv, lam, model, eval_chunk)
        for k, v in zip(HISTORY_KEYS, (e, lr, tr[0], tr[1], va[0], va[1], tr[2], va[2])):
            hist[k].append(v)

    n = X.shape[0]
    with np.errstate(all="ignore"):
        record(0, float(sched.lr(1)))
        for e in range(1, n_epochs + 1):
            lr = float(sched.lr(e))
            order = rng.permutation(n) if shuffle else None
            for j in range(n // n_batch):
                lo, hi = j * n_batch, (j + 1) * n_batch
                idx = slice(lo, hi) if order is None else order[lo:hi]
                Xb, Yb = X[idx], Y[idx]
                if flip:
                    Xb = random_flip(Xb, rng, p=flip_prob, perm=perm)
                _, _, dW, db = core.cost_grad(W, b, Xb, Yb, lam, model)
                W -= lr * dW
                b -= lr * db
            record(e, lr)
            sched.step(hist["val_loss"][-1])
    return W, b, hist


def _data(n, m, d, K=10, seed=0):
    rng = np.random.default_rng(seed)
    means = rng.standard_normal((K, d)).astype(np.float32)
    y = rng.integers(0, K, n + m)
    X = (0.3 * means[y] + rng.standard_normal((n + m, d), dtype=np.float32))
    Y = core.one_hot(y, K)
    return X[:n], Y[:n], y[:n], X[n:], Y[n:], y[n:]


CASES = [
    dict(model="softmax", lam=0.0, n_batch=100, shuffle=True, flip=False),  # 1 row skipped
    dict(model="softmax", lam=0.1, n_batch=70, shuffle=True, flip=True),    # 21 skipped
    dict(model="sigmoid", lam=0.01, n_batch=64, shuffle=True, flip=True, flip_prob=0.3),
    dict(model="sigmoid", lam=0.0, n_batch=75, shuffle=False, flip=False),
    dict(model="softmax", lam=0.01, n_batch=80, shuffle=False, flip=True),
    dict(model="softmax", lam=0.01, n_batch=20, shuffle=True, flip=True),   # not fused
    dict(model="sigmoid", lam=0.0, n_batch=1, shuffle=True, flip=False),    # not fused
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_fused_trainer_is_bit_identical_to_the_plain_loop(case):
    data = _data(301, 77, 3072)
    kw = dict(eta=0.01, n_epochs=3, eval_chunk=130, **case)  # blocks 130, 130, 41
    W, b, hist = reference(*data, rng=np.random.default_rng(5), **kw)
    res = train_fused(*data, rng=np.random.default_rng(5), **kw)
    assert res.history == hist  # floats compared exactly
    np.testing.assert_array_equal(res.W, W)
    np.testing.assert_array_equal(res.b, b)
    assert res.W.base is None or res.W.base.shape == res.W.shape  # not a view of a buffer
    assert res.steps == 3 * (301 // case["n_batch"])


def test_fused_trainer_with_a_plateau_schedule_matches():
    data = _data(200, 60, 3072, seed=2)
    kw = dict(model="softmax", lam=0.0, eta=0.02, n_batch=64, n_epochs=4, shuffle=True,
              flip=False)
    W, b, hist = reference(*data, rng=np.random.default_rng(1),
                           schedule=PlateauDecay(0.02, factor=0.5, patience=1, min_delta=10.0), **kw)
    res = train_fused(*data, rng=np.random.default_rng(1),
                       schedule=PlateauDecay(0.02, factor=0.5, patience=1, min_delta=10.0), **kw)
    assert res.history == hist
    assert res.history["lr"][-1] < res.history["lr"][1]


def test_callback_sees_each_epochs_training_loss():
    data = _data(120, 30, 3072, seed=3)
    calls = []
    res = train_fused(*data, rng=np.random.default_rng(0), n_epochs=3, n_batch=64, eta=0.01,
                       callback=lambda e, N, f: calls.append((e, N, f["loss"], f["val_accuracy"])))
    h = res.history
    assert calls == [(e, 3, h["train_loss"][e], h["val_accuracy"][e]) for e in (1, 2, 3)]
    assert all(math.isfinite(c[2]) for c in calls)
