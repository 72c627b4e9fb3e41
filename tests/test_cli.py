"""CLI tests: every command shown in the README, and bad input (exit codes, no tracebacks,
nothing half-written)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from linclf_cli import __version__
from linclf_cli.cli.app import app

runner = CliRunner()


def invoke(*args, **kw):
    return runner.invoke(app, [str(a) for a in args], **kw)


def test_help_lists_every_command():
    r = invoke("--help")
    assert r.exit_code == 0
    for cmd in ("train", "sweep-lambda", "plot-weights", "gradcheck", "report", "tasks", "run", "data"):
        assert cmd in r.output


def test_version():
    r = invoke("--version")
    assert r.exit_code == 0 and __version__ in r.output


def test_gradcheck_synthetic_json():
    r = invoke("gradcheck", "--synthetic", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["passed"] is True
    assert {(c["model"], c["l2"]) for c in out["checks"]} == {
        ("binary", 0.0), ("binary", 2.0), ("softmax", 0.0), ("softmax", 2.0)}
    assert all(c["max_abs_error"] <= 1e-6 for c in out["checks"])


def test_gradcheck_unknown_model_is_a_usage_error():
    r = invoke("gradcheck", "--synthetic", "--model", "svm")
    assert r.exit_code == 2
    assert "Unknown model" in r.output and "Traceback" not in r.output


@pytest.mark.parametrize("args, code, words", [
    (["--model", "svm"], 2, "Unknown model"),
    (["--lr", "0"], 2, "learning rate"),
    (["--lr", "-1"], 2, "learning rate"),
    (["--batch-size", "0"], 2, "batch size"),
    (["--epochs", "0"], 2, "epochs"),
    (["--model", "binary", "--classes", "3", "3"], 2, "two different digits"),
    (["--model", "binary", "--classes", "2", "11"], 2, "two different digits"),
])
def test_train_bad_options(tmp_path, args, code, words):
    out = tmp_path / "run"
    r = invoke("train", *args, "--out", out, "--data-dir", tmp_path)
    assert r.exit_code == code, r.output
    assert words in r.output and "Traceback" not in r.output
    assert not out.exists()


def test_train_missing_data_names_files_and_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("LINCLF_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    out = tmp_path / "run"
    r = invoke("train", "--model", "binary", "--out", out, "--data-dir", tmp_path / "nothing")
    assert r.exit_code == 1
    assert "train-images-idx3-ubyte" in r.output and "Traceback" not in r.output
    assert not out.exists() and not list(tmp_path.glob(".run*"))


def test_corrupted_data_is_refused(tmp_path, data_dir):
    bad = tmp_path / "mnist"
    bad.mkdir()
    for p in (data_dir / "mnist").iterdir():
        (bad / p.name).write_bytes(p.read_bytes())
    f = bad / "t10k-labels-idx1-ubyte.gz"
    f.write_bytes(f.read_bytes()[:-100])  # truncated
    out = tmp_path / "run"
    r = invoke("train", "--model", "binary", "--epochs", "1", "--out", out, "--data-dir", tmp_path)
    assert r.exit_code == 1, r.output
    assert "t10k-labels" in r.output and "Traceback" not in r.output
    assert not out.exists()


@pytest.mark.realdata
def test_train_2b_writes_a_complete_run(tmp_path, data_dir):
    out = tmp_path / "2b"
    r = invoke("train", "--model", "binary", "--epochs", "50", "--out", out, "--data-dir", data_dir)
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    assert m["n_train"] == 4005 and m["n_val"] == 2042 and m["steps"] == 50 * 31
    assert 0.04 < m["val_loss"] < 0.08 and m["val_accuracy"] > 0.97
    assert m["stopped_step"] is None and m["stopped_epoch"] is None
    run = json.loads((out / "run.json").read_text())
    assert run["seed"] == 0 and run["numpy"] and run["data_sha256"]
    steps = (out / "history_steps.csv").read_text().splitlines()
    assert len(steps) == 1 + m["steps"]
    checks = (out / "history_checks.csv").read_text().splitlines()
    assert len(checks) == 1 + len(range(0, m["steps"], 6))
    import matplotlib.image as mpimg

    assert mpimg.imread(out / "loss.png").ndim == 3
    assert "learning_rate: 0.05" in (out / "config.yaml").read_text()
    # the same seed gives identical metrics
    out2 = tmp_path / "2b-again"
    assert invoke("train", "--model", "binary", "--epochs", "50", "--out", out2, "--data-dir", data_dir).exit_code == 0
    assert json.loads((out2 / "metrics.json").read_text()) == m


@pytest.mark.realdata
def test_train_early_stopping_and_divergence(tmp_path, data_dir):
    out = tmp_path / "2d"
    r = invoke("train", "--model", "binary", "--epochs", "500", "--early-stopping", "--out", out,
               "--data-dir", data_dir)
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    assert m["stopped_epoch"] is not None and m["stopped_step"] // 31 == m["stopped_epoch"]
    bad = tmp_path / "nan"
    r = invoke("train", "--model", "softmax", "--lr", "1e37", "--epochs", "1", "--out", bad,
               "--data-dir", data_dir)
    assert r.exit_code == 1
    assert "step" in r.output and "smaller learning rate" in r.output and "Traceback" not in r.output
    assert not bad.exists() and not list(tmp_path.glob(".nan*"))


@pytest.mark.realdata
def test_unwritable_output(tmp_path, data_dir):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = invoke("train", "--model", "binary", "--epochs", "1", "--out", blocker / "run", "--data-dir", data_dir)
    assert r.exit_code == 1 and "Cannot write" in r.output


@pytest.mark.realdata
def test_gradcheck_on_mnist(data_dir):
    r = invoke("gradcheck", "--data-dir", data_dir)
    assert r.exit_code == 0, r.output
    assert "pass" in r.output and "FAIL" not in r.output


@pytest.mark.realdata
def test_sweep_lambda_is_resumable_and_plot_weights(tmp_path, data_dir):
    out = tmp_path / "sweep"
    args = ["sweep-lambda", "-l", "2", "-l", "0.02", "--epochs", "2", "--out", out, "--data-dir", data_dir, "-j", "2"]
    r = invoke(*args)
    assert r.exit_code == 0, r.output
    s = json.loads((out / "sweep.json").read_text())
    assert [p["l2"] for p in s["points"]] == [2.0, 0.02]
    assert s["points"][0]["weight_sum_of_squares"] < s["points"][1]["weight_sum_of_squares"]
    mtime = (out / "l2-2" / "metrics.json").stat().st_mtime_ns
    r = invoke(*args)
    assert r.exit_code == 0 and "2 reused" in r.output
    assert (out / "l2-2" / "metrics.json").stat().st_mtime_ns == mtime
    png = tmp_path / "w.png"
    r = invoke("plot-weights", out / "l2-2", out / "l2-0.02", "--label", "a", "--label", "b", "-o", png)
    assert r.exit_code == 0, r.output
    import matplotlib.image as mpimg

    assert mpimg.imread(png).shape[0] > 50


def test_sweep_lambda_rejects_negative():
    r = invoke("sweep-lambda", "-l", "-1")
    assert r.exit_code == 2 and ">= 0" in r.output


def test_plot_weights_needs_weights(tmp_path):
    r = invoke("plot-weights", tmp_path, "-o", tmp_path / "x.png")
    assert r.exit_code == 2 and "weights.npz" in r.output


def test_gradcheck_dd2424_and_mlp_models():
    r = invoke("gradcheck", "-m", "dd2424-softmax", "-m", "dd2424-sigmoid", "-m", "mlp", "-m", "aml-toy",
               "--hidden", "16,8", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["passed"]
    kinds = {c["check"] for c in out["checks"]}
    assert kinds == {"dd2424", "mlp", "aml-toy"}
    toy = [c for c in out["checks"] if c["check"] == "aml-toy"]
    assert {c["param"] for c in toy} == {"W1", "b1", "W2", "b2"} and max(c["max_rel_error"] for c in toy) < 1e-8
    assert {c["model"] for c in out["checks"] if c["check"] == "mlp"} == {"mlp 20-16-8-10"}


@pytest.mark.parametrize("hidden", ["0", "x", ","])
def test_bad_hidden_sizes(hidden, tmp_path):
    r = invoke("train", "--model", "mlp", "--hidden", hidden, "--out", tmp_path / "r", "--data-dir", tmp_path)
    assert r.exit_code == 2 and "hidden" in r.output.lower() and not (tmp_path / "r").exists()


def test_train_dd2424_and_mlp_on_synthetic_cifar(tmp_path):
    from linclf_cli.data.synthetic import write_synthetic_cifar10

    write_synthetic_cifar10(tmp_path / "data", n_per_batch=200, seed=0)
    out = tmp_path / "dd"
    r = invoke("train", "--model", "dd2424-sigmoid", "--epochs", "3", "--lr", "0.01", "--flip",
               "--data-dir", tmp_path / "data", "--out", out)
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    assert m["model"] == "sigmoid" and m["epochs"] == 3 and m["test_accuracy"] > 0.15  # chance 0.1
    r = invoke("train", "--model", "mlp", "--optimizer", "nope", "--data-dir", tmp_path / "data", "--out", tmp_path / "m")
    assert r.exit_code == 2 and "Unknown optimizer" in r.output
    r = invoke("train", "--model", "dd2424-softmax", "--lr", "1e9", "--l2", "1", "--epochs", "5",
               "--data-dir", tmp_path / "data", "--out", tmp_path / "div")
    assert r.exit_code in (0, 1)
    if r.exit_code == 1:
        assert "smaller learning rate" in r.output and not (tmp_path / "div").exists()


@pytest.mark.parametrize("cmd", ["train", "sweep-lambda", "plot-weights", "gradcheck", "report", "tasks", "run",
                                 "data where", "data verify", "data fetch"])
def test_every_help_renders_with_examples_and_no_eaten_text(cmd):
    r = invoke(*cmd.split(), "--help")
    assert r.exit_code == 0, r.output
    assert "xample" in r.output  # every command documents an example
    assert " ." not in r.output.replace("..", "")  # a "[default: ...]" eaten as markup leaves "text ."
