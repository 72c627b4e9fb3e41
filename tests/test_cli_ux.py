"""The terminal side of the CLI: where tasks.yaml comes from, 80-column tables, progress,
help text, --json / --quiet, ``linclf runs`` and ``linclf compare`` (issue 11, items 6-12)."""

from __future__ import annotations

import io
import json
import os
import re
from importlib import resources
from pathlib import Path

import pytest
import typer.main
from rich.console import Console
from typer.testing import CliRunner

from linclf_cli.cli.app import COMMANDS, app, build_app

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()

MINI_TASKS = """\
version: 1
assignments:
  - id: toyset
    title: "Toy checks"
    tasks:
      - id: "q1"
        title: "Q1: forward pass and loss on the toy network"
        command: toy
        args: {learning_rate: 0.1, reg: 5.0e-6, num_iters: 20, batch_size: 200,
               learning_rate_decay: 0.95, h: 1.0e-5, seed: 0}
      - id: "q2"
        title: "Q2: backpropagation and the numerical gradient check"
        command: discuss
        uses: ["q1"]
  - id: cifarset
    title: "Needs CIFAR-10"
    tasks:
      - id: "r1"
        title: "Run 1"
        command: train
        args: {model: dd2424-softmax, split: a1, lam: 0.0, eta: 0.1, n_batch: 100, n_epochs: 2,
               shuffle: true, init: "2022", seed: 42, dtype: float32}
      - id: "r2"
        title: "Run 2"
        command: train
        args: {model: dd2424-softmax, split: a1, lam: 0.1, eta: 0.1, n_batch: 100, n_epochs: 2,
               shuffle: true, init: "2022", seed: 42, dtype: float32}
"""


def invoke(*args, env=None, **kw):
    return runner.invoke(app, [str(a) for a in args], env=env, **kw)


