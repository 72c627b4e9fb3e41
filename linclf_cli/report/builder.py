"""REPORT.md from the results directory: one section per task, every number read from the
runs (task.json, metrics.json, histories), never typed in.

Each assignment's section writers live in its folder (``assignments/<course>/report.py``),
found through the assignment registry; a task without a writer gets its figures and a
metrics table.  The primitives they share (tables, figure references, escaping) are in
:mod:`linclf_cli.assignments.report_kit`.  Every section ends with the task's
expectations, and the report ends with all of them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from linclf_cli.assignments.registry import report_writers
from linclf_cli.assignments.report_kit import Ctx, fmt, md_escape, md_text, metrics_table, table
from linclf_cli.tasks.expectations import condition_text
from linclf_cli.tasks.scheduler import TaskPlan

METRIC_WORDS = {
    "val_accuracy": "validation accuracy", "train_accuracy": "training accuracy",
    "test_accuracy": "test accuracy", "val_loss": "validation loss", "train_loss": "training loss",
    "n_train": "training examples", "n_val": "validation examples", "n_test": "test examples",
    "n_points": "grid points", "steps": "updates", "steps_per_epoch": "steps per epoch",
    "max_abs_error": "largest |numeric − analytic| gradient entry", "passed": "the starter's tests pass",
    "binary_zero_weight_mean_output": "mean binary output at zero weights",
    "softmax_zero_weight_mean_output": "mean softmax output at zero weights",
    "one_hot_sums_to_one": "every one-hot row sums to 1", "stopped_epoch": "early-stop epoch",
    "accuracy_gap": "training − validation accuracy", "weight_sum_of_squares": "‖W‖² (sum of squares)",
    "best_l2": "best λ (l2)", "norm_decreases_with_l2": "‖W‖² falls as λ (l2) grows",
    "train_cost_epoch1": "training cost after epoch 1", "test_gain": "test-accuracy gain",
    "largest_single_gain": "largest single change", "max_test_accuracy": "best test accuracy",
    "best_val_accuracy": "best validation accuracy", "best_test_accuracy": "test accuracy of the selected point",
    "correct_more_confident": "correct predictions more confident",
    "forward_abs_diff": "Σ |scores − correct scores|", "loss_abs_diff": "|loss − correct loss|",
    "gradcheck_max_rel_error": "largest relative gradient error", "toy_final_loss": "final toy training loss",
    "at_chance": "stays at chance",
}
_TOKEN_WORDS = {"val": "validation", "train": "training", "acc": "accuracy", "n": "number of",
                "lam": "λ", "lambda": "λ", "eta": "η", "abs": "absolute", "rel": "relative"}


def _words(key: str) -> str:
    return METRIC_WORDS.get(key) or " ".join(_TOKEN_WORDS.get(w, w) for w in key.split("_"))


def _point_label(item) -> str | None:
    if not isinstance(item, dict):
        return None
    for k, shown in (("l2", "λ = {:g}"), ("layers", "{} layers"), ("label", "{}"), ("name", "{}")):
        if k == "l2" and "name" in item:  # a grid point (named) is labelled by its name
            continue
        if item.get(k) is not None:
            return shown.format(item[k])
    return None


_SEED_STATS = {"course": "course", "median": "median", "min": "smallest",
               "max": "largest", "std": "standard deviation"}


def metric_words(metric: str, own: dict | None = None, deps: dict[str, dict] | None = None) -> str:
    """``points.3.val_accuracy`` -> "validation accuracy (λ = 0.002)"; ``2b:val_accuracy`` ->
    "validation accuracy of task 2b". List items are named by their λ, depth or label when the
    metrics at hand say which; otherwise by their position."""
    dep, _, path = metric.rpartition(":")
    metrics = (deps or {}).get(dep, {}) if dep else (own or {})
    parts = path.split(".")
    words: list[str] = []
    where: list[str] = []
    cur = metrics
    for part in parts:
        if part.lstrip("-").isdigit():
            item = cur[int(part)] if isinstance(cur, list) and -len(cur) <= int(part) < len(cur) else None
            where.append(_point_label(item) or f"entry {int(part) + 1}")
            cur = item
        else:
            words.append(_words(part))
            cur = cur.get(part) if isinstance(cur, dict) else None
    # "points.3.val_accuracy" -> the last word is the quantity, the container name adds nothing
    stat = _SEED_STATS.get(parts[-1]) if len(parts) == 3 and parts[0] == "metrics" else None
    if stat is not None:  # a seed study's "metrics.<metric>.<statistic>"
        text = (f"{words[1]} of the course stream's run" if parts[-1] == "course"
                else f"{stat} {words[1]} over the seeds")
    elif where:
        text = words[-1]
    else:
        text = " of ".join(reversed(words))
    if where:
        text += f" ({', '.join(where)})"
    if dep:
        text += f" (task {dep.split('/')[-1]})"
    return text


_NUM = r"(-?[0-9.eE+-]+)"


def condition_words(cond: str) -> str:
    """``>= 0.5 and <= 0.5`` -> ``= 0.5``; ``>= 0.2 and <= 0.37`` -> ``0.2 ≤ · ≤ 0.37``;
    ``== 4005`` -> ``= 4005``; ``holds`` -> ``true``."""
    m = re.fullmatch(rf">= {_NUM} and <= {_NUM}", cond or "")
    if m:
        lo, hi = m.groups()
        return f"= {lo}" if float(lo) == float(hi) else f"between {lo} and {hi}"
    text = (cond or "").replace(">=", "≥").replace("<=", "≤").replace("==", "=")
    return {"holds": "true", "= False": "false", "= True": "true"}.get(text, text)


def _descriptions(p: TaskPlan) -> list[str | None]:
    """Each expectation's note as tasks.yaml words it now (the stored copy may be older)."""
    return [e.description for e in p.task.expect]


