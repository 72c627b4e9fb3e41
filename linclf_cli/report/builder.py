"""REPORT.md from the results directory: one section per task, every number read from the
runs (task.json, metrics.json, histories), never typed in.

Section writers are registered per assignment (``SECTIONS[assignment_id][task_id]``); a task
without a writer gets its figures and a metrics table.  Every section ends with the task's
expectations, and the report ends with all of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from linclf_cli.tasks.expectations import condition_text
from linclf_cli.tasks.scheduler import TaskPlan

Writer = Callable[["Ctx", TaskPlan], list[str]]
SECTIONS: dict[str, dict[str, Writer]] = {}
INTROS: dict[str, Callable[["Ctx"], list[str]]] = {}


def section(assignment: str, *task_ids: str):
    def deco(fn: Writer) -> Writer:
        for t in task_ids:
            SECTIONS.setdefault(assignment, {})[t] = fn
        return fn
    return deco


@dataclass
class Ctx:
    """What a section writer can read: plans by ref, the results root."""

    results: Path
    plans: dict[str, TaskPlan]
    notes: list[str] = field(default_factory=list)

    def plan(self, ref: str) -> TaskPlan:
        return self.plans[ref]

    def metrics(self, ref: str) -> dict:
        p = self.plans[ref]
        return (p.result or {}).get("metrics", {})

    def dir(self, ref: str) -> Path:
        return self.plans[ref].dir

    def rel(self, path: Path) -> str:
        return Path(path).relative_to(self.results).as_posix()

    def fig(self, ref: str, name: str, caption: str) -> str:
        return f"![{caption}]({self.rel(self.dir(ref) / name)})\n\n*{caption}*\n"


def fmt(v, digits: int = 4) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
            return f"{v:.2e}"
        return f"{v:.{digits}f}"
    return str(v)


def pct(v: float | None, digits: int = 2) -> str:
    return "–" if v is None else f"{100 * v:.{digits}f} %"


def _cell(c) -> str:
    text = c if isinstance(c, str) else fmt(c)
    return text.replace("|", "\\|").replace("\n", " ")


def table(headers: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in rows]
    return out + [""]


def metrics_table(m: dict, keys: list[str]) -> list[str]:
    return table(["metric", "value"], [[k, m.get(k)] for k in keys if k in m])


def expectation_rows(p: TaskPlan) -> list[list]:
    rows = []
    for e in (p.result or {}).get("expectations", []):
        val = e["value"]
        shown = json.dumps(val) if isinstance(val, (list, dict)) else fmt(val, 6)
        rows.append([f"`{e['metric']}`", e["condition"], shown, "✔ pass" if e["passed"] else "✗ fail",
                     e.get("description") or ""])
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


def build(tf, plans: list[TaskPlan], results: Path) -> tuple[str, list[dict]]:
    """Returns the markdown text and every expectation (with task refs)."""
    # section writers register themselves on import
    from . import sections_tdt4265  # noqa: F401
    try:
        from . import sections_dd2424  # noqa: F401
    except ImportError:  # pragma: no cover - optional until written
        pass
    try:
        from . import sections_aml  # noqa: F401
    except ImportError:  # pragma: no cover
        pass

    by_ref = {p.task.ref: p for p in plans}
    ctx = Ctx(results, by_ref)
    lines = ["# linclf report", "",
             "Every figure and number below was produced by `linclf report` from the runs in this "
             "folder; each task's directory holds its configuration (`config.yaml`), provenance "
             "(`run.json`), metrics and history. Conventions are stated where they matter.", ""]
    all_expect: list[dict] = []
    for a in tf.assignments:
        tasks = [t for t in a.tasks if t.ref in by_ref]
        if not tasks:
            continue
        lines += [f"## {a.title}", ""]
        if a.description:
            lines += [a.description, ""]
        if a.id in INTROS:
            lines += INTROS[a.id](ctx)
        for t in tasks:
            p = by_ref[t.ref]
            lines += [f"### Task {t.id}: {t.spec.title}", ""]
            if p.status == "unavailable":
                lines += [f"**Not run:** {p.reason}. " + _how_to_get(p.reason), ""]
                all_expect += [{"task": t.ref, "metric": e.metric, "passed": None,
                                "condition": condition_text(e), "value": None, "status": "not run"}
                               for e in t.expect]
                continue
            if p.result is None:
                lines += [f"**Failed:** {p.reason}", ""]
                all_expect += [{"task": t.ref, "metric": e.metric, "passed": False,
                                "condition": condition_text(e), "value": None, "status": "failed"}
                               for e in t.expect]
                continue
            writer = SECTIONS.get(a.id, {}).get(t.id, default_section)
            lines += writer(ctx, p)
            rows = expectation_rows(p)
            if rows:
                lines += ["**Expectations**", ""] + table(EXPECT_HEADERS, rows)
            for e in p.result.get("expectations", []):
                all_expect.append({"task": t.ref, **e, "status": "pass" if e["passed"] else "fail"})
    lines += ["## Expectations", ""]
    n_fail = sum(1 for e in all_expect if e["passed"] is False)
    n_skip = sum(1 for e in all_expect if e["passed"] is None)
    n_pass = sum(1 for e in all_expect if e["passed"])
    lines += [f"{n_pass} passed, {n_fail} failed, {n_skip} not run.", ""]
    rows = []
    for e in all_expect:
        badge = {"pass": "✔ pass", "fail": "✗ fail", "failed": "✗ fail", "not run": "– not run"}[e["status"]]
        val = e.get("value")
        rows.append([e["task"], f"`{e['metric']}`", e.get("condition", ""),
                     json.dumps(val) if isinstance(val, (list, dict)) else fmt(val, 6), badge])
    lines += table(["task", "metric", "expected", "measured", "result"], rows)
    return "\n".join(lines) + "\n", all_expect


def _how_to_get(reason: str) -> str:
    if "cifar10" in reason.lower():
        return ("Get CIFAR-10 with `linclf data fetch cifar10` where there is internet, or put the "
                "extracted `cifar-10-batches-py/` folder in the data directory "
                "(`linclf data where` lists where linclf looks).")
    if "mnist" in reason.lower():
        return "Get MNIST with `linclf data fetch mnist` (see `linclf data where`)."
    return ""
