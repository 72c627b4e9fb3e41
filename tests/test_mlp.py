"""MLP engine, optimisers and AML training loops (no data files needed)."""

from __future__ import annotations

import math

import numpy as np

from linclf_cli.assignments.gradchecks import mlp_check_problem
import pytest

from linclf_cli.assignments.aml2020 import net as mlp
from linclf_cli.assignments.aml2020.net import train_adam, train_sgd
from linclf_cli.engine.gradcheck import check_gradients
from linclf_cli.engine.optim import SGD, Adam
from linclf_cli.errors import TrainingDiverged, UsageError

# --------------------------------------------------------------------------- helpers

DEPTHS = [[6, 4], [6, 7, 4], [6, 7, 5, 4], [6, 7, 5, 6, 4]]  # 0 to 3 hidden layers


def _nondegenerate(sizes, seed=10, n=10):
    """He-scaled weights, random biases, unit-variance inputs (the library's gradient-check
    problem): moderate logits, and no hidden pre-activation within 1e-3 of the ReLU kink."""
    params, X, y = mlp_check_problem(sizes, seed, n)
    a = X
    for l in range(1, len(sizes) - 1):
        z = a @ params[f"W{l}"] + params[f"b{l}"]
        assert np.abs(z).min() > 1e-3  # centred differences with h = 1e-5 never cross a kink
        a = np.maximum(z, 0)
    return params, X, y


def _blobs(n, D, C, rng, sep=4.0):
    """Linearly separable Gaussian blobs, float32."""
    centres = sep * rng.standard_normal((C, D))
    y = rng.integers(0, C, n)
    X = centres[y] + rng.standard_normal((n, D))
    return X.astype(np.float32), y


# --------------------------------------------------------------------------- sizes / init


@pytest.mark.parametrize(
    "sizes",
    [[], [5], [5, 0, 3], [5, -1, 3], [5, 2.5, 3], [5, "10", 3], [5, True, 3], "5,10,3",
     [0, 3], [5, 1], None],
)
def test_bad_sizes_raise_usage_error(sizes):
    with pytest.raises(UsageError) as exc:
        mlp.init_mlp(sizes, np.random.default_rng(0))
    assert exc.value.exit_code == 2
    assert str(exc.value)


def test_hidden_size_message_names_the_layer():
    with pytest.raises(UsageError, match="Hidden layer 2 has size 0"):
        mlp.validate_sizes([3072, 50, 0, 10])


def test_init_shapes_dtypes_and_draw_order():
    params = mlp.init_mlp([5, 4, 3, 2], np.random.RandomState(7), std=1e-2)
    assert list(params) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert [params[f"W{l}"].shape for l in (1, 2, 3)] == [(5, 4), (4, 3), (3, 2)]
    assert all(v.dtype == np.float32 for v in params.values())
    assert all(not params[f"b{l}"].any() for l in (1, 2, 3))
    rs = np.random.RandomState(7)  # W1, W2, W3 drawn in this order, as the starter
    for l, shape in ((1, (5, 4)), (2, (4, 3)), (3, (3, 2))):
        np.testing.assert_array_equal(params[f"W{l}"], (1e-2 * rs.randn(*shape)).astype(np.float32))
    assert mlp.layer_sizes(params) == [5, 4, 3, 2]
    assert mlp.num_layers(params) == 3


def test_init_is_deterministic_given_seed():
    a = mlp.init_mlp([8, 6, 3], np.random.default_rng(1), std=1e-3)
    b = mlp.init_mlp([8, 6, 3], np.random.default_rng(1), std=1e-3)
    c = mlp.init_mlp([8, 6, 3], np.random.default_rng(2), std=1e-3)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["W1"], c["W1"])


# --------------------------------------------------------------------------- forward / loss


def test_softmax_rows_sum_to_one_and_shift_invariance():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((7, 5)) * 3
    p = mlp.softmax(z)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(mlp.softmax(z + 123.0), p, atol=1e-12)
    assert (p > 0).all()


