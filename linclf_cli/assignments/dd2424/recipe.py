"""DD2424 Assignment 1 runs: one-layer softmax/CE or sigmoid/MBCE classifier on CIFAR-10.

``run(config, out_dir, ctx)`` loads CIFAR-10, takes the assignment's split, standardises it
with the **training** statistics only, trains by mini-batch GD and publishes one run
directory:

    config.yaml              the resolved configuration (``kind: dd2424`` first)
    run.json                 argv, seed, versions, BLAS, git commit, data dir + sha256, timings
    metrics.json             final train/val/test loss, cost and accuracy, sizes, norms
    history.csv              per epoch (row 0 = initial model): epoch, lr, train_loss,
                             train_cost, val_loss, val_cost, train_accuracy, val_accuracy
    weights.npz              W (K, 3072) and b (K,)
    test_probabilities.npz   p_true (n_test,) probability of the true class, correct (bool)
    loss.png, cost.png       training and validation loss / cost per epoch
    templates.png            the K rows of W as 32x32x3 class templates

Splits (spec B.1, B.2 a): ``"a1"`` = data_batch_1 / data_batch_2 / test_batch;
``"bonus"`` = all five batches minus the last ``n_val`` images / those images / test_batch.

:func:`histograms_figure` draws the bonus-2.2 histograms from several run directories.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import numbers
import time
from dataclasses import dataclass
from typing import ClassVar
from pathlib import Path

import numpy as np
import yaml

from linclf_cli.data.cifar import Cifar10Data, load_cifar10
from linclf_cli.data.registry import CIFAR10_TRAIN_BATCHES
from linclf_cli.data.splits import dd2424_bonus_split, dd2424_split, standardize
from linclf_cli.assignments.base import config_dict
from linclf_cli.assignments.dd2424 import linear as core
from linclf_cli.assignments.dd2424.linear import (
    HISTORY_KEYS,
    FusedResult,
    ground_truth_probabilities,
    train_fused,
)
from linclf_cli.engine.samplers import RNG_KINDS, make_rng
from linclf_cli.engine.schedules import make_schedule
from linclf_cli.errors import DataError, UsageError
from linclf_cli.plots.figures import Series, line_figure
from linclf_cli.plots.images import cifar_templates, probability_histograms

from linclf_cli.runs import io
from linclf_cli.runs.context import RunContext
from linclf_cli.runs.prepared import data_key, one_slot, shared_arrays
from linclf_cli.runs.provenance import now_iso, run_record
from linclf_cli.runs.rundir import RunDir

KIND = "dd2424"
MODELS = ("softmax", "sigmoid")
SPLITS = ("a1", "bonus")
DECAYS = ("none", "step", "plateau")
INITS = {"2022": "normal", "2025": "zero"}  # edition -> bias initialisation
DTYPES = {"float32": np.float32, "float64": np.float64}
INIT_STD = 0.01
K = 10

# the files of cifar-10-batches-py each split reads (batches.meta: the label names)
SPLIT_FILES = {
    "a1": ("data_batch_1", "data_batch_2", "test_batch", "batches.meta"),
    "bonus": (*CIFAR10_TRAIN_BATCHES, "test_batch", "batches.meta"),
}


# --------------------------------------------------------------------------- validation helpers


def _int(name: str, value, minimum: int, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise UsageError(f"{name} must be an integer >= {minimum}, got {value!r}.", hint)
    return int(value)


def _float(name: str, value, hint: str, *, positive: bool = False, nonneg: bool = False,
           upper: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise UsageError(f"{name} must be a number, got {value!r}.", hint)
    v = float(value)
    bad = (not math.isfinite(v) or (positive and v <= 0) or (nonneg and v < 0)
           or (upper is not None and v > upper))
    if bad:
        bound = "> 0" if positive else (">= 0" if nonneg else "finite")
        if upper is not None:
            bound += f" and <= {upper:g}"
        raise UsageError(f"{name} must be a finite number {bound}, got {value!r}.", hint)
    return v


def _choice(name: str, value, choices, what: str) -> str:
    v = value
    if isinstance(value, str) or (isinstance(value, numbers.Integral)
                                  and not isinstance(value, bool)):
        v = str(value).strip().lower()  # "Softmax" -> "softmax", 2022 -> "2022"
    if v not in choices:
        raise UsageError(f"Unknown {what} {value!r}.", f"Choose one of: {', '.join(choices)}.")
    return v


def _l2_form(value, form: str, what: str) -> str:
    """A recipe's fixed ``l2_form`` (recorded in config.yaml so ``l2`` means one thing per
    run); any other value is a usage error naming the recipe's form."""
    if value != form:
        raise UsageError(f"l2_form must be {form!r} here, got {value!r}: {what}.",
                         f"Leave l2_form out (or set it to {form}); the orthogonal trainer "
                         "(linclf train --model linear|mlp --l2-form) takes either form.")
    return form


