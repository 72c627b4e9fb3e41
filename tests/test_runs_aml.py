"""AML run directories: the toy checks and CIFAR-10 MLP runs on synthetic CIFAR-10."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from linclf_cli.data.synthetic import write_synthetic_cifar10
from linclf_cli.errors import TrainingDiverged, UsageError
from linclf_cli.assignments.aml2020 import recipe as aml
from linclf_cli.assignments.aml2020.recipe import AmlConfig, AmlToyConfig
from linclf_cli.runs.context import RunContext

N_PER_BATCH = 200
# 600 // 30 = 20 iterations per epoch; records at it = 0, 20, 40 (the last iteration)
SGD = dict(n_train=600, n_val=100, n_test=100, iterations=41, batch_size=30,
           learning_rate=1e-3, l2=0.01)
ADAM = dict(optimizer="adam", n_train=600, n_val=100, n_test=100, epochs=3, batch_size=50)
CIFAR_FILES = {"config.yaml", "metrics.json", "run.json", "history_steps.csv",
               "history_epochs.csv", "weights.npz", "loss.png", "accuracy.png"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("cifar")
    write_synthetic_cifar10(d, n_per_batch=N_PER_BATCH, seed=5)
    return d


@pytest.fixture(scope="module")
def sgd_run(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "sgd"
    calls = []
    ctx = RunContext(data_dir=data_dir, argv=["linclf", "aml"],
                     progress=lambda d, t, fields: calls.append((d, t)))
    return out, aml.run(AmlConfig(**SGD), out, ctx), calls


@pytest.fixture(scope="module")
def adam_run(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "adam"
    calls = []
    ctx = RunContext(data_dir=data_dir, progress=lambda d, t, fields: calls.append((d, t)))
    return out, aml.run(AmlConfig(**ADAM), out, ctx), calls


# --------------------------------------------------------------------------- toy


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("toy") / "toy"
    return out, aml.run_toy(AmlToyConfig(), out, RunContext(argv=["linclf", "toy"]))


def test_toy_meets_the_text_thresholds(toy_run):
    _, m = toy_run
    assert m["forward_abs_diff"] < 1e-7
    assert m["loss"] == pytest.approx(1.30378789133, abs=1e-12)
    assert m["loss_abs_diff"] < 1e-12
    assert set(m["gradcheck"]) == {"W1", "b1", "W2", "b2"}
    assert all(v < 1e-8 for v in m["gradcheck"].values())
    assert m["gradcheck_max_rel_error"] == max(m["gradcheck"].values())
    assert m["toy_final_loss"] < 0.02
    assert all(m["passed"].values())


def test_toy_directory(toy_run):
    out, m = toy_run
    assert {p.name for p in out.iterdir()} == {"config.yaml", "metrics.json", "run.json",
                                               "history.csv", "toy_loss.png"}
    assert json.loads((out / "metrics.json").read_text()) == m
    h = np.genfromtxt(out / "history.csv", delimiter=",", names=True)
    assert h.dtype.names == ("iteration", "learning_rate", "loss")
    assert len(h) == 100
    assert h["loss"][-1] == pytest.approx(m["toy_final_loss"], rel=1e-12)
    # one iteration per "epoch" on 5 samples: the rate decays after every iteration
    np.testing.assert_allclose(h["learning_rate"], 0.1 * 0.95 ** np.arange(100), rtol=1e-9)
    d = yaml.safe_load((out / "config.yaml").read_text())
    assert next(iter(d)) == "kind" and d.pop("kind") == "aml-toy"
    assert AmlToyConfig(**d) == AmlToyConfig().resolved()
    assert json.loads((out / "run.json").read_text())["argv"] == ["linclf", "toy"]


@pytest.mark.parametrize("kwargs", [dict(learning_rate=0), dict(l2=-1), dict(iterations=0),
                                    dict(batch_size=0), dict(h=0.0), dict(seed=-2)])
def test_toy_invalid_config(kwargs, tmp_path):
    with pytest.raises(UsageError):
        aml.run_toy(AmlToyConfig(**kwargs), tmp_path / "runs" / "toy")
    assert not (tmp_path / "runs").exists()


# --------------------------------------------------------------------------- SGD (Q3b)


def test_sgd_run_directory(sgd_run, data_dir):
    out, m, calls = sgd_run
    assert {p.name for p in out.iterdir()} == CIFAR_FILES | {"first_layer.png"}
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]
    assert json.loads((out / "metrics.json").read_text()) == m
    w = np.load(out / "weights.npz")
    assert sorted(w.files) == ["W1", "W2", "b1", "b2"]
    assert w["W1"].shape == (3072, 50) and w["W2"].shape == (50, 10)
    assert w["W1"].dtype == np.float32
    rec = json.loads((out / "run.json").read_text())
    assert rec["argv"] == ["linclf", "aml"] and rec["seed"] == 0
    assert Path(rec["data"]) == (data_dir / "cifar-10-batches-py").resolve()
    assert len(rec["data_sha256"]) == 7
    assert calls == [(i, SGD["iterations"]) for i in range(1, SGD["iterations"] + 1)]


def test_sgd_metrics_match_history(sgd_run):
    out, m, _ = sgd_run
    h = aml.load_history(out)
    steps, ep = h["history_steps"], h["history_epochs"]
    assert len(steps["iteration"]) == SGD["iterations"] == m["iterations"]
    assert m["final_loss"] == pytest.approx(steps["loss"][-1], rel=1e-12)
    np.testing.assert_array_equal(ep["iteration"], [0, 20, 40])
    np.testing.assert_array_equal(ep["epoch"], [0, 1, 2])
    np.testing.assert_allclose(ep["learning_rate"], 1e-3 * 0.95 ** np.arange(3))
    # the rate used by iteration it: decays at it = 0, 20, 40 (after that iteration's update)
    it = steps["iteration"]
    np.testing.assert_allclose(steps["learning_rate"], 1e-3 * 0.95 ** np.ceil(it / 20))
    assert m["final_learning_rate"] == pytest.approx(1e-3 * 0.95**3)
    # the last iteration is a record point, so the final val accuracy is the last row
    assert m["val_accuracy"] == pytest.approx(ep["val_accuracy"][-1])
    assert m["best_val_accuracy"] == pytest.approx(ep["val_accuracy"].max())
    assert (m["n_train"], m["n_val"], m["n_test"]) == (600, 100, 100)
    assert m["n_test_full"] == N_PER_BATCH and "test_accuracy_full" in m
    assert m["iterations_per_epoch"] == 20
    assert m["val_accuracy"] > 0.5 and m["test_accuracy"] > 0.5 and m["train_accuracy"] > 0.5
    assert m["at_chance"] is False
    assert m["preprocess"] == "mean_image" and m["init_std"] == 1e-4
    assert m["weight_norms"]["W1"] == pytest.approx(
        float(np.linalg.norm(np.load(out / "weights.npz")["W1"].astype(np.float64))))


def test_sgd_config_round_trips(sgd_run):
    out, _, _ = sgd_run
    d = yaml.safe_load((out / "config.yaml").read_text())
    assert next(iter(d)) == "kind" and d.pop("kind") == "aml"
    assert d["hidden"] == [50]
    assert AmlConfig(**d).resolved() == AmlConfig(**SGD).resolved()
    assert AmlConfig(**SGD).resolved().to_dict() == d


def test_same_seed_gives_identical_metrics(sgd_run, data_dir, tmp_path):
    out, m, _ = sgd_run
    again = aml.run(AmlConfig(**SGD), tmp_path / "again", RunContext(data_dir=data_dir))
    assert again == m
    np.testing.assert_array_equal(np.load(out / "weights.npz")["W1"],
                                  np.load(tmp_path / "again" / "weights.npz")["W1"])


# --------------------------------------------------------------------------- Adam (Q4)


def test_adam_run(adam_run):
    out, m, calls = adam_run
    assert {p.name for p in out.iterdir()} == CIFAR_FILES | {"first_layer.png"}
    assert json.loads((out / "metrics.json").read_text()) == m
    h = aml.load_history(out)
    ep = h["history_epochs"]
    np.testing.assert_array_equal(ep["epoch"], [1, 2, 3])
    np.testing.assert_array_equal(ep["iteration"], [11, 23, 35])
    assert list(ep) == ["epoch", "iteration", "learning_rate", "loss", "train_accuracy",
                        "val_accuracy"]
    assert m["val_accuracy"] == pytest.approx(ep["val_accuracy"][-1])
    assert m["iterations_per_epoch"] == 12
    assert m["iterations"] == 36 == len(h["history_steps"]["loss"])
    np.testing.assert_allclose(ep["learning_rate"], 1e-3 * 0.95 ** np.arange(3))
    np.testing.assert_allclose(h["history_steps"]["learning_rate"],
                               1e-3 * 0.95 ** (np.arange(36) // 12))
    assert m["layer_sizes"] == [3072, 50, 10] and m["optimizer"] == "adam"
    assert (m["l2"], m["init_std"], m["preprocess"]) == (1e-3, 1e-3, "normalize")
    assert m["val_accuracy"] > 0.5 and m["test_accuracy"] > 0.5
    assert calls == [(i, 36) for i in range(1, 37)]


def test_adam_deeper_network(data_dir, tmp_path):
    # 3 weight layers; a larger init than the default 1e-3 (which tends to stay at chance)
    cfg = AmlConfig(**{**ADAM, "hidden": (30, 20), "init_std": 0.03})
    m = aml.run(cfg, tmp_path / "deep", RunContext(data_dir=data_dir))
    assert {p.name for p in (tmp_path / "deep").iterdir()} == CIFAR_FILES  # no first_layer
    assert sorted(np.load(tmp_path / "deep" / "weights.npz").files) == [
        "W1", "W2", "W3", "b1", "b2", "b3"]
    assert m["layer_sizes"] == [3072, 30, 20, 10] and m["n_params"] == (
        3072 * 30 + 30 + 30 * 20 + 20 + 20 * 10 + 10)
    assert m["val_accuracy"] > 0.3


def test_at_chance_flag(data_dir, tmp_path):
    # a learning rate too small to move the 1e-4 init: the net stays at chance
    m = aml.run(AmlConfig(**{**SGD, "learning_rate": 1e-12, "iterations": 2}), tmp_path / "c",
                RunContext(data_dir=data_dir))
    assert m["at_chance"] is True and m["val_accuracy"] < 0.15


def test_preprocessing():
    x = np.array([[0, 255, 51]], dtype=np.uint8)
    (a,) = aml.preprocess_arrays(x, method="normalize", dtype=np.float32)
    np.testing.assert_allclose(a, [[-1.0, 1.0, -0.6]], rtol=1e-6)
    tr = np.array([[0, 10], [20, 30]], dtype=np.uint8)
    a, b = aml.preprocess_arrays(tr, np.array([[10, 20]], dtype=np.uint8), method="mean_image",
                                 dtype=np.float32)
    np.testing.assert_allclose(a, [[-10, -10], [10, 10]])
    np.testing.assert_allclose(b, [[0, 0]])


def test_defaults_follow_the_starters():
    s = AmlConfig().resolved()
    assert (s.hidden, s.iterations, s.batch_size, s.learning_rate, s.learning_rate_decay,
            s.l2, s.init_std, s.preprocess) == ((50,), 1000, 200, 1e-4, 0.95, 0.25, 1e-4,
                                                 "mean_image")
    assert (s.n_train, s.n_val, s.n_test) == (49000, 1000, 1000)
    a = AmlConfig(optimizer="adam").resolved()
    assert (a.epochs, a.batch_size, a.learning_rate, a.learning_rate_decay, a.l2,
            a.init_std, a.preprocess) == (10, 200, 1e-3, 0.95, 1e-3, 1e-3, "normalize")
    assert AmlConfig(hidden=[100, 50]).resolved().hidden == (100, 50)
    assert AmlConfig(hidden=64).resolved().hidden == (64,)


# --------------------------------------------------------------------------- failures


@pytest.mark.parametrize("kwargs, match", [
    (dict(optimizer="rmsprop"), "optimizer"),
    (dict(hidden=[]), "hidden"),
    (dict(hidden=[50, 0]), "Hidden layer 2"),
    (dict(hidden="50"), "hidden"),
    (dict(hidden=[50.5]), "not an integer"),
    (dict(hidden=[True]), "not an integer"),
    (dict(learning_rate=0.0), "learning_rate"),
    (dict(learning_rate=float("inf")), "learning_rate"),
    (dict(learning_rate_decay=0), "learning_rate_decay"),
    (dict(l2=-1.0), "l2"),
    (dict(init_std=0.0), "init_std"),
    (dict(preprocess="zca"), "pre-processing"),
    (dict(batch_size=0), "batch_size"),
    (dict(iterations=0), "iterations"),
    (dict(epochs=0), "epochs"),
    (dict(n_test=0), "n_test"),
    (dict(seed=1.5), "seed"),
    (dict(dtype="int8"), "dtype"),
    (dict(n_train=49000), "split sizes"),  # only known once the data is loaded
    (dict(n_train=600, n_val=100, n_test=N_PER_BATCH + 1), "split sizes"),
])
def test_invalid_config_raises_before_writing(kwargs, match, data_dir, tmp_path):
    parent = tmp_path / "runs"
    with pytest.raises(UsageError, match=match) as exc:
        aml.run(AmlConfig(**kwargs), parent / "bad", RunContext(data_dir=data_dir))
    assert exc.value.hint
    assert not parent.exists()


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_diverging_run_leaves_no_directory(optimizer, data_dir, tmp_path):
    cfg = AmlConfig(optimizer=optimizer, learning_rate=1e30, n_train=600, n_val=100,
                    n_test=100, iterations=10, epochs=1, batch_size=50)
    with pytest.raises(TrainingDiverged):
        aml.run(cfg, tmp_path / "runs" / "x", RunContext(data_dir=data_dir))
    assert list((tmp_path / "runs").iterdir()) == []
