"""Unit tests of the TDT4265 engine on small synthetic data."""

from __future__ import annotations

import numpy as np
import pytest

from linclf_cli.assignments.tdt4265 import recipe as trainer
from linclf_cli.engine import heads
from linclf_cli.engine.functions import log_softmax, one_hot, sigmoid
from linclf_cli.engine.functions import softmax as softmax_fn
from linclf_cli.engine.gradcheck import check_gradients, check_model
from linclf_cli.assignments.tdt4265.preprocess import pre_process_images
from linclf_cli.assignments.tdt4265.gradcheck import tdt4265_gradcheck
from linclf_cli.errors import TrainingDiverged, UsageError


def loss_and_grad(W, X, T, l2=0.0):
    """The starter model's batch loss and dJ/dW (through the engine's Model)."""
    loss, _, g = trainer.model_for(W.shape[0], W.shape[1], l2).loss({"W1": W}, X, T)
    return loss, g["W1"]


def loss_of(W, X, T):
    return heads.loss(trainer.model_for(W.shape[0], W.shape[1]).head, X @ W, T)


def forward(W, X):
    S = trainer.model_for(W.shape[0], W.shape[1]).scores({"W1": W}, X)
    return sigmoid(S) if W.shape[1] == 1 else softmax_fn(S, axis=1)


def images(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 784), dtype=np.uint8)


