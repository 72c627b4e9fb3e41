"""Seed studies (linclf run TASK --seeds N, command: seeds): seeds, summary, worker count."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from linclf_cli.cli.app import app
from linclf_cli.errors import UsageError
from linclf_cli.tasks import seeds
from linclf_cli.tasks.schema import load_task_file
from linclf_cli.tasks.typed import ConfigError

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
TOY_ARGS = {"learning_rate": 0.1, "reg": 5.0e-6, "num_iters": 30, "batch_size": 200,
            "learning_rate_decay": 0.95, "h": 1.0e-5, "seed": 0, "rng": "legacy"}


def tasks_file(tmp_path, extra=()) -> Path:
    doc = {"version": 1, "assignments": [{"id": "t", "title": "T", "tasks": [
        {"id": "toy", "title": "toy", "command": "toy", "args": dict(TOY_ARGS),
         "expect": [{"metric": "toy_final_loss", "max": 1.0}]},
        {"id": "grad", "title": "g", "command": "gradcheck",
         "args": {"models": ["binary"], "l2": [0.0], "eps": 1.0e-3, "seed": 0, "synthetic": True},
         "expect": [{"metric": "passed", "is_true": True}]},
        *extra]}]}
    p = tmp_path / "tasks.yaml"
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    return p


def test_derived_seeds_are_a_function_of_the_task_seed_only():
    a = seeds.derive_seeds(0, 20)
    assert a == seeds.derive_seeds(0, 20) and len(set(a)) == 20
    assert seeds.derive_seeds(0, 5) == a[:5]  # a longer study extends a shorter one
    assert seeds.derive_seeds(1, 5) != a[:5]
    assert all(0 <= s < 2 ** 32 for s in a)  # valid RandomState seeds


@pytest.mark.parametrize("n", [0, -1, 1001, 2.5, True, "20"])
def test_bad_number_of_seeds(n):
    with pytest.raises(UsageError, match="seeds"):
        seeds.check_n(n)


def test_metric_summary():
    s = seeds.metric_summary(16, [15, 18, 20, None, 30])
    assert (s["median"], s["min"], s["max"], s["n"], s["n_missing"]) == (19.0, 15.0, 30.0, 4, 1)
    assert s["course_within_range"] is True and s["course_percentile"] == 0.25
    assert seeds.metric_summary(None, [None])["median"] is None


def test_seed_study_identical_with_one_and_two_workers(tmp_path):
    tf = tasks_file(tmp_path)
    out = {}
    for j in (1, 2):
        res = tmp_path / f"res{j}"
        r = runner.invoke(app, ["run", "toy", "--seeds", "4", "-j", str(j), "-f", str(tf), "-r", str(res)])
        assert r.exit_code == 0, r.output
        d = res / "t" / "toy-seeds"
        out[j] = (json.loads((d / "task.json").read_text())["metrics"], (d / "seeds.csv").read_text())
        assert (d / "seeds.png").is_file()
        assert sorted(p.name for p in d.iterdir() if p.is_dir()) == ["course", "seed-00", "seed-01", "seed-02", "seed-03"]
    assert out[1] == out[2]
    m = out[1][0]
    assert m["n_seeds"] == 4 and m["seeds"] == list(seeds.derive_seeds(0, 4))
    assert m["metrics"]["toy_initial_loss"]["course"] == pytest.approx(1.2419938024915662, abs=1e-15)
    finals = [float(row.split(",")[header.index("toy_final_loss")])
              for header in [out[1][1].splitlines()[0].split(",")] for row in out[1][1].splitlines()[2:]]
    assert m["metrics"]["toy_final_loss"]["median"] == pytest.approx(float(np.median(finals)))
    assert len(set(finals)) == 4  # the seeds really draw different batches


def test_seeds_task_in_a_tasks_file_is_the_cli_study(tmp_path):
    entry = {"id": "toy-seeds", "title": "spread", "command": "seeds",
             "args": {"command": "toy", "args": dict(TOY_ARGS), "seeds": 3},
             "expect": [{"metric": "n_seeds", "equals": 3}]}
    tf = tasks_file(tmp_path, [entry])
    res = tmp_path / "res"
    assert runner.invoke(app, ["run", "toy-seeds", "-f", str(tf), "-r", str(res)]).exit_code == 0
    r = runner.invoke(app, ["run", "toy", "--seeds", "3", "-f", str(tf), "-r", str(res), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout[r.stdout.index("{"):])["trained"] == []  # the same study: nothing reruns
    # another number of seeds gets its own folder, next to the tasks file's study
    assert runner.invoke(app, ["run", "toy", "--seeds", "2", "-f", str(tf), "-r", str(res)]).exit_code == 0
    assert (res / "t" / "toy-seeds2" / "task.json").is_file()


@pytest.mark.parametrize("argv, words", [
    (["run", "toy", "--seeds", "0"], ["--seeds", "between 1 and 1000"]),
    (["run", "grad", "--seeds", "3"], ["training tasks", "gradcheck"]),
    (["run", "--all", "--seeds", "3"], ["--seeds needs the training tasks named"]),
])
def test_bad_seed_requests_are_usage_errors(tmp_path, argv, words):
    r = runner.invoke(app, argv + ["-f", str(tasks_file(tmp_path)), "-r", str(tmp_path / "res")])
    assert r.exit_code == 2, r.output
    for w in words:
        assert w in r.output
    assert "Traceback" not in r.output


@pytest.mark.parametrize("args, words", [
    ({"command": "toy", "args": TOY_ARGS, "seeds": 0}, ["seeds", "between 1 and 1000"]),
    ({"command": "gradcheck", "args": {}, "seeds": 3}, ["trains one run"]),
    ({"command": "toy", "args": TOY_ARGS, "seeds": 3, "colour": 1}, ["unknown key 'colour'"]),
    ({"command": "toy", "seeds": 3}, ["needs 'args'"]),
])
def test_bad_seeds_entries_are_config_errors(args, words):
    with pytest.raises(ConfigError) as e:
        seeds.SeedsHandler().parse_args(args, "tasks.yaml:t/x.args")
    for w in words:
        assert w in str(e.value)


def test_repository_seed_studies_reuse_the_tasks_own_arguments():
    refs = load_task_file(ROOT / "tasks.yaml").by_ref()
    for t in ("2e", "3b"):
        study = refs[f"tdt4265-a1/{t}-seeds"]
        assert study.spec.args["args"] == refs[f"tdt4265-a1/{t}"].spec.args
        assert study.spec.args["seeds"] == 20
    assert "tdt4265-a1/3b-seeds" in refs["tdt4265-a1/3d"].uses
    assert "tdt4265-a1/3b-seeds" in refs["tdt4265-a1/4d"].uses


def test_histograms_count_in_whole_seeds_and_keep_the_legend_off_the_bars(tmp_path, monkeypatch):
    from linclf_cli.plots import images
    from linclf_cli.tasks.seeds import histogram_figure

    seen = []
    real = images.save_figure

    def inspect(fig, path, **kw):  # save_figure clears the figure: look before
        fig.canvas.draw()
        axes = [ax for ax in fig.axes]
        seen.append({
            "ticks": [[t for t in ax.get_yticks() if ax.get_ylim()[0] <= t <= ax.get_ylim()[1]] for ax in axes],
            "panel_legends": [ax.get_legend() for ax in axes],
            "legends": [([t.get_text() for t in lg.get_texts()], lg.get_window_extent()) for lg in fig.legends],
            "panels": [ax.get_window_extent() for ax in axes]})
        return real(fig, path, **kw)

    monkeypatch.setattr(images, "save_figure", inspect)
    epochs = [15, 18, 18, 19, 21, 22, 22, 22, 23, 24, 24, 24, 27, 27, 27, 29, 29, 33, 35, 23]
    acc = [0.975 + 0.0002 * i for i in range(20)]
    histogram_figure(tmp_path / "seeds.png", {"stopped_epoch": (epochs, 16), "val_accuracy": (acc, 0.9765)},
                     "20 seeds")
    (f,) = seen
    for ticks in f["ticks"]:
        assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks), ticks
    assert f["panel_legends"] == [None, None]  # inside a panel it covered bars
    ((labels, box),) = f["legends"]
    assert labels == ["20 seeds", "median", "course stream"]
    assert all(box.y1 <= p.y0 for p in f["panels"])  # below every panel


def test_the_spread_table_gives_counts_in_whole_units_and_accuracies_in_points():
    from linclf_cli.assignments.tdt4265.report import _seed_rows

    summary = {"stopped_epoch": {"course": 16, "median": 23.5, "min": 15, "max": 35, "std": 5.0252},
               "val_accuracy": {"course": 0.9765, "median": 0.9775, "min": 0.9755, "max": 0.9794, "std": 0.00091},
               "val_loss": {"course": 0.0717, "median": 0.0688, "min": 0.0665, "max": 0.0720, "std": 0.00153}}
    rows = {r[0]: r for r in _seed_rows(summary, list(summary), {"val_accuracy"})}
    assert rows["stopped epoch"][4] == "5.0 epochs"
    assert rows["val accuracy"][4] == "0.09 points"
    assert rows["val loss"][4] == "0.0015"
