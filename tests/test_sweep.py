"""`linclf sweep` with the local executor on a tiny synthetic IDX folder: spec validation,
determinism across worker counts, resuming after kill -9, a widened grid, results, figures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from linclf_cli.cli.app import build_app
from linclf_cli.data.synthetic import write_idx_folder
from linclf_cli.errors import UsageError
from linclf_cli.sweeps import spec as sweep_spec

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]


def write_idx(folder: Path, n_train: int = 300, n_test: int = 80, seed: int = 0) -> Path:
    """Four noisy 12x12 classes: easy but not trivially separable (metrics differ per point)."""
    return write_idx_folder(folder, n_train, n_test, side=12, n_classes=4, signal=0.3, mean=100.0, seed=seed)


@pytest.fixture(scope="module")
def idx(tmp_path_factory) -> Path:
    return write_idx(tmp_path_factory.mktemp("sweepdata") / "idx")


def sweep(args, out: Path, idx: Path, extra=()) -> tuple:
    r = runner.invoke(build_app(only="sweep"), ["sweep", "--data", str(idx), "--model", "linear",
                                                "--epochs", "2", *map(str, args), "-o", str(out),
                                                "--json", *extra])
    return r


def ok(args, out, idx, extra=()) -> dict:
    r = sweep(args, out, idx, extra)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def files_of(out: Path) -> dict[str, bytes]:
    """Every point's files except run.json (timings, argv), by relative path."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.glob("p-*/*"))
            if p.name != "run.json"}


GRID = ["-g", "learning_rate=0.005,0.05", "-g", "l2=0,0.01"]


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("args, words", [
    (["-g", "learnin_rate=0.1"], ["learnin_rate", "Allowed", "learning_rate"]),
    (["-g", "learning_rate=fast"], ["learning_rate", "'fast'", "a number"]),
    (["-g", "optimizer=sgd,adamw"], ["optimizer", "'adamw'", "sgd, adam"]),
    (["-g", "batch_size=1.5"], ["batch_size", "'1.5'", "an integer"]),
    (["-g", "learning_rate="], ["empty grid", "learning_rate"]),
    (["-g", "learning_rate"], ["NAME=VALUES"]),
    ([], ["The sweep is empty"]),
    (["--random", "4"], ["no space"]),
    (["--space", "l2=log:1e-5:1e-1"], ["needs --random"]),
    (["--random", "4", "--space", "l2=log:-1:1"], ["LOW > 0"]),
    (["--random", "4", "--space", "l2=cube:1:2"], ["l2", "'cube:1:2'", "a number"]),
    (["--random", "4", "--space", "head=log:1:2"], ["numeric option", "head"]),
    (["--random", "2", "--space", "l2=lin:0:1", "-g", "learning_rate=0.1"], ["not both"]),
    (["-g", "learning_rate=0.1", "--select", "test_accuracy"], ["--select", "test"]),
    (["-g", "l2=0,1", "--l2", "0.5"], ["both fixed and swept"]),
    (["-g", "learning_rate=0.1", "--executor", "spark"], ["--executor", "local, dask"]),
    (["-g", "learning_rate=0.1", "--executor", "dask"], ["--scheduler", "LINCLF_DASK_SCHEDULER"]),
    (["-g", "learning_rate=-1"], ["learning rate must be a positive number"]),
])
def test_bad_input_is_a_usage_error_naming_it(args, words, tmp_path, idx, monkeypatch):
    monkeypatch.delenv("LINCLF_DASK_SCHEDULER", raising=False)
    r = sweep(args, tmp_path / "s", idx)
    assert r.exit_code == 2, r.output
    text = " ".join(r.output.split())
    for w in words:
        assert w in text, (w, text)
    assert "Traceback" not in r.output and not (tmp_path / "s").exists()


@pytest.mark.parametrize("doc, words", [
    ({"grid": {"learning_rate": [0.1]}, "fixed": {"modle": "mlp"}}, ["fixed", "'modle'", "Allowed"]),
    ({"grid": {}}, ["empty grid"]),
    ({"grid": {"hidden": [["a"]]}, "fixed": {"model": "mlp"}}, ["hidden", "integers"]),
    ({"random": 3}, ["no space"]),
    ({"random": 3, "space": {"l2": "log:1e-3"}}, ["log:LOW:HIGH"]),
    ({"grid": {"l2": [0]}, "seeds": 3}, ["unknown key 'seeds'"]),
    ("just text", ["expected a mapping"]),
])
def test_bad_spec_files(doc, words, tmp_path, idx):
    f = tmp_path / "sweep.yaml"
    f.write_text(yaml.safe_dump(doc))
    r = sweep(["--spec", f], tmp_path / "s", idx)
    assert r.exit_code == 2, r.output
    text = " ".join(r.output.split())
    for w in words:
        assert w in text, (w, text)


