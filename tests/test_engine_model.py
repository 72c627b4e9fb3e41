"""The one model: gradient checks of every head x depth x bias layout x L2 form, and the
one trainer on combinations the course engines could not train."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from linclf_cli.engine import heads
from linclf_cli.engine.augment import random_flip
from linclf_cli.engine.fit import FitConfig, evaluate, fit
from linclf_cli.engine.functions import one_hot
from linclf_cli.engine.gradcheck import check_model
from linclf_cli.engine.init import Init
from linclf_cli.engine.model import Model
from linclf_cli.engine.optim import SGD, Adam
from linclf_cli.engine.regularizers import L2
from linclf_cli.engine.samplers import Sampler
from linclf_cli.engine.schedules import StepDecay

HIDDEN = {0: (), 1: (7,), 2: (6, 5), 3: (6, 5, 4)}


def _data(n, d, K, head, column, rng):
    X = rng.standard_normal((n, d))
    if column:
        X[:, -1] = 1.0
    if head == "sigmoid" and K == 1:
        Y = (rng.random((n, 1)) < 0.5).astype(np.float64)
    else:
        Y = one_hot(rng.integers(0, K, n), K, dtype=np.float64)
    return X, Y


@pytest.mark.parametrize("head,K", [("softmax", 4), ("sigmoid", 4), ("sigmoid", 1)])
@pytest.mark.parametrize("depth", [0, 1, 2, 3])
@pytest.mark.parametrize("bias", ["vector", "column"])
@pytest.mark.parametrize("l2", [(0.0, "full", "weights"), (0.3, "half", "weights"),
                                (0.3, "full", "weights"), (0.3, "half", "all"),
                                (0.3, "full", "all")])
def test_gradcheck_every_combination(head, K, depth, bias, l2):
    rng = np.random.default_rng(zlib.crc32(repr((head, K, depth, bias, l2)).encode()))
    model = Model((6, *HIDDEN[depth], K), head=head, bias=bias, l2=L2(*l2))
    params = model.init(rng, Init("normal", std=0.5, bias="normal"), dtype=np.float64)
    X, Y = _data(9, 6, K, head, bias == "column", rng)
    # relative form with the denominator floored at 1e-6 (tiny entries judged absolutely)
    checks = check_model(model, params, X, Y, h=1e-5, rel_floor=1e-6)
    assert [c.name for c in checks] == list(model.shapes())
    for c in checks:
        assert c.max_rel_error < 1e-5, (c.name, c.max_rel_error)
        assert c.max_abs_error < 1e-8, (c.name, c.max_abs_error)


def test_gradcheck_catches_a_wrong_gradient():
    rng = np.random.default_rng(0)
    model = Model((5, 4, 3), l2=L2(0.1, "half"))
    params = model.init(rng, Init("normal", 0.5, bias="normal"), dtype=np.float64)
    X, Y = _data(8, 5, 3, "softmax", False, rng)

    class Wrong:  # the half form's gradient with the full form's cost
        def loss(self, p, X, Y):
            return model.loss(p, X, Y)

        def cost(self, p, X, Y):
            return Model((5, 4, 3), l2=L2(0.1, "full")).cost(p, X, Y)

    worst = max(c.max_rel_error for c in check_model(Wrong(), params, X, Y))
    assert worst > 1e-3


def test_l2_forms_and_scope():
    W = np.array([[1.0, 2.0], [3.0, 4.0]])
    b = np.array([5.0, 6.0])
    p = {"W1": W, "b1": b}
    assert L2(2.0, "full").penalty(p) == 2.0 * 30
    assert L2(2.0, "half").penalty(p) == 30
    assert L2(2.0, "full", "all").penalty(p) == 2.0 * 91
    # column layout, weights only: the bias row (last row of W) is not regularised
    assert L2(1.0, "full", "weights").penalty({"W1": W}, column_bias=True) == 5
    assert L2(1.0, "full", "all").penalty({"W1": W}, column_bias=True) == 30


def test_sigmoid_one_output_is_the_logistic_loss():
    z = np.array([[-2.0], [0.5], [3.0]])
    t = np.array([[0.0], [1.0], [1.0]])
    p = 1 / (1 + np.exp(-z))
    expected = -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p))
    assert heads.loss("sigmoid", z, t) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("head", ["softmax", "sigmoid"])
def test_head_properties(head):
    rng = np.random.default_rng(1)
    S = rng.standard_normal((5, 4)) * 1000
    Y = one_hot(rng.integers(0, 4, 5), 4, dtype=np.float64)
    loss, G = heads.loss_and_dscores(head, S, Y)
    assert np.isfinite(loss) and loss >= 0 and np.isfinite(G).all()
    if head == "softmax":  # invariant to a constant added to each row; gradient rows sum to 0
        assert heads.loss(head, S + 7.0, Y) == pytest.approx(loss, rel=1e-12)
        np.testing.assert_allclose(G.sum(axis=1), 0, atol=1e-12)


def test_init_draw_order_and_schemes():
    m = Model((4, 3, 2))
    a = m.init(np.random.default_rng(5), Init("normal", 1.0, bias="normal", order="layerwise"),
               dtype=np.float64)
    rng = np.random.default_rng(5)
    assert np.array_equal(a["W1"], rng.standard_normal((4, 3)))
    assert np.array_equal(a["b1"], rng.standard_normal(3))
    w = m.init(np.random.default_rng(5), Init("normal", 1.0, bias="normal", order="weights-first"),
               dtype=np.float64)
    rng = np.random.default_rng(5)
    assert np.array_equal(w["W1"], rng.standard_normal((4, 3)))
    assert np.array_equal(w["W2"], rng.standard_normal((3, 2)))
    assert list(w) == ["W1", "b1", "W2", "b2"]
    legacy = m.init(np.random.RandomState(0), Init("normal", 1.0), dtype=np.float64)
    assert np.array_equal(legacy["W1"], np.random.RandomState(0).randn(4, 3))
    assert not any(m.init(None, Init("zeros"))["W1"].ravel())
    he = m.init(np.random.default_rng(2), Init("he"), dtype=np.float64)["W1"]
    assert np.array_equal(he, np.sqrt(2 / 4) * np.random.default_rng(2).standard_normal((4, 3)))


def test_samplers():
    assert [s for s in Sampler(7, 3).epoch()] == [slice(0, 3), slice(3, 6)]
    assert Sampler(7, 3, drop_last=False).steps_per_epoch == 3
    sh = Sampler(6, 3, "shuffle", rng=np.random.default_rng(0))
    got = np.concatenate(list(sh.epoch()))
    assert np.array_equal(got, np.random.default_rng(0).permutation(6))
    rep = Sampler(500, 200, "replacement", rng=np.random.RandomState(0))
    first = next(iter(rep.epoch()))
    assert np.array_equal(first, np.random.RandomState(0).choice(500, 200))


def _blobs(n, d, K, rng, scale=3.0):
    centres = rng.standard_normal((K, d)) * scale
    y = rng.integers(0, K, n)
    X = (centres[y] + rng.standard_normal((n, d))).astype(np.float32)
    return X, one_hot(y, K)


def _train(model, opt, cfg, n=600, d=3072, K=10, seed=0, sampler="shuffle", augment=None,
           init=Init("normal", 0.01)):
    rng = np.random.default_rng(seed)
    X, Y = _blobs(n, d, K, rng)
    Xv, Yv = _blobs(n // 3, d, K, np.random.default_rng(seed))  # same centres: learnable
    params = model.init(rng, init)
    res = fit(model, params, (X, Y, Xv, Yv), cfg, opt,
              Sampler(n, 50, sampler, rng=rng), augment=augment, rng=rng)
    return res, evaluate(model, res.params, Xv, Yv)


def test_mlp_on_mnist_shaped_data():
    model = Model((784, 64, 10), l2=L2(1e-4, "full"))
    res, (loss, acc) = _train(model, SGD(0.05), FitConfig(epochs=5), d=784,
                              init=Init("he"))
    assert acc > 0.9
    assert res.history["val_loss"][0] > res.history["val_loss"][-1]


def test_linear_adam_early_stopping_on_cifar_shaped_data():
    model = Model((3072, 10), l2=L2(0.01, "full"))
    cfg = FitConfig(epochs=40, early_stopping=True, patience=2, restore_best=True)
    res, (loss, acc) = _train(model, Adam(1e-2), cfg)
    assert res.stopped_step is not None and res.steps < 40 * 12
    assert acc > 0.9
    best = int(np.argmin(res.history["val_loss"]))
    assert loss == pytest.approx(res.history["val_loss"][best], rel=1e-5)


def test_flips_with_the_mlp_and_a_sigmoid_head_mlp():
    model = Model((3072, 32, 10), head="sigmoid")
    res, (_, acc) = _train(model, Adam(1e-3), FitConfig(iterations=60, eval_every=20),
                           augment=lambda Xb, r: random_flip(Xb, r), init=Init("he"))
    assert res.steps == 60 and list(res.history["step"]) == [0, 20, 40]
    assert acc > 0.5


def test_fit_is_deterministic_for_a_seed():
    model = Model((50, 8, 3), head="sigmoid")
    a, _ = _train(model, SGD(0.1), FitConfig(epochs=2), d=50, K=3, seed=4)
    b, _ = _train(model, SGD(0.1), FitConfig(epochs=2), d=50, K=3, seed=4)
    for k in a.params:
        assert np.array_equal(a.params[k], b.params[k])


def test_schedule_sets_the_rate_per_epoch():
    model = Model((20, 3))
    rng = np.random.default_rng(0)
    X, Y = _blobs(100, 20, 3, rng)
    res = fit(model, model.init(rng, Init("zeros")), (X, Y, X, Y), FitConfig(epochs=4),
              SGD(0.1), Sampler(100, 10), schedule=StepDecay(0.1, factor=0.5, every=2))
    assert list(res.history["lr"]) == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05])


# ----------------------------------------------------------------------------- evaluators


@pytest.mark.parametrize("bias,head,K", [("vector", "softmax", 4), ("column", "softmax", 4),
                                         ("vector", "sigmoid", 1), ("column", "sigmoid", 1)])
@pytest.mark.parametrize("block,overlap", [(1, False), (3, True), (64, True)])
def test_block_gemm_evaluator_gives_the_plain_loops_run(bias, head, K, block, overlap):
    """Any linear model can take the block-GEMM evaluator (here with Adam, L2 and early
    stopping that restores the best check): it runs ahead of the early-stopping decision and
    restores the deciding check's snapshot, so parameters, steps and stop are those of the
    plain chunked evaluator; the checks' numbers agree to rounding (another GEMM width)."""
    from linclf_cli.engine.evaluators import BlockGemm, Chunked

    rng = np.random.default_rng(0)
    d, n = 12, 80
    X = rng.standard_normal((n + 40, d)).astype(np.float32)
    if bias == "column":
        X[:, -1] = 1
    y = rng.integers(0, max(K, 2), n + 40)
    Y = (one_hot(y, K, np.float32) if K > 1 else (y[:, None] == 0).astype(np.float32))
    data = (X[:n], Y[:n], X[n:], Y[n:])
    model = Model((d, K), head=head, bias=bias, l2=L2(0.01, "half", "all"))
    cfg = FitConfig(epochs=60, eval_every=2, early_stopping=True, patience=4, restore_best=True)
    runs = []
    for ev in (Chunked(), BlockGemm(block, overlap)):
        params = model.init(np.random.default_rng(1), Init("normal", 0.1), np.float32)
        runs.append(fit(model, params, data, cfg, Adam(0.05), Sampler(n, 8, "shuffle",
                        rng=np.random.default_rng(2)), evaluator=ev))
    a, b = runs
    assert a.stopped_step is not None and a.stopped_step < 60 * 10 - 1
    assert (b.steps, b.stopped_step, b.stopped_epoch, b.best_step) == \
        (a.steps, a.stopped_step, a.stopped_epoch, a.best_step)
    assert np.array_equal(a.step_loss, b.step_loss)
    for k in a.params:
        assert np.array_equal(a.params[k], b.params[k])
    assert list(a.history["step"]) == list(b.history["step"])
    np.testing.assert_allclose(a.history["val_loss"], b.history["val_loss"], rtol=1e-5)
    np.testing.assert_array_equal(a.history["val_accuracy"], b.history["val_accuracy"])


