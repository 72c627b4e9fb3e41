"""Numbers are checked, not trusted: malformed artefacts give a clear error naming the file
(issues 9.4, 10.7, 10.9)."""

from __future__ import annotations

import io as _io
import json
import resource
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
from numpy.lib import format as npformat
from typer.testing import CliRunner

from linclf_cli.cli.app import app
from linclf_cli.errors import OutputError
from linclf_cli.runs import io
from linclf_cli.tasks.figures import load_weights

runner = CliRunner()


def bomb_npz(path: Path) -> Path:
    hdr = _io.BytesIO()
    npformat.write_array_header_1_0(hdr, {"descr": "<f8", "fortran_order": False, "shape": (785, 10**9)})
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("W.npy", hdr.getvalue() + b"\0" * 64)
    assert path.stat().st_size < 400
    return path


def good_npz(path: Path) -> Path:
    io.write_npz(path, W=np.arange(785 * 10, dtype=np.float32).reshape(785, 10))
    return path


@pytest.mark.parametrize("make, words", [
    (bomb_npz, "too large"),
    (lambda p: (p.write_bytes(good_npz(p).read_bytes()[:300]), p)[1], "weights.npz is unreadable"),
    (lambda p: (p.write_bytes(b"PK\x03\x04 garbage"), p)[1], "weights.npz is unreadable"),
    (lambda p: (np.savez(p, W=np.array([object()], dtype=object)), p)[1], "not numeric"),
    (lambda p: (np.savez(p, V=np.zeros(3)), p)[1], "no array 'W'"),
])
def test_bad_weights_name_the_file_from_every_entry_point(tmp_path, make, words):
    run = tmp_path / "run"
    run.mkdir()
    make(run / "weights.npz")
    with pytest.raises(OutputError, match=words) as ei:
        load_weights(run)  # what task 4b's figure reads
    assert str(run / "weights.npz") in str(ei.value)
    r = runner.invoke(app, ["plot-weights", str(run), "-o", str(tmp_path / "w.png")])
    assert r.exit_code == 1 and "weights.npz" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "w.png").exists()


