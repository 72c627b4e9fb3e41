"""What an assignment's report section writes with: the section registry, the context a
writer reads (plans, metrics, figure references), markdown escaping, number formatting and
tables.

It sits below the assignments' ``report.py`` modules and :mod:`linclf_cli.report.builder`,
which both import it; it imports nothing of linclf's (the plans it holds are the scheduler's
``TaskPlan`` objects, read by attribute only), so a section never reaches up into
``linclf_cli.report``, ``linclf_cli.tasks`` or ``linclf_cli.cli``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

Writer = Callable[["Ctx", Any], list[str]]  # (ctx, the task's plan) -> markdown lines
# assignment id -> task id -> writer, and assignment id -> intro; filled by ``@section`` and
# ``INTROS[id] = ...`` when an assignment's report module is imported
# (:func:`linclf_cli.assignments.registry.report_writers`)
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
    plans: dict[str, Any]  # ref -> linclf_cli.tasks.scheduler.TaskPlan
    notes: list[str] = field(default_factory=list)
    n_figures: int = 0

    def plan(self, ref: str):
        return self.plans[ref]

    def metrics(self, ref: str) -> dict:
        p = self.plans[ref]
        return (p.result or {}).get("metrics", {})

    def dir(self, ref: str) -> Path:
        return self.plans[ref].dir

    def rel(self, path: Path) -> str:
        return Path(path).relative_to(self.results).as_posix()

    def fig(self, ref: str, name: str, caption: str) -> str:
        """A numbered figure: the image, then (same paragraph) its caption in italics, which
        report.html turns into ``<figure>`` + ``<figcaption>``."""
        self.n_figures += 1
        return f"![{caption}]({self.rel(self.dir(ref) / name)})\n*__Figure {self.n_figures}:__ {caption}*\n"


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>!|~&$#])")
_MD_LINE_START = re.compile(r"^(\s*)([-+=>]|\d+[.)])", re.MULTILINE)
_MATH_SPAN = re.compile(r"(\$\$[^$]+\$\$|\$[^$\n]+\$)")


def md_escape(text) -> str:
    """Untrusted text (from a tasks file, a results folder, a label) as literal markdown: every
    character that could start markup is backslash-escaped and newlines become spaces, so it
    can never become a link, an image, HTML, math, emphasis or a new block."""
    text = _MD_SPECIAL.sub(r"\\\1", str(text).replace("\r", " ").replace("\n", " "))
    return _MD_LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def md_text(text) -> str:
    """Like :func:`md_escape`, but ``$...$`` spans stay math (rendered to allow-listed
    MathML) and line breaks are kept: for notes and descriptions written in tasks.yaml."""
    parts = _MATH_SPAN.split(str(text))
    out = "".join(part if i % 2 else _MD_SPECIAL.sub(r"\\\1", part) for i, part in enumerate(parts))
    return _MD_LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), out)


def fmt(v, digits: int = 4) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
            return f"{v:.2e}"
        return f"{v:.{digits}f}"
    return md_escape(v)  # a string read back from a results folder is text


def pct(v: float | None, digits: int = 2) -> str:
    return "–" if v is None else f"{100 * v:.{digits}f} %"


def _cell(c) -> str:
    text = c if isinstance(c, str) else fmt(c)
    return re.sub(r"(?<!\\)\|", r"\\|", text).replace("\n", " ")  # md_escape'd pipes stay as they are


def cell(v):
    """A grid value as a table cell: a hidden-size list as 100-50."""
    return "-".join(str(x) for x in v) if isinstance(v, list) else v


def point_rows(m: dict) -> list[list]:
    """A grid's points as table rows: its values, train and val accuracy, their gap, the choice."""
    return [[*(cell(x[k]) for k in m["fields"]), pct(x["train_accuracy"]), pct(x["val_accuracy"]),
             pct(x["train_accuracy"] - x["val_accuracy"]), "**best**" if x["name"] == m["best_name"] else ""]
            for x in m["points"]]


def table(headers: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in rows]
    return out + [""]


def metrics_table(m: dict, keys: list[str]) -> list[str]:
    return table(["metric", "value"], [[k, m.get(k)] for k in keys if k in m])