def expectation_rows(p: TaskPlan, deps: dict[str, dict] | None = None) -> list[list]:
    rows = []
    own = (p.result or {}).get("metrics", {})
    current = _descriptions(p)
    for i, e in enumerate((p.result or {}).get("expectations", [])):
        val = e["value"]
        shown = md_escape(json.dumps(val)) if isinstance(val, (list, dict)) else fmt(val, 6)
        same = i < len(current) and p.task.expect[i].metric == e["metric"]
        note = (current[i] if same else e.get("description")) or ""
        rows.append([md_escape(metric_words(e["metric"], own, deps)), md_escape(condition_words(e["condition"])),
                     shown, "✔ pass" if e["passed"] else "✗ fail", md_text(note)])
    return rows


EXPECT_HEADERS = ["metric", "expected", "measured", "result", "note"]


def default_section(ctx: Ctx, p: TaskPlan) -> list[str]:
    out = []
    for f in sorted(x.name for x in p.dir.glob("*.png")):
        out.append(ctx.fig(p.task.ref, f, f))
    m = ctx.metrics(p.task.ref)
    scalars = [k for k, v in m.items() if isinstance(v, (int, float, str, bool)) or v is None]
    out += metrics_table(m, scalars)
    return out


def build(tf, plans: list[TaskPlan], results: Path, provenance: dict | None = None) -> tuple[str, list[dict]]:
    """Returns the markdown text and every expectation (with task refs)."""
    by_ref = {p.task.ref: p for p in plans}
    ctx = Ctx(results, by_ref)
    lines = ["# linclf report", "",
             "Every figure and number below was produced by `linclf report` from the runs in this "
             "folder; each task's directory holds its configuration (`config.yaml`), provenance "
             "(`run.json`), metrics and history. Conventions are stated where they matter.", ""]
    all_expect: list[dict] = []
    not_run: list[tuple[str, str, int, int]] = []  # (assignment, reason, tasks, expectations)
    for a in tf.assignments:
        tasks = [t for t in a.tasks if t.ref in by_ref]
        if not tasks:
            continue
        lines += [f"## {md_escape(a.title)}", ""]
        if a.description:
            lines += [md_text(without_spec_labels(a.description)), ""]
        missing = [t for t in tasks if by_ref[t.ref].status == "unavailable"]
        if missing:
            lines += _not_run_paragraph(missing, [by_ref[t.ref].reason for t in missing], len(tasks))
            n_exp = sum(len(t.expect) for t in missing)
            not_run.append((a.id, _root_reason(by_ref[missing[0].ref].reason), len(missing), n_exp))
            all_expect += [{"task": t.ref, "metric": e.metric, "passed": None,
                            "condition": condition_text(e), "value": None, "status": "not run"}
                           for t in missing for e in t.expect]
        ran = [t for t in tasks if by_ref[t.ref].status != "unavailable"]
        writers, intro = report_writers(a.id)  # the assignment folder's report.py, if any
        if ran and intro is not None:
            lines += intro(ctx)
        for t in ran:
            p = by_ref[t.ref]
            lines += [f"### {md_escape(task_heading(t.id, t.spec.title))}", ""]
            if p.result is None:
                lines += [f"**Failed:** {md_escape(p.reason)}", ""]
                all_expect += [{"task": t.ref, "metric": e.metric, "passed": False,
                                "condition": condition_text(e), "value": None, "status": "failed"}
                               for e in t.expect]
                continue
            writer = writers.get(t.id, default_section)
            lines += writer(ctx, p)
            rows = expectation_rows(p, _dep_metrics(ctx, t))
            if rows:
                lines += ["**Expectations**", ""] + table(EXPECT_HEADERS, rows)
            for e in p.result.get("expectations", []):
                all_expect.append({"task": t.ref, **e, "status": "pass" if e["passed"] else "fail"})
    lines += ["## Expectations", ""]
    n_fail = sum(1 for e in all_expect if e["passed"] is False)
    n_skip = sum(1 for e in all_expect if e["passed"] is None)
    n_pass = sum(1 for e in all_expect if e["passed"])
    lines += [f"{n_pass} passed, {n_fail} failed" + (f", {n_skip} not run (data missing)" if n_skip else "")
              + ".", ""]
    rows = []
    for e in all_expect:
        if e["status"] == "not run":
            continue  # one line per assignment below, not one per expectation
        p = by_ref[e["task"]]
        badge = {"pass": "✔ pass", "fail": "✗ fail", "failed": "✗ fail"}[e["status"]]
        val = e.get("value")
        rows.append([_task_link(ctx, p), md_escape(metric_words(e["metric"], (p.result or {}).get("metrics", {}),
                                                                _dep_metrics(ctx, p.task))),
                     md_escape(condition_words(e.get("condition", ""))),
                     md_escape(json.dumps(val)) if isinstance(val, (list, dict)) else fmt(val, 6), badge])
    for aid, reason, n_tasks, n_exp in not_run:
        rows.append([aid, f"{n_exp} expectations of {n_tasks} tasks", "", md_escape(reason), "– not run"])
    lines += table(["task", "metric", "expected", "measured", "result"], rows)
    lines += provenance_lines(ctx, plans, provenance or {})
    return "\n".join(lines) + "\n", all_expect