def toy_problem(n=600, K=10, seed=0, dtype=np.float64, noise=60.0):
    """Learnable synthetic data: class-dependent mean images plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, size=n)
    means = rng.integers(0, 256, size=(K, 784))
    img = np.clip(means[y] + rng.normal(0, noise, size=(n, 784)), 0, 255).astype(np.uint8)
    return pre_process_images(img, dtype), y


def test_pre_process_range_and_bias():
    X = pre_process_images(np.array([[0, 255, 127] + [0] * 781], dtype=np.uint8))
    assert X.shape == (1, 785)
    assert X.max() <= 1 and X.min() >= -1 and X.min() < 0
    assert X[0, 0] == -1 and X[0, 1] == 1 and X[0, -1] == 1
    assert np.all(pre_process_images(images(50))[:, -1] == 1)


def test_zero_weight_outputs():
    X = pre_process_images(images(20))
    assert np.allclose(forward(np.zeros((785, 1)), X), 0.5)
    assert forward(np.zeros((785, 1)), X).shape == (20, 1)
    out = forward(np.zeros((785, 10)), X)
    assert out.shape == (20, 10)
    assert np.mean(out) == pytest.approx(0.1)
    assert np.allclose(out.sum(axis=1), 1)


def test_one_hot():
    Y = one_hot(np.array([3]), 10)
    assert Y.tolist() == [[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]]
    assert Y.sum() == 1
    with pytest.raises(ValueError):
        one_hot(np.array([10]), 10)


def test_softmax_shift_invariance_and_extremes():
    z = np.random.default_rng(1).normal(size=(5, 10))
    assert np.allclose(softmax_fn(z), softmax_fn(z + 123.4))
    big = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -1000.0]])
    p = softmax_fn(big)
    assert np.all(np.isfinite(p)) and np.allclose(p.sum(axis=1), 1)
    assert np.all(np.isfinite(log_softmax(big)))
    s = sigmoid(np.array([1000.0, -1000.0, 0.0]))
    assert s.tolist() == [1.0, 0.0, 0.5]


def test_losses_finite_at_extreme_logits():
    X = np.eye(2)
    w = np.array([[1000.0], [-1000.0]])
    t = np.array([[0.0], [1.0]])  # maximally wrong
    loss, grad = loss_and_grad(w, X, t)
    assert np.isfinite(loss) and loss == pytest.approx(1000.0)
    assert np.all(np.isfinite(grad))
    W = np.array([[1000.0, -1000.0], [-1000.0, 1000.0]])
    loss, grad = loss_and_grad(W, X, np.array([[0.0, 1.0], [1.0, 0.0]]))
    assert loss == pytest.approx(2000.0) and np.all(np.isfinite(grad))


@pytest.mark.parametrize("model", ["binary", "softmax"])
@pytest.mark.parametrize("l2", [0.0, 2.0])
def test_gradients_match_numerical(model, l2):
    """Non-trivial weights (std 0.05) so the L2 term and the nonlinearity both matter."""
    X, y = toy_problem(40, seed=3)
    T = (y[:, None] % 2).astype(float) if model == "binary" else one_hot(y, 10, np.float64)
    W = np.random.default_rng(0).normal(0, 0.05, size=(785, T.shape[1]))
    _, g = loss_and_grad(W.copy(), X, T, l2)
    (res,) = check_gradients(lambda: loss_of(W, X, T) + 0.5 * l2 * np.sum(W * W), {"W": W},
                             {"W": g}, h=1e-4, rel_floor=1e-6)
    # and through the engine's one check, whose objective is the model's cost
    (res2,) = check_model(trainer.model_for(785, T.shape[1], l2), {"W1": W}, X, T, h=1e-4,
                          rel_floor=1e-6)
    assert res2.max_rel_error < 1e-5 and res2.max_abs_error < 1e-8
    # entries below 1e-6 are judged by the absolute error (cancellation makes them noisy)
    assert res.max_rel_error < 1e-5
    assert res.max_abs_error < 1e-8


def test_gradcheck_detects_a_wrong_gradient():
    X, y = toy_problem(30)
    T = one_hot(y, 10, np.float64)
    W = np.random.default_rng(0).normal(0, 0.05, size=(785, 10))
    _, g = loss_and_grad(W.copy(), X, T, 0.0)
    (res,) = check_gradients(lambda: loss_of(W, X, T), {"W": W}, {"W": 2 * g}, h=1e-5)
    assert res.max_rel_error > 0.1


@pytest.mark.parametrize("model", ["binary", "softmax"])
def test_tdt4265_form_passes(model):
    X, y = toy_problem(100)
    T = (y[:, None] % 2).astype(float) if model == "binary" else one_hot(y, 10, np.float64)
    for l2 in (0.0, 2.0):
        r = tdt4265_gradcheck(model, X, T, l2=l2)
        assert r["passed"] and r["max_abs_error"] <= 1e-6
        assert r["n_weights"] == 785 * T.shape[1]


def cfg(**kw):
    base = dict(learning_rate=0.01, batch_size=32, epochs=3, shuffle=True)
    base.update(kw)
    return trainer.TrainConfig(**base)


def data(n=600, nv=300, dtype=np.float32, noise=60.0):
    X, y = toy_problem(n + nv, dtype=dtype, noise=noise)
    Y = one_hot(y, 10, dtype)
    return X[:n], Y[:n], X[n:], Y[n:]


def test_trainer_semantics_steps_and_cadence():
    Xt, Yt, Xv, Yv = data(n=650)  # 650 // 32 = 20 steps/epoch, last 10 rows dropped
    r = trainer.train("softmax", Xt, Yt, Xv, Yv, cfg(), np.random.default_rng(0))
    assert r.steps_per_epoch == 20 and r.steps == 60
    assert trainer.steps_per_validation(r.steps_per_epoch) == 4
    assert r.history["step"].tolist() == list(range(0, 60, 4))
    assert r.history["epoch"].tolist() == [s // 20 for s in range(0, 60, 4)]
    assert len(r.step_loss) == 60
    assert r.stopped_step is None
    # first recorded loss is the zero-weight loss ln 10, measured before the first update
    assert r.step_loss[0] == pytest.approx(np.log(10), rel=1e-6)
    # the step-0 check already sees the updated weights
    assert r.history["val_loss"][0] < np.log(10)
    assert r.step_loss[-10:].mean() < r.step_loss[:10].mean()


def test_no_shuffle_walks_batches_in_order():
    Xt, Yt, Xv, Yv = data(n=64)
    c = cfg(shuffle=False, batch_size=32, epochs=1, learning_rate=0.0001)
    r = trainer.train("softmax", Xt, Yt, Xv, Yv, c, np.random.default_rng(0))
    W = np.zeros((785, 10), np.float32)
    l0, g0 = loss_and_grad(W, Xt[:32], Yt[:32])
    W = W - np.float32(0.0001) * g0
    l1, _ = loss_and_grad(W, Xt[32:64], Yt[32:64])
    assert r.step_loss.tolist() == pytest.approx([l0, l1], rel=1e-6)


def test_block_size_does_not_change_results():
    Xt, Yt, Xv, Yv = data()
    Xt, Yt, Xv, Yv = data(n=64, noise=2000.0)
    c = cfg(epochs=100, early_stopping=True, patience=3, learning_rate=0.5)
    runs = [trainer.train("softmax", Xt, Yt, Xv, Yv, c, np.random.default_rng(7), block=b, overlap=o)
            for b, o in ((1, False), (4, True), (64, True), (2, True), (3, False))]
    assert runs[0].stopped_step is not None
    for r in runs[1:]:
        assert r.stopped_step == runs[0].stopped_step
        assert r.steps == runs[0].steps
        assert np.array_equal(r.params['W1'], runs[0].params['W1'])
        assert np.array_equal(r.step_loss, runs[0].step_loss)
        # evaluation GEMMs of different widths may round differently in the last bits
        np.testing.assert_allclose(r.history["val_loss"], runs[0].history["val_loss"], rtol=1e-6, atol=1e-8)
        np.testing.assert_array_equal(r.history["val_accuracy"], runs[0].history["val_accuracy"])


def test_early_stopping_matches_the_solutions_window_rule():
    Xt, Yt, Xv, Yv = data(n=64, noise=2000.0)  # tiny, noisy training set: overfits
    c = cfg(epochs=300, early_stopping=True, patience=10, learning_rate=0.5, batch_size=8)
    r = trainer.train("softmax", Xt, Yt, Xv, Yv, c, np.random.default_rng(0))
    assert r.stopped_step is not None
    v = r.history["val_loss"]
    # the official solution: stop when the first of the last 11 losses is their minimum
    first = next(i for i in range(10, len(v)) if np.argmin(v[i - 10:i + 1]) == 0)
    assert first == len(v) - 1
    assert r.history["step"][-1] == r.stopped_step
    assert r.stopped_epoch == r.stopped_step // r.steps_per_epoch
    assert r.steps == r.stopped_step + 1
    # the weights are those at the stop check: recompute its validation loss
    assert loss_of(r.params['W1'], Xv, Yv) == pytest.approx(v[-1], rel=1e-5)


def test_restore_best_returns_min_validation_weights():
    Xt, Yt, Xv, Yv = data(n=64, noise=2000.0)
    c = cfg(epochs=300, early_stopping=True, patience=5, learning_rate=0.5, batch_size=8,
            restore_best=True)
    assert trainer.train("softmax", Xt, Yt, Xv, Yv, c, np.random.default_rng(0)).stopped_step
    r = trainer.train("softmax", Xt, Yt, Xv, Yv, c, np.random.default_rng(0))
    assert loss_of(r.params['W1'], Xv, Yv) == pytest.approx(r.history["val_loss"].min(), rel=1e-5)


def test_determinism_and_seed_dependence():
    Xt, Yt, Xv, Yv = data()
    a = trainer.train("softmax", Xt, Yt, Xv, Yv, cfg(), np.random.default_rng(3))
    b = trainer.train("softmax", Xt, Yt, Xv, Yv, cfg(), np.random.default_rng(3))
    c = trainer.train("softmax", Xt, Yt, Xv, Yv, cfg(), np.random.default_rng(4))
    assert np.array_equal(a.params['W1'], b.params['W1']) and np.array_equal(a.step_loss, b.step_loss)
    assert not np.array_equal(a.params['W1'], c.params['W1'])


def test_binary_training_learns():
    X, y = toy_problem(800, K=2)
    T = (y[:, None] == 0).astype(np.float32)
    X = X.astype(np.float32)
    r = trainer.train("binary", X[:600], T[:600], X[600:], T[600:], cfg(epochs=5),
                      np.random.default_rng(0))
    m = trainer.final_metrics(r.params["W1"], X[:600], T[:600], X[600:], T[600:])
    assert m["val_accuracy"] > 0.9
    assert m["weight_frobenius_norm"] == pytest.approx(np.sqrt(m["weight_sum_of_squares"]))
    assert m["weight_sum_of_squares"] == pytest.approx(float(np.sum(r.params['W1'].astype(float) ** 2)))


@pytest.mark.parametrize("kw", [dict(learning_rate=0), dict(learning_rate=-1),
                                dict(batch_size=0), dict(batch_size=10_000), dict(epochs=0),
                                dict(l2=-1.0), dict(early_stopping=True, patience=0)])
def test_invalid_config(kw):
    Xt, Yt, Xv, Yv = data()
    with pytest.raises(UsageError):
        trainer.train("softmax", Xt, Yt, Xv, Yv, cfg(**kw), np.random.default_rng(0))


def test_divergence_is_reported_with_its_step():
    Xt, Yt, Xv, Yv = data()
    with pytest.raises(TrainingDiverged) as ei:
        trainer.train("softmax", Xt, Yt, Xv, Yv, cfg(learning_rate=1e37), np.random.default_rng(0))
    assert ei.value.step >= 1
    assert "smaller learning rate" in str(ei.value)