@pytest.fixture
def no_data(tmp_path, monkeypatch):
    """No dataset anywhere: an empty LINCLF_DATA_DIR and cache."""
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("LINCLF_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("LINCLF_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


@pytest.fixture
def mini(tmp_path):
    p = tmp_path / "mini.yaml"
    p.write_text(MINI_TASKS, encoding="utf-8")
    return p


# ------------------------------------------------------------------ item 6: tasks.yaml anywhere

def test_packaged_tasks_file_is_the_root_file():
    packaged = resources.files("linclf_cli") / "tasks.yaml"
    assert packaged.read_bytes() == (ROOT / "tasks.yaml").read_bytes()


def test_tasks_and_run_work_from_any_directory(tmp_path, no_data, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    r = invoke("tasks", "tdt4265-a1", env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    assert "shipped with linclf" in r.stderr and "tdt4265-a1/2b" in r.stdout
    r = invoke("run", "aml-a2/q1", "--dry-run")
    assert r.exit_code == 0, r.output
    assert not (resources.files("linclf_cli") / "results").is_dir()  # never inside the package
    r = invoke("run", "aml-a2/q1", "--json")
    assert r.exit_code == 0, r.output
    assert (elsewhere / "results" / "aml-a2" / "q1" / "task.json").is_file()  # ./results in the cwd


def test_tasks_file_option_and_current_directory_are_named(tmp_path, mini, no_data, monkeypatch):
    r = invoke("tasks", "--tasks-file", mini)
    assert r.exit_code == 0 and f"{mini} (--tasks-file)" in " ".join(r.stderr.split())
    (tmp_path / "tasks.yaml").write_text(MINI_TASKS, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    r = invoke("tasks")
    assert r.exit_code == 0 and "(current directory)" in r.stderr and "toyset/q1" in r.stdout


# ------------------------------------------------------------------ item 7: 80 columns, filters

def _lines(text: str) -> list[str]:
    return [ln.rstrip() for ln in text.splitlines()]


def test_tasks_at_80_columns_one_line_per_task(no_data):
    r = invoke("tasks", env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    lines = _lines(r.stdout)
    assert max(len(ln) for ln in lines) <= 80
    from linclf_cli.tasks.schema import load_task_file

    refs = [t.ref for t in load_task_file(ROOT / "tasks.yaml").all_tasks()]
    for ref in refs:  # every id whole, on exactly one line, starting it
        assert sum(1 for ln in lines if ln.split()[:1] == [ref]) == 1, ref
    rows = [ln for ln in lines if ln.split()[:1] and ln.split()[0] in refs]
    assert len(rows) == len(refs)  # no continuation lines
    skipped = [ln for ln in lines if ln.startswith("skipped ")]
    assert len(skipped) == len({r.split("/")[0] for r in refs if not r.startswith("aml-a2/q1")}) or skipped
    assert all(ln.count("skipped") == 1 for ln in skipped)  # once per assignment
    assert re.search(rf"^{len(refs)} tasks: ", r.stdout, re.M)


def test_tasks_filter_by_assignment_and_stale(mini, no_data, tmp_path):
    res = tmp_path / "res"
    r = invoke("tasks", "cifarset", "-f", mini, "-r", res, "--json")
    assert r.exit_code == 0
    assert [t["task"] for t in json.loads(r.stdout)] == ["cifarset/r1", "cifarset/r2"]
    r = invoke("tasks", "--stale", "-f", mini, "-r", res, "--json")
    assert {t["task"] for t in json.loads(r.stdout)} == {"toyset/q1", "toyset/q2"}  # r1, r2: no data
    r = invoke("tasks", "-f", mini, "-r", res)
    assert "4 tasks: 0 up to date, 2 to run (2 missing, 0 stale), 2 skipped (data missing)" in r.stdout
    assert "skipped cifarset (2 tasks): CIFAR-10 not found" in " ".join(r.stdout.split())


def test_dry_run_table_fits_80_columns(no_data):
    r = invoke("run", "--all", "--dry-run", "--explain", env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    assert max(len(ln) for ln in _lines(r.stdout)) <= 80


def test_data_where_prints_paths_whole(tmp_path):
    long = tmp_path / ("a-very-long-folder-name-" * 4) / "datasets"
    r = invoke("data", "where", "--data-dir", long, env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    assert str(long) in r.stdout  # one piece, never folded inside a name


# ------------------------------------------------------------------ item 8: progress display

def _progress_console():
    return Console(file=io.StringIO(), force_terminal=True, width=100, color_system=None)


def test_display_label_and_fields():
    from linclf_cli.cli.progress import display_label, format_fields

    assert display_label("tdt4265-a1/4c [lambda-0.2]") == "tdt4265-a1/4c λ = 0.2"
    assert display_label("g [learning_rate-0.0005_reg-1e-05]") == "g learning_rate = 0.0005, reg = 1e-05"
    assert display_label("tdt4265-a1/2b") == "tdt4265-a1/2b"
    assert format_fields({"epoch": 3, "epochs": 50, "loss": 0.06512, "val_accuracy": 0.9789}) == \
        "epoch 3/50 loss 0.0651 val 0.979"
    assert format_fields({"loss": None}) == ""


def test_job_progress_queued_running_done_and_overall_100():
    from linclf_cli.cli.progress import JobProgress, make_progress

    console = _progress_console()
    with make_progress(console) as progress:
        hook = JobProgress(progress, n_jobs=2)
        hook("start", "t/a [lambda-2]")
        hook("start", "t/b")
        bars = {t.description: t for t in progress.tasks}
        assert not bars["t/a λ = 2"].started and not bars["t/b"].started  # queued: no clock, no pulse
        hook("progress", "t/a [lambda-2]", 0, 0, {})
        hook("progress", "t/a [lambda-2]", 5, 10, {"epoch": 1, "epochs": 2, "loss": 0.5})
        task = next(t for t in progress.tasks if t.description == "t/a λ = 2")
        assert task.started and task.completed == 5 and "epoch 1/2" in task.fields["info"]
        hook("done", "t/a [lambda-2]", 1, 1)
        hook.finish()  # t/b was a copy of t/a's training: the overall bar still ends at 100 %
        overall = progress.tasks[0]
        assert overall.completed == overall.total == 2
    assert "done t/a λ = 2" in console.file.getvalue()


def test_early_stopped_run_bar_ends_where_it_stopped():
    from linclf_cli.cli import progress as prog

    console = _progress_console()
    with prog.make_progress(console) as progress:
        hook = prog.JobProgress(progress, n_jobs=1)
        hook("start", "t/es")
        hook("progress", "t/es", 0, 0, {})
        hook("progress", "t/es", 40, 100, {"epoch": 12, "epochs": 30, "stopped_step": 39, "stopped_epoch": 11})
        hook("done", "t/es", 1, 1)
    assert "stopped early at step 39 (epoch 11)" in console.file.getvalue()
    console = _progress_console()
    with prog.progress_callback("train", console) as cb:
        cb(40, 100, {"epoch": 12, "epochs": 30, "stopped_step": 39, "stopped_epoch": 11})
    # the single-run bar stays at the step where it stopped (40 %), not 100 %
    assert "stopped early at step 39 (epoch 11)" in console.file.getvalue()
    assert " 40%" in console.file.getvalue()


def test_trainer_callback_carries_epoch_loss_and_val_accuracy():
    import numpy as np

    from linclf_cli.assignments.tdt4265.recipe import TrainConfig, train

    rng = np.random.default_rng(0)
    X = np.hstack([rng.normal(size=(64, 4)), np.ones((64, 1))]).astype(np.float32)
    T = (X[:, :1] > 0).astype(np.float32)
    seen = []
    train("binary", X, T, X, T, TrainConfig(learning_rate=0.1, batch_size=16, epochs=3),
          np.random.default_rng(0), callback=lambda d, t, f: seen.append((d, t, f)), block=1, overlap=False)
    d, t, f = seen[-1]
    assert d == t == 12 and f["epoch"] == 3 and f["epochs"] == 3 and np.isfinite(f["loss"])
    assert f["val_accuracy"] is not None and 0 <= f["val_accuracy"] <= 1


def test_run_summary_is_unambiguous(mini, no_data, tmp_path):
    res = tmp_path / "res"
    r = invoke("run", "--all", "-f", mini, "-r", res, "-j", "1")
    assert r.exit_code == 0, r.output
    err = " ".join(r.stderr.split())
    assert "skipped cifarset (2 tasks): CIFAR-10 not found" in err
    assert err.count("CIFAR-10 not found") == 1  # once per assignment
    assert "4 tasks: 2 run (1 training), 0 up to date, 2 skipped (data missing)" in err
    r = invoke("run", "--all", "-f", mini, "-r", res)
    assert "4 tasks: 0 run (0 trainings), 2 up to date, 2 skipped (data missing)" in " ".join(r.stderr.split())


# ------------------------------------------------------------------ item 9: help

def _all_commands():
    click_app = typer.main.get_command(build_app())
    out = []

    def walk(cmd, path):
        out.append((path, cmd))
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, path + [name])

    walk(click_app, [])
    return out


@pytest.mark.parametrize("path", [" ".join(p) for p, _ in _all_commands()])
def test_help_at_80_columns(path):
    r = invoke(*path.split(), "--help", env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    assert "<bool>" not in r.output
    assert "xample" in r.output
    cmd = dict((" ".join(p), c) for p, c in _all_commands())[path]
    for p in cmd.params:
        assert (getattr(p, "help", None) or "").strip(), f"{path}: {p.name} has no description"
    # examples are copyable: every example line of the docstring comes out whole on one line
    out_lines = [ln.strip() for ln in r.output.splitlines()]
    continued = False
    for ln in (cmd.help or "").splitlines():
        ln = re.sub(r"\[/?[a-z ]*\]", "", ln).strip()
        if ln.startswith("linclf ") or continued:  # an example, or its shell continuation
            assert ln in out_lines, f"{path}: example re-wrapped: {ln!r}"
        continued = ln.endswith("\\")
    # prose is wrapped by Rich, not by the docstring's own line breaks (which Rich keeps after
    # the first paragraph): no short line cut mid-sentence before the next one goes on
    text = r.output.split("╭")[0].splitlines()
    for a, b in zip(text, text[1:]):
        a, b = a.strip(), b.strip()
        if a and b and not a.startswith(("linclf ", "#")) and len(a) < 50 and b[0].islower() \
                and not a.endswith((".", ":", ";", ")", ",")):
            raise AssertionError(f"{path}: help text broken mid-sentence: {a!r} / {b!r}")


def test_top_level_help_has_examples_and_every_command():
    r = invoke("--help", env={"COLUMNS": "80"})
    assert r.exit_code == 0
    assert "Examples" in r.output and "linclf report" in r.output and "Exit codes" in r.output
    for name in COMMANDS:
        assert name in r.output


# ------------------------------------------------------------------ item 10: --json, --quiet, exit codes

@pytest.fixture(scope="module")
def synth_runs(tmp_path_factory):
    """Two tiny DD2424 runs (different λ) on synthetic CIFAR-10, through `linclf train --json`."""
    from linclf_cli.data.synthetic import write_synthetic_cifar10

    root = tmp_path_factory.mktemp("synth")
    write_synthetic_cifar10(root / "data", n_per_batch=100, seed=0)
    outs = []
    for name, lam in (("lam-0", "0"), ("lam-1", "1")):
        r = invoke("train", "--model", "dd2424-softmax", "--epochs", "2", "--l2", lam, "--lr", "0.01",
                   "--data-dir", root / "data", "--out", root / "runs" / name, "--json", "-q")
        assert r.exit_code == 0, r.output
        outs.append(json.loads(r.stdout))
        assert r.stderr == ""  # --quiet: nothing but errors
    return root, outs


def test_train_json_and_quiet(synth_runs):
    root, outs = synth_runs
    assert outs[0]["run_dir"] == str(root / "runs" / "lam-0")
    assert 0 <= outs[0]["metrics"]["val_accuracy"] <= 1


def test_quiet_still_prints_errors_and_usage_exit_2(tmp_path):
    r = invoke("train", "--model", "nope", "-q")
    assert r.exit_code == 2 and "nope" in r.stderr
    r = invoke("runs", tmp_path / "missing", "-q")
    assert r.exit_code == 2 and "not a folder" in r.stderr


def test_run_json_on_stdout(mini, no_data, tmp_path):
    r = invoke("run", "toyset", "-f", mini, "-r", tmp_path / "res", "--json", "-q")
    assert r.exit_code == 0, r.output
    assert r.stderr == ""
    out = json.loads(r.stdout)
    assert {t["task"]: t["status"] for t in out["tasks"]} == {"toyset/q1": "up-to-date", "toyset/q2": "up-to-date"}
    assert out["errors"] == {} and out["trained"] == ["toyset/q1"]


def test_every_command_has_quiet():
    for path, cmd in _all_commands():
        if getattr(cmd, "commands", None):
            continue
        assert any("--quiet" in p.opts and "-q" in p.opts for p in cmd.params), path


# ------------------------------------------------------------------ items 11, 12: runs and compare

def test_runs_lists_sorts_and_json(synth_runs):
    root, _ = synth_runs
    r = invoke("runs", root / "runs", "--json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert [x["name"] for x in rows] == ["lam-0", "lam-1"] and rows[1]["l2"] == 1.0
    r = invoke("runs", root / "runs", "--sort", "l2", "--reverse", "--json")
    assert [x["name"] for x in json.loads(r.stdout)] == ["lam-1", "lam-0"]
    r = invoke("runs", root / "runs", env={"COLUMNS": "80"})
    assert r.exit_code == 0 and "lam-0" in r.stdout and "val acc" in r.stdout
    assert max(len(ln) for ln in _lines(r.stdout)) <= 80
    r = invoke("runs", root / "runs", "--sort", "bogus")
    assert r.exit_code == 2 and "val_accuracy" in r.stderr


def test_runs_understands_a_results_tree():
    r = invoke("runs", ROOT / "results", "--json")
    assert r.exit_code == 0
    names = {x["name"] for x in json.loads(r.stdout)}
    assert "tdt4265-a1/2b" in names and "tdt4265-a1/4c/l2-2" in names


def test_compare_shows_what_differs_and_draws_one_figure(synth_runs, tmp_path):
    root, _ = synth_runs
    a, b = root / "runs" / "lam-0", root / "runs" / "lam-1"
    r = invoke("compare", a, b, "--json", "-o", tmp_path / "cmp.png")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["config"] == {"l2": [0.0, 1.0]}  # only what differs
    assert len(out["metrics"]["val_accuracy"]) == 2
    png = (tmp_path / "cmp.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    r = invoke("compare", a, b, env={"COLUMNS": "80"})
    assert r.exit_code == 0 and "l2" in r.stdout and "val accuracy" in r.stdout
    r = invoke("compare", a)
    assert r.exit_code == 2
    r = invoke("compare", a, tmp_path)
    assert r.exit_code == 2 and "not a run directory" in r.stderr


def test_curves_read_every_layout():
    from linclf_cli.runs.catalog import curves, load_run

    c = curves(load_run(ROOT / "results" / "tdt4265-a1" / "2b"))
    assert c["train_loss"][0] == "step" and len(c["train_loss"][2]) == 1550  # per step, not per check
    assert "val_accuracy" in c