_LABEL = r"(?:spec(?: section)? )?[A-F]\.[0-9]+(?: ?[a-z]\b)?"


def without_spec_labels(text: str) -> str:
    """Drop internal cross-references to the project's spec ("(E.7)", "; E.7)", "(spec B.1)"):
    the surrounding text already says what they mean."""
    text = re.sub(rf"\s*\({_LABEL}(?:[,;] ?{_LABEL})*\)", "", text)
    return re.sub(rf"[;,] ?{_LABEL}(?=\))", "", text)


def task_heading(task_id: str, title: str) -> str:
    """"Task 2b: Binary ..." -- but a title that names itself ("Run 1: ...", "Q3b: ...",
    "Bonus 2.1: ...", "Q4c (He initialisation): ...") is not prefixed again ("Task run1: Run 1: ...")."""
    title = re.sub(r"\blambda\b", "λ", title)
    if re.match(r"^(?:Run|Q|Bonus|Task|Part)\s*[0-9][\w.]*(?:\s*\([^)]*\))?\s*:", title):
        return title
    return f"Task {task_id}: {title}"


def _dep_metrics(ctx: Ctx, task) -> dict[str, dict]:
    """Metrics of the tasks an expectation may name as ``dep:path``, keyed as written."""
    out: dict[str, dict] = {}
    for e in task.expect:
        if ":" in e.metric:
            dep = e.metric.split(":", 1)[0]
            ref = dep if "/" in dep else f"{task.assignment}/{dep}"
            if ref in ctx.plans:
                out[dep] = ctx.metrics(ref)
    return out


