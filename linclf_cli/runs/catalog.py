"""Read run directories back: find them under a folder, their key parameters, final metrics
and training curves (for ``linclf runs`` and ``linclf compare``).

A run directory is a folder holding ``config.yaml`` and ``metrics.json`` (as every runner
publishes it); hidden folders (runs being written) are skipped.  Works on ``runs/`` (one
folder per ``linclf train``), a sweep folder and a whole ``results/`` tree alike.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from linclf_cli.errors import UsageError

from . import io

# the same idea under each assignment's name -> one column
PARAM_ALIASES: dict[str, tuple[str, ...]] = {
    "lr": ("learning_rate", "eta"),
    "batch": ("batch_size", "n_batch"),
    "epochs": ("epochs", "n_epochs", "num_iters"),
    "l2": ("l2", "lam", "reg"),
    "seed": ("seed",),
}
METRICS = ("train_accuracy", "val_accuracy", "test_accuracy", "val_loss")
CURVE_ALIASES = {"train_loss": ("train_loss", "loss"), "val_loss": ("val_loss",),
                 "train_accuracy": ("train_accuracy", "train_acc"),
                 "val_accuracy": ("val_accuracy", "val_acc")}
X_COLUMNS = ("step", "iteration", "epoch")


@dataclass
class Run:
    path: Path
    name: str  # path relative to the folder listed
    config: dict
    metrics: dict
    info: dict = field(default_factory=dict)  # run.json (may be empty)

    @property
    def model(self) -> str:
        kind = str(self.config.get("kind", "?"))
        model = self.config.get("model") or self.config.get("optimizer")
        return f"{kind}/{model}" if model else kind

    def param(self, short: str):
        for key in PARAM_ALIASES.get(short, (short,)):
            if key in self.config:
                return self.config[key]
        return None

    def row(self) -> dict:
        """Flat JSON-ready summary: name, path, model, key parameters, final metrics."""
        out = {"name": self.name, "path": str(self.path), "model": self.model}
        out.update({k: self.param(k) for k in PARAM_ALIASES})
        out.update({k: _finite(self.metrics.get(k)) for k in METRICS})
        out["stopped_epoch"] = self.metrics.get("stopped_epoch")
        out["finished"] = self.info.get("finished")
        return out


def _finite(v):
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def is_run_dir(path: Path) -> bool:
    return (path / "config.yaml").is_file() and (path / "metrics.json").is_file()


def load_run(path: Path, root: Path | None = None) -> Run:
    """Read one run directory; a UsageError naming the folder when it is not one."""
    path = Path(path)
    if not is_run_dir(path):
        raise UsageError(f"{path} is not a run directory (it needs config.yaml and metrics.json).",
                         "List run directories with `linclf runs DIR`.")
    try:
        config = yaml.safe_load((path / "config.yaml").read_text(encoding="utf-8")) or {}
        metrics = io.read_json(path / "metrics.json")
        info = io.read_json(path / "run.json") if (path / "run.json").is_file() else {}
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise UsageError(f"Cannot read the run directory {path}: {exc}.",
                         "It may have been edited by hand; rerun it.") from None
    name = str(path.relative_to(root)) if root is not None and path != root else path.name
    return Run(path, name, config if isinstance(config, dict) else {},
               metrics if isinstance(metrics, dict) else {}, info if isinstance(info, dict) else {})


def find_runs(root: Path) -> list[Run]:
    """Every run directory under ``root`` (``root`` itself included), in path order."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder.", "Pass the folder holding the runs, e.g. `linclf runs results`.")
    found = []
    for dirpath, dirnames, _ in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if is_run_dir(Path(dirpath)):
            found.append(load_run(Path(dirpath), root))
    return found


def sort_runs(runs: list[Run], key: str | None, reverse: bool = False) -> list[Run]:
    """Sort by a column of :meth:`Run.row`; runs without a value go last either way."""
    if key is None:
        return list(runs)
    columns = set(runs[0].row()) if runs else {"name"}
    if key not in columns:
        raise UsageError(f"Cannot sort by {key!r}.", f"Choose one of: {', '.join(sorted(columns))}.")
    have = [r for r in runs if r.row()[key] is not None]
    missing = [r for r in runs if r.row()[key] is None]
    try:
        have.sort(key=lambda r: r.row()[key], reverse=reverse)
    except TypeError:  # mixed types: compare as text
        have.sort(key=lambda r: str(r.row()[key]), reverse=reverse)
    return have + missing


def config_diff(runs: list[Run]) -> dict[str, list]:
    """Config keys whose values differ between ``runs`` -> one value per run (None: absent)."""
    keys: list[str] = []
    for r in runs:
        keys += [k for k in r.config if k not in keys]
    return {k: [r.config.get(k) for r in runs] for k in keys
            if len({repr(r.config.get(k)) for r in runs}) > 1}


def curves(run: Run) -> dict[str, tuple[str, np.ndarray, np.ndarray]]:
    """Training curves from the history CSVs: name -> (x label, x, y).  For each curve the
    file with the most rows wins (the per-step loss rather than the per-check one)."""
    out: dict[str, tuple[str, np.ndarray, np.ndarray]] = {}
    for csv in sorted(run.path.glob("history*.csv")):
        try:
            cols = io.read_csv(csv)
        except (OSError, ValueError):
            continue
        xname = next((x for x in X_COLUMNS if x in cols), None)
        if xname is None:
            continue
        for name, aliases in CURVE_ALIASES.items():
            col = next((a for a in aliases if a in cols), None)
            if col is None:
                continue
            x, y = np.asarray(cols[xname], float), np.asarray(cols[col], float)
            if name not in out or len(y) > len(out[name][2]):
                out[name] = (xname, x, y)
    return out