def test_npz_header_is_checked_before_allocation(tmp_path):
    """In a 512 MiB address space: the bomb is refused, not a MemoryError."""
    p = bomb_npz(tmp_path / "weights.npz")
    code = textwrap.dedent(f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        from linclf_cli.errors import OutputError
        from linclf_cli.tasks.figures import load_weights
        try:
            load_weights({str(tmp_path)!r})
        except OutputError as e:
            print("refused:", e)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "refused:" in r.stdout and "too large" in r.stdout, r.stderr


def test_good_weights_read_back(tmp_path):
    good_npz(tmp_path / "weights.npz")
    W = load_weights(tmp_path)
    assert W.shape == (785, 10) and W[784, 9] == 785 * 10 - 1


@pytest.mark.parametrize("text, words", [
    ("step,train_loss\n0,0.5\n1,abc\n", "line 3 holds a value that is not a number"),
    ("step,train_loss\n0,0.5,7\n", "line 2 has 3 values"),
    ("<html>\n", "not a header"),
])
def test_malformed_history_csv_names_file_and_line(tmp_path, text, words):
    p = tmp_path / "history_steps.csv"
    p.write_text(text)
    with pytest.raises(OutputError, match=words) as ei:
        io.read_csv(p)
    assert str(p) in str(ei.value)


# --------------------------------------------------------------------------- job.json, task.json


def _toy_tasks(tmp_path, expect):
    import yaml

    doc = {"version": 1, "assignments": [{"id": "t", "title": "T", "tasks": [
        {"id": "g", "title": "toy", "command": "toy", "expect": expect}]}]}
    p = tmp_path / "tasks.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


def _cli(cmd, tf, res, *extra):
    return runner.invoke(app, [cmd, *extra, "--tasks-file", str(tf), "--results-dir", str(res)])


def _status(tf, res):
    r = _cli("tasks", tf, res, "--json")
    assert r.exit_code == 0, r.output
    return {t["task"]: (t["status"], t["reason"]) for t in json.loads(r.stdout)}["t/g"]


@pytest.fixture
def toy(tmp_path):
    tf = _toy_tasks(tmp_path, [{"metric": "toy_final_loss", "min": 0.0, "max": 10.0}])
    res = tmp_path / "results"
    r = _cli("report", tf, res, "t")
    assert r.exit_code == 0, r.output
    return tf, res, res / "t" / "g"


@pytest.mark.parametrize("name, forge, words", [
    ("job.json", lambda d: [], "holds list"),
    ("task.json", lambda d: [], "holds list"),
    ("task.json", lambda d: {**d, "metrics": {**d["metrics"], "toy_final_loss": "abc"}}, "toy_final_loss is 'abc', not a number"),
    ("metrics.json", lambda d: {**d, "toy_final_loss": "abc"}, "toy_final_loss is 'abc', not a number"),
    ("task.json", lambda d: {**d, "metrics": {**d["metrics"], "best_name": "../../x"}}, "not a plain name"),
])
def test_malformed_records_are_stale_and_redone(toy, name, forge, words):
    tf, res, d = toy
    path = d / name
    good = json.loads(path.read_text())
    path.write_text(json.dumps(forge(good)))
    status, reason = _status(tf, res)
    assert status == "stale" and str(path) in reason and words in reason
    r = _cli("report", tf, res, "t")
    assert r.exit_code == 0 and "Traceback" not in r.output, r.output
    assert _status(tf, res)[0] == "up-to-date"
    assert isinstance(json.loads(path.read_text()), dict)


def test_stored_passed_is_never_trusted(toy):
    tf, res, d = toy
    task = json.loads((d / "task.json").read_text())
    task["metrics"]["toy_final_loss"] = 99.0  # forged number, forged verdict
    task["expectations"][0].update(value=99.0, passed=True)
    task["passed"] = True
    (d / "task.json").write_text(json.dumps(task))
    r = _cli("report", tf, res, "t")
    assert r.exit_code == 1, r.output
    md = (res / "REPORT.md").read_text()
    assert "0 passed, 1 failed" in md and "✗ fail" in md


@pytest.mark.realdata
def test_truncated_weights_make_the_run_stale_and_4b_names_the_file(tmp_path, data_dir):
    import yaml

    doc = {"version": 1, "assignments": [{"id": "t", "title": "T", "tasks": [
        {"id": "b", "title": "softmax", "command": "train", "args": {"model": "softmax", "epochs": 1},
         "expect": [{"metric": "val_accuracy", "min": 0.5}]},
        {"id": "w", "title": "weights", "command": "discuss", "uses": ["b"],
         "figures": [{"kind": "weights", "runs": ["b"], "file": "w.png"}],
         "expect": [{"metric": "b:val_accuracy", "min": 0.5}]}]}]}
    tf = tmp_path / "tasks.yaml"
    tf.write_text(yaml.safe_dump(doc))
    res = tmp_path / "results"
    args = ["--tasks-file", str(tf), "--results-dir", str(res), "--data-dir", str(data_dir), "-j", "1"]
    assert runner.invoke(app, ["run", "--all", *args]).exit_code == 0
    wz = res / "t" / "b" / "weights.npz"
    wz.write_bytes(wz.read_bytes()[:500])
    r = runner.invoke(app, ["plot-weights", str(wz.parent), "-o", str(tmp_path / "x.png")])
    assert r.exit_code == 1 and str(wz) in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["tasks", "--json", *args[:-2]])
    st = {t["task"]: t for t in json.loads(r.stdout)}
    assert st["t/b"]["status"] == "stale" and "weights.npz" in st["t/b"]["reason"]
    r = runner.invoke(app, ["run", "--all", *args])
    assert r.exit_code == 0, r.output
    assert load_weights(wz.parent).shape == (785, 10)
