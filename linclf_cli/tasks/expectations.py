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


# --------------------------------------------------------------------------- read-back checks

import math  # noqa: E402
import re  # noqa: E402

_NUMERIC_KEY = re.compile(r"(^n_|^steps|_accuracy$|_loss$|_error$|_gap$|_diff$|^lam$|^eta$|"
                          r"^learning_rate$|_norm|^epochs|_epoch$|_step$|_cost)")
_INT_KEY = re.compile(r"^n_|^steps$|^steps_per_epoch$")
_NAME_KEY = {"name", "best_name"}
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")


def check_value(v: Any, where: str) -> str | None:
    """Why ``v`` (read back at key path ``where``) does not fit linclf's schema, or None: a
    number is a finite number, a count an integer, a name a plain name; containers recurse."""
    key = where.rsplit(".", 1)[-1]
    if isinstance(v, dict):
        for k, x in v.items():
            problem = check_value(x, f"{where}.{k}" if where else str(k))
            if problem:
                return problem
        return None
    if isinstance(v, list):
        for i, x in enumerate(v):
            problem = check_value(x, f"{where}.{i}")
            if problem:
                return problem
        return None
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, float) and math.isinf(v):
        return f"{where} is {v}, not a finite number"
    if key in _NAME_KEY and not (isinstance(v, str) and _PLAIN.fullmatch(v) and ".." not in v):
        return f"{where} is {v!r}, not a plain name"
    if _INT_KEY.search(key) and not isinstance(v, int):
        return f"{where} is {v!r}, not an integer"
    if _NUMERIC_KEY.search(key) and not isinstance(v, (int, float)):
        return f"{where} is {v!r}, not a number"
    return None


def check_record(obj: Any, path, kind: str) -> str | None:
    """Why a ``job.json`` / ``task.json`` / ``metrics.json`` read back from a results folder
    cannot be trusted (named by file and key), or None."""
    if not isinstance(obj, dict):
        return f"{path} holds {type(obj).__name__}, not a JSON object"
    if kind in ("job", "task") and not isinstance(obj.get("key"), str):
        return f"{path}: key is {obj.get('key')!r}, not a string"
    if kind == "job" and not isinstance(obj.get("components", {}), dict):
        return f"{path}: components is not a JSON object"
    if kind == "task":
        for k, tp in (("metrics", dict), ("expectations", list), ("deps", dict), ("figures", list)):
            if not isinstance(obj.get(k, tp()), tp):
                return f"{path}: {k} is {type(obj.get(k)).__name__}, not {tp.__name__}"
        metrics = obj.get("metrics", {})
    else:
        metrics = obj if kind == "metrics" else {}
    problem = check_value(metrics, "")
    return f"{path}: {problem}" if problem else None


def reevaluate(task: Task, result: dict, deps: dict[str, dict]) -> dict:
    """``result`` (a task.json read back) with every expectation evaluated again from its
    metrics: a ``passed`` stored in the file is never trusted."""
    checks = evaluate(task, result.get("metrics", {}), deps)
    return {**result, "expectations": checks, "passed": all(c["passed"] for c in checks)}
