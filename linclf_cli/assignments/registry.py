"""Run kinds: name -> (config class, run function, dataset).  The task scheduler and the
CLI construct configs through here, so every kind is validated the same way."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from linclf_cli.errors import UsageError

from linclf_cli.runs.context import RunContext


# bump when what a run writes (files, metric keys) changes.  3: config.yaml, metrics.json, grid
# columns and point folder names in the one vocabulary (learning_rate, l2 + l2_form, batch_size,
# epochs, iterations, schedule instead of DD2424's eta, lam, n_batch, n_epochs, decay and AML's
# reg, num_iters; TDT 4c's lambda-* points are l2-*): every cache key changes once, on purpose
RUNS_FORMAT = "3"


@dataclass(frozen=True)
class Kind:
    """A run kind; its module is imported on first use (``linclf train`` stays light)."""

    name: str
    module: str  # under linclf_cli.assignments
    config_name: str
    run_name: str
    dataset: Callable[[object], str | None]

    @property
    def config(self) -> type:
        return getattr(importlib.import_module(f"linclf_cli.assignments.{self.module}"), self.config_name)

    @property
    def run(self) -> Callable[..., dict]:
        return getattr(importlib.import_module(f"linclf_cli.assignments.{self.module}"), self.run_name)


KINDS: dict[str, Kind] = {
    "tdt4265": Kind("tdt4265", "tdt4265.recipe", "TdtConfig", "run", lambda c: "mnist"),
    "gradcheck-tdt": Kind("gradcheck-tdt", "gradchecks", "GradcheckConfig", "run", lambda c: c.dataset),
    "dd2424": Kind("dd2424", "dd2424.recipe", "Dd2424Config", "run", lambda c: "cifar10"),
    "aml": Kind("aml", "aml2020.recipe", "AmlConfig", "run", lambda c: "cifar10"),
    "aml-toy": Kind("aml-toy", "aml2020.recipe", "AmlToyConfig", "run_toy", lambda c: None),
    # the orthogonal run: any recipe x data x model x head x optimizer (assignments/train.py)
    "train": Kind("train", "train", "TrainConfig", "run",
                  lambda c: "cifar10" if c.data == "cifar10" else ("mnist" if c.data.startswith("mnist") else None)),
}

# `linclf train --model NAME` / tasks.yaml `train` args -> (kind, extra config fields)
TRAIN_MODELS: dict[str, tuple[str, dict]] = {
    "binary": ("tdt4265", {"model": "binary"}),
    "softmax": ("tdt4265", {"model": "softmax"}),
    "dd2424-softmax": ("dd2424", {"model": "softmax"}),
    "dd2424-sigmoid": ("dd2424", {"model": "sigmoid"}),
    "mlp": ("aml", {}),
}


def estimated_cost(kind: str, params: dict) -> float:
    """A rough number of multiply-adds a run will take, to start the longest runs first when
    several run in parallel (longest-processing-time order keeps every core busy to the end).
    Only the order of runs depends on it, never a result."""
    p = params
    try:
        if kind == "aml":
            sizes = [3072, *(p.get("hidden") or [50]), 10]
            per_example = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
            n = (p.get("iterations", 1000) * p.get("batch_size", 200) if p.get("optimizer", "sgd") == "sgd"
                 else p.get("epochs", 10) * p.get("n_train", 49000))
            return 3.0 * n * per_example
        if kind == "dd2424":
            n = 49000 if p.get("split") == "bonus" else 10000
            return 3.0 * p.get("epochs", 40) * n * 3072 * 10 * (1.3 if p.get("flip") else 1.0)
        if kind == "tdt4265":
            return 3.0 * p.get("epochs", 50) * 20000 * 785 * 10
    except (TypeError, ValueError):
        pass
    return 0.0


CIFAR_PIXELS = 3072
CIFAR_TEST_ROWS = 10000
ITEMSIZE = {"float32": 4, "float64": 8}


@dataclass(frozen=True)
class SplitNeed:
    """The prepared CIFAR-10 split a run maps (runs/prepared.py): ``tag`` names it (runs
    with the same tag share one copy), ``nbytes`` is its size, ``build_bytes`` what its
    preparation holds besides (the uint8 images it is made from, when copied)."""

    tag: str
    nbytes: int
    build_bytes: int = 0


def prepared_split(kind: str, params: dict) -> SplitNeed | None:
    """The shared prepared split a run of ``kind`` needs, None when it needs none (MNIST,
    toy data, a private split) or its parameters do not resolve (the run will fail on its
    own).  The tag holds exactly what keys the split in the recipe's ``_prepare``; the size
    counts its float arrays (labels and one-hot targets are small).  The scheduler plans
    memory with it; no result depends on it."""
    if kind not in ("dd2424", "aml", "train"):
        return None
    try:
        from linclf_cli.typed import build

        cfg = build(KINDS[kind].config, params, kind).resolved()
        item = ITEMSIZE.get(cfg.dtype, 8)
        small = 16 << 20  # statistics, labels, one-hot targets
        if kind == "train":
            if cfg.data != "cifar10":  # MNIST and IDX folders: small, kept private
                return None
            from linclf_cli.assignments.train import RECIPES, split_tag

            rows = 51000 if RECIPES[cfg.recipe].cifar_split == "aml" else 30000  # with the test rows
            return SplitNeed(split_tag(cfg), rows * (CIFAR_PIXELS + 1) * item, 50000 * CIFAR_PIXELS + small)
        if kind == "dd2424":
            n_val = cfg.n_val if cfg.split == "bonus" else 0
            if cfg.split == "a1":  # three batches, standardised straight from the map
                return SplitNeed(f"dd2424:a1:0:{cfg.dtype}", 3 * 10000 * CIFAR_PIXELS * item, small)
            return SplitNeed(f"dd2424:{cfg.split}:{n_val}:{cfg.dtype}",
                             (50000 + CIFAR_TEST_ROWS) * CIFAR_PIXELS * item,
                             50000 * CIFAR_PIXELS + small)  # the five batches concatenated
        rows = cfg.n_train + cfg.n_val + CIFAR_TEST_ROWS  # X_train, X_val, the whole test set
        return SplitNeed(f"aml:{cfg.n_train}:{cfg.n_val}:{cfg.n_test}:{cfg.preprocess}:{cfg.dtype}",
                         rows * CIFAR_PIXELS * item, 50000 * CIFAR_PIXELS + small)
    except Exception:  # noqa: BLE001 - a bad config is reported by the run itself
        return None


def estimated_memory(kind: str, params: dict) -> int:
    """Bytes a run holds besides its process and its prepared split (measured, rounded up):
    DD2424 a few batch buffers and the chunked evaluations; AML the hidden activations of its
    largest evaluation pass (10 000 rows at a time)."""
    p = params
    try:
        if kind == "dd2424":
            return 30 << 20
        if kind == "aml":
            widest = max([int(h) for h in (p.get("hidden") or [50])])
            rows = max(int(p.get("n_val", 1000)), int(p.get("batch_size", 200)), CIFAR_TEST_ROWS)
            return (40 << 20) + 3 * rows * widest * 8
        if kind == "tdt4265":
            return 120 << 20
    except (TypeError, ValueError):
        pass
    return 60 << 20


def train_kind(model: str) -> tuple[str, dict]:
    try:
        return TRAIN_MODELS[model]
    except KeyError:
        raise UsageError(f"Unknown model {model!r}.",
                         f"Choose one of: {', '.join(TRAIN_MODELS)}.") from None


def execute(kind: str, params: dict, out: Path, ctx: RunContext) -> dict:
    """Build the config of ``kind`` from ``params`` and run it.

    BLAS is pinned to one thread: OpenBLAS rounds differently with different thread counts,
    so this makes every run bit-for-bit the same whatever ``-j`` or the machine's core count
    (parallelism comes from running several trainings at once); one thread is also the
    fastest for the many small per-step GEMMs.
    """
    from threadpoolctl import threadpool_limits

    from linclf_cli.typed import build

    k = KINDS[kind]
    cfg = build(k.config, params, kind).resolved()
    with threadpool_limits(1):
        return k.run(cfg, out, ctx)


# tasks.yaml's assignment ids -> the course folder holding its recipe and report section
ASSIGNMENTS: dict[str, str] = {"tdt4265-a1": "tdt4265", "dd2424-a1": "dd2424", "aml-a2": "aml2020"}


def report_writers(assignment_id: str) -> tuple[dict, Callable | None]:
    """An assignment's report section writers (task id -> writer) and its intro (or None),
    from ``assignments/<folder>/report.py``, whose writers register on import; none for an
    assignment without a folder (a tasks file's own assignment: default sections)."""
    from linclf_cli.assignments import report_kit

    folder = ASSIGNMENTS.get(assignment_id)
    if folder is None:
        return {}, None
    importlib.import_module(f"linclf_cli.assignments.{folder}.report")
    return report_kit.SECTIONS.get(assignment_id, {}), report_kit.INTROS.get(assignment_id)
