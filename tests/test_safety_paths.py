"""Never lose a user's file, never write outside the folder (issues 9.1, 9.2, 10.3, 10.5)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from linclf_cli.cli.app import app
from linclf_cli.errors import OutputError, UsageError
from linclf_cli.runs.rundir import RunDir, check_replaceable, inside
from linclf_cli.tasks.schema import load_task_file
from linclf_cli.tasks.typed import ConfigError

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def fake_run(d: Path) -> Path:
    d.mkdir(parents=True)
    (d / "run.json").write_text("{}")
    (d / "metrics.json").write_text("{}")
    (d / "loss.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    return d


# --------------------------------------------------------------------------- 9.1 train --out


def test_train_out_refuses_a_folder_of_user_files(tmp_path):
    d = tmp_path / "mine"
    d.mkdir()
    (d / "thesis.tex").write_text("precious")
    r = invoke("train", "--model", "binary", "--epochs", "1", "--out", d, "--data-dir", tmp_path / "nodata")
    assert r.exit_code == 2, r.output
    assert "thesis.tex" in r.output and "another path" in r.output and "Traceback" not in r.output
    assert (d / "thesis.tex").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # nothing moved aside or hidden


def test_train_out_refuses_an_existing_file_even_with_force(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("keep me")
    for extra in ([], ["--force"]):
        r = invoke("train", "--model", "binary", "--out", f, *extra)
        assert r.exit_code == 2, r.output
        assert "is a file" in r.output
        assert f.read_text() == "keep me"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_train_out_earlier_run_needs_force(tmp_path):
    d = fake_run(tmp_path / "run")
    r = invoke("train", "--model", "binary", "--out", d)
    assert r.exit_code == 2 and "--force" in r.output
    check_replaceable(d, force=True)  # an earlier linclf run may be replaced with --force
    (d / "notes.md").write_text("mine")
    with pytest.raises(UsageError, match="notes.md"):
        check_replaceable(d, force=True)


@pytest.mark.parametrize("make", [
    lambda p: p.write_text("user file"),
    lambda p: (p.mkdir(), (p / "data.py").write_text("x")),
    lambda p: p.symlink_to(p.parent / "elsewhere", target_is_directory=True),
])
def test_rundir_never_replaces_what_linclf_did_not_write(tmp_path, make):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "keep").write_text("k")
    target = tmp_path / "out"
    make(target)
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    with pytest.raises(UsageError, match="Refusing"):
        with RunDir(target) as rd:
            (rd.path / "run.json").write_text("{}")
            rd.commit()
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


def test_rundir_replaces_an_earlier_run(tmp_path):
    d = fake_run(tmp_path / "run")
    with RunDir(d) as rd:
        (rd.path / "run.json").write_text('{"new": 1}')
        rd.commit()
    assert json.loads((d / "run.json").read_text()) == {"new": 1}
    assert not (d / "loss.png").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_rundir_refuses_user_file_that_appears_during_the_run(tmp_path):
    d = fake_run(tmp_path / "run")
    with pytest.raises(UsageError, match="todo.txt"):
        with RunDir(d) as rd:
            (d / "todo.txt").write_text("added meanwhile")
            rd.commit()
    assert (d / "todo.txt").exists() and not list(tmp_path.glob(".run.*"))


# --------------------------------------------------------------------------- 9.2 / 10.5 ids and names


def write(tmp_path, doc) -> Path:
    p = tmp_path / "tasks.yaml"
    p.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False))
    return p


def doc(aid="t", task=None):
    task = task or {"id": "g", "title": "toy", "command": "toy", "expect": [{"metric": "x", "not_null": True}]}
    return {"version": 1, "assignments": [{"id": aid, "title": "T", "tasks": [task]}]}


TOY = {"id": "g", "title": "toy", "command": "toy", "expect": [{"metric": "x", "not_null": True}]}


@pytest.mark.parametrize("bad", ["..", ".", ".ssh", "a/b", "/abs", "a b", "", "x\\y", "a..b"])
def test_ids_are_plain_names(tmp_path, bad):
    for d in (doc(aid=bad), doc(task={**TOY, "id": bad})):
        p = write(tmp_path, d)
        with pytest.raises(ConfigError, match="letters, digits"):
            load_task_file(p)
        r = invoke("run", "--all", "--tasks-file", p, "--results-dir", tmp_path / "res")
        assert r.exit_code == 2 and "Traceback" not in r.output
        assert not (tmp_path / "res").exists() or not any((tmp_path / "res").rglob("*.json"))


@pytest.mark.parametrize("key, value", [
    ("outputs", ["/root/.ssh/id_ed25519"]),
    ("outputs", ["../../x"]),
    ("outputs", ["sub/x.png"]),
    ("figures", [{"kind": "overlay", "runs": ["self"], "file": "../../../../x.png"}]),
    ("figures", [{"kind": "overlay", "runs": ["self"], "file": "/tmp/x.png"}]),
    ("figures", [{"kind": "overlay", "runs": ["self"], "file": "x.html"}]),
])
def test_figure_files_and_outputs_are_names_inside_the_task_folder(tmp_path, key, value):
    p = write(tmp_path, doc(task={**TOY, key: value}))
    r = invoke("tasks", "--tasks-file", p, "--results-dir", tmp_path / "res")
    assert r.exit_code == 2, r.output
    assert f"{key}[0]" in r.output and "Traceback" not in r.output


def test_repository_tasks_file_still_valid():
    root = Path(__file__).resolve().parents[1]
    assert load_task_file(root / "tasks.yaml").all_tasks()


def test_inside_refuses_links_and_dots(tmp_path):
    res = tmp_path / "results"
    res.mkdir()
    (tmp_path / "victim").mkdir()
    (res / "x").symlink_to(tmp_path / "victim", target_is_directory=True)
    with pytest.raises(OutputError, match="symbolic link"):
        inside(res, "x", "2b")
    for bad in ("..", ".hidden", "a/b"):
        with pytest.raises(OutputError, match="plain name"):
            inside(res, bad)
    assert inside(res, "a", "2b") == res / "a" / "2b"


def test_run_refuses_a_symlinked_assignment_folder(tmp_path):
    """results/t -> ../victim: the run is refused by name, victim untouched."""
    victim = tmp_path / "victim"
    fake_run(victim / "g")
    res = tmp_path / "results"
    res.mkdir()
    (res / "t").symlink_to(victim, target_is_directory=True)
    p = write(tmp_path, doc())
    before = {q: q.read_bytes() for q in victim.rglob("*") if q.is_file()}
    for cmd in ("run", "report"):
        r = invoke(cmd, "--all" if cmd == "run" else "t", "--tasks-file", p, "--results-dir", res)
        assert r.exit_code == 1, r.output
        assert "symbolic link" in r.output and str(res / "t") in r.output
        assert "Traceback" not in r.output
    assert {q: q.read_bytes() for q in victim.rglob("*") if q.is_file()} == before
