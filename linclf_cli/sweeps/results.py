"""A sweep's results: one row per point (its swept values, final metrics, status), the best
point by the chosen metric, ``sweep.csv`` + ``sweep.json`` + ``spec.yaml`` and the figures."""

from __future__ import annotations

import math
from pathlib import Path

from linclf_cli.runs import io

METRICS = ("train_accuracy", "val_accuracy", "test_accuracy", "train_loss", "val_loss", "test_loss",
           "train_cost", "steps", "stopped_epoch")


def value_text(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "x".join(value_text(x) for x in v)
    return "" if v is None else str(v)


def rows(spec, planned, errors: dict[str, str]) -> list[dict]:
    out = []
    for p in planned:
        name = p.point.name
        row = {"point": name, **p.point.values, "seed": p.point.config["seed"]}
        if name in errors:
            row.update({k: None for k in METRICS}, status="failed", error=errors[name])
        else:
            m = io.read_json(p.job.out / "metrics.json")
            row.update({k: m.get(k) for k in METRICS}, status="done")
        out.append(row)
    return out


def best(spec, table: list[dict]) -> dict | None:
    """The first best point (spec order) among those that finished with a finite metric."""
    ok = [r for r in table if r["status"] == "done" and isinstance(r.get(spec.select), (int, float))
          and math.isfinite(r[spec.select])]
    if not ok:
        return None
    sign = 1 if spec.maximize else -1
    return max(ok, key=lambda r: sign * r[spec.select])


def write_csv(path: Path, spec, table: list[dict]) -> None:
    cols = ["point", *spec.swept, *(["seed"] if "seed" not in spec.swept else []), *METRICS, "status"]
    lines = [",".join(cols)]
    for r in table:
        lines.append(",".join(value_text(r.get(c)) for c in cols))
    io.atomic_write_text(path, "\n".join(lines) + "\n")


def summarize(out: Path, spec, planned, errors: dict[str, str]) -> dict:
    import yaml

    from . import figures

    table = rows(spec, planned, errors)
    top = best(spec, table)
    write_csv(out / "sweep.csv", spec, table)
    io.atomic_write_text(out / "spec.yaml", yaml.safe_dump(spec.to_dict(), sort_keys=False))
    files = figures.draw_all(out, spec, planned, table) if top is not None else []
    summary = {"sweep": spec.to_dict(), "n_points": len(table),
               "n_done": sum(r["status"] == "done" for r in table), "n_failed": len(errors),
               "select": spec.select, "mode": "max" if spec.maximize else "min",
               "best": top, "points": table, "failed": dict(errors),
               "files": ["sweep.csv", "spec.yaml", *files]}
    io.write_json(out / "sweep.json", summary)
    return summary
