"""``linclf verify``: rerun tasks from scratch and compare with committed results.

A tiny task file (a synthetic gradient check, the AML toy network with its loss figure, and an
MNIST training whose data is absent) is run once into a "committed" results folder; each test
copies that folder, forges or damages something, and checks what verify says.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from linclf_cli.cli.app import build_app
from linclf_cli.data import locate
from linclf_cli.tasks import verify as V

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()

TASKS = {"version": 1, "assignments": [{"id": "t", "title": "T", "tasks": [
    {"id": "g", "title": "gradcheck", "command": "gradcheck",
     "args": {"models": ["binary"], "l2": [0.0], "synthetic": True, "seed": 0},
     "expect": [{"metric": "max_abs_error", "max": 1e-6}]},
    {"id": "toy", "title": "toy", "command": "toy",
     "args": {"learning_rate": 0.1, "reg": 5.0e-6, "num_iters": 20, "batch_size": 200,
              "learning_rate_decay": 0.95, "h": 1.0e-5, "seed": 0},
     "expect": [{"metric": "toy_final_loss", "max": 5.0}]},
    {"id": "m", "title": "needs MNIST", "command": "train",
     "args": {"model": "binary", "epochs": 1, "seed": 0},
     "expect": [{"metric": "val_accuracy", "min": 0.9}]},
]}]}


def invoke(*args):
    return runner.invoke(build_app(only=str(args[0])), [str(a) for a in args])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The tiny task file and its committed results (MNIST absent: t/m is not run)."""
    root = tmp_path_factory.mktemp("verify")
    tf = root / "tasks.yaml"
    tf.write_text(yaml.safe_dump(TASKS, sort_keys=False))
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("LINCLF_DATA_DIR", raising=False)
        mp.setattr(locate, "cache_dir", lambda: root / "no-cache")
        r = invoke("run", "--all", "--tasks-file", tf, "--results-dir", root / "committed",
                   "--data-dir", root / "no-data", "-j", "1")
    assert r.exit_code == 0, r.output
    assert (root / "committed" / "t" / "toy" / "toy_loss.png").is_file()
    assert not (root / "committed" / "t" / "m").exists()
    return tf, root / "committed"


@pytest.fixture
def copy(world, tmp_path, monkeypatch):
    """(tasks file, a private copy of the committed results, a verify runner)."""
    monkeypatch.delenv("LINCLF_DATA_DIR", raising=False)
    monkeypatch.setattr(locate, "cache_dir", lambda: tmp_path / "no-cache")
    tf, committed = world
    res = tmp_path / "results"
    shutil.copytree(committed, res, symlinks=True)

    def verify(*args):
        return invoke("verify", "--tasks-file", tf, "--results-dir", res,
                      "--data-dir", tmp_path / "no-data", "-j", "1", *args)

    return tf, res, verify


def edit_json(path: Path, fn) -> None:
    doc = json.loads(path.read_text())
    fn(doc)
    path.write_text(json.dumps(doc, indent=2))


def test_identical_results_exit_0_and_not_run_tasks_are_reported(copy):
    _, res, verify = copy
    r = verify()
    assert r.exit_code == 0, r.output
    assert "2 tasks identical" in r.output and "1 not run" in r.output
    assert "not-run t/m" in r.output and "mnist data not found" in r.output


def test_forged_metric_names_task_metric_and_both_values(copy):
    _, res, verify = copy
    edit_json(res / "t" / "toy" / "task.json", lambda d: d["metrics"].update(toy_final_loss=17.0))
    r = verify("toy")
    assert r.exit_code == 1, r.output
    true = json.loads((res / "t" / "toy" / "metrics.json").read_text())["toy_final_loss"]
    c, g = V.fmt_pair(17.0, true)
    assert f"1 differs: t/toy toy_final_loss {c} vs {g}" in r.output


def test_forged_expectation_and_integer_are_differences(copy):
    _, res, verify = copy

    def forge(d):
        d["expectations"][0]["passed"] = False
        d["passed"] = False
        d["metrics"]["n_parameters"] = d["metrics"].get("n_parameters", 0) + 1
    edit_json(res / "t" / "g" / "task.json", forge)
    r = verify("g", "--json")
    assert r.exit_code == 1
    (v,) = json.loads(r.stdout)
    whats = {d["what"] for d in v["differences"]}
    assert v["task"] == "t/g" and v["status"] == "differs"
    assert "expectations[0] max_abs_error <= 1e-06.passed" in whats and "passed" in whats
    assert "n_parameters" in whats


