"""``linclf data where|verify|fetch`` through a Typer app that mounts ``data_cmd.app``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from linclf_cli.cli import data_cmd
from linclf_cli.data import download, locate
from linclf_cli.data.synthetic import write_synthetic_cifar10, write_synthetic_mnist_idx
from linclf_cli.errors import DataError

REAL_DIR = os.environ.get("LINCLF_DATA_DIR")

root_app = typer.Typer()
root_app.add_typer(data_cmd.app, name="data")


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setattr(locate, "cache_dir", lambda: cache)
    monkeypatch.delenv("LINCLF_DATA_DIR", raising=False)
    return cache


def run(*args: str, env: dict[str, str] | None = None):  # noqa: ANN201
    return CliRunner().invoke(root_app, ["data", *args], env=env)


def test_help_has_examples() -> None:
    res = run("--help")
    assert res.exit_code == 0
    for cmd in ("where", "verify", "fetch"):
        assert cmd in res.stdout
        sub = run(cmd, "--help")
        assert sub.exit_code == 0 and "Example:" in sub.stdout
    assert run().exit_code in (0, 2)  # no_args_is_help


def test_where_json_order(tmp_path: Path, isolated: Path) -> None:
    write_synthetic_mnist_idx(tmp_path / "env", 10, 5)
    write_synthetic_cifar10(isolated, n_per_batch=4)
    res = run("where", "--data-dir", str(tmp_path / "given"), "--json",
              env={"LINCLF_DATA_DIR": str(tmp_path / "env")})
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert [r["source"] for r in rows] == ["--data-dir", "LINCLF_DATA_DIR", "cache"]
    assert [r["exists"] for r in rows] == [False, True, True]
    assert rows[1]["datasets"] == {"mnist": str(tmp_path / "env" / "mnist"), "cifar10": None}
    assert rows[2]["datasets"]["cifar10"] == str(isolated / "cifar-10-batches-py")
    table = run("where", env={"LINCLF_DATA_DIR": str(tmp_path / "env")})
    assert table.exit_code == 0 and "LINCLF_DATA_DIR" in table.stdout


def test_verify_cifar_ok(tmp_path: Path) -> None:
    write_synthetic_cifar10(tmp_path, n_per_batch=4)
    res = run("verify", "cifar10", "--data-dir", str(tmp_path))
    assert res.exit_code == 0, res.output
    assert "data_batch_1" in res.stdout and "OK" in res.stdout
    res = run("verify", "cifar10", "--data-dir", str(tmp_path), "--json")
    out = json.loads(res.stdout)
    assert out["ok"] and out["datasets"][0]["dataset"] == "cifar10"
    assert len(out["datasets"][0]["files"]) == 7


def test_verify_mnist_failures_json(tmp_path: Path) -> None:
    write_synthetic_mnist_idx(tmp_path, 20, 10)  # wrong counts and checksums
    res = run("verify", "mnist", "--data-dir", str(tmp_path), "--json")
    assert res.exit_code == 1
    out = json.loads(res.stdout)
    assert out["ok"] is False
    files = out["datasets"][0]["files"]
    assert len(files) == 4 and not any(f["ok"] for f in files)
    assert all(f["actual"] and f["expected"] and f["algorithm"] == "sha256" for f in files)
    assert "failed verification" in res.stderr and "Traceback" not in res.output


def test_verify_missing_dataset(tmp_path: Path) -> None:
    res = run("verify", "--data-dir", str(tmp_path / "nothing"))
    assert res.exit_code == 1
    err = " ".join(res.stderr.split())
    assert "does not hold a complete mnist" in err and "does not hold a complete cifar10" in err
    assert "linclf data fetch mnist" in err
    assert res.exception is None or isinstance(res.exception, SystemExit)


def test_verify_bad_name_exit_2() -> None:
    res = run("verify", "imagenet")
    assert res.exit_code == 2


def test_fetch_calls_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              isolated: Path) -> None:
    calls = []

    def fake_fetch(name: str, dest_root: Path, progress: bool = True, binary: bool = False,
                   ) -> Path:
        calls.append((name, dest_root, progress) + ((True,) if binary else ()))
        return dest_root / "mnist"

    monkeypatch.setattr(download, "fetch_dataset", fake_fetch)
    res = run("fetch", "mnist", "--dest", str(tmp_path / "d"), "--no-progress")
    assert res.exit_code == 0, res.output
    assert calls == [("mnist", tmp_path / "d", False)]
    assert "--data-dir" in res.stdout  # not on the search path: says how to use it
    res = run("fetch", "cifar10")
    assert res.exit_code == 0 and calls[-1][:2] == ("cifar10", isolated)
    res = run("fetch", "cifar10", "--binary")
    assert res.exit_code == 0 and calls[-1] == ("cifar10", isolated, True, True)
    assert run("fetch", "mnist", "--binary").exit_code == 2


def test_fetch_error_is_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(*a: object, **k: object) -> Path:
        raise DataError("Could not download x.gz. Tried: https://m/x.gz: URLError.",
                        "Put x.gz in /somewhere.")

    monkeypatch.setattr(download, "fetch_dataset", failing)
    res = run("fetch", "mnist")
    assert res.exit_code == 1
    assert "Could not download" in res.stderr and "/somewhere" in res.stderr
    assert "Traceback" not in res.output
    assert run("fetch", "svhn").exit_code == 2


@pytest.mark.realdata
def test_verify_real_mnist() -> None:
    if not REAL_DIR:
        pytest.skip("LINCLF_DATA_DIR not set: real MNIST tests skipped")
    res = run("verify", "mnist", "--json", env={"LINCLF_DATA_DIR": REAL_DIR})
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["ok"] is True
