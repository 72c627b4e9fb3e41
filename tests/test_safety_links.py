"""Planted symbolic links in a results folder are never followed (issue 10.5)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from linclf_cli.errors import OutputError
from linclf_cli.tasks.lock import results_lock


@pytest.mark.parametrize("name", [".linclf.lock", f".write-test-{os.getpid()}"])
def test_lock_and_probe_never_truncate_a_link_target(tmp_path, name):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    res = tmp_path / "results"
    res.mkdir()
    (res / name).symlink_to(victim)
    try:
        with results_lock(res, wait=False):
            pass
    except OutputError as exc:
        assert name in str(exc) and "symbolic link" in str(exc)
    else:
        assert name.startswith(".write-test"), "a symlinked lock file must be refused"
    assert victim.read_text() == "precious"
    assert (res / name).is_symlink()  # refused, not removed either


def test_lock_link_is_refused_through_the_cli(tmp_path):
    from typer.testing import CliRunner

    from linclf_cli.cli.app import app

    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    res = tmp_path / "results"
    res.mkdir()
    (res / ".linclf.lock").symlink_to(victim)
    root = Path(__file__).resolve().parents[1]
    r = CliRunner().invoke(app, ["run", "--all", "--dry-run", "--tasks-file", str(root / "tasks.yaml"),
                                 "--results-dir", str(res)])
    r2 = CliRunner().invoke(app, ["report", "aml-a2/q1", "--tasks-file", str(root / "tasks.yaml"),
                                  "--results-dir", str(res)])
    for out in (r, r2):
        if out.exit_code != 0:
            assert "Traceback" not in out.output
    assert r2.exit_code == 1 and ".linclf.lock" in r2.output and "symbolic link" in r2.output
    assert victim.read_text() == "precious"


def test_filelock_is_new_enough():
    from importlib.metadata import version

    major, minor, patch = (int(x) for x in version("filelock").split(".")[:3])
    assert (major, minor, patch) >= (3, 20, 1)


def test_lock_file_is_ignored_by_git():
    import subprocess

    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")
    r = subprocess.run(["git", "check-ignore", "-q", "--no-index", "results/.linclf.lock"], cwd=root)
    assert r.returncode == 0
    tracked = subprocess.run(["git", "ls-files", "results/.linclf.lock"], cwd=root,
                             capture_output=True, text=True).stdout
    assert tracked == ""