def draw_dot(path: Path, size: int = 20) -> None:
    with Image.open(path) as im:
        im = im.convert("RGB")
    d = ImageDraw.Draw(im)
    w, h = im.size
    d.ellipse([w // 2 - size, h // 2 - size, w // 2 + size, h // 2 + size], fill=(255, 0, 0))
    im.save(path)


def test_altered_figure_is_named(copy):
    _, res, verify = copy
    draw_dot(res / "t" / "toy" / "toy_loss.png")
    r = verify("toy", "--json")
    assert r.exit_code == 1
    (v,) = json.loads(r.stdout)
    (d,) = v["differences"]
    assert d["what"] == "figure toy_loss.png" and "RMS" in d["detail"]
    # nothing was written beside the committed figure (compare_images writes diff images)
    assert sorted(p.name for p in (res / "t" / "toy").glob("*.png")) == ["toy_loss.png"]


def test_figure_of_another_size_is_a_difference_not_a_crash(copy):
    _, res, verify = copy
    p = res / "t" / "toy" / "toy_loss.png"
    with Image.open(p) as im:
        w, h = im.size
        im.resize((w // 2, h // 2)).save(p)
    r = verify("toy")
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "image sizes differ" in r.output and f"{w // 2}x{h // 2}" in r.output


def test_missing_garbage_and_linked_figures(copy, tmp_path):
    _, res, verify = copy
    (res / "t" / "toy" / "toy_loss.png").unlink()
    r = verify("toy", "--json")
    assert r.exit_code == 1
    (v,) = json.loads(r.stdout)
    assert {"what": "figure toy_loss.png", "committed": None, "regenerated": None,
            "detail": "missing in the committed results"} in v["differences"]
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"not a png")
    (res / "t" / "toy" / "toy_loss.png").symlink_to(outside)
    r = verify("toy")
    assert r.exit_code == 1 and "symbolic link" in r.output


def test_against_an_already_regenerated_tree(copy, world):
    tf, res, verify = copy
    _, committed = world
    r = verify("--against", committed)
    assert r.exit_code == 0, r.output
    edit_json(res / "t" / "g" / "metrics.json", lambda d: d.update(max_abs_error=0.5))
    r = verify("--against", committed)
    assert r.exit_code == 1 and "metrics.json: max_abs_error" in r.output


def test_strict_counts_uncommitted_and_unrunnable_tasks(copy):
    _, res, verify = copy
    shutil.rmtree(res / "t" / "g")
    r = verify("g")
    assert r.exit_code == 0 and "not-committed t/g" in r.output
    assert verify("g", "--strict").exit_code == 1
    # committed, but its data is missing here
    (res / "t" / "m").mkdir()
    (res / "t" / "m" / "task.json").write_text(json.dumps({"task": "t/m", "metrics": {}}))
    r = verify("m")
    assert r.exit_code == 0 and "cannot be rerun here" in r.output
    assert verify("m", "--strict").exit_code == 1


@pytest.mark.parametrize("args, words", [
    (["--against", "/nonexistent/dir"], "is not a folder"),
    (["--rtol", "-1"], "--rtol must be"),
    (["--against", ".", "--keep", "x"], "cannot be combined"),
    (["nosuchtask"], "Unknown task"),
])
def test_usage_errors_exit_2(copy, args, words):
    _, _, verify = copy
    r = verify(*args)
    assert r.exit_code == 2, r.output
    assert words in r.output and "Traceback" not in r.output


def test_keep_refuses_a_folder_with_files_and_keeps_a_new_one(copy, tmp_path):
    _, _, verify = copy
    full = tmp_path / "full"
    full.mkdir()
    (full / "mine.txt").write_text("keep me")
    r = verify("g", "--keep", full)
    assert r.exit_code == 2 and (full / "mine.txt").read_text() == "keep me"
    r = verify("g", "--keep", tmp_path / "kept")
    assert r.exit_code == 0 and (tmp_path / "kept" / "t" / "g" / "task.json").is_file()


def test_compare_values_rules():
    tol = V.Tolerance(atol=1e-6, rtol=1e-5)
    assert V.compare_values({"a": 1.0, "n": 3}, {"a": 1.0 + 5e-6, "n": 3}, "", tol) == []
    found = {p: (a, b) for p, a, b, _ in V.compare_values(
        {"a": 1.0, "n": 3, "b": True, "s": "x", "gone": 1, "l": [1, 2]},
        {"a": 1.001, "n": 4, "b": 1, "s": "y", "new": 2, "l": [1]}, "", tol)}
    assert found == {"a": (1.0, 1.001), "n": (3, 4), "b": (True, 1), "s": ("x", "y"),
                     "gone": (1, None), "new": (None, 2), "l": ("2 items", "1 items")}
    assert V.compare_values({"x": float("nan")}, {"x": float("nan")}, "", tol) == []
    assert V.fmt_pair(0.0650910, 0.0702) == ("0.0651", "0.0702")
    assert V.fmt_pair(0.06509106, 0.06509206) == ("0.0650911", "0.0650921")


@pytest.mark.realdata
def test_committed_2b_reproduces(data_dir):
    r = invoke("verify", "tdt4265-a1/2b", "--tasks-file", ROOT / "tasks.yaml",
               "--results-dir", ROOT / "results", "--data-dir", data_dir, "-j", "1")
    assert r.exit_code == 0, r.output
    assert "1 task identical" in r.output


def test_verify_finds_the_tasks_file_like_run(tmp_path, monkeypatch):
    # no tasks.yaml in the current directory: verify uses the copy shipped with linclf, as run does
    monkeypatch.delenv("LINCLF_DATA_DIR", raising=False)
    monkeypatch.setattr(locate, "cache_dir", lambda: tmp_path / "no-cache")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    r = invoke("run", "aml-a2/q1", "-j", "1")
    assert r.exit_code == 0, r.output
    assert (elsewhere / "results" / "aml-a2" / "q1" / "task.json").is_file()
    r = invoke("verify", "aml-a2/q1", "-j", "1")
    assert r.exit_code == 0, r.output
    assert "shipped with linclf" in r.output and "1 task identical" in " ".join(r.output.split())
    assert not (elsewhere / "tasks.yaml").exists()