def test_softmax_and_loss_survive_pm_1000_logits():
    z = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0]])
    p = mlp.softmax(z)
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    # a one-layer net whose logits are exactly z: W = I, X = z
    params = {"W1": np.eye(3), "b1": np.zeros(3)}
    y = np.array([1, 2])
    loss, grads = mlp.loss_and_grads(params, z, y)
    # -log softmax: row 0, class 1: 2000; row 1, class 2: 1 + log(1 + e^-1)
    assert loss == pytest.approx((2001.0 + math.log1p(math.exp(-1.0))) / 2, rel=1e-12)
    assert all(np.isfinite(g).all() for g in grads.values())
    assert mlp.loss(params, z, y) == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(mlp.forward_proba(params, z).sum(axis=1), 1.0)


def test_zero_weights_give_uniform_probabilities_and_log_c_loss():
    params = mlp.init_mlp([4, 6, 5], np.random.default_rng(0), std=0.0, dtype=np.float64)
    X = np.random.default_rng(1).standard_normal((3, 4))
    np.testing.assert_allclose(mlp.forward_proba(params, X), 0.2)
    loss, _ = mlp.loss_and_grads(params, X, np.array([0, 1, 4]))
    assert loss == pytest.approx(math.log(5))


def test_loss_is_nonnegative_and_regulariser_has_no_half():
    params, X, y = _nondegenerate([6, 7, 4])
    l0, _ = mlp.loss_and_grads(params, X, y, 0.0)
    l1, _ = mlp.loss_and_grads(params, X, y, 0.3)
    assert l0 >= 0
    sq = np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2)
    assert l1 - l0 == pytest.approx(0.3 * sq, rel=1e-12)


@pytest.mark.parametrize("sizes", DEPTHS, ids=lambda s: f"{len(s) - 1}layers")
@pytest.mark.parametrize("reg", [0.0, 0.05])
def test_gradients_match_centred_differences(sizes, reg):
    params, X, y = _nondegenerate(sizes)
    loss, grads = mlp.loss_and_grads(params, X, y, reg)
    assert loss == pytest.approx(mlp.loss(params, X, y, reg), rel=1e-13)
    assert list(grads) == list(params)
    checks = check_gradients(lambda: mlp.loss(params, X, y, reg), params, grads, h=1e-5)
    assert len(checks) == 2 * (len(sizes) - 1)
    for c in checks:
        assert c.max_rel_error < 1e-7, c


def test_gradient_buffers_can_be_reused():
    params, X, y = _nondegenerate([6, 7, 5, 4])
    loss0, fresh = mlp.loss_and_grads(params, X, y, 0.05)
    bufs = {k: np.full_like(v, np.nan) for k, v in params.items()}
    loss1, reused = mlp.loss_and_grads(params, X, y, 0.05, out=bufs)
    assert loss1 == loss0
    for k in params:
        assert reused[k] is bufs[k]
        np.testing.assert_array_equal(reused[k], fresh[k])


def test_float32_path_matches_float64():
    p64, X, y = _nondegenerate([6, 7, 5, 4])
    p32 = {k: v.astype(np.float32) for k, v in p64.items()}
    l64, g64 = mlp.loss_and_grads(p64, X, y, 0.01)
    l32, g32 = mlp.loss_and_grads(p32, X, y, 0.01)
    assert all(g.dtype == np.float32 for g in g32.values())
    assert l32 == pytest.approx(l64, rel=1e-5)
    for k in g64:
        np.testing.assert_allclose(g32[k], g64[k], rtol=1e-3, atol=1e-5)


def test_return_pred_predict_and_accuracy():
    params, X, y = _nondegenerate([6, 7, 4], n=25)
    _, _, pred = mlp.loss_and_grads(params, X, y, return_pred=True)
    np.testing.assert_array_equal(pred, mlp.predict(params, X))
    np.testing.assert_array_equal(mlp.predict(params, X, batch_size=4), pred)
    np.testing.assert_array_equal(pred, mlp.forward_proba(params, X).argmax(axis=1))
    assert mlp.accuracy(params, X, y) == pytest.approx(np.mean(pred == y))