def _task_link(ctx: Ctx, p: TaskPlan) -> str:
    return f"[{p.task.ref}]({ctx.rel(p.dir)}/)" if _inside(p.dir, ctx.results) else p.task.ref


def _inside(path: Path, root: Path) -> bool:
    try:
        Path(path).relative_to(root)
    except ValueError:
        return False
    return True


def _root_reason(reason: str) -> str:
    """"needs dd2424-a1/run2: cifar10 data not found (...)" -> "CIFAR-10 data not found"."""
    while reason.startswith("needs ") and ": " in reason:
        reason = reason.split(": ", 1)[1]
    reason = re.sub(r"\s*\(see `linclf data where`\)", "", reason)
    return reason.replace("cifar10", "CIFAR-10").replace("mnist", "MNIST")


def _not_run_paragraph(missing, reasons: list[str], n_tasks: int) -> list[str]:
    """One paragraph per assignment for every task whose data is missing (not one per task)."""
    roots = "; ".join(sorted({_root_reason(r) for r in reasons}))
    names = ", ".join(t.id for t in missing)
    which = (f"none of this assignment's {n_tasks} tasks ({names}) were run" if len(missing) == n_tasks
             else f"{len(missing)} of its {n_tasks} tasks ({names}) were not run")
    how = " ".join(dict.fromkeys(h for h in map(_how_to_get, reasons) if h))
    return [f"**Not run:** {roots}, so {which}. {how}".rstrip(), ""]


def provenance_lines(ctx: Ctx, plans: list[TaskPlan], prov: dict) -> list[str]:
    """The closing section: when the results were made, by which linclf and command, and where
    each task's folder is (links relative to the report)."""
    from linclf_cli import __version__

    finished = sorted((p.result or {}).get("finished", "") for p in plans if p.result)
    finished = [f for f in finished if f]
    out = ["## Provenance", ""]
    if finished:
        when = finished[-1].replace("T", " ").replace("Z", " UTC")
        out.append(f"- Results dated {when} (the newest task result; each run's `run.json` has its own times).")
    out.append(f"- linclf {prov.get('version') or __version__}"
               + (f", git commit `{prov['commit']}`" if prov.get("commit") else ", not from a git checkout")
               + ".")
    if prov.get("command"):
        out.append(f"- Built with `{prov['command']}`.")
    by_assignment: dict[str, list[str]] = {}
    for p in plans:
        if p.status == "unavailable" or not _inside(p.dir, ctx.results):
            continue
        by_assignment.setdefault(p.task.assignment, []).append(f"[{p.task.id}]({ctx.rel(p.dir)}/)")
    for aid, links in by_assignment.items():
        out.append(f"- Task folders of {aid}: " + " · ".join(links))
    return out + [""]


def _how_to_get(reason: str) -> str:
    if "cifar10" in reason.lower():
        return ("Get CIFAR-10 with `linclf data fetch cifar10` where there is internet, or put the "
                "extracted `cifar-10-batches-bin/` or `cifar-10-batches-py/` folder in the data "
                "directory (`linclf data where` lists where linclf looks), then run `linclf report` again.")
    if "mnist" in reason.lower():
        return "Get MNIST with `linclf data fetch mnist` (see `linclf data where`)."
    return ""
