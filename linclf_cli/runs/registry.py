"""Run kinds: name -> (config class, run function, dataset).  The task scheduler and the
CLI construct configs through here, so every kind is validated the same way."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from linclf_cli.errors import UsageError

from . import gradchecks, tdt4265
from .context import RunContext


@dataclass(frozen=True)
class Kind:
    name: str
    config: type
    run: Callable[..., dict]
    dataset: Callable[[object], str | None]


KINDS: dict[str, Kind] = {
    "tdt4265": Kind("tdt4265", tdt4265.TdtConfig, tdt4265.run, lambda c: "mnist"),
    "gradcheck-tdt": Kind("gradcheck-tdt", gradchecks.GradcheckConfig, gradchecks.run,
                          lambda c: c.dataset),
}

# `linclf train --model NAME` / tasks.yaml `train` args -> (kind, extra config fields)
TRAIN_MODELS: dict[str, tuple[str, dict]] = {
    "binary": ("tdt4265", {"model": "binary"}),
    "softmax": ("tdt4265", {"model": "softmax"}),
}


def train_kind(model: str) -> tuple[str, dict]:
    try:
        return TRAIN_MODELS[model]
    except KeyError:
        raise UsageError(f"Unknown model {model!r}.",
                         f"Choose one of: {', '.join(TRAIN_MODELS)}.") from None


def execute(kind: str, params: dict, out: Path, ctx: RunContext) -> dict:
    """Build the config of ``kind`` from ``params`` and run it (used in worker processes)."""
    from linclf_cli.tasks.typed import build

    k = KINDS[kind]
    cfg = build(k.config, params, kind).resolved()
    return k.run(cfg, out, ctx)
