"""Mini-batch GD trainer for the DD2424 classifier."""

from __future__ import annotations

import math

import numpy as np
import pytest

from linclf_cli.assignments.dd2424 import linear as m
from linclf_cli.assignments.dd2424.linear import (
    HISTORY_KEYS,
    FusedResult,
    evaluate,
    ground_truth_probabilities,
    train_fused,
)
from linclf_cli.engine.schedules import PlateauDecay, StepDecay
from linclf_cli.errors import TrainingDiverged, UsageError


def _blobs(n, d=30, K=4, seed=0, sep=1.5):
    rng = np.random.default_rng(seed)
    means = np.random.default_rng(123).standard_normal((K, d)) * sep / math.sqrt(d) * 3
    y = rng.integers(0, K, n)
    X = (means[y] + rng.standard_normal((n, d))).astype(np.float32)
    return X, m.one_hot(y, K), y


@pytest.fixture(scope="module")
def data():
    return _blobs(600, seed=1) + _blobs(200, seed=2)


def _train(data, **kw):
    kw.setdefault("rng", np.random.default_rng(0))
    kw.setdefault("n_epochs", 5)
    kw.setdefault("n_batch", 50)
    kw.setdefault("eta", 0.01)
    return train_fused(*data, **kw)


@pytest.mark.parametrize("model", ["softmax", "sigmoid"])
def test_cost_decreases_every_epoch(data, model):
    res = _train(data, model=model, eta=0.01 if model == "softmax" else 0.04, lam=0.01, n_epochs=8)
    assert isinstance(res, FusedResult)
    h = res.history
    assert list(h) == list(HISTORY_KEYS)
    assert all(len(v) == 9 for v in h.values())
    assert h["epoch"] == list(range(9))
    cost = np.array(h["train_cost"])
    assert np.all(np.diff(cost) < 0)
    assert h["val_accuracy"][-1] > 0.7
    assert h["train_accuracy"][-1] > h["train_accuracy"][0]
    assert res.W.shape == (4, 30) and res.b.shape == (4,)
    assert res.W.dtype == np.float32
    assert res.steps == 8 * 12 and res.seconds > 0
    # loss/cost recorded on the full sets match a direct evaluation of the final params
    X, Y, y, Xv, Yv, yv = data
    loss, cost_ = m.loss_cost(res.W, res.b, X, Y, 0.01, model)
    assert h["train_loss"][-1] == pytest.approx(loss, rel=1e-5)
    assert h["train_cost"][-1] == pytest.approx(cost_, rel=1e-5)
    ev = evaluate(res.W, res.b, Xv, yv, model)
    assert ev["loss"] == pytest.approx(h["val_loss"][-1], rel=1e-5)
    assert ev["accuracy"] == pytest.approx(h["val_accuracy"][-1])


def test_lambda_zero_loss_equals_cost(data):
    h = _train(data, lam=0.0).history
    assert h["train_loss"] == h["train_cost"] and h["val_loss"] == h["val_cost"]


def test_epoch0_row_is_initial_params(data):
    res = _train(data, n_epochs=1, bias_init="zero")
    rng = np.random.default_rng(0)
    W0, b0 = m.init_params(4, 30, rng, std=0.01, bias="zero")
    X, Y, y = data[:3]
    assert res.history["train_loss"][0] == pytest.approx(m.loss_cost(W0, b0, X, Y, 0)[0], rel=1e-6)


def test_deterministic_for_seed(data):
    a = _train(data, flip=False, shuffle=True)
    b = _train(data, flip=False, shuffle=True)
    assert a.history == b.history
    np.testing.assert_array_equal(a.W, b.W)
    c = _train(data, rng=np.random.default_rng(1))
    assert c.history != a.history


def test_no_shuffle_uses_fixed_order(data):
    a = _train(data, shuffle=False, rng=np.random.default_rng(0))
    b = _train(data, shuffle=False, rng=np.random.default_rng(0))
    assert a.history == b.history
    # with init given explicitly, the rng is not used at all without shuffle/flip
    W0 = np.zeros((4, 30)); b0 = np.zeros(4)
    c = _train(data, shuffle=False, W0=W0, b0=b0, rng=np.random.default_rng(1))
    d = _train(data, shuffle=False, W0=W0, b0=b0, rng=np.random.default_rng(2))
    assert c.history == d.history


