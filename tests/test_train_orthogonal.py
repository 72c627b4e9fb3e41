"""`linclf train` as an orthogonal CLI: every recipe x data x model x head x optimizer trains,
on small synthetic data (the combinations the three course engines could not train)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from linclf_cli.cli.app import build_app
from linclf_cli.data.synthetic import idx_bytes, write_synthetic_cifar10

runner = CliRunner()


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_synthetic_cifar10(root, n_per_batch=200, seed=1)
    return root


def train(args, tmp_path, data_dir):
    out = tmp_path / "run"
    r = runner.invoke(build_app(only="train"), ["train", *map(str, args), "--out", str(out),
                                                "--data-dir", str(data_dir), "--json"])
    return r, out


def ok(args, tmp_path, data_dir):
    r, out = train(args, tmp_path, data_dir)
    assert r.exit_code == 0, r.output
    return (json.loads(r.stdout)["metrics"], yaml.safe_load((out / "config.yaml").read_text()), out)


def test_mlp_on_mnist(tmp_path, data_dir):  # real MNIST (LINCLF_DATA_DIR)
    m, cfg, out = ok(["--model", "mlp", "--data", "mnist", "--hidden", "32,16", "--epochs", "3",
                      "--lr", "0.05"], tmp_path, data_dir)
    assert cfg["recipe"] == "tdt4265" and cfg["hidden"] == [32, 16] and cfg["l2_form"] == "half"
    assert m["val_accuracy"] > 0.88 and m["n_train"] == 20000
    w = np.load(out / "weights.npz")
    assert w["W1"].shape == (785, 32) and w["W3"].shape == (17, 10)  # column bias layout


def test_linear_adam_early_stopping_on_cifar10(tmp_path, synth):
    m, cfg, _ = ok(["--model", "linear", "--data", "cifar10", "--optimizer", "adam", "--lr", "0.01",
                    "--early-stopping", "--patience", "1", "--epochs", "30"], tmp_path, synth)
    assert cfg["recipe"] == "dd2424" and cfg["optimizer"] == "adam"
    assert m["stopped_step"] is not None and m["steps"] < 30 * 2
    assert "test_accuracy" in m


def test_flips_with_the_mlp_and_a_sigmoid_head(tmp_path, synth):
    m, cfg, _ = ok(["--model", "mlp", "--flip", "--head", "sigmoid", "--iterations", "20",
                    "--batch-size", "50"], tmp_path, synth)
    assert cfg["recipe"] == "aml2020" and cfg["data"] == "cifar10" and cfg["flip"] is True
    assert cfg["head"] == "sigmoid" and m["steps"] == 20 and np.isfinite(m["val_loss"])


def test_a_custom_idx_folder(tmp_path, synth):
    folder = tmp_path / "letters"
    folder.mkdir()
    rng = np.random.default_rng(0)
    templates = rng.integers(0, 256, (4, 12, 12)).astype(np.uint8)
    for prefix, n in (("train", 300), ("t10k", 80)):
        y = rng.integers(0, 4, n).astype(np.uint8)
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(idx_bytes(templates[y]))
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(idx_bytes(y))
    m, cfg, out = ok(["--model", "linear", "--data", folder, "--epochs", "5", "--l2", "0.001",
                      "--l2-form", "full", "--flip"], tmp_path, synth)
    assert cfg["recipe"] == "tdt4265" and cfg["l2_form"] == "full"
    assert np.load(out / "weights.npz")["W1"].shape == (145, 4)
    assert m["val_accuracy"] > 0.9


def test_a_shortcut_with_an_orthogonal_option_expands(tmp_path, data_dir):
    m, cfg, _ = ok(["--model", "binary", "--schedule", "step", "--epochs", "1"], tmp_path, data_dir)
    assert (cfg["recipe"], cfg["data"], cfg["model"], cfg["head"]) == ("tdt4265", "mnist-2v3", "linear", "sigmoid")
    assert cfg["classes"] == [2, 3] and cfg["learning_rate"] == 0.05
    assert m["val_accuracy"] > 0.95


@pytest.mark.parametrize("args, words", [
    (["--model", "linear", "--hidden", "5"], ["--hidden", "linear"]),
    (["--model", "linear", "--epochs", "2", "--iterations", "3"], ["--epochs", "--iterations"]),
    (["--model", "mlp", "--data", "cifar10", "--split", "bonus"], ["--split"]),
    (["--model", "linear", "--patience", "3"], ["--patience", "--early-stopping"]),
    (["--model", "linear", "--data", "cifar10", "--classes", "1", "2"], ["--classes"]),
    (["--model", "linear", "--recipe", "cs231n"], ["--recipe"]),
    (["--model", "logistic"], ["logistic", "linear"]),
])
def test_what_cannot_apply_is_a_usage_error(tmp_path, synth, args, words):
    r, out = train(args, tmp_path, synth)
    assert r.exit_code == 2, r.output
    for w in words:
        assert w in r.output
    assert not out.exists()


def test_help_names_the_shortcuts():
    r = runner.invoke(build_app(only="train"), ["train", "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0
    for w in ("--recipe", "--data", "--head", "--l2-form", "shortcut"):
        assert w in r.output


def test_the_one_vocabulary_is_accepted_and_hashes_as_the_course_names():
    from linclf_cli.errors import LinclfError
    from linclf_cli.assignments.registry import KINDS
    from linclf_cli.tasks.typed import build

    dd = KINDS["dd2424"].config
    course = build(dd, {"eta": 0.01, "lam": 0.1, "n_batch": 50, "n_epochs": 3, "decay": "step"}, "t")
    one = build(dd, {"learning_rate": 0.01, "l2": 0.1, "batch_size": 50, "epochs": 3, "schedule": "step"}, "t")
    assert one == course and one.to_dict() == course.to_dict()  # the cache key is unchanged
    aml = KINDS["aml"].config
    assert build(aml, {"l2": 0.25, "iterations": 7}, "t") == build(aml, {"reg": 0.25, "num_iters": 7}, "t")
    with pytest.raises(LinclfError, match="same option"):
        build(dd, {"eta": 0.01, "learning_rate": 0.01}, "t")
    with pytest.raises(LinclfError, match="learning_rat"):
        build(dd, {"learning_rat": 0.01}, "t")
