"""Options that do not apply (issue 9 item 7) and the batch-size bound (item 9)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from linclf_cli.cli.app import build_app

runner = CliRunner()


def train(*args, tmp_path):
    return runner.invoke(build_app(only="train"), ["train", *map(str, args), "--out", str(tmp_path / "r"),
                                                   "--data-dir", str(tmp_path / "no-data")])


@pytest.mark.parametrize("args, words", [
    (["--model", "softmax", "--classes", "4", "7"], ["--classes", "softmax"]),
    (["--model", "dd2424-softmax", "--classes", "4", "7"], ["--classes"]),
    (["--model", "binary", "--flip"], ["--flip", "binary"]),
    (["--model", "softmax", "--decay", "step"], ["--decay"]),
    (["--model", "mlp", "--split", "bonus"], ["--split", "mlp"]),
    (["--model", "dd2424-sigmoid", "--early-stopping"], ["--early-stopping"]),
    (["--model", "mlp", "--no-shuffle"], ["--shuffle"]),
    (["--model", "softmax", "--optimizer", "adam"], ["--optimizer"]),
    (["--model", "binary", "--hidden", "50"], ["--hidden"]),
    (["--model", "dd2424-softmax", "--iters", "5"], ["--iters"]),
    (["--model", "softmax", "--patience", "3"], ["--patience", "--early-stopping"]),
    (["--model", "mlp", "--optimizer", "adam", "--iters", "5"], ["--iters", "sgd"]),
    (["--model", "mlp", "--epochs", "3"], ["--epochs", "adam"]),
])
def test_an_option_the_model_ignores_is_a_usage_error(tmp_path, args, words):
    r = train(*args, tmp_path=tmp_path)
    assert r.exit_code == 2, r.output
    text = " ".join(r.output.split())
    assert "Usage error" in text and "Traceback" not in text
    for w in words:
        assert w in text
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("args", [
    ["--model", "binary", "--classes", "4", "7"],
    ["--model", "softmax", "--early-stopping", "--patience", "3"],
    ["--model", "mlp", "--optimizer", "adam", "--epochs", "3"],
    ["--model", "mlp", "--iters", "5", "--hidden", "10"],
    ["--model", "dd2424-softmax", "--flip", "--decay", "step", "--split", "bonus"],
])
def test_applicable_options_pass_the_check(tmp_path, args):
    r = train(*args, tmp_path=tmp_path)
    assert "does not apply" not in r.output and "has an effect" not in r.output
    assert r.exit_code == 1 and "Usage error" not in r.output  # got as far as looking for the data


@pytest.mark.parametrize("batch, words", [("30000", ["20000", "30000"]), ("0", ["0"])])
def test_batch_size_error_names_the_real_training_set_size(tmp_path, batch, words):
    r = train("--model", "softmax", "--batch-size", batch, tmp_path=tmp_path)
    assert r.exit_code == 2, r.output
    assert "1000000000" not in r.output
    for w in words:
        assert w in r.output


@pytest.mark.realdata
def test_binary_batch_size_is_checked_against_the_two_digit_subset(tmp_path, data_dir):
    r = runner.invoke(build_app(only="train"), ["train", "--model", "binary", "--batch-size", "5000",
                                                "--data-dir", str(data_dir), "--out", str(tmp_path / "r")])
    assert r.exit_code == 2, r.output
    assert "4005" in r.output and "1000000000" not in r.output
