"""What a recipe is: an assignment's settings as data (no loop of its own).

A :class:`Recipe` names the pre-processing, the bias layout, the L2 form, the
initialisation, the sampler, the evaluation cadence and the default rates of one course
text.  :mod:`linclf_cli.assignments.train` turns a recipe plus explicit options into one run
of the engine's :func:`~linclf_cli.engine.fit.fit`; explicit options always win.  ``symbols``
maps the one vocabulary to the course's own symbols for report text (``l2`` -> lambda).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from linclf_cli.engine.init import Init


def config_dict(cfg) -> dict:
    """A run config as the dict its cache key and ``config.yaml`` are made of
    (``dataclasses.asdict``), with ``rng`` left out when it is the default ``numpy``: runs made
    before the setting existed keep their keys."""
    d = dataclasses.asdict(cfg)
    if d.get("rng") == "numpy":
        d.pop("rng")
    return d


@dataclass(frozen=True)
class Recipe:
    name: str
    title: str
    preprocess: str  # "scale-bias-column" | "standardize" | "center"
    bias: str  # "column" | "vector"
    l2_form: str  # "half" | "full"
    l2_over: str  # "all" | "weights"
    init_linear: Init
    init_mlp: Init
    learning_rate: dict  # optimizer -> rate
    batch_size: int
    epochs: int
    iterations: int | None  # SGD on an MLP runs iterations where the text says so
    sampler: str  # "shuffle" | "in-order" | "replacement"
    eval_every: str  # "fifth-epoch" (every steps_per_epoch // 5 steps) | "epoch"
    drop_last: bool
    schedule: str = "constant"
    cifar_split: str = "dd2424"
    hidden: tuple = (50,)
    symbols: dict = field(default_factory=dict)

    def option_text(self, option: str) -> str:
        """``option`` with the course symbol beside it, e.g. ``"l2 (λ)"``."""
        sym = self.symbols.get(option)
        return f"{option} ({sym})" if sym else option