def test_bad_inputs_raise_usage_error():
    params = mlp.init_mlp([4, 3], np.random.default_rng(0))
    with pytest.raises(UsageError):
        mlp.loss_and_grads(params, np.zeros((2, 5)), np.array([0, 1]))
    with pytest.raises(UsageError):
        mlp.loss_and_grads(params, np.zeros((2, 4)), np.array([0, 3]))


# --------------------------------------------------------------------------- optimisers


def _adam_reference(theta, grads_seq, lr, b1, b2, eps, wd):
    """torch.optim.Adam (amsgrad=False) written out for scalars, one entry at a time."""
    theta = list(theta)
    m = [0.0] * len(theta)
    v = [0.0] * len(theta)
    for t, g_vec in enumerate(grads_seq, start=1):
        for i, g in enumerate(g_vec):
            g = g + wd * theta[i]
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            denom = math.sqrt(v[i]) / math.sqrt(1 - b2**t) + eps
            theta[i] -= lr / (1 - b1**t) * m[i] / denom
    return theta


def test_adam_two_steps_match_hand_computation():
    p = {"w": np.array([1.0, -2.0, 0.5])}
    g1 = np.array([0.5, 0.1, -0.3])
    g2 = np.array([-0.2, 0.4, 0.05])
    opt = Adam(lr=0.1, weight_decay=0.01)
    opt.step(p, {"w": g1})
    # after one step Adam moves every entry by ~lr * sign(g + wd * theta);
    # g + wd * theta = [0.51, 0.08, -0.295]
    np.testing.assert_allclose(p["w"], [0.9, -2.1, 0.6], atol=1e-6)
    g2_copy = g2.copy()
    opt.step(p, {"w": g2})
    np.testing.assert_array_equal(g2, g2_copy)  # the caller's gradient is not modified
    expected = _adam_reference([1.0, -2.0, 0.5], [g1, g2], 0.1, 0.9, 0.999, 1e-8, 0.01)
    np.testing.assert_allclose(p["w"], expected, rtol=1e-14, atol=1e-15)
    assert opt.t == 2


def test_adam_step_one_closed_form_value():
    # theta = 1, g = 2, wd = 0.5 -> g' = 2.5, m = 0.25, v = 0.00625,
    # m_hat = 2.5, sqrt(v_hat) = 2.5 -> theta = 1 - 0.1 * 2.5 / (2.5 + 1e-8)
    p = {"w": np.array([1.0])}
    Adam(lr=0.1, weight_decay=0.5).step(p, {"w": np.array([2.0])})
    assert p["w"][0] == pytest.approx(1 - 0.1 * 2.5 / (2.5 + 1e-8), rel=1e-15)


def test_adam_lr_is_mutable_and_float32_stays_float32():
    p = {"w": np.ones(4, dtype=np.float32)}
    opt = Adam(lr=1.0)
    opt.lr *= 0.5
    opt.step(p, {"w": np.ones(4, dtype=np.float32)})
    assert p["w"].dtype == np.float32
    np.testing.assert_allclose(p["w"], 0.5, atol=1e-6)


def test_sgd_step_in_place():
    w = np.array([1.0, 2.0])
    p = {"w": w}
    opt = SGD(0.5)
    opt.step(p, {"w": np.array([2.0, -2.0])})
    assert p["w"] is w
    np.testing.assert_allclose(w, [0.0, 3.0])
    opt.lr = 0.25
    opt.step(p, {"w": np.array([4.0, 4.0])})
    np.testing.assert_allclose(w, [-1.0, 2.0])


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_learning_rate_is_usage_error(bad):
    with pytest.raises(UsageError):
        SGD(bad)
    with pytest.raises(UsageError):
        Adam(bad)


# --------------------------------------------------------------------------- training loops


