"""One vocabulary in tasks.yaml (learning_rate, batch_size, epochs/iterations, l2, schedule),
with the cache keys of the course spellings (eta, n_batch, n_epochs, lam, decay, reg,
num_iters) it replaced: both spellings load to the same args, keys and grid points."""

from __future__ import annotations

import dataclasses
import os
import textwrap
from pathlib import Path

import pytest

from linclf_cli.tasks.handlers import HANDLERS
from linclf_cli.tasks.scheduler import _hash
from linclf_cli.tasks.schema import canonical_args, load_task_file
from linclf_cli.typed import ConfigError

REPO = Path(__file__).resolve().parents[1]
COURSE_SPELLINGS = {"eta", "lam", "n_batch", "n_epochs", "num_iters", "reg", "decay", "lambda"}


def _keys(args) -> set[str]:
    """Every option name in a task's args, its grid's base and grid included."""
    if not isinstance(args, dict):
        return set()
    out = set(args)
    for sub in ("base", "grid"):
        out |= _keys(args.get(sub)) if isinstance(args.get(sub), dict) else set()
    return out


def test_packaged_tasks_file_is_the_repository_one():
    assert (REPO / "linclf_cli" / "tasks.yaml").read_bytes() == (REPO / "tasks.yaml").read_bytes()


def test_tasks_yaml_speaks_one_vocabulary():
    import yaml

    raw = yaml.safe_load((REPO / "tasks.yaml").read_text(encoding="utf-8"))
    used = set()
    for a in raw["assignments"]:
        for t in a["tasks"]:
            found = _keys(t.get("args")) & COURSE_SPELLINGS
            assert not found, f"{a['id']}/{t['id']}: {sorted(found)}"
            used |= _keys(t.get("args"))
    assert {"learning_rate", "batch_size", "epochs", "iterations", "l2", "schedule", "seed"} <= used


def _file(tmp_path: Path, name: str, tasks: str) -> Path:
    p = tmp_path / name
    p.write_text("version: 1\nassignments:\n  - id: dd2424-a1\n    title: T\n    tasks:\n"
                 + textwrap.indent(textwrap.dedent(tasks), " " * 6), encoding="utf-8")
    return p


COURSE = """\
- id: run
  title: run
  command: train
  args: {model: dd2424-softmax, lam: 0.1, eta: 0.001, n_batch: 100, n_epochs: 40, seed: 42}
- id: grid
  title: grid
  command: grid
  args:
    kind: dd2424
    base: {model: softmax, decay: step, n_epochs: 4, seed: 42}
    grid: {lam: [0.001, 0.01], eta: [0.001, 0.005]}
- id: toy
  title: toy
  command: toy
  args: {learning_rate: 0.1, reg: 5.0e-6, num_iters: 100, batch_size: 200}
- id: q3b
  title: q3b
  command: train
  args: {model: mlp, optimizer: sgd, num_iters: 1000, reg: 0.25, learning_rate: 1.0e-4}
"""
ONE = """\
- id: run
  title: run
  command: train
  args: {model: dd2424-softmax, l2: 0.1, learning_rate: 0.001, batch_size: 100, epochs: 40, seed: 42}
- id: grid
  title: grid
  command: grid
  args:
    kind: dd2424
    base: {model: softmax, schedule: step, epochs: 4, seed: 42}
    grid: {l2: [0.001, 0.01], learning_rate: [0.001, 0.005]}
- id: toy
  title: toy
  command: toy
  args: {learning_rate: 0.1, l2: 5.0e-6, iterations: 100, batch_size: 200}
- id: q3b
  title: q3b
  command: train
  args: {model: mlp, optimizer: sgd, iterations: 1000, l2: 0.25, learning_rate: 1.0e-4}
"""


def test_both_spellings_plan_the_same_runs_under_the_same_keys(tmp_path):
    course = load_task_file(_file(tmp_path, "course.yaml", COURSE)).all_tasks()
    one = load_task_file(_file(tmp_path, "one.yaml", ONE)).all_tasks()
    for a, b in zip(course, one, strict=True):
        assert a.spec.args == b.spec.args  # the config's fields: the one vocabulary
        assert _hash(dataclasses.asdict(a.spec)) == _hash(dataclasses.asdict(b.spec))  # the task key's part
        ja = HANDLERS[a.spec.command].jobs(HANDLERS[a.spec.command].parse_args(a.spec.args, a.ref))
        jb = HANDLERS[b.spec.command].jobs(HANDLERS[b.spec.command].parse_args(b.spec.args, b.ref))
        assert [(j.name, j.kind, j.params) for j in ja] == [(j.name, j.kind, j.params) for j in jb]
    grid = next(t for t in one if t.id == "grid")
    names = [j.name for j in HANDLERS["grid"].jobs(HANDLERS["grid"].parse_args(grid.spec.args, grid.ref))]
    assert names[0] == "l2-0.001_learning_rate-0.001"  # point folders in the one vocabulary
    assert next(t for t in one if t.id == "run").spec.args["learning_rate"] == 0.001


def test_one_option_in_two_spellings_is_refused():
    with pytest.raises(ConfigError, match="'eta' and 'learning_rate' name the same option"):
        canonical_args("train", {"model": "dd2424-softmax", "eta": 0.1, "learning_rate": 0.1}, "t.args")
    with pytest.raises(ConfigError, match=r"t\.args\.grid: 'l2' and 'lam'"):
        canonical_args("grid", {"kind": "dd2424", "grid": {"l2": [0.1], "lam": [0.2]}}, "t.args")


def test_args_without_a_config_pass_through():
    args = {"runs": {"a": "run2"}, "l2": 1}
    assert canonical_args("histograms", args, "t") is args
    assert canonical_args("train", {"model": "nonsense", "eta": 1}, "t") == {"model": "nonsense", "eta": 1}
    assert canonical_args("train", {"model": "softmax", "learning_rate": 1}, "t") == {"model": "softmax", "learning_rate": 1}


@pytest.mark.skipif(not os.environ.get("LINCLF_DATA_DIR"), reason="LINCLF_DATA_DIR not set: real-data keys not checked")
def test_committed_results_stay_up_to_date():
    from linclf_cli.tasks.scheduler import plan

    tf = load_task_file(REPO / "tasks.yaml")
    plans = plan(tf, tf.all_tasks(), REPO / "results", Path(os.environ["LINCLF_DATA_DIR"]))
    stale = [(p.task.ref, p.status, p.reason) for p in plans if p.status != "up-to-date"]
    assert not stale and len(plans) == len(tf.all_tasks())