def test_block_gemm_evaluator_refuses_a_hidden_layer():
    from linclf_cli.engine.evaluators import BlockGemm

    with pytest.raises(ValueError):
        BlockGemm().open(Model((4, 3, 2)), (None,) * 4)


def test_decay_each_step_multiplies_one_at_a_time():
    from linclf_cli.engine.schedules import DecayEachStep

    s, lr = DecayEachStep(0.1, 0.95), 0.1
    for _ in range(50):
        lr *= 0.95
        assert s.step(None) == lr  # the products bit for bit, not 0.1 * 0.95 ** k
    assert s.lr(7) == lr


def test_fit_batch_and_passes_training_records_with_labels():
    """Class-label targets; 'batch' records the mini-batch accuracy after its update at step
    cadence, 'passes' the epoch's forward-pass accuracy and mean batch cost."""
    rng = np.random.default_rng(0)
    X, Y = _blobs(120, 8, 3, rng)
    y = Y.argmax(axis=1)
    model = Model((8, 6, 3), l2=L2(1e-3, "full", "weights", fused=True))
    p = model.init(rng, Init("he"), np.float64)
    res = fit(model, p, (X, y, X, y), FitConfig(iterations=9, eval_every=4, eval_train="batch",
                                                record="cost"),
              SGD(0.1), Sampler(120, 500, "replacement", rng=rng))  # B > n: one draw an epoch
    assert res.steps_per_epoch == 1 and list(res.history["step"]) == [0, 4, 8]
    assert all(float(a * 500).is_integer() for a in res.history["train_accuracy"])
    assert np.isnan(res.history["train_loss"]).all()
    p = model.init(np.random.default_rng(1), Init("he"), np.float64)
    res = fit(model, p, (X, y, X, y), FitConfig(epochs=2, eval_train="passes"), SGD(0.1),
              Sampler(120, 50, "shuffle", drop_last=False, rng=rng))
    assert res.steps_per_epoch == 3 and np.isnan(res.history["train_loss"][0])
    assert res.history["train_loss"][1] == np.mean(res.step_loss[:3])
    assert res.history["train_loss"][2] == np.mean(res.step_loss[3:])