def _bool(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise UsageError(f"{name} must be true or false, got {value!r}.",
                         f"Set {name} to true or false (a boolean, not a string).")
    return bool(value)


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Dd2424Config:
    """One DD2424 A1 training run (spec B).

    The one vocabulary (the course's symbols in brackets): ``l2`` (lambda) of
    ``J = loss + l2 * sum W^2`` (gradient ``2 l2 W``, no bias term: ``l2_form: full``),
    ``learning_rate`` (eta), ``batch_size`` (n_batch), ``epochs`` (n_epochs), ``schedule``
    (the learning-rate decay).  The course names stay accepted as input aliases (``ALIASES``).
    ``init``: ``"2022"`` (2020-2024 texts, W and b ~ N(0, 0.01^2), W drawn first) or
    ``"2025"`` (2025-2026 texts, W ~ 0.01 N(0, 1), b = 0).
    ``schedule``: ``"none"``, ``"step"`` (eta * decay_factor every ``decay_every`` epochs) or
    ``"plateau"`` (eta * decay_factor after ``patience`` epochs without a lower validation
    loss).  ``n_val`` is the validation size of the ``"bonus"`` split (ignored by ``"a1"``).
    ``rng``: ``"numpy"`` (``default_rng(seed)``: the 2025-26 text's own stream, W drawn first,
    then a ``rng.permutation`` per epoch) or ``"legacy"`` (``RandomState(seed)``; the 2022-24
    teachers used Matlab's ``rng(400)``, which no NumPy stream reproduces).  ``numpy`` is left
    out of ``to_dict`` so older runs keep their keys.
    """

    # the course's own names, accepted as input aliases of the one vocabulary
    ALIASES: ClassVar[dict] = {"eta": "learning_rate", "lam": "l2", "n_batch": "batch_size",
                               "n_epochs": "epochs", "decay": "schedule"}

    model: str = "softmax"
    split: str = "a1"
    l2: float = 0.0
    l2_form: str = "full"
    learning_rate: float = 0.001
    batch_size: int = 100
    epochs: int = 40
    shuffle: bool = True
    flip: bool = False
    flip_prob: float = 0.5
    schedule: str = "none"
    decay_every: int = 10
    decay_factor: float = 0.1
    patience: int = 3
    init: str = "2022"
    seed: int = 42
    rng: str = "numpy"
    dtype: str = "float32"
    n_val: int = 1000

    def resolved(self) -> "Dd2424Config":
        """Normalised copy; raises UsageError (with a hint) for any invalid value."""
        out = dataclasses.replace(
            self,
            model=_choice("model", self.model, MODELS, "DD2424 model"),
            split=_choice("split", self.split, SPLITS, "DD2424 split"),
            l2=_float("l2", self.l2, "The regularisation strength l2 (lambda) must be >= 0, "
                      "for example 0, 0.1 or 1.", nonneg=True),
            l2_form=_l2_form(self.l2_form, "full", "DD2424's regulariser is l2 * sum W^2 "
                             "over W only (gradient 2 l2 W)"),
            learning_rate=_float("learning_rate", self.learning_rate,
                                 "Use a positive learning rate (eta) such as 0.001.", positive=True),
            batch_size=_int("batch_size", self.batch_size, 1,
                            "Use a mini-batch size (n_batch) such as 100."),
            epochs=_int("epochs", self.epochs, 1, "Use for example 40 epochs."),
            shuffle=_bool("shuffle", self.shuffle),
            flip=_bool("flip", self.flip),
            flip_prob=_float("flip_prob", self.flip_prob,
                             "The flip probability lies in (0, 1]; the text uses 0.5.",
                             positive=True, upper=1.0),
            schedule=_choice("schedule", self.schedule, DECAYS, "learning-rate schedule"),
            decay_every=_int("decay_every", self.decay_every, 1,
                             "The step-decay period is a number of epochs, for example 10."),
            decay_factor=_float("decay_factor", self.decay_factor,
                                "The decay factor lies in (0, 1]; 0.1 divides eta by 10.",
                                positive=True, upper=1.0),
            patience=_int("patience", self.patience, 1,
                          "The plateau patience is a number of epochs, for example 3."),
            init=_choice("init", self.init, tuple(INITS), "initialisation edition"),
            seed=_int("seed", self.seed, 0, "Use a non-negative integer seed such as 42."),
            rng=_choice("rng", self.rng, RNG_KINDS, "random stream (rng)"),
            dtype=_choice("dtype", self.dtype, tuple(DTYPES), "dtype"),
            n_val=_int("n_val", self.n_val, 1,
                       "The bonus split holds out n_val training images, for example 1000."),
        )
        return out

    def lr_schedule(self):
        """The learning-rate schedule object (None: a constant ``learning_rate``)."""
        if self.schedule == "step":
            return make_schedule("step", self.learning_rate, factor=self.decay_factor,
                                 every=self.decay_every)
        if self.schedule == "plateau":
            return make_schedule("plateau", self.learning_rate, factor=self.decay_factor,
                                 patience=self.patience)
        return None

    def to_dict(self) -> dict:
        return config_dict(self)


# --------------------------------------------------------------------------- data


_SHA_CACHE: dict[tuple, str] = {}


def file_sha256(path: Path) -> str:
    """sha256 of a file, cached per process by (path, mtime, size)."""
    path = Path(path).resolve()
    try:
        st = path.stat()
    except OSError as exc:
        raise DataError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _SHA_CACHE:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        _SHA_CACHE[key] = h.hexdigest()
    return _SHA_CACHE[key]


def cifar_checksums(c: Cifar10Data, files) -> dict[str, str]:
    """``{file name: sha256}`` of the named files of ``c.directory`` (as verified on load)."""
    return c.checksums(files)


@dataclass(frozen=True, eq=False)
class Prepared:
    X_train: np.ndarray
    Y_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    Y_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    label_names: tuple[str, ...]
    directory: Path


@one_slot
def _prepare(c: Cifar10Data, split: str, n_val: int, dtype: str) -> Prepared:
    def build() -> dict:
        s = dd2424_split(c) if split == "a1" else dd2424_bonus_split(c, n_val=n_val)
        dt = DTYPES[dtype]
        (X_tr, X_va, X_te), _, _ = standardize(s.X_train, s.X_val, s.X_test, dtype=dt)
        return dict(X_train=X_tr, Y_train=core.one_hot(s.y_train, K, dt), y_train=s.y_train,
                    X_val=X_va, Y_val=core.one_hot(s.y_val, K, dt), y_val=s.y_val,
                    X_test=X_te, y_test=s.y_test)

    # read-only; one copy on the machine for the scheduler's workers (runs/prepared.py)
    a = shared_arrays("dd2424", data_key(c.sha256), (split, n_val, dtype), build)
    return Prepared(**a, label_names=tuple(c.label_names), directory=Path(c.directory))


def prepare(cfg: Dd2424Config, data_dir: Path | None) -> Prepared:
    """Standardised arrays for ``cfg`` (cached per process per loaded dataset)."""
    c = load_cifar10(data_dir)
    return _prepare(c, cfg.split, cfg.n_val if cfg.split == "bonus" else 0, cfg.dtype)


# --------------------------------------------------------------------------- the run


def run(cfg: Dd2424Config, out: Path, ctx: RunContext | None = None) -> dict:
    """Train one model and publish its run directory at ``out``; returns metrics.json.

    Raises
    ------
    UsageError : invalid configuration (before anything is written).
    DataError : CIFAR-10 missing or corrupted (before anything is written).
    TrainingDiverged : NaN/inf loss (the temporary run directory is discarded).
    """
    ctx = ctx or RunContext()
    cfg = cfg.resolved()
    started = now_iso()
    t0 = time.perf_counter()
    c = load_cifar10(ctx.data_dir)
    data = _prepare(c, cfg.split, cfg.n_val if cfg.split == "bonus" else 0, cfg.dtype)
    n = len(data.y_train)
    if cfg.batch_size > n:
        raise UsageError(f"batch_size={cfg.batch_size} is larger than the {n} training images.",
                         f"Choose batch_size between 1 and {n}.")
    schedule = cfg.lr_schedule()
    checksums = cifar_checksums(c, SPLIT_FILES[cfg.split])
    t_data = time.perf_counter() - t0
    with RunDir(out) as rd:
        res = train_fused(
            data.X_train, data.Y_train, data.y_train, data.X_val, data.Y_val, data.y_val,
            model=cfg.model, lam=cfg.l2, eta=cfg.learning_rate, n_batch=cfg.batch_size,
            n_epochs=cfg.epochs, shuffle=cfg.shuffle, flip=cfg.flip, flip_prob=cfg.flip_prob,
            schedule=schedule,
            rng=make_rng(cfg.rng, cfg.seed), init_std=INIT_STD,
            bias_init=INITS[cfg.init], dtype=DTYPES[cfg.dtype], callback=ctx.progress)
        t1 = time.perf_counter()
        metrics = final_metrics(cfg, res, data)
        p_true, correct = ground_truth_probabilities(res.W, res.b, data.X_test, data.y_test,
                                                     cfg.model)
        write_outputs(rd.path, cfg, res, metrics, data.label_names)
        io.write_npz(rd.path / "test_probabilities.npz", p_true=p_true, correct=correct)
        seconds = {"data": t_data, "train": res.seconds, "outputs": time.perf_counter() - t1,
                   "total": time.perf_counter() - t0}
        io.write_json(rd.path / "run.json", run_record(
            ctx.argv, cfg.seed, seconds, started,
            {"rng": {"kind": cfg.rng, "seed": cfg.seed}, "data": str(data.directory),
             "data_version": c.version, "data_sha256": checksums}))
        rd.commit()
    return metrics


def final_metrics(cfg: Dd2424Config, res: FusedResult, data: Prepared) -> dict:
    """metrics.json: the last history row (train/val), the test set, sizes and norms."""
    h = res.history
    test_loss, test_cost, test_acc = core.evaluate_chunked(
        res.W, res.b, data.X_test, None, data.y_test, cfg.l2, cfg.model)
    val_acc = np.asarray(h["val_accuracy"], dtype=np.float64)
    best = int(np.argmax(val_acc))
    W64 = res.W.astype(np.float64)
    return {
        "model": cfg.model,
        "split": cfg.split,
        "test_accuracy": test_acc,
        "test_loss": test_loss,
        "test_cost": test_cost,
        "train_loss": h["train_loss"][-1],
        "train_cost": h["train_cost"][-1],
        "train_accuracy": h["train_accuracy"][-1],
        "val_loss": h["val_loss"][-1],
        "val_cost": h["val_cost"][-1],
        "val_accuracy": h["val_accuracy"][-1],
        "best_val_accuracy": float(val_acc[best]),
        "best_val_epoch": int(h["epoch"][best]),
        "train_cost_epoch1": h["train_cost"][1],
        "l2": cfg.l2,
        "l2_form": cfg.l2_form,
        "learning_rate": cfg.learning_rate,
        "final_lr": h["lr"][-1],
        "batch_size": cfg.batch_size,
        "epochs": cfg.epochs,
        "steps": res.steps,
        "n_train": int(len(data.y_train)),
        "n_val": int(len(data.y_val)),
        "n_test": int(len(data.y_test)),
        "W_sum_squares": float(np.sum(W64 * W64)),
        "W_norm": float(np.linalg.norm(W64)),
        "b_norm": float(np.linalg.norm(res.b.astype(np.float64))),
    }


def _title(cfg: Dd2424Config) -> str:
    name = "softmax + CE" if cfg.model == "softmax" else "sigmoid + MBCE"
    return f"{name}, \u03bb={cfg.l2:g}, \u03b7={cfg.learning_rate:g}, n_batch={cfg.batch_size}"


def write_outputs(d: Path, cfg: Dd2424Config, res: FusedResult, metrics: dict,
                  label_names) -> None:
    io.atomic_write_text(d / "config.yaml", yaml.safe_dump(
        {"kind": KIND, **cfg.to_dict()}, sort_keys=False))
    io.write_json(d / "metrics.json", metrics)
    io.write_csv(d / "history.csv", {k: np.asarray(res.history[k]) for k in HISTORY_KEYS})
    io.write_npz(d / "weights.npz", W=res.W, b=res.b)
    plot_run(d, cfg, res, label_names)


def plot_run(d: Path, cfg: Dd2424Config, res: FusedResult, label_names) -> None:
    h = res.history
    ep = np.asarray(h["epoch"])
    title = _title(cfg)
    line_figure(d / "loss.png", [
        Series(ep, np.asarray(h["train_loss"]), "training loss"),
        Series(ep, np.asarray(h["val_loss"]), "validation loss"),
    ], "Epoch", "Loss", title=title)
    line_figure(d / "cost.png", [
        Series(ep, np.asarray(h["train_cost"]), "training cost"),
        Series(ep, np.asarray(h["val_cost"]), "validation cost"),
    ], "Epoch", "Cost", title=title)
    cifar_templates(res.W, label_names, d / "templates.png", title=title)


def load_history(d: Path) -> dict[str, np.ndarray]:
    """Read back history.csv of a run directory as column arrays."""
    return io.read_csv(Path(d) / "history.csv")


def histograms_figure(run_dirs: dict[str, Path], path: Path, bins: int = 20) -> Path:
    """Bonus 2.2: histograms of the test-set probability of the ground-truth class, split by
    correctness, one panel per run (e.g. ``{"softmax + CE": dir1, "sigmoid + MBCE": dir2}``).

    Raises
    ------
    UsageError : no runs, or a directory without ``test_probabilities.npz``.
    """
    if not run_dirs:
        raise UsageError("The histogram figure needs at least one run directory.")
    panels = {}
    for name, d in run_dirs.items():
        f = Path(d) / "test_probabilities.npz"
        if not f.is_file():
            raise UsageError(f"{d} has no test_probabilities.npz.",
                             "Pass run directories written by a DD2424 run.")
        with np.load(f) as z:
            panels[str(name)] = (np.asarray(z["p_true"]), np.asarray(z["correct"], dtype=bool))
    return probability_histograms(panels, Path(path), bins=bins)
