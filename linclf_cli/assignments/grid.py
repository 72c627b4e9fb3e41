"""The product of a grid's axes: one function for TDT4265's lambda sweep, tasks.yaml's grid
and depth tasks and ``linclf sweep`` (:mod:`linclf_cli.sweeps.spec` re-exports it).  It sits
below them all, so none of them imports upwards for it."""

from __future__ import annotations

import itertools


def expand_grid(axes: dict) -> list[dict]:
    """The product of the axes in the order given: every combination once (last axis fastest)."""
    return [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())]
