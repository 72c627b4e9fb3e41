"""DD2424 run directories on synthetic CIFAR-10 (real CIFAR-10 is not needed)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from linclf_cli.data.synthetic import write_synthetic_cifar10
from linclf_cli.errors import DataError, TrainingDiverged, UsageError
from linclf_cli.assignments.dd2424 import recipe as dd2424
from linclf_cli.runs.context import RunContext
from linclf_cli.assignments.dd2424.recipe import Dd2424Config

N_PER_BATCH = 200
FAST = dict(epochs=4, batch_size=20)
RUN_FILES = {
    "config.yaml", "metrics.json", "history.csv", "weights.npz", "run.json", "loss.png",
    "cost.png", "templates.png", "test_probabilities.npz",
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("cifar")
    write_synthetic_cifar10(d, n_per_batch=N_PER_BATCH, seed=3)
    return d


@pytest.fixture(scope="module")
def base_run(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "base"
    calls = []
    ctx = RunContext(data_dir=data_dir, argv=["linclf", "test"],
                     progress=lambda done, total, fields: calls.append((done, total)))
    metrics = dd2424.run(Dd2424Config(**FAST), out, ctx)
    return out, metrics, calls


def _leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if p.name.startswith(".")]


def test_run_publishes_a_complete_directory(base_run):
    out, metrics, _ = base_run
    assert {p.name for p in out.iterdir()} == RUN_FILES
    assert _leftovers(out.parent) == []
    assert json.loads((out / "metrics.json").read_text()) == metrics
    w = np.load(out / "weights.npz")
    assert w["W"].shape == (10, 3072) and w["b"].shape == (10,)
    assert w["W"].dtype == np.float32
    for png in ("loss.png", "cost.png", "templates.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_metrics_match_history_and_beat_chance(base_run):
    out, m, _ = base_run
    h = dd2424.load_history(out)
    assert list(h) == ["epoch", "lr", "train_loss", "train_cost", "val_loss", "val_cost",
                       "train_accuracy", "val_accuracy"]
    assert len(h["epoch"]) == FAST["epochs"] + 1
    np.testing.assert_array_equal(h["epoch"], np.arange(FAST["epochs"] + 1))
    for k in ("train_loss", "train_cost", "val_loss", "val_cost", "train_accuracy",
              "val_accuracy"):
        assert m[k] == pytest.approx(h[k][-1], rel=1e-12)
    assert m["train_cost_epoch1"] == pytest.approx(h["train_cost"][1])
    assert m["n_train"] == m["n_val"] == m["n_test"] == N_PER_BATCH
    assert m["steps"] == FAST["epochs"] * (N_PER_BATCH // FAST["batch_size"])
    assert m["epochs"] == FAST["epochs"] and m["model"] == "softmax" and m["l2"] == 0.0
    assert m["test_accuracy"] > 0.5 and m["val_accuracy"] > 0.5  # chance is 0.1
    assert m["test_cost"] == pytest.approx(m["test_loss"])  # lam = 0: cost == loss
    assert np.all(np.diff(h["train_cost"]) < 0)  # the text: the cost decreases every epoch
    w = np.load(out / "weights.npz")
    assert m["W_sum_squares"] == pytest.approx(float(np.sum(w["W"].astype(np.float64) ** 2)))


def test_test_probabilities_agree_with_test_accuracy(base_run):
    out, m, _ = base_run
    z = np.load(out / "test_probabilities.npz")
    assert z["p_true"].shape == z["correct"].shape == (N_PER_BATCH,)
    assert z["correct"].dtype == bool
    assert np.all((z["p_true"] >= 0) & (z["p_true"] <= 1))
    assert z["correct"].mean() == pytest.approx(m["test_accuracy"])


def test_run_json_records_data_and_checksums(base_run, data_dir):
    out, _, _ = base_run
    rec = json.loads((out / "run.json").read_text())
    assert rec["argv"] == ["linclf", "test"] and rec["seed"] == 42
    cifar = data_dir / "cifar-10-batches-py"
    assert Path(rec["data"]) == cifar.resolve()
    assert set(rec["data_sha256"]) == {"data_batch_1", "data_batch_2", "test_batch",
                                       "batches.meta"}
    for name, sha in rec["data_sha256"].items():
        assert sha == hashlib.sha256((cifar / name).read_bytes()).hexdigest()


def test_progress_callback_counts_epochs(base_run):
    _, _, calls = base_run
    n = FAST["epochs"]
    assert calls == [(e, n) for e in range(1, n + 1)]


def test_config_yaml_round_trips(base_run):
    out, _, _ = base_run
    d = yaml.safe_load((out / "config.yaml").read_text())
    assert next(iter(d)) == "kind" and d.pop("kind") == "dd2424"
    cfg = Dd2424Config(**d)
    assert cfg == Dd2424Config(**FAST).resolved() == cfg.resolved()
    assert Dd2424Config(**FAST).to_dict() == d


def test_same_seed_gives_identical_results(base_run, data_dir, tmp_path):
    out, m, _ = base_run
    again = dd2424.run(Dd2424Config(**FAST), tmp_path / "again", RunContext(data_dir=data_dir))
    assert again == m
    np.testing.assert_array_equal(np.load(out / "weights.npz")["W"],
                                  np.load(tmp_path / "again" / "weights.npz")["W"])
    other = dd2424.run(Dd2424Config(**FAST, seed=7), tmp_path / "other",
                       RunContext(data_dir=data_dir))
    assert other["val_loss"] != m["val_loss"]


def test_bonus_split_sigmoid_flip_step_decay(data_dir, tmp_path):
    cfg = Dd2424Config(model="sigmoid", split="bonus", n_val=100, learning_rate=0.01, flip=True,
                       schedule="step", decay_every=2, decay_factor=0.1, init=2025, epochs=4,
                       batch_size=50)
    m = dd2424.run(cfg, tmp_path / "bonus", RunContext(data_dir=data_dir))
    assert m["model"] == "sigmoid" and m["split"] == "bonus"
    assert (m["n_train"], m["n_val"], m["n_test"]) == (5 * N_PER_BATCH - 100, 100, N_PER_BATCH)
    h = dd2424.load_history(tmp_path / "bonus")
    np.testing.assert_allclose(h["lr"], [0.01, 0.01, 0.01, 0.001, 0.001])
    assert m["final_lr"] == pytest.approx(0.001)
    assert m["test_accuracy"] > 0.5
    d = yaml.safe_load((tmp_path / "bonus" / "config.yaml").read_text())
    assert d["init"] == "2025"  # an int edition is normalised to its string
    rec = json.loads((tmp_path / "bonus" / "run.json").read_text())
    assert len(rec["data_sha256"]) == 7  # the five batches, test_batch, batches.meta


def test_plateau_decay_never_raises_the_rate(data_dir, tmp_path):
    cfg = Dd2424Config(schedule="plateau", patience=1, learning_rate=0.5, epochs=4, batch_size=20)
    dd2424.run(cfg, tmp_path / "plateau", RunContext(data_dir=data_dir))
    lr = dd2424.load_history(tmp_path / "plateau")["lr"]
    assert lr[0] == 0.5 and np.all(np.diff(lr) <= 0)


def test_histograms_figure(base_run, data_dir, tmp_path):
    out, _, _ = base_run
    path = dd2424.histograms_figure({"softmax + CE": out, "copy": out}, tmp_path / "h.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(UsageError, match="test_probabilities"):
        dd2424.histograms_figure({"x": tmp_path}, tmp_path / "h2.png")
    with pytest.raises(UsageError):
        dd2424.histograms_figure({}, tmp_path / "h3.png")


@pytest.mark.parametrize("kwargs, match", [
    (dict(model="svm"), "model"),
    (dict(split="all"), "split"),
    (dict(l2=-0.1), "l2"),
    (dict(l2=float("nan")), "l2"),
    (dict(learning_rate=0.0), "learning_rate"),
    (dict(learning_rate="fast"), "learning_rate"),
    (dict(batch_size=0), "batch_size"),
    (dict(batch_size=2.5), "batch_size"),
    (dict(epochs=0), "epochs"),
    (dict(epochs=True), "epochs"),
    (dict(shuffle="yes"), "shuffle"),
    (dict(schedule="cosine"), "schedule"),
    (dict(decay_every=0), "decay_every"),
    (dict(decay_factor=1.5), "decay_factor"),
    (dict(decay_factor=0.0), "decay_factor"),
    (dict(patience=0), "patience"),
    (dict(init="2019"), "init"),
    (dict(seed=-1), "seed"),
    (dict(dtype="float16"), "dtype"),
    (dict(n_val=0), "n_val"),
    (dict(batch_size=N_PER_BATCH + 1), "batch_size"),  # only known once the data is loaded
    (dict(split="bonus", n_val=5 * N_PER_BATCH), "n_val"),
])
def test_invalid_config_raises_before_writing(kwargs, match, data_dir, tmp_path):
    parent = tmp_path / "runs"
    with pytest.raises(UsageError, match=match) as exc:
        dd2424.run(Dd2424Config(**kwargs), parent / "bad", RunContext(data_dir=data_dir))
    assert exc.value.hint
    assert not parent.exists()


def test_missing_data_raises_before_writing(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    parent = tmp_path / "runs"
    with pytest.raises(DataError):
        dd2424.run(Dd2424Config(**FAST), parent / "x", RunContext(data_dir=empty))
    assert not parent.exists()


def test_diverging_run_leaves_no_directory(data_dir, tmp_path):
    out = tmp_path / "runs" / "diverged"
    with pytest.raises(TrainingDiverged):
        dd2424.run(Dd2424Config(learning_rate=1e300, epochs=2, batch_size=20), out,
                   RunContext(data_dir=data_dir))
    assert not out.exists()
    assert list((tmp_path / "runs").iterdir()) == []


def test_rerun_replaces_an_existing_directory(data_dir, tmp_path):
    # a rerun over an earlier linclf run directory replaces it whole (files an older run left
    # behind go with it); a folder of files linclf did not write is refused and left as it was
    out = tmp_path / "r"
    cfg = Dd2424Config(epochs=1, batch_size=50)
    dd2424.run(cfg, out, RunContext(data_dir=data_dir))
    (out / "stale.csv").write_text("old")
    dd2424.run(cfg, out, RunContext(data_dir=data_dir))
    assert {p.name for p in out.iterdir()} == RUN_FILES

    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "stale.txt").write_text("old")
    with pytest.raises(UsageError, match="not a linclf run directory"):
        dd2424.run(cfg, foreign, RunContext(data_dir=data_dir))
    assert [p.name for p in foreign.iterdir()] == ["stale.txt"]
    assert (foreign / "stale.txt").read_text() == "old"
