"""DD2424 one-layer model: losses, gradients (checked numerically), stability."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from linclf_cli.assignments.dd2424 import gradcheck as dd_gc
from linclf_cli.assignments.dd2424 import linear as m
from linclf_cli.errors import UsageError


def _problem(rng, n=7, d=12, K=5, dtype=np.float64):
    X = rng.standard_normal((n, d)).astype(dtype)
    y = rng.integers(0, K, size=n)
    Y = m.one_hot(y, K, dtype=dtype)
    W, b = m.init_params(K, d, rng, std=0.1, dtype=dtype)
    return X, Y, y, W, b


# ------------------------------------------------------------------ init


def test_init_params_normal_bias_drawn_after_w():
    W, b = m.init_params(10, 3072, np.random.default_rng(400), std=0.01, bias="normal")
    rng = np.random.default_rng(400)
    W_ref = 0.01 * rng.standard_normal((10, 3072))
    b_ref = 0.01 * rng.standard_normal(10)
    assert W.shape == (10, 3072) and b.shape == (10,)
    assert W.dtype == np.float32 and b.dtype == np.float32
    np.testing.assert_allclose(W, W_ref, rtol=1e-6)
    np.testing.assert_allclose(b, b_ref, rtol=1e-6)


def test_init_params_zero_bias_2025_recipe():
    W, b = m.init_params(10, 3072, np.random.default_rng(42), bias="zero", dtype=np.float64)
    rng = np.random.default_rng(42)
    np.testing.assert_array_equal(W, 0.01 * rng.standard_normal(size=(10, 3072)))
    np.testing.assert_array_equal(b, np.zeros(10))
    assert W.dtype == np.float64


def test_init_params_rejects_unknown_bias():
    with pytest.raises(UsageError):
        m.init_params(3, 4, np.random.default_rng(0), bias="uniform")


def test_resolve_model():
    assert m.resolve_model("Softmax") == "softmax"
    assert m.resolve_model("sigmoid") == "sigmoid"
    assert m.resolve_model("mbce") == "sigmoid"
    with pytest.raises(UsageError) as e:
        m.resolve_model("svm")
    assert e.value.exit_code == 2


# ------------------------------------------------------------------ losses


@pytest.mark.parametrize("K", [2, 10])
def test_loss_at_zero_weights(K):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((13, 8))
    Y = m.one_hot(rng.integers(0, K, 13), K, dtype=np.float64)
    W, b = np.zeros((K, 8)), np.zeros(K)
    loss, cost, _, _ = m.softmax_cost_grad(W, b, X, Y, 0.3)
    assert loss == pytest.approx(math.log(K), rel=1e-12)
    assert cost == pytest.approx(math.log(K), rel=1e-12)  # ||W|| = 0
    loss, cost, _, _ = m.sigmoid_cost_grad(W, b, X, Y, 0.3)
    assert loss == pytest.approx(math.log(2), rel=1e-12)


def test_cost_adds_lambda_sum_w_squared_only_on_w():
    rng = np.random.default_rng(1)
    X, Y, _, W, b = _problem(rng)
    for fn in (m.softmax_cost_grad, m.sigmoid_cost_grad):
        loss0, cost0, dW0, db0 = fn(W, b, X, Y, 0.0)
        loss1, cost1, dW1, db1 = fn(W, b, X, Y, 0.5)
        assert loss0 == pytest.approx(loss1)
        assert cost0 == pytest.approx(loss0)
        assert cost1 == pytest.approx(loss1 + 0.5 * np.sum(W**2))
        np.testing.assert_allclose(dW1 - dW0, 2 * 0.5 * W, atol=1e-14)
        np.testing.assert_allclose(db1, db0)


def test_softmax_loss_matches_naive_formula():
    rng = np.random.default_rng(2)
    X, Y, y, W, b = _problem(rng)
    S = X @ W.T + b
    P = np.exp(S) / np.exp(S).sum(1, keepdims=True)
    naive = -np.mean(np.log(P[np.arange(len(y)), y]))
    loss, _, _, _ = m.softmax_cost_grad(W, b, X, Y, 0.0)
    assert loss == pytest.approx(naive, rel=1e-12)
    np.testing.assert_allclose(m.predict_proba_softmax(W, b, X), P, rtol=1e-12)


def test_sigmoid_loss_matches_naive_formula():
    rng = np.random.default_rng(3)
    X, Y, _, W, b = _problem(rng)
    S = X @ W.T + b
    P = 1 / (1 + np.exp(-S))
    K = Y.shape[1]
    naive = np.mean(-(1 / K) * np.sum((1 - Y) * np.log(1 - P) + Y * np.log(P), axis=1))
    loss, _, _, _ = m.sigmoid_cost_grad(W, b, X, Y, 0.0)
    assert loss == pytest.approx(naive, rel=1e-12)
    np.testing.assert_allclose(m.predict_proba_sigmoid(W, b, X), P, rtol=1e-12)


def test_sigmoid_gradient_is_p_minus_y_over_k():
    rng = np.random.default_rng(4)
    X, Y, _, W, b = _problem(rng, n=9, K=6)
    n, K = Y.shape
    P = m.predict_proba_sigmoid(W, b, X)
    G = (P - Y) / K
    _, _, dW, db = m.sigmoid_cost_grad(W, b, X, Y, 0.0)
    np.testing.assert_allclose(dW, G.T @ X / n, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(db, G.mean(0), rtol=1e-12, atol=1e-15)
    # same structure as the softmax gradient: (1/n) (P - Y)^T X with P the model's outputs
    Ps = m.predict_proba_softmax(W, b, X)
    _, _, dWs, dbs = m.softmax_cost_grad(W, b, X, Y, 0.0)
    np.testing.assert_allclose(dWs, (Ps - Y).T @ X / n, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dbs, (Ps - Y).mean(0), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("model", ["softmax", "sigmoid"])
def test_no_overflow_at_extreme_scores(model, dtype):
    K = 4
    X = np.eye(K, dtype=dtype)
    W = np.array(
        [[1000, -1000, 0, 1000], [-1000, 1000, 0, -1000], [0, 0, 1000, 0], [-1000, -1000, -1000, 1000]],
        dtype=dtype,
    )
    b = np.zeros(K, dtype=dtype)
    y = np.array([0, 1, 3, 2])  # some right, some badly wrong
    Y = m.one_hot(y, K, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any overflow/invalid RuntimeWarning fails
        loss, cost, dW, db = m.cost_grad(W, b, X, Y, 0.1, model)
        P = m.predict_proba(W, b, X, model)
        lc = m.loss_cost(W, b, X, Y, 0.1, model)
    assert np.isfinite(loss) and np.isfinite(cost) and loss > 100  # wrong with margin 1000+
    assert np.all(np.isfinite(dW)) and np.all(np.isfinite(db))
    assert np.all(np.isfinite(P)) and P.min() >= 0 and P.max() <= 1
    assert dW.dtype == dtype and db.dtype == dtype and P.dtype == dtype
    assert lc[0] == pytest.approx(loss, rel=1e-5)


def test_dtype_follows_inputs():
    rng = np.random.default_rng(5)
    X, Y, _, W, b = _problem(rng, dtype=np.float32)
    for model in m.MODELS:
        _, _, dW, db = m.cost_grad(W, b, X, Y, 0.1, model)
        assert dW.dtype == np.float32 and db.dtype == np.float32
    Y8 = Y.astype(np.uint8)
    _, _, dW, _ = m.softmax_cost_grad(W, b, X, Y8, 0.0)
    assert dW.dtype == np.float32


def test_chunked_loss_and_accuracy_match_full():
    rng = np.random.default_rng(6)
    X, Y, y, W, b = _problem(rng, n=103)
    for model in m.MODELS:
        loss, cost, _, _ = m.cost_grad(W, b, X, Y, 0.2, model)
        for chunk in (1, 10, 1000):
            lc = m.loss_cost(W, b, X, Y, 0.2, model, chunk=chunk)
            assert lc[0] == pytest.approx(loss, rel=1e-12)
            assert lc[1] == pytest.approx(cost, rel=1e-12)
            l2, c2, a2 = m.evaluate_chunked(W, b, X, None, y, 0.2, model, chunk=chunk)
            assert l2 == pytest.approx(loss, rel=1e-12) and c2 == pytest.approx(cost, rel=1e-12)
            assert a2 == pytest.approx(np.mean(np.argmax(X @ W.T + b, 1) == y))
    assert m.softmax_loss_cost(W, b, X, Y, 0.2, chunk=7)[0] == pytest.approx(
        m.softmax_cost_grad(W, b, X, Y, 0.2)[0]
    )
    assert m.sigmoid_loss_cost(W, b, X, Y, 0.2, chunk=7)[0] == pytest.approx(
        m.sigmoid_cost_grad(W, b, X, Y, 0.2)[0]
    )


def test_accuracy():
    W = np.eye(3)
    b = np.zeros(3)
    X = np.array([[1.0, 0, 0], [0, 2, 0], [0, 0, 3], [5, 0, 0]])
    y = np.array([0, 1, 1, 0])
    assert m.accuracy(W, b, X, y) == pytest.approx(0.75)
    np.testing.assert_array_equal(m.predict(W, b, X), [0, 1, 2, 0])


# ------------------------------------------------------------------ gradient checks


@pytest.mark.parametrize("model", ["softmax", "sigmoid"])
@pytest.mark.parametrize("lam", [0.0, 0.1])
@pytest.mark.parametrize("n", [1, 5, 20])
def test_gradcheck(model, lam, n):
    checks = dd_gc.gradcheck_dd2424(model, lam, np.random.default_rng(100 + n), n=n, d=20, h=1e-6)
    assert [c.name for c in checks] == ["W", "b"]
    assert checks[0].size == 10 * 20 and checks[1].size == 10
    for c in checks:
        assert c.max_rel_error < 1e-6, c
        assert c.max_abs_error < 1e-6, c


@pytest.mark.parametrize("model", ["softmax", "sigmoid"])
def test_gradcheck_on_passed_data(model):
    rng = np.random.default_rng(7)
    X = rng.standard_normal((50, 3072)) * 2 + 0.5
    Y = m.one_hot(rng.integers(0, 10, 50), 10, dtype=np.float64)
    checks = dd_gc.gradcheck_dd2424(model, 0.1, rng, n=8, X=X, Y=Y)
    assert checks[0].size == 200
    assert max(c.max_rel_error for c in checks) < 1e-6


@pytest.mark.parametrize("model", ["softmax", "sigmoid"])
def test_gradcheck_detects_wrong_gradient(model):
    right = m._COST_GRAD[model]

    def forgot_factor_two(W, b, X, Y, lam):  # lam W instead of 2 lam W
        loss, cost, dW, db = right(W, b, X, Y, lam)
        return loss, cost, dW - lam * W, db

    def wrong_bias(W, b, X, Y, lam):  # sum instead of mean over the batch
        loss, cost, dW, db = right(W, b, X, Y, lam)
        return loss, cost, dW, db * X.shape[0]

    checks = dd_gc.gradcheck_dd2424(model, 0.1, np.random.default_rng(8), n=3, analytic=forgot_factor_two)
    assert checks[0].max_rel_error > 1e-3 and checks[1].max_rel_error < 1e-6
    checks = dd_gc.gradcheck_dd2424(model, 0.0, np.random.default_rng(8), n=3, analytic=wrong_bias)
    assert checks[1].max_rel_error > 1e-2


def test_gradcheck_suite_order_and_results():
    cases = dd_gc.gradcheck_dd2424_suite("softmax", np.random.default_rng(9), batch_sizes=(1, 10))
    assert [(c.n, c.lam) for c in cases] == [(1, 0.0), (1, 0.1), (10, 0.0), (10, 0.1)]
    assert all(c.max_rel_error < 1e-6 for c in cases)
