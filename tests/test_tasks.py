"""tasks.yaml schema, cache, scheduler, lock, interruption and the report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from linclf_cli.cli.app import app
from linclf_cli.tasks.schema import load_task_file
from linclf_cli.tasks.typed import ConfigError

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_repository_tasks_file_is_valid_and_complete():
    tf = load_task_file(ROOT / "tasks.yaml")
    ids = [t.id for t in tf.assignment("tdt4265-a1").tasks]
    assert ids == ["1a", "1b", "2a", "2b", "2c", "2d", "2e", "2e-seeds", "3a", "3b", "3b-seeds", "3c", "3d",
                   "4a", "4b", "4c", "4d", "4e"]
    assert all(t.expect for t in tf.all_tasks())
    assert tf.by_ref()["tdt4265-a1/4b"].uses == ("tdt4265-a1/3b",)


def write(tmp_path, doc) -> Path:
    p = tmp_path / "tasks.yaml"
    p.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False))
    return p


def small(tasks):
    return {"version": 1, "assignments": [{"id": "t", "title": "T", "tasks": tasks}]}


TRAIN = {"id": "b", "title": "binary", "command": "train",
         "args": {"model": "binary", "epochs": 3, "seed": 0},
         "expect": [{"metric": "val_accuracy", "min": 0.9}]}


@pytest.mark.parametrize("mutate, words", [
    (lambda d: d["assignments"][0]["tasks"][0].update(colour="red"), ["tasks[0]", "unknown key 'colour'"]),
    (lambda d: d["assignments"][0]["tasks"][0]["args"].update(epochs="ten"), ["tasks[0].args.epochs", "'ten'", "integer"]),
    (lambda d: d["assignments"][0]["tasks"][0]["args"].update(epohcs=3), ["unknown key 'epohcs'", "Did you mean 'epochs'"]),
    (lambda d: d["assignments"][0]["tasks"][0].update(uses=["zz"]), ["tasks[0].uses[0]", "unknown task 't/zz'"]),
    (lambda d: d["assignments"][0]["tasks"][0].update(command="trian"), ["unknown command 'trian'", "Did you mean 'train'"]),
    (lambda d: d["assignments"][0]["tasks"][0]["args"].update(model="svm"), ["Unknown model 'svm'"]),
    (lambda d: d["assignments"][0]["tasks"][0]["args"].update(learning_rate=-1), ["learning rate"]),
    (lambda d: d["assignments"][0]["tasks"][0]["expect"].append({"metric": "x"}), ["expect[1]", "at least one"]),
])
def test_schema_errors_name_path_value_and_expectation(tmp_path, mutate, words):
    doc = small([json.loads(json.dumps(TRAIN))])
    mutate(doc)
    with pytest.raises(ConfigError) as ei:
        load_task_file(write(tmp_path, doc))
    msg = str(ei.value)
    assert str(tmp_path / "tasks.yaml") in msg
    for w in words:
        assert w in msg


def test_yaml_syntax_error_has_line(tmp_path):
    p = write(tmp_path, "version: 1\nassignments:\n  - id: [unclosed\n")
    r = invoke("tasks", "--tasks-file", p, "--results-dir", tmp_path / "r")
    assert r.exit_code == 2
    assert "YAML syntax error at line" in r.output and "Traceback" not in r.output


def test_cycles_are_rejected(tmp_path):
    a = {**TRAIN, "id": "a", "uses": ["c"]}
    c = {"id": "c", "title": "c", "command": "discuss", "uses": ["a"], "expect": [{"metric": "a:steps", "min": 1}]}
    with pytest.raises(ConfigError, match="circular"):
        load_task_file(write(tmp_path, small([a, c])))


def test_unknown_task_suggests_closest():
    r = invoke("run", "3x", "--tasks-file", ROOT / "tasks.yaml", "--dry-run")
    assert r.exit_code == 2
    assert "Unknown task '3x'" in r.output and "Did you mean" in r.output


@pytest.fixture
def mini(tmp_path, data_dir):
    """A small real-MNIST task file: a training, a dependent discussion, a sweep, a gradcheck."""
    tasks = [
        TRAIN,
        {"id": "d", "title": "discuss b", "command": "discuss", "uses": ["b"],
         "expect": [{"metric": "b:train_accuracy", "min": 0.9}]},
        {"id": "s", "title": "sweep", "command": "sweep-lambda",
         "args": {"l2": [2.0, 0.02], "epochs": 1},
         "expect": [{"metric": "norm_decreases_with_l2", "is_true": True}]},
        {"id": "g", "title": "gradcheck", "command": "gradcheck",
         "args": {"models": ["binary"], "l2": [0.0, 2.0]},
         "expect": [{"metric": "max_abs_error", "max": 1e-6}]},
    ]
    return write(tmp_path, small(tasks)), tmp_path / "results", data_dir


def statuses(tf, res, dd):
    r = invoke("tasks", "--tasks-file", tf, "--results-dir", res, "--data-dir", dd, "--json")
    assert r.exit_code == 0, r.output
    return {t["task"]: (t["status"], t["reason"]) for t in json.loads(r.stdout)}


@pytest.mark.realdata
def test_run_cache_stale_and_report(mini):
    tf, res, dd = mini
    assert set(s for s, _ in statuses(tf, res, dd).values()) == {"missing"}
    r = invoke("run", "--all", "--tasks-file", tf, "--results-dir", res, "--data-dir", dd, "-j", "2")
    assert r.exit_code == 0, r.output
    assert "4 tasks: 4 run (4 trainings), 0 up to date\n" in r.output
    st = statuses(tf, res, dd)
    assert all(s == "up-to-date" for s, _ in st.values()), st
    task = json.loads((res / "t" / "b" / "task.json").read_text())
    metrics = json.loads((res / "t" / "b" / "metrics.json").read_text())
    assert task["metrics"]["val_accuracy"] == metrics["val_accuracy"] and task["passed"]
    # a cached rerun executes nothing
    r = invoke("run", "--all", "--tasks-file", tf, "--results-dir", res, "--data-dir", dd)
    assert "4 tasks: 0 run (0 trainings), 4 up to date\n" in r.output
    # changing a run's config makes it and its dependants stale, with the reason
    doc = yaml.safe_load(tf.read_text())
    doc["assignments"][0]["tasks"][0]["args"]["epochs"] = 4
    tf.write_text(yaml.safe_dump(doc))
    st = statuses(tf, res, dd)
    assert st["t/b"] == ("stale", "t/b: config changed")
    assert st["t/d"][0] == "stale" and st["t/s"][0] == "up-to-date"
    r = invoke("run", "d", "--dry-run", "--explain", "--tasks-file", tf, "--results-dir", res, "--data-dir", dd)
    assert r.exit_code == 0 and "config changed" in r.output and "2 task(s) would run" in r.output
    # the report reruns what is stale, quotes measured numbers and lists the expectations
    r = invoke("report", "--tasks-file", tf, "--results-dir", res, "--data-dir", dd)
    assert r.exit_code == 0, r.output
    md = (res / "REPORT.md").read_text()
    new = json.loads((res / "t" / "b" / "metrics.json").read_text())
    assert new["steps"] == 4 * 31
    assert "## Expectations" in md and "4 passed, 0 failed" in md
    html = (res / "report.html").read_text()
    assert "<table" in html and "data:image/png;base64," in html
    # a failing expectation makes `report` exit 1 and is listed as failed
    doc["assignments"][0]["tasks"][0]["expect"] = [{"metric": "val_accuracy", "min": 0.9999}]
    tf.write_text(yaml.safe_dump(doc))
    r = invoke("report", "--tasks-file", tf, "--results-dir", res, "--data-dir", dd)
    assert r.exit_code == 1 and "failed" in r.output
    assert "✗ fail" in (res / "REPORT.md").read_text()


@pytest.mark.realdata
def test_lock_refuses_a_second_process(mini):
    from linclf_cli.tasks.lock import results_lock

    tf, res, dd = mini
    with results_lock(res, wait=False):
        r = invoke("run", "b", "--tasks-file", tf, "--results-dir", res, "--data-dir", dd)
    assert r.exit_code == 1 and "Another linclf process" in r.output


@pytest.mark.realdata
def test_kill_9_midway_is_redone(mini):
    tf, res, dd = mini
    doc = yaml.safe_load(tf.read_text())
    doc["assignments"][0]["tasks"][0]["args"]["epochs"] = 400
    tf.write_text(yaml.safe_dump(doc))
    cmd = [sys.executable, "-m", "linclf_cli", "run", "b", "--tasks-file", str(tf), "--results-dir", str(res),
           "--data-dir", str(dd), "-j", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and not list((res / "t").glob(".b.tmp-*")):
        time.sleep(0.05)
    assert list((res / "t").glob(".b.tmp-*")), "the run never started"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (res / "t" / "b" / "task.json").exists()
    assert statuses(tf, res, dd)["t/b"][0] == "missing"
    doc["assignments"][0]["tasks"][0]["args"]["epochs"] = 2
    tf.write_text(yaml.safe_dump(doc))
    r = invoke("run", "b", "--tasks-file", tf, "--results-dir", res, "--data-dir", dd)
    assert r.exit_code == 0, r.output
    assert json.loads((res / "t" / "b" / "task.json").read_text())["passed"]
    assert not list((res / "t").glob(".b.tmp-*"))


@pytest.mark.realdata
def test_declared_outputs_are_checked(tmp_path, data_dir):
    ok = {**TRAIN, "outputs": ["loss.png", "weights.npz"]}
    bad = {**TRAIN, "id": "c", "outputs": ["loss.png", "no-such-figure.png"]}
    tf = write(tmp_path, small([ok, bad]))
    r = invoke("run", "--all", "--tasks-file", tf, "--results-dir", tmp_path / "r", "--data-dir", data_dir, "-j", "1")
    assert r.exit_code == 1
    assert "did not produce no-such-figure.png" in r.output
    assert (tmp_path / "r" / "t" / "b" / "task.json").exists()
    assert not (tmp_path / "r" / "t" / "c" / "task.json").exists()