def test_train_sgd_schedule_and_history():
    rng = np.random.default_rng(0)
    X, y = _blobs(1000, 10, 3, rng)
    params = mlp.init_mlp([10, 16, 3], rng, std=1e-2)
    seen = []
    hist = train_sgd(params, X, y, X[:100], y[:100], learning_rate=0.1, reg=1e-4,
                     num_iters=23, batch_size=200, rng=rng, callback=seen.append)
    assert hist["iterations_per_epoch"] == 5
    assert hist["acc_iterations"] == [0, 5, 10, 15, 20]
    assert len(hist["loss_history"]) == 23 == len(seen)
    assert len(hist["train_acc_history"]) == len(hist["val_acc_history"]) == 5
    assert hist["learning_rate_history"] == pytest.approx([0.1 * 0.95**k for k in range(5)])
    assert hist["final_learning_rate"] == pytest.approx(0.1 * 0.95**5)
    assert "val_acc" in seen[5] and "val_acc" not in seen[6]
    assert hist["loss_history"][-1] < hist["loss_history"][0]
    assert hist["val_acc_history"][-1] > 0.9


def test_train_sgd_is_deterministic_given_seed():
    def run(seed):
        rng = np.random.default_rng(seed)
        X, y = _blobs(300, 8, 4, rng)
        params = mlp.init_mlp([8, 12, 4], rng, std=1e-2)
        return train_sgd(params, X, y, X, y, learning_rate=0.05, num_iters=10,
                         batch_size=50, rng=rng)

    assert run(5) == run(5)
    assert run(5)["loss_history"] != run(6)["loss_history"]


def test_train_sgd_divergence_raises():
    rng = np.random.default_rng(0)
    X, y = _blobs(200, 10, 3, rng, sep=100.0)
    params = mlp.init_mlp([10, 16, 3], rng, std=1.0)
    with pytest.raises(TrainingDiverged) as exc:
        train_sgd(params, X, y, X, y, learning_rate=1e30, num_iters=50, batch_size=50,
                  rng=rng)
    assert exc.value.exit_code == 1
    assert exc.value.step >= 1
    assert not math.isfinite(exc.value.loss)


def test_train_adam_partial_batches_and_history():
    rng = np.random.default_rng(1)
    X, y = _blobs(1050, 10, 3, rng)
    Xv, yv = _blobs(100, 10, 3, np.random.default_rng(1))
    params = mlp.init_mlp([10, 16, 3], rng, std=1e-3)
    events = []
    hist = train_adam(params, X, y, Xv, yv, lr=1e-2, weight_decay=1e-3, lr_decay=0.9,
                      epochs=3, batch_size=200, rng=rng, callback=events.append)
    assert hist["iterations_per_epoch"] == 6  # 5 full batches + the last 50 samples
    assert len(hist["loss_history"]) == 18
    assert len(hist["epoch_loss_history"]) == 3
    assert hist["epoch_loss_history"][0] == pytest.approx(np.mean(hist["loss_history"][:6]))
    assert hist["learning_rate_history"] == pytest.approx([1e-2, 9e-3, 8.1e-3])
    assert hist["final_learning_rate"] == pytest.approx(1e-2 * 0.9**3)
    assert all(0.0 <= a <= 1.0 for a in hist["train_acc_history"])
    assert hist["val_acc_history"][-1] > 0.9
    assert sum(1 for e in events if e.get("epoch_end")) == 3
    assert len(events) == 18 + 3


def test_train_adam_deterministic_and_weight_decay_shrinks_weights():
    def run(wd, seed=2):
        rng = np.random.default_rng(seed)
        X, y = _blobs(400, 6, 3, rng)
        params = mlp.init_mlp([6, 8, 3], rng, std=1e-1)
        hist = train_adam(params, X, y, X, y, lr=1e-2, weight_decay=wd, epochs=4,
                          batch_size=64, rng=rng)
        return hist, params

    h1, p1 = run(0.0)
    h2, _ = run(0.0)
    assert h1 == h2
    _, p_wd = run(1.0)
    assert np.sum(p_wd["W1"] ** 2) < np.sum(p1["W1"] ** 2)


def test_trainers_reject_bad_arguments():
    rng = np.random.default_rng(0)
    params = mlp.init_mlp([4, 3], rng)
    X, y = np.zeros((10, 4), np.float32), np.zeros(10, int)
    with pytest.raises(UsageError):
        train_sgd(params, X, y, X, y, batch_size=0, rng=rng)
    with pytest.raises(UsageError):
        train_adam(params, X, y, X[:, :3], y, rng=rng)
    with pytest.raises(UsageError):
        train_sgd(params, X, y[:5], X, y, rng=rng)
