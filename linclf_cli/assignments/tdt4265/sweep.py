"""L2 sweeps (TDT4265 4c/4e): one training per L2 coefficient ``l2`` (the text's lambda),
then the two figures.  Points are named ``l2-<value>``; sweep.csv and the summary use ``l2``
and ``best_l2``.

Every point uses the same seed (common random numbers): the curves differ only by lambda,
and a point's result does not depend on which other points are in the sweep or their order.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from linclf_cli.errors import UsageError
from linclf_cli.plots.figures import ACC_LABEL, STEPS_LABEL, Series, line_figure

from linclf_cli.runs import io
from linclf_cli.assignments.tdt4265.recipe import TdtConfig, load_history

DEFAULT_LAMBDAS = (2.0, 0.2, 0.02, 0.002)


def point_name(l2: float) -> str:
    return f"l2-{l2:g}"


def check_lambdas(lambdas) -> tuple[float, ...]:
    if not lambdas:
        raise UsageError("The l2 (lambda) list is empty.", "Give at least one value, e.g. --l2 2 --l2 0.2.")
    out = []
    for v in lambdas:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
            raise UsageError(f"Every l2 (lambda) value must be a number, got {v!r}.")
        if v < 0:
            raise UsageError(f"Every l2 (lambda) value must be >= 0, got {v}.", "L2 coefficients cannot be negative.")
        out.append(float(v))
    if len(set(out)) != len(out):
        raise UsageError(f"The l2 (lambda) list has duplicates: {out}.")
    return tuple(out)


def point_configs(base: TdtConfig, lambdas) -> dict[str, TdtConfig]:
    """One point per l2 value: the sweep code's one-axis grid over ``l2`` (same seed for all)."""
    from linclf_cli.assignments.grid import expand_grid

    return {point_name(v["l2"]): dataclasses.replace(base, **v).resolved()
            for v in expand_grid({"l2": check_lambdas(lambdas)})}


def summarize(out_dir: Path, lambdas, point_dirs: dict[str, Path], metrics: dict[str, dict],
              acc_ylim=(0.7, 0.99), acc_file="task4c_l2_reg_accuracy.png",
              norm_file="task4e_l2_reg_norms.png") -> dict:
    """Draw the 4c and 4e figures from finished points; return the sweep's metrics."""
    lambdas = check_lambdas(lambdas)
    series = []
    rows = []
    for lam in lambdas:
        name = point_name(lam)
        h = load_history(point_dirs[name])["history_checks"]
        series.append(Series(h["step"], h["val_accuracy"], f"λ = {lam:g}"))
        m = metrics[name]
        rows.append({"l2": lam, "val_accuracy": m["val_accuracy"], "train_accuracy": m["train_accuracy"],
                     "val_loss": m["val_loss"], "weight_sum_of_squares": m["weight_sum_of_squares"],
                     "weight_frobenius_norm": m["weight_frobenius_norm"], "stopped_epoch": m["stopped_epoch"],
                     "steps": m["steps"]})
    line_figure(out_dir / acc_file, series, STEPS_LABEL, "Validation Accuracy", acc_ylim,
                title="Validation accuracy for each λ")
    order = np.argsort([r["l2"] for r in rows])
    lam_sorted = np.array([rows[i]["l2"] for i in order])
    ss = np.array([rows[i]["weight_sum_of_squares"] for i in order])
    positive = lam_sorted > 0
    line_figure(out_dir / norm_file, [Series(lam_sorted, ss, "‖W‖² (sum of squared weights, bias row included)", style="o-")],
                "λ (l2: L2 coefficient c, 2022 convention)", "‖W‖²", None,
                title="Weight norm against λ", xscale="log" if positive.all() else "linear")
    io.write_csv(out_dir / "sweep.csv", {k: np.array([r[k] if r[k] is not None else -1 for r in rows])
                                         for k in rows[0]})
    norms = [r["weight_sum_of_squares"] for r in sorted(rows, key=lambda r: r["l2"])]
    return {
        "points": rows,
        "norm_decreases_with_l2": bool(all(a > b for a, b in zip(norms, norms[1:]))),
        "best_l2": min(rows, key=lambda r: -r["val_accuracy"])["l2"],
        "figures": [acc_file, norm_file],
    }