def test_values_are_typed_and_spaces_drawn_deterministically():
    assert sweep_spec.value("hidden", "128x64", "--grid") == [128, 64]
    assert sweep_spec.value("flip", "true", "--set") is True
    assert sweep_spec.canonical("lr", "--grid") == "learning_rate"
    s = sweep_spec.SweepSpec(fixed={"data": "mnist"}, random=5,
                             space=[sweep_spec.parse_space("learning_rate", "log:1e-4:1e-2", "x"),
                                    sweep_spec.parse_space("batch_size", "lin:10:100", "x"),
                                    sweep_spec.parse_space("optimizer", "sgd,adam", "x")]).check()
    a, b = s.value_sets(), s.value_sets()
    assert a == b and len(a) == 5
    assert all(1e-4 <= v["learning_rate"] <= 1e-2 and isinstance(v["batch_size"], int) for v in a)
    assert {v["optimizer"] for v in a} <= {"sgd", "adam"}
    s2 = sweep_spec.SweepSpec(**{**s.__dict__, "seed": 1})
    assert s2.value_sets() != a  # the sweep seed drives the draws
    # a point's seed depends on its values and the sweep seed, not on the other points
    assert sweep_spec.point_seed(0, {"l2": 0.1}) == sweep_spec.point_seed(0, {"l2": 0.1})
    assert sweep_spec.point_seed(0, {"l2": 0.1}) != sweep_spec.point_seed(1, {"l2": 0.1})
    with pytest.raises(UsageError):
        sweep_spec.value("model", "cnn", "--grid")


# ----------------------------------------------------------------------------- runs


def test_grid_is_identical_with_one_and_two_workers(tmp_path, idx):
    s1 = ok([*GRID, "-j", "1"], tmp_path / "a", idx)
    s2 = ok([*GRID, "-j", "2"], tmp_path / "b", idx)
    assert s1["n_points"] == s2["n_points"] == 4 and s1["n_done"] == s2["n_done"] == 4
    fa, fb = files_of(tmp_path / "a"), files_of(tmp_path / "b")
    assert len(fa) >= 4 * 6 and fa == fb
    assert (tmp_path / "a" / "sweep.csv").read_bytes() == (tmp_path / "b" / "sweep.csv").read_bytes()
    # every point has its own derived seed; the best point maximises val accuracy
    seeds = [p["seed"] for p in s1["points"]]
    assert len(set(seeds)) == 4
    best = max(s1["points"], key=lambda p: p["val_accuracy"])
    assert s1["best"]["val_accuracy"] == best["val_accuracy"]
    # linclf runs sees the points as run directories
    r = runner.invoke(build_app(only="runs"), ["runs", str(tmp_path / "a"), "--json"])
    assert r.exit_code == 0 and len(json.loads(r.stdout)) == 4
    # linclf compare takes the sweep folder as its points
    r = runner.invoke(build_app(only="compare"), ["compare", str(tmp_path / "a"), "--json"])
    assert r.exit_code == 0, r.output
    c = json.loads(r.stdout)
    assert len(c["runs"]) == 4 and {"learning_rate", "l2", "seed"} <= set(c["config"])


def test_select_min_and_same_seed(tmp_path, idx):
    s = ok([*GRID, "-j", "1", "--select", "val_loss", "--same-seed", "--seed", "7"], tmp_path / "a", idx)
    assert s["mode"] == "min" and {p["seed"] for p in s["points"]} == {7}
    assert s["best"]["val_loss"] == min(p["val_loss"] for p in s["points"])


def test_rerun_skips_and_a_widened_grid_trains_only_new_points(tmp_path, idx):
    out = tmp_path / "s"
    ok(["-g", "learning_rate=0.005,0.05", "-j", "1"], out, idx)
    before = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("p-*/metrics.json")}
    again = ok(["-g", "learning_rate=0.005,0.05", "-j", "1"], out, idx)
    assert again["n_done"] == 2
    wide = ok(["-g", "learning_rate=0.005,0.05,0.02", "-j", "1"], out, idx)
    after = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("p-*/metrics.json")}
    assert len(before) == 2 and len(after) == 3 and wide["n_points"] == 3
    assert {k: after[k] for k in before} == before  # the two original points were not retrained
    assert [p["learning_rate"] for p in wide["points"]] == [0.005, 0.05, 0.02]


def test_figures_are_drawn_and_not_blank(tmp_path, idx):
    from PIL import Image

    s = ok([*GRID, "-j", "1"], tmp_path / "a", idx)
    names = set(s["files"])
    assert {"val_accuracy_vs_learning_rate.png", "val_accuracy_vs_l2.png", "val_accuracy_heatmap.png",
            "top_curves.png"} <= names
    for f in names - {"sweep.csv", "spec.yaml"}:
        px = np.asarray(Image.open(tmp_path / "a" / f).convert("L"), float)
        assert px.var() > 50, f  # axes, points, text: far from a blank image


