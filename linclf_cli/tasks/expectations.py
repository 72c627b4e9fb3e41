"""Evaluate a task's ``expect:`` list against measured metrics."""

from __future__ import annotations

from typing import Any

from .schema import Expectation, Task

_MISSING = object()


def lookup(metrics: dict, path: str) -> Any:
    """``a.b.0.c`` into nested dicts/lists; _MISSING when absent."""
    cur: Any = metrics
    for part in path.split("."):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.lstrip("-").isdigit() and -len(cur) <= int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return _MISSING
    return cur


def condition_text(e: Expectation) -> str:
    parts = []
    if e.min is not None:
        parts.append(f">= {e.min:g}")
    if e.max is not None:
        parts.append(f"<= {e.max:g}")
    if e.equals is not None:
        parts.append(f"== {e.equals!r}")
    if e.not_null:
        parts.append("is reported")
    if e.is_true:
        parts.append("holds")
    return " and ".join(parts)


def check(e: Expectation, value: Any) -> bool:
    if value is _MISSING:
        return False
    if e.not_null and value is None:
        return False
    if e.is_true and value is not True:
        return False
    if e.min is not None or e.max is not None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if e.min is not None and not value >= e.min:
            return False
        if e.max is not None and not value <= e.max:
            return False
    if e.equals is not None and value != e.equals:
        return False
    return True


def evaluate(task: Task, own: dict, deps: dict[str, dict]) -> list[dict]:
    out = []
    for e in task.expect:
        if ":" in e.metric:
            dep, path = e.metric.split(":", 1)
            ref = dep if "/" in dep else f"{task.assignment}/{dep}"
            value = lookup(deps.get(ref, {}), path)
        else:
            value = lookup(own, e.metric)
        ok = check(e, value)
        out.append({"metric": e.metric, "condition": condition_text(e),
                    "value": None if value is _MISSING else value, "missing": value is _MISSING,
                    "passed": ok, "description": e.description})
    return out
