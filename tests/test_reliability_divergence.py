"""Divergence (issue 9 item 6): every trainer stops a run whose loss is non-finite or stays far
above its initial value, with the step, the loss and a learning rate that is actually smaller."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from linclf_cli.cli.app import build_app
from linclf_cli.assignments.tdt4265 import recipe as trainer
from linclf_cli.assignments.aml2020 import net as mlp
from linclf_cli.assignments.aml2020.net import train_adam, train_sgd
from linclf_cli.assignments.dd2424.linear import train_fused
from linclf_cli.engine.divergence import FACTOR, PATIENCE, DivergenceGuard
from linclf_cli.engine.functions import one_hot
from linclf_cli.errors import TrainingDiverged, suggest_learning_rate

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.mark.parametrize("lr, expected", [
    (1e38, 1.0), (1e6, 1.0), (10.0, 1.0), (2.0, 0.1), (1.0, 0.1), (0.5, 0.05), (0.05, 0.005),
    (0.01, 0.001), (1e-3, 1e-4), (3e-4, 1e-5),
])
def test_suggested_learning_rate_is_a_standard_value_at_most_a_tenth(lr, expected):
    got = suggest_learning_rate(lr)
    assert got == pytest.approx(expected)
    assert got <= lr / 10 * (1 + 1e-9)


def test_guard_rule_non_finite_at_once_and_patience_for_large_losses():
    g = DivergenceGuard(0.1)
    g.check(0, 2.0)  # initial loss
    for s in range(1, PATIENCE):
        g.check(s, FACTOR * 2.0 * 1.5)  # above, but not yet PATIENCE times
    g.check(PATIENCE, 1.0)  # back below: the count restarts
    for s in range(PATIENCE + 1, 2 * PATIENCE):
        g.check(s, 100.0)
    with pytest.raises(TrainingDiverged) as e:
        g.check(2 * PATIENCE, 100.0)
    assert e.value.step == 2 * PATIENCE and e.value.loss == 100.0
    assert "--lr 0.01" in str(e.value)
    with pytest.raises(TrainingDiverged, match="nan"):
        DivergenceGuard(0.1).check(0, float("nan"))


def _tdt_data(n=600, nv=200, seed=0):
    rng = np.random.default_rng(seed)
    means = rng.normal(0, 0.05, (10, 785)).astype(np.float32)  # overlapping classes
    y = rng.integers(0, 10, n + nv)
    X = (means[y] + rng.normal(0, 1, (n + nv, 785))).astype(np.float32)
    X[:, -1] = 1.0
    T = one_hot(y, 10, np.float32)
    return X[:n], T[:n], X[n:], T[n:]


def _cifar_like(n=300, d=64, k=10, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    X = (rng.normal(0, 0.1, (k, d))[y] + rng.normal(0, 1, (n, d))).astype(np.float32)  # overlapping
    return X, y


def test_tdt_trainer_lr_1e6_diverges_with_finite_loss_and_helpful_hint():
    Xt, Tt, Xv, Tv = _tdt_data()
    cfg = trainer.TrainConfig(learning_rate=1e6, batch_size=32, epochs=3, shuffle=True)
    with pytest.raises(TrainingDiverged) as e:
        trainer.train("softmax", Xt, Tt, Xv, Tv, cfg, np.random.default_rng(0))
    assert math.isfinite(e.value.loss) and e.value.loss > FACTOR * math.log(10)
    assert e.value.step < 10  # caught at once, not after training to the end
    assert "(for example --lr 1)" in str(e.value)


def test_tdt_trainer_normal_run_is_not_flagged_and_unchanged():
    Xt, Tt, Xv, Tv = _tdt_data()
    cfg = trainer.TrainConfig(learning_rate=0.01, batch_size=32, epochs=3, shuffle=True)
    r = trainer.train("softmax", Xt, Tt, Xv, Tv, cfg, np.random.default_rng(0))
    assert r.steps == 3 * (600 // 32)


def test_dd2424_trainer_large_eta_diverges():
    X, y = _cifar_like()
    Y = one_hot(y, 10, np.float32)
    with pytest.raises(TrainingDiverged) as e:
        train_fused(X, Y, y, X, Y, y, eta=1e6, n_epochs=5, n_batch=50, rng=np.random.default_rng(0))
    assert e.value.suggested_learning_rate == 1.0


@pytest.mark.parametrize("trainer_fn", ["sgd", "adam"])
def test_aml_trainers_large_lr_diverge(trainer_fn):
    rng = np.random.default_rng(0)
    X, y = _cifar_like(d=32)
    params = mlp.init_mlp([32, 16, 10], rng, std=1e-1)
    with pytest.raises(TrainingDiverged) as e:
        if trainer_fn == "sgd":
            train_sgd(params, X, y, X, y, learning_rate=1e4, num_iters=100, batch_size=50, rng=rng)
        else:
            train_adam(params, X, y, X, y, lr=1e4, epochs=5, batch_size=50, rng=rng)
    assert e.value.suggested_learning_rate <= 1e3


def test_committed_runs_stay_far_below_the_divergence_threshold():
    """The committed TDT4265 runs' mini-batch losses (history_steps.csv, the losses the guard
    sees) never exceed FACTOR x their first loss, let alone for PATIENCE steps in a row."""
    files = sorted((ROOT / "results").rglob("history_steps.csv"))
    if not files:
        pytest.skip("no committed run histories")
    worst = 0.0
    for f in files:
        with f.open() as fh:
            losses = [float(r["train_loss"]) for r in csv.DictReader(fh) if "train_loss" in r]
        if losses:
            worst = max(worst, max(losses) / losses[0])
    assert worst < FACTOR / 2, worst


@pytest.mark.realdata
def test_cli_train_tdt_lr_1e6_exits_1(tmp_path, data_dir):
    out = tmp_path / "div"
    r = runner.invoke(build_app(only="train"), ["train", "--model", "softmax", "--lr", "1e6", "--epochs", "1",
                            "--data-dir", str(data_dir), "--out", str(out)])
    assert r.exit_code == 1, r.output
    text = " ".join(r.output.split())
    assert "Training diverged" in text and "at step" in text and "(for example --lr 1)" in text
    assert "Traceback" not in r.output
    assert not out.exists() and not list(tmp_path.glob(".div.tmp-*"))
