"""AML 2020 toy problem (Q1a, Q1b, Q2d, Q3a): the numbers the text prints."""

from __future__ import annotations

import numpy as np
import pytest

from linclf_cli.assignments.aml2020 import toy as aml_toy
from linclf_cli.assignments.aml2020 import net as mlp


def test_toy_model_reproduces_the_legacy_seed_streams():
    params = aml_toy.init_toy_model()
    rs = np.random.RandomState(0)  # what np.random.seed(0) + randn gives, without global state
    np.testing.assert_array_equal(params["W1"], 1e-1 * rs.randn(4, 10))
    np.testing.assert_array_equal(params["W2"], 1e-1 * rs.randn(10, 3))
    np.testing.assert_array_equal(params["b1"], np.zeros(10))
    np.testing.assert_array_equal(params["b2"], np.zeros(3))
    assert all(a.dtype == np.float64 for a in params.values())

    X, y = aml_toy.init_toy_data()
    np.testing.assert_array_equal(X, 10 * np.random.RandomState(1).randn(5, 4))
    np.testing.assert_array_equal(y, [0, 1, 2, 2, 1])


def test_correct_scores_constant_is_the_texts():
    np.testing.assert_array_equal(
        aml_toy.CORRECT_SCORES[0], [0.36446210, 0.22911264, 0.40642526]
    )
    assert aml_toy.CORRECT_SCORES.shape == (5, 3)
    np.testing.assert_allclose(aml_toy.CORRECT_SCORES.sum(axis=1), 1.0, atol=1e-7)


def test_q1a_forward_matches_correct_scores():
    assert aml_toy.toy_forward_check() < 1e-7
    X, _ = aml_toy.init_toy_data()
    proba = mlp.forward_proba(aml_toy.init_toy_model(), X)
    # row 0 to the 8 digits the spec quotes
    np.testing.assert_allclose(proba[0], [0.36446210, 0.22911264, 0.40642526], atol=5e-9)


def test_q1b_loss_matches_correct_loss():
    assert aml_toy.toy_loss_check() < 1e-12


def test_q2d_gradcheck_below_1e_8():
    checks = aml_toy.toy_gradcheck()
    assert [c.name for c in checks] == ["W1", "b1", "W2", "b2"]
    for c in checks:
        assert c.max_rel_error < 1e-8, c


def test_q3a_toy_training_reaches_loss_below_0_02():
    hist = aml_toy.toy_train()
    assert len(hist["loss_history"]) == 100
    assert hist["loss_history"][-1] < 0.02
    assert hist["loss_history"][0] > 1.0
    # one iteration per "epoch" on 5 samples: accuracies recorded and lr decayed every step
    assert hist["iterations_per_epoch"] == 1
    assert hist["acc_iterations"] == list(range(100))
    assert hist["final_learning_rate"] == pytest.approx(0.1 * 0.95**100, rel=1e-12)
    # training accuracy is measured on the current 200-sample mini-batch
    assert all(float(a * 200).is_integer() for a in hist["train_acc_history"])


def test_toy_training_is_deterministic_and_leaves_global_rng_alone():
    state = np.random.get_state()
    a = aml_toy.toy_train(seed=3)
    b = aml_toy.toy_train(rng=np.random.default_rng(3))
    assert a["loss_history"] == b["loss_history"]
    after = np.random.get_state()
    assert state[0] == after[0] and np.array_equal(state[1], after[1]) and state[2:] == after[2:]