def test_random_search_from_a_spec_file(tmp_path, idx):
    f = tmp_path / "sweep.yaml"
    f.write_text(yaml.safe_dump({"fixed": {"batch_size": 50}, "random": 3, "seed": 3,
                                 "space": {"learning_rate": "log:1e-3:1e-1", "l2": [0, 0.001]}}))
    s = ok(["--spec", f, "-j", "1"], tmp_path / "a", idx)
    assert s["n_points"] == 3 and all(1e-3 <= p["learning_rate"] <= 0.1 for p in s["points"])
    cfg = yaml.safe_load(next((tmp_path / "a").glob("p-*/config.yaml")).read_text())
    assert cfg["batch_size"] == 50 and cfg["kind"] == "train"
    dry = runner.invoke(build_app(only="sweep"), ["sweep", "--spec", str(f), "--data", str(idx),
                                                  "--model", "linear", "--epochs", "2", "-o",
                                                  str(tmp_path / "a"), "--dry-run", "--json"])
    assert dry.exit_code == 0 and {p["status"] for p in json.loads(dry.stdout)["points"]} == {"done"}


def test_kill_9_mid_sweep_then_resume(tmp_path, idx):
    """SIGKILL the sweep after its first published point; the rerun keeps every published
    point as it was, trains the rest, and leaves one directory per point, no temporaries."""
    out = tmp_path / "s"
    args = [sys.executable, "-m", "linclf_cli", "sweep", "--data", str(idx), "--model", "linear",
            "--epochs", "30", "-g", "learning_rate=0.001,0.002,0.003,0.004,0.005", "-j", "1",
            "-o", str(out), "-q"]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(args, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while not list(out.glob("p-*/job.json")):
            assert proc.poll() is None, "the sweep ended before it could be killed"
            assert time.time() < deadline, "no point was published within 120 s"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    published = {p.parent.name: (p.parent / "metrics.json").stat().st_mtime_ns
                 for p in out.glob("p-*/job.json")}
    assert 1 <= len(published) < 5
    r = subprocess.run(args[:-1] + ["--json"], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["n_done"] == 5
    for name, mtime in published.items():
        assert (out / name / "metrics.json").stat().st_mtime_ns == mtime, name  # not retrained
    assert len(list(out.glob("p-*"))) == 5
    assert not [p for p in out.iterdir() if p.name.startswith(".") and p.name != ".linclf.lock"]


def _drawn(monkeypatch):
    """Capture each figure's axes facts before save_figure clears it."""
    from linclf_cli.sweeps import figures

    seen = []
    real = figures.save_figure

    def inspect(fig, path, **kw):
        fig.canvas.draw()
        ax = fig.axes[0]
        legend = ax.get_legend()
        seen.append({"lines": [(ln.get_label(), list(ln.get_xdata()), list(ln.get_ydata())) for ln in ax.lines],
                     "legend_title": legend.get_title().get_text() if legend else None,
                     "texts": [(t.get_text(), t.get_color()) for t in ax.texts]})
        return real(fig, path, **kw)

    monkeypatch.setattr(figures, "save_figure", inspect)
    return figures, seen


GRID_ROWS = [{"learning_rate": lr, "l2": l2, "val_accuracy": acc}
             for (lr, l2), acc in zip([(a, b) for a in (1e-3, 1e-2) for b in (0.5, 0.1, 0.0)],
                                      [0.40, 0.41, 0.42, 0.50, 0.52, 0.47])]


def test_metric_against_one_option_draws_a_line_per_value_of_the_other(tmp_path, monkeypatch):
    figures, seen = _drawn(monkeypatch)
    figures.metric_vs(tmp_path, "l2", "val_accuracy", GRID_ROWS, other="learning_rate")
    (f,) = seen
    assert f["legend_title"] == "learning rate"
    assert [(lab, xs, ys) for lab, xs, ys in f["lines"]] == [
        ("0.001", [0.0, 0.1, 0.5], [0.42, 0.41, 0.40]),  # each line in the order of its x values
        ("0.01", [0.0, 0.1, 0.5], [0.47, 0.52, 0.50])]
    figures.metric_vs(tmp_path, "l2", "val_accuracy", GRID_ROWS)  # no other option: points only
    assert len(seen[1]["lines"]) == 1 and seen[1]["legend_title"] is None


def test_heatmap_labels_are_dark_on_bright_cells_and_white_on_dark(tmp_path, monkeypatch):
    figures, seen = _drawn(monkeypatch)
    figures.heatmap(tmp_path, "learning_rate", "l2", "val_accuracy", GRID_ROWS)
    colors = dict(seen[0]["texts"])
    assert colors["0.52"] == "black" and colors["0.4"] == "white"  # viridis: yellow top, purple bottom