def test_matches_reference_loop(data):
    """One epoch equals a hand-written vanilla mini-batch GD loop."""
    X, Y, y = data[:3]
    res = _train(data, n_epochs=2, lam=0.1, eta=0.05, n_batch=64, rng=np.random.default_rng(5))
    rng = np.random.default_rng(5)
    W, b = m.init_params(4, 30, rng)
    for _ in range(2):
        order = rng.permutation(600)
        for j in range(600 // 64):  # incomplete last batch dropped
            idx = order[j * 64:(j + 1) * 64]
            _, _, dW, db = m.softmax_cost_grad(W, b, X[idx], Y[idx], 0.1)
            W = W - 0.05 * dW
            b = b - 0.05 * db
    np.testing.assert_allclose(res.W, W, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(res.b, b, rtol=1e-5, atol=1e-7)
    assert res.steps == 2 * 9


def test_flip_training_on_images():
    rng = np.random.default_rng(0)
    n, K = 120, 3
    y = rng.integers(0, K, n)
    X = rng.standard_normal((n, 3072)).astype(np.float32)
    X[:, :: 7] += y[:, None].astype(np.float32)  # class signal
    X0 = X.copy()
    Y = m.one_hot(y, K)
    args = (X, Y, y, X[:40], Y[:40], y[:40])
    a = train_fused(*args, flip=True, n_epochs=2, n_batch=20, eta=0.001, rng=np.random.default_rng(3))
    b = train_fused(*args, flip=True, n_epochs=2, n_batch=20, eta=0.001, rng=np.random.default_rng(3))
    c = train_fused(*args, flip=False, n_epochs=2, n_batch=20, eta=0.001, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(X, X0)  # training data never modified
    assert a.history == b.history
    assert not np.array_equal(a.W, c.W)
    with pytest.raises(UsageError):
        _train(_blobs(100) + _blobs(50), flip=True)  # d != 3072


def test_callback_and_schedule(data):
    calls = []
    sched = StepDecay(0.02, factor=0.1, every=2)
    res = _train(data, n_epochs=5, schedule=sched, callback=lambda e, N, fields: calls.append((e, N)))
    assert calls == [(e, 5) for e in range(1, 6)]
    assert res.history["lr"] == pytest.approx([0.02, 0.02, 0.02, 0.002, 0.002, 0.0002])

    plateau = PlateauDecay(0.01, factor=0.5, patience=1, min_delta=10.0)  # never improves "enough"
    res = _train(data, n_epochs=3, schedule=plateau)
    # epoch 1 improves on inf; epoch 2 does not -> rate halves from epoch 3 on
    assert res.history["lr"] == pytest.approx([0.01, 0.01, 0.01, 0.005])
    assert plateau.current == 0.01  # caller's object untouched


@pytest.mark.parametrize(
    "kw",
    [
        dict(eta=0.0),
        dict(eta=-1.0),
        dict(eta=float("nan")),
        dict(lam=-0.1),
        dict(n_batch=0),
        dict(n_batch=601),
        dict(n_batch=2.5),
        dict(n_epochs=0),
        dict(model="svm"),
        dict(bias_init="uniform"),
        dict(schedule=object()),
    ],
)
def test_invalid_arguments(data, kw):
    with pytest.raises(UsageError) as e:
        _train(data, **kw)
    assert e.value.exit_code == 2


def test_shape_mismatch(data):
    X, Y, y, Xv, Yv, yv = data
    with pytest.raises(UsageError):
        train_fused(X, Y, y, Xv[:, :10], Yv, yv, rng=np.random.default_rng(0))
    with pytest.raises(UsageError):
        train_fused(X, Y[:10], y, Xv, Yv, yv, rng=np.random.default_rng(0))


def test_divergence_raises(data):
    X, Y, y, Xv, Yv, yv = data
    bad = (X * 1e4, Y, y, Xv * 1e4, Yv, yv)
    with pytest.raises(TrainingDiverged) as e:
        # W <- (1 - 2 eta lam) W - eta dL/dW grows geometrically until float32 overflows
        train_fused(*bad, eta=10.0, lam=1.0, n_epochs=5, n_batch=50, rng=np.random.default_rng(0))
    assert e.value.exit_code == 1
    assert e.value.step >= 1
    # caught by the 10x-initial-loss rule before it overflows, or as a non-finite loss
    assert not math.isfinite(e.value.loss) or e.value.loss > 10 * math.log(10)


def test_float64_training(data):
    res = _train(data, dtype=np.float64)
    assert res.W.dtype == np.float64
    r32 = _train(data)
    np.testing.assert_allclose(res.history["train_cost"], r32.history["train_cost"], rtol=1e-4)


@pytest.mark.parametrize("model", ["softmax", "sigmoid"])
def test_ground_truth_probabilities(data, model):
    res = _train(data, model=model)
    X, Y, y = data[3:]
    p, correct = ground_truth_probabilities(res.W, res.b, X, y, model, chunk=33)
    P = m.predict_proba(res.W, res.b, X, model)
    np.testing.assert_allclose(p, P[np.arange(len(y)), y], rtol=1e-6)
    np.testing.assert_array_equal(correct, np.argmax(P, 1) == y)
    assert p.shape == (200,) and correct.dtype == bool
    assert correct.mean() == pytest.approx(evaluate(res.W, res.b, X, y, model)["accuracy"])
    assert np.all((p >= 0) & (p <= 1))
