"""The report reads as prose: metric names in words, conditions as a reader writes them, no
internal spec labels, one "not run" paragraph per assignment, numbered figures, a provenance
section linking every task folder."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from linclf_cli.report import builder
from linclf_cli.report.builder import (Ctx, condition_words, metric_words, task_heading,
                                       without_spec_labels)


@pytest.mark.parametrize("cond, words", [
    (">= 0.5 and <= 0.5", "= 0.5"),
    (">= 0.2 and <= 0.37", "between 0.2 and 0.37"),
    (">= 0.97", "≥ 0.97"),
    ("<= 1e-06", "≤ 1e-06"),
    ("== 4005", "= 4005"),
    ("== False", "false"),
    ("holds", "true"),
    ("is reported", "is reported"),
])
def test_condition_words(cond, words):
    assert condition_words(cond) == words


def test_metric_words_name_sweep_points_by_their_parameter():
    own = {"points": [{"l2": 2.0, "val_accuracy": 0.78}, {"l2": 0.2}, {"l2": 0.02},
                      {"l2": 0.002, "val_accuracy": 0.915}]}
    assert metric_words("points.3.val_accuracy", own) == "validation accuracy (λ = 0.002)"
    assert metric_words("points.0.val_accuracy", own) == "validation accuracy (λ = 2)"
    depths = {"depths": [{"layers": 2}, {"layers": 5}]}
    assert metric_words("depths.1.val_accuracy", depths) == "validation accuracy (5 layers)"
    # without the metrics at hand the position is given, never the raw key path
    assert metric_words("points.3.val_accuracy") == "validation accuracy (entry 4)"


def test_metric_words_for_seed_study_statistics():
    assert metric_words("metrics.stopped_epoch.course") == "early-stop epoch of the course stream's run"
    assert metric_words("metrics.val_accuracy.min") == "smallest validation accuracy over the seeds"
    assert metric_words("metrics.val_accuracy.median") == "median validation accuracy over the seeds"


def test_metric_words_for_dependencies_and_plain_keys():
    assert metric_words("2b:val_accuracy", {}, {"2b": {"val_accuracy": 0.97}}) == "validation accuracy (task 2b)"
    assert metric_words("steps_per_epoch") == "steps per epoch"
    assert metric_words("n_train") == "training examples"
    assert metric_words("some_new_metric") == "some new metric"
    for m in ("points.3.val_accuracy", "2b:val_accuracy", "best_lambda", "largest_single_gain.test_gain"):
        assert "_" not in metric_words(m) and "." not in metric_words(m).replace("0.", ""), m


@pytest.mark.parametrize("task_id, title, heading", [
    ("2b", "Binary logistic regression: training and validation loss",
     "Task 2b: Binary logistic regression: training and validation loss"),
    ("run1", "Run 1: λ = 0, η = 0.1", "Run 1: λ = 0, η = 0.1"),
    ("q3b-tuning", "Q3b: tuning hidden size", "Q3b: tuning hidden size"),
    ("bonus1-grid", "Bonus 2.1: grid search", "Bonus 2.1: grid search"),
    ("4b", "Weights with and without L2 (lambda = 0 and lambda = 2)",
     "Task 4b: Weights with and without L2 (λ = 0 and λ = 2)"),
])
def test_task_heading_no_repeated_prefix_and_lambda_symbol(task_id, title, heading):
    assert task_heading(task_id, title) == heading


def test_spec_labels_are_dropped():
    text = ("Split (B.1): batch 1 for training. Cost J (gradient 2λW, no bias term; E.7). "
            "Initialisation (E.6): N(0, 0.01²). Test images (E.10), (spec C.2), (B.2 a).")
    out = without_spec_labels(text)
    assert not re.search(r"\b[A-F]\.[0-9]+", out), out
    assert "Split: batch 1" in out and "(gradient 2λW, no bias term)" in out


def test_figures_are_numbered_with_their_caption_in_the_same_paragraph(tmp_path):
    plan = SimpleNamespace(dir=tmp_path / "a" / "t")
    ctx = Ctx(tmp_path, {"a/t": plan})
    first = ctx.fig("a/t", "loss.png", "Task t: loss")
    second = ctx.fig("a/t", "acc.png", "Task t: accuracy")
    assert first == "![Task t: loss](a/t/loss.png)\n*__Figure 1:__ Task t: loss*\n"
    assert "__Figure 2:__" in second


def test_figure_markdown_becomes_figure_with_figcaption(tmp_path):
    from matplotlib.figure import Figure

    from linclf_cli.report.html import markdown_to_html

    (tmp_path / "a").mkdir()
    fig = Figure(figsize=(2, 1))
    fig.subplots().plot([0, 1])
    fig.savefig(tmp_path / "a" / "f.png", dpi=100)  # 200 px wide
    ctx = Ctx(tmp_path, {"a/t": SimpleNamespace(dir=tmp_path / "a")})
    doc = markdown_to_html("# R\n\n" + ctx.fig("a/t", "f.png", "the loss"), tmp_path, "r")
    m = re.search(r"<figure>\s*<img ([^>]*)>\s*<figcaption>(.*?)</figcaption>\s*</figure>", doc, re.S)
    assert m, doc[-800:]
    assert 'width="100"' in m.group(1)  # 2x: shown at half its pixel width
    assert "Figure 1:" in m.group(2) and "the loss" in m.group(2)
    assert "<p><em>" not in doc  # the caption is not repeated as a paragraph


def _plan(tmp_path, assignment, tid, status="up-to-date", reason="", expect=(), result=None):
    task = SimpleNamespace(id=tid, ref=f"{assignment}/{tid}", assignment=assignment, expect=list(expect),
                           uses=(), spec=SimpleNamespace(title=f"Title of {tid}"))
    return SimpleNamespace(task=task, status=status, reason=reason, dir=tmp_path / assignment / tid,
                           result=result)


def test_not_run_once_per_assignment_and_provenance(tmp_path):
    exp = SimpleNamespace(metric="test_accuracy", min=0.3, max=None, equals=None, not_null=False,
                          is_true=False, description=None)
    reason = "cifar10 data not found (see `linclf data where`)"
    plans = [_plan(tmp_path, "dd", f"run{i}", "unavailable", reason if i == 1 else f"needs dd/run1: {reason}",
                   [exp]) for i in (1, 2, 3)]
    ok = _plan(tmp_path, "aa", "q1", result={"metrics": {"loss": 1.0}, "expectations": [],
                                             "finished": "2024-05-01T10:00:00Z"})
    plans.append(ok)
    assignments = [SimpleNamespace(id="dd", title="DD", description="Split (B.1): x.",
                                   tasks=[p.task for p in plans[:3]]),
                   SimpleNamespace(id="aa", title="AA", description=None, tasks=[ok.task])]
    tf = SimpleNamespace(assignments=assignments)
    text, exps = builder.build(tf, plans, tmp_path, {"version": "9.9", "commit": "abc123",
                                                     "command": "linclf report dd aa"})
    assert text.count("Not run") == 1, text  # one paragraph, no per-task sections, no per-row badges
    para = next(line for line in text.splitlines() if line.startswith("**Not run:**"))
    assert "CIFAR-10" in para and "run1, run2, run3" in para and "linclf data fetch cifar10" in para
    assert "### Task run1" not in text and "(B.1)" not in text
    assert len([e for e in exps if e["passed"] is None]) == 3
    assert "| dd | 3 expectations of 3 tasks |" in text and "not run" in text
    prov = text[text.index("## Provenance"):]
    assert "2024-05-01 10:00:00 UTC" in prov and "linclf 9.9" in prov and "abc123" in prov
    assert "`linclf report dd aa`" in prov
    assert "[q1](aa/q1/)" in prov  # relative link to the task folder
