"""The courses' random streams (rng: numpy | legacy): draw order, provenance, bad input, and
the published numbers on the real data (skipped without LINCLF_DATA_DIR)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from linclf_cli.assignments.aml2020 import toy
from linclf_cli.assignments.aml2020.recipe import AmlToyConfig, run_toy
from linclf_cli.assignments.dd2424.recipe import Dd2424Config
from linclf_cli.assignments.tdt4265.recipe import TdtConfig
from linclf_cli.cli.app import app
from linclf_cli.assignments.tdt4265 import recipe as tdt
from linclf_cli.engine.samplers import RNG_KINDS, Sampler, make_rng
from linclf_cli.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def global_state():
    """Tests that replay the starter's global np.random leave it as they found it."""
    state = np.random.get_state()
    yield
    np.random.set_state(state)


def starter_orders(n: int, B: int, epochs: int, seed: int = 0) -> list[list[list[int]]]:
    """The TDT4265 starter, by hand: np.random.seed(0) once, then per epoch its batch
    loader's ``indices = list(range(len(X))); np.random.shuffle(indices)`` and n // B batches."""
    np.random.seed(seed)
    out = []
    for _ in range(epochs):
        indices = list(range(n))
        np.random.shuffle(indices)
        out.append([indices[i * B:(i + 1) * B] for i in range(n // B)])
    return out


def test_make_rng_kinds_and_bad_kind():
    assert RNG_KINDS == ("numpy", "legacy")
    assert isinstance(make_rng("legacy", 3), np.random.RandomState)
    assert isinstance(make_rng("numpy", 3), np.random.Generator)
    with pytest.raises(ValueError, match="bogus"):
        make_rng("bogus", 0)


def test_legacy_sampler_matches_the_starters_shuffle(global_state):
    n, B, epochs = 37, 5, 4
    ref = starter_orders(n, B, epochs)
    s = Sampler(n, B, kind="shuffle", rng=make_rng("legacy", 0))
    got = [[list(map(int, b)) for b in s.epoch()] for _ in range(epochs)]
    assert got == ref
    # each epoch shuffles a fresh arange: reshuffling one array in place (epoch 2 a shuffle of
    # epoch 1's order) gives a different order after the first epoch
    rs, idx, inplace = np.random.RandomState(0), np.arange(n), []
    for _ in range(epochs):
        rs.shuffle(idx)
        inplace.append([list(map(int, idx[i * B:(i + 1) * B])) for i in range(n // B)])
    assert inplace[0] == ref[0] and inplace[1] != ref[1]
    # and linclf's own stream is another one
    assert [[list(map(int, b)) for b in Sampler(n, B, "shuffle", rng=make_rng("numpy", 0)).epoch()]] != ref[:1]


def test_legacy_stream_never_touches_the_global_state(global_state):
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    rng = make_rng("legacy", 0)
    rng.permutation(1000)
    rng.randn(10)
    assert np.array_equal(np.random.get_state()[1], before)


def test_tdt_trainer_on_legacy_stream_equals_the_starter_loop(global_state):
    """Weights after 3 shuffled epochs of binary logistic regression (float64, synthetic data):
    linclf's trainer with rng legacy against a plain replica of the starter's loop."""
    g = np.random.default_rng(7)
    n, d, B, lr = 203, 9, 16, 0.05
    X = np.hstack([g.standard_normal((n, d - 1)), np.ones((n, 1))])
    T = (X[:, :1] + 0.3 * g.standard_normal((n, 1)) > 0).astype(np.float64)
    cfg = tdt.TrainConfig(learning_rate=lr, batch_size=B, epochs=3, shuffle=True)
    res = tdt.train("binary", X, T, X[:50], T[:50], cfg, make_rng("legacy", 0), overlap=False)
    model = tdt.model_for(d, 1)
    w = np.zeros((d, 1))
    for epoch in starter_orders(n, B, 3):
        for idx in epoch:
            _, _, grads = model.loss({"W1": w}, X[idx], T[idx])
            w = w - lr * grads["W1"]
    np.testing.assert_array_equal(res.params["W1"], w)
    other = tdt.train("binary", X, T, X[:50], T[:50], cfg, make_rng("numpy", 0), overlap=False)
    assert not np.array_equal(other.params["W1"], w)


def test_aml_toy_legacy_gives_the_notebooks_printed_losses():
    h = toy.toy_train_legacy(0)
    assert f"{h['loss_history'][0]:.6f}" == "1.241994"
    assert abs(h["loss_history"][-1] - 0.017149607938732093) < 1e-16
    # the notebook: seed(0), 70 model draws, then np.random.choice(5, 200) per iteration
    rs = np.random.RandomState(0)
    rs.randn(70)
    idx0 = rs.choice(5, 200)
    rs2 = np.random.RandomState(0)
    toy.init_toy_model(rs2)
    assert np.array_equal(rs2.choice(5, 200), idx0)
    # linclf's own stream: another trajectory
    assert toy.toy_train(seed=0)["loss_history"][0] != h["loss_history"][0]


def test_toy_run_records_the_stream(tmp_path):
    m = run_toy(AmlToyConfig(rng="legacy"), tmp_path / "toy")
    assert f"{m['toy_initial_loss']:.6f}" == "1.241994"
    assert yaml.safe_load((tmp_path / "toy" / "config.yaml").read_text())["rng"] == "legacy"
    assert json.loads((tmp_path / "toy" / "run.json").read_text())["rng"] == {"kind": "legacy", "seed": 0}


@pytest.mark.parametrize("cls", [TdtConfig, AmlToyConfig, Dd2424Config])
def test_rng_setting_validated_and_numpy_left_out_of_keys(cls):
    with pytest.raises(UsageError, match="bogus"):
        cls(rng="bogus").resolved()
    assert "rng" not in cls().resolved().to_dict()  # runs made before the setting keep their keys
    assert cls(rng="legacy").resolved().to_dict()["rng"] == "legacy"


def test_bad_rng_in_a_tasks_file_is_a_usage_error(tmp_path):
    doc = {"version": 1, "assignments": [{"id": "t", "title": "T", "tasks": [
        {"id": "b", "title": "b", "command": "train", "args": {"model": "binary", "epochs": 1, "rng": "bogus"},
         "expect": [{"metric": "val_accuracy", "min": 0.9}]}]}]}
    p = tmp_path / "tasks.yaml"
    p.write_text(yaml.safe_dump(doc))
    r = CliRunner().invoke(app, ["tasks", "-f", str(p), "-r", str(tmp_path / "res")])
    assert r.exit_code == 2
    assert "rng" in r.output and "bogus" in r.output and "legacy" in r.output
    assert "Traceback" not in r.output


def test_repository_tasks_use_the_course_streams():
    from linclf_cli.tasks.schema import load_task_file

    refs = load_task_file(ROOT / "tasks.yaml").by_ref()
    for t in ("tdt4265-a1/2e", "tdt4265-a1/3b", "tdt4265-a1/4b", "tdt4265-a1/4c", "aml-a2/q1"):
        assert refs[t].spec.args["rng"] == "legacy", t
    assert "rng" not in refs["dd2424-a1/run2-2025"].spec.args  # default_rng(42) is the 2025 text's


# --------------------------------------------------------------------------- real data


def _tdt(data_dir, **kw):
    cfg = TdtConfig(seed=0, rng="legacy", **kw).resolved()
    d = tdt.prepare(cfg, data_dir)
    res = tdt.train(cfg.model, d.X_train, d.T_train, d.X_val, d.T_val, cfg.train_config(),
                    make_rng(cfg.rng, cfg.seed))
    return res, tdt.final_metrics(res.params["W1"], d.X_train, d.T_train, d.X_val, d.T_val)


def test_2e_stops_in_epoch_16_as_the_official_solution(data_dir):
    res, _ = _tdt(data_dir, model="binary", classes=(2, 3), learning_rate=0.05, epochs=500,
                  shuffle=True, early_stopping=True, patience=10)
    assert res.stopped_epoch == 16


def test_3b_final_numbers_as_the_starter_prints(data_dir):
    _, m = _tdt(data_dir, model="softmax", epochs=50, shuffle=True)
    assert (f"{m['train_loss']:.5f}", f"{m['val_loss']:.5f}") == ("0.28003", "0.29902")
    assert (f"{100 * m['train_accuracy']:.2f}", f"{100 * m['val_accuracy']:.2f}") == ("92.25", "91.57")


def test_dd2424_run2_2025_as_the_teacher(tmp_path):
    import os

    from linclf_cli.assignments.dd2424.recipe import run
    from linclf_cli.runs.context import RunContext

    d = os.environ.get("LINCLF_DATA_DIR")
    if not d:
        pytest.skip("LINCLF_DATA_DIR not set: real CIFAR-10 test skipped")
    m = run(Dd2424Config(l2=0.0, learning_rate=0.001, batch_size=100, epochs=40, init="2025", seed=42),
            tmp_path / "run2", RunContext(data_dir=Path(d)))
    assert f"{m['train_cost_epoch1']:.3f}" == "1.972"
    assert f"{100 * m['test_accuracy']:.2f}" == "39.13"
