"""Sapienza AML 2020 runs: the toy checks (Q1-Q3a) and the CIFAR-10 MLP (Q3b SGD, Q4 Adam).

``run_toy(AmlToyConfig(), out, ctx)`` needs no data and publishes:

    config.yaml        ``kind: aml-toy`` first
    run.json           argv, seed, versions, timings
    metrics.json       forward_abs_diff (Q1a), loss / loss_abs_diff (Q1b), gradcheck {W1, b1,
                       W2, b2: max rel error} and gradcheck_max_rel_error (Q2d),
                       toy_final_loss (Q3a), the text's thresholds and pass flags
    history.csv        iteration, learning_rate, loss (the toy training loss)
    toy_loss.png       training loss against iteration (Fig. 2 of the text)

``run(AmlConfig(...), out, ctx)`` trains on CIFAR-10 and publishes:

    config.yaml        ``kind: aml`` first
    run.json           argv, seed, versions, BLAS, git commit, data dir + sha256, timings
    metrics.json       final train accuracy (full training set), val accuracy, test accuracy
                       (the first n_test test images, as the AML scripts), test_accuracy_full
                       (whole test set, when it is larger), best val accuracy, at_chance, ...
    history_steps.csv  iteration, epoch, learning_rate, loss (mini-batch loss, before update)
    history_epochs.csv epoch, iteration, learning_rate, train_accuracy, val_accuracy
                       (+ loss, the epoch's mean batch loss, for Adam)
    weights.npz        W1, b1, ..., WL, bL (W_l of shape (fan_in, fan_out), code convention)
    loss.png           loss against iteration
    accuracy.png       training and validation accuracy against epoch
    first_layer.png    W1 columns as 32x32x3 images (only with one hidden layer)

SGD (Q3b) rows of history_epochs.csv are the starter's records at ``it % iterations_per_epoch
== 0`` (``epoch = it // iterations_per_epoch``; training accuracy on the current mini-batch).
Adam (Q4) rows come after each epoch (``epoch`` counts completed epochs, 1-based; training
accuracy of the epoch's forward passes).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import time
from dataclasses import dataclass
from typing import ClassVar
from pathlib import Path

import numpy as np
import yaml

from linclf_cli.data.cifar import Cifar10Data, load_cifar10
from linclf_cli.data.registry import CIFAR10_FILES
from linclf_cli.data.splits import aml_split, subtract_mean_image
from linclf_cli.assignments.base import config_dict
from linclf_cli.assignments.aml2020 import toy as aml_toy
from linclf_cli.assignments.aml2020 import net as mlp
from linclf_cli.assignments.aml2020.net import train_adam, train_sgd
from linclf_cli.engine.samplers import RNG_KINDS, make_rng
from linclf_cli.errors import UsageError
from linclf_cli.plots.figures import Series, line_figure
from linclf_cli.plots.images import first_layer_grid

from linclf_cli.runs import io
from linclf_cli.runs.context import RunContext
from linclf_cli.runs.prepared import data_key, one_slot, shared_arrays
from linclf_cli.assignments.dd2424.recipe import _choice, _float, _int, _l2_form, cifar_checksums  # shared validators
from linclf_cli.runs.provenance import now_iso, run_record
from linclf_cli.runs.rundir import RunDir

KIND = "aml"
TOY_KIND = "aml-toy"
OPTIMIZERS = ("sgd", "adam")
PREPROCESS = ("mean_image", "normalize")
INITS = ("normal", "he")  # init_std * N(0, 1) (the starters), or sqrt(2 / fan_in) * N(0, 1)
DTYPES = {"float32": np.float32, "float64": np.float64}
D_IN, N_CLASSES = 3072, 10
CHANCE_THRESHOLD = 0.15

# The starter defaults: Q3b (NumPy TwoLayerNet.train) and Q4 (PyTorch MLP).
DEFAULTS = {
    "sgd": {"learning_rate": 1e-4, "l2": 0.25, "init_std": 1e-4, "preprocess": "mean_image"},
    "adam": {"learning_rate": 1e-3, "l2": 1e-3, "init_std": 1e-3, "preprocess": "normalize"},
}

# l2_form per optimizer: SGD's reg * sum W^2 (weights only); Adam's coupled weight decay adds
# l2 * theta to every gradient (biases included), the gradient of (l2/2) sum theta^2
L2_FORMS = {"sgd": "full", "adam": "half"}
L2_FORM_TEXT = {"sgd": "AML SGD's regulariser is reg * sum W^2 over the weights (gradient 2 reg W)",
                "adam": "AML Adam's coupled weight decay adds l2 * theta to every gradient, "
                        "biases included (the gradient of (l2/2) sum theta^2)"}

# The text's acceptance thresholds for the toy problem.
TOY_THRESHOLDS = {"forward": 1e-7, "loss": 1e-12, "gradcheck": 1e-8, "toy_loss": 0.02}


# --------------------------------------------------------------------------- toy (Q1-Q3a)


@dataclass(frozen=True)
class AmlToyConfig:
    """The toy checks.  The model (RandomState(0), std 0.1) and data (RandomState(1)) are
    the starter's; ``seed`` drives only the with-replacement batch draws of Q3a, from
    ``default_rng(seed)`` (``rng: numpy``) or, with ``rng: legacy``, from ``RandomState(seed)``
    continuing after the model's 70 draws, as the notebook's (seed 0: its printed losses).
    ``numpy`` is left out of ``to_dict`` so older runs keep their keys."""

    # the course's own names, accepted as input aliases of the one vocabulary
    ALIASES: ClassVar[dict] = {"reg": "l2", "num_iters": "iterations"}
    learning_rate: float = 0.1
    l2: float = 5e-6  # the starter's reg: reg * sum W^2 (l2_form full, weights only)
    l2_form: str = "full"
    iterations: int = 100  # the starter's num_iters
    batch_size: int = 200
    learning_rate_decay: float = 0.95
    h: float = 1e-5
    seed: int = 0
    rng: str = "numpy"

    def resolved(self) -> "AmlToyConfig":
        return dataclasses.replace(
            self,
            learning_rate=_float("learning_rate", self.learning_rate,
                                 "The text uses learning_rate 0.1.", positive=True),
            l2=_float("l2", self.l2, "The text uses reg (l2) 5e-6.", nonneg=True),
            l2_form=_l2_form(self.l2_form, "full", "the toy's regulariser is reg * sum W^2 "
                             "over the weights (gradient 2 reg W)"),
            iterations=_int("iterations", self.iterations, 1,
                            "The text uses 100 iterations (num_iters)."),
            batch_size=_int("batch_size", self.batch_size, 1, "The starter uses batch 200."),
            learning_rate_decay=_float("learning_rate_decay", self.learning_rate_decay,
                                       "The starter decays by 0.95.", positive=True),
            h=_float("h", self.h, "The starter's step is h = 1e-5.", positive=True),
            seed=_int("seed", self.seed, 0, "Use a non-negative integer seed."),
            rng=_choice("rng", self.rng, RNG_KINDS, "random stream (rng)"),
        )

    def to_dict(self) -> dict:
        return config_dict(self)


def run_toy(cfg: AmlToyConfig, out: Path, ctx: RunContext | None = None) -> dict:
    """Q1a, Q1b, Q2d and Q3a on the toy problem; publishes ``out``; returns metrics.json."""
    ctx = ctx or RunContext()
    cfg = cfg.resolved()
    started = now_iso()
    t0 = time.perf_counter()
    with RunDir(out) as rd:
        forward = aml_toy.toy_forward_check()
        X, y = aml_toy.init_toy_data()
        params = aml_toy.init_toy_model()
        loss, _ = mlp.loss_and_grads(params, X, y, reg=aml_toy.TOY_REG)
        loss_diff = abs(loss - aml_toy.CORRECT_LOSS)
        checks = aml_toy.toy_gradcheck(h=cfg.h)
        t_checks = time.perf_counter() - t0

        def progress(step: int, total: int, fields: dict) -> None:
            if ctx.progress is not None:
                ctx.progress(step, total, {"loss": fields["loss"]})

        rng = make_rng(cfg.rng, cfg.seed)
        if cfg.rng == "legacy":  # the notebook's batches continue the model's seed-0 stream
            aml_toy.init_toy_model(rng)
        hist = train_sgd(params, X, y, X, y, learning_rate=cfg.learning_rate,
                         learning_rate_decay=cfg.learning_rate_decay, reg=cfg.l2,
                         num_iters=cfg.iterations, batch_size=cfg.batch_size,
                         rng=rng, progress=progress)
        lrs = hist["step_lr"]
        losses = np.asarray(hist["loss_history"], dtype=np.float64)
        gradcheck = {c.name: c.max_rel_error for c in checks}
        g_max = max(gradcheck.values())
        final = float(losses[-1])
        metrics = {
            "forward_abs_diff": forward,
            "loss": loss,
            "correct_loss": aml_toy.CORRECT_LOSS,
            "loss_abs_diff": loss_diff,
            "gradcheck": gradcheck,
            "gradcheck_abs": {c.name: c.max_abs_error for c in checks},
            "gradcheck_max_rel_error": g_max,
            "gradcheck_h": cfg.h,
            "toy_final_loss": final,
            "toy_initial_loss": float(losses[0]),
            "toy_final_train_accuracy": float(mlp.accuracy(params, X, y)),
            "toy_final_learning_rate": hist["final_learning_rate"],
            "thresholds": dict(TOY_THRESHOLDS),
            "passed": {
                "forward": forward < TOY_THRESHOLDS["forward"],
                "loss": loss_diff < TOY_THRESHOLDS["loss"],
                "gradcheck": g_max < TOY_THRESHOLDS["gradcheck"],
                "toy_loss": final < TOY_THRESHOLDS["toy_loss"],
            },
        }
        d = rd.path
        io.atomic_write_text(d / "config.yaml", yaml.safe_dump(
            {"kind": TOY_KIND, **cfg.to_dict()}, sort_keys=False))
        io.write_json(d / "metrics.json", metrics)
        it = np.arange(len(losses))
        io.write_csv(d / "history.csv", {"iteration": it, "learning_rate": np.asarray(lrs),
                                         "loss": losses})
        line_figure(d / "toy_loss.png", [Series(it, losses, "training loss")], "iteration",
                    "training loss", title="Training Loss history")
        seconds = {"checks": t_checks, "total": time.perf_counter() - t0}
        io.write_json(d / "run.json", run_record(
            ctx.argv, cfg.seed, seconds, started,
            {"rng": {"kind": cfg.rng, "seed": cfg.seed}, "data": "AML toy data (RandomState(1): X = 10 N(0,1) of shape 5x4)"}))
        rd.commit()
    return metrics


# --------------------------------------------------------------------------- CIFAR-10 (Q3b, Q4)


def _hidden(value) -> tuple[int, ...]:
    hint = "Give the hidden sizes as a list of positive integers, for example [50] or [100, 50]."
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,)
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise UsageError(f"hidden must be a list of layer sizes, got {value!r}.", hint)
    if len(value) == 0:
        raise UsageError("hidden is empty: the network needs at least one hidden layer.", hint)
    for i, h in enumerate(value):
        if isinstance(h, bool) or not isinstance(h, numbers.Integral):
            raise UsageError(f"Hidden size {h!r} (position {i}) is not an integer.", hint)
        if h < 1:
            raise UsageError(f"Hidden layer {i + 1} has size {h}; every hidden size must be "
                             "at least 1.", hint)
    return tuple(int(h) for h in value)


@dataclass(frozen=True)
class AmlConfig:
    """One AML CIFAR-10 run.  ``None`` fields take the optimiser's starter default.

    The one vocabulary: ``l2`` is the starter's ``reg``, ``iterations`` its ``num_iters``
    (both accepted as input aliases, ``ALIASES``).

    ``optimizer="sgd"`` (Q3b, NumPy starter): ``iterations`` iterations of SGD on mini-batches
    drawn with replacement, L2 ``l2 * sum ||W||^2`` over the weights (gradient ``2 l2 W``:
    ``l2_form: full``), learning rate
    decayed by ``learning_rate_decay`` every epoch; defaults lr 1e-4, reg 0.25, std 1e-4,
    pixels 0..255 minus the training mean image (``preprocess="mean_image"``).

    ``optimizer="adam"`` (Q4, PyTorch MLP): ``epochs`` epochs of Adam on shuffled batches,
    ``l2`` is Adam's coupled ``weight_decay``: ``l2 * theta`` added to every parameter's
    gradient (biases included) before the moments, the gradient of ``(l2/2) sum theta^2``, so
    ``l2_form: half`` (not AdamW's decoupled decay); lr decayed per epoch; defaults lr 1e-3,
    weight decay 1e-3, std 1e-3, ``preprocess="normalize"`` (x/255, then (x - 0.5)/0.5).

    ``iterations`` is used by SGD only and ``epochs`` by Adam only.  ``l2_form`` is fixed by
    the optimizer (``None``: that form; recorded in config.yaml so ``l2`` means one thing).
    """

    # the course's own names, accepted as input aliases of the one vocabulary
    ALIASES: ClassVar[dict] = {"reg": "l2", "num_iters": "iterations"}

    optimizer: str = "sgd"
    hidden: tuple[int, ...] = (50,)
    iterations: int = 1000
    epochs: int = 10
    batch_size: int = 200
    learning_rate: float | None = None
    learning_rate_decay: float = 0.95
    l2: float | None = None
    l2_form: str | None = None
    init_std: float | None = None
    init: str = "normal"
    preprocess: str | None = None
    n_train: int = 49000
    n_val: int = 1000
    n_test: int = 1000
    seed: int = 0
    dtype: str = "float32"

    def resolved(self) -> "AmlConfig":
        """Normalised copy with the defaults filled in; raises UsageError when invalid."""
        opt = _choice("optimizer", self.optimizer, OPTIMIZERS, "optimizer")
        d = DEFAULTS[opt]
        lr = d["learning_rate"] if self.learning_rate is None else self.learning_rate
        reg = d["l2"] if self.l2 is None else self.l2
        form = L2_FORMS[opt]
        std = d["init_std"] if self.init_std is None else self.init_std
        pre = d["preprocess"] if self.preprocess is None else self.preprocess
        out = dataclasses.replace(
            self,
            optimizer=opt,
            hidden=_hidden(self.hidden),
            iterations=_int("iterations", self.iterations, 1,
                            "The Q3b default is 1000 iterations (num_iters)."),
            epochs=_int("epochs", self.epochs, 1, "The Q4 default is 10 epochs."),
            batch_size=_int("batch_size", self.batch_size, 1, "The starters use batch 200."),
            learning_rate=_float("learning_rate", lr,
                                 "Use a positive learning rate such as 1e-4 (SGD) or 1e-3 (Adam).",
                                 positive=True),
            learning_rate_decay=_float("learning_rate_decay", self.learning_rate_decay,
                                       "The starters decay by 0.95 per epoch (1 = no decay).",
                                       positive=True),
            l2=_float("l2", reg, "The regularisation l2 (reg; weight decay for Adam) must be "
                      ">= 0, for example 0.25 (SGD) or 1e-3 (Adam).", nonneg=True),
            l2_form=_l2_form(form if self.l2_form is None else self.l2_form, form,
                             L2_FORM_TEXT[opt]),
            init_std=_float("init_std", std, "The starters use 1e-4 (SGD) or 1e-3 (Adam).",
                            positive=True),
            init=_choice("init", self.init, INITS, "initialisation scheme"),
            preprocess=_choice("preprocess", pre, PREPROCESS, "pre-processing"),
            n_train=_int("n_train", self.n_train, 1, "The AML split uses 49000."),
            n_val=_int("n_val", self.n_val, 1, "The AML split uses 1000."),
            n_test=_int("n_test", self.n_test, 1, "The AML scripts test on 1000 images."),
            seed=_int("seed", self.seed, 0, "Use a non-negative integer seed."),
            dtype=_choice("dtype", self.dtype, tuple(DTYPES), "dtype"),
        )
        return out

    @property
    def layer_sizes(self) -> list[int]:
        return [D_IN, *self.hidden, N_CLASSES]

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        return d


@dataclass(frozen=True, eq=False)
class Prepared:
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray  # the first n_test test images
    y_test: np.ndarray
    X_test_full: np.ndarray  # the whole test set
    y_test_full: np.ndarray
    directory: Path


def preprocess_arrays(train: np.ndarray, *others: np.ndarray, method: str, dtype) -> tuple:
    """``"mean_image"``: 0..255 minus the training mean image (Q3b).  ``"normalize"``:
    ToTensor + Normalize(0.5, 0.5), i.e. ``(x / 255 - 0.5) / 0.5`` (Q4; no statistics)."""
    if method == "mean_image":
        arrays, _ = subtract_mean_image(train, *others, dtype=dtype)
        return arrays
    dt = np.dtype(dtype).type
    out = []
    for a in (train, *others):  # ((a / 255) - 0.5) / 0.5, in place in one new array per input
        x = np.array(a, dtype=dt)
        np.divide(x, dt(255.0), out=x)
        np.subtract(x, dt(0.5), out=x)
        np.divide(x, dt(0.5), out=x)
        out.append(x)
    return tuple(out)


@one_slot
def _prepare(c: Cifar10Data, n_train: int, n_val: int, n_test: int, method: str,
             dtype: str) -> Prepared:
    def build() -> dict:
        s = aml_split(c, n_train=n_train, n_val=n_val, n_test=n_test)
        X_tr, X_va, X_full = preprocess_arrays(s.X_train, s.X_val, c.test_images,
                                               method=method, dtype=DTYPES[dtype])
        return dict(X_train=X_tr, y_train=s.y_train, X_val=X_va, y_val=s.y_val,
                    X_full=X_full, y_test=s.y_test)

    # read-only; one copy on the machine for the scheduler's workers (runs/prepared.py)
    a = shared_arrays("aml", data_key(c.sha256), (n_train, n_val, n_test, method, dtype), build)
    return Prepared(a["X_train"], a["y_train"], a["X_val"], a["y_val"], a["X_full"][:n_test],
                    a["y_test"], a["X_full"], c.test_labels, Path(c.directory))


def prepare(cfg: AmlConfig, data_dir: Path | None) -> Prepared:
    """Pre-processed arrays for ``cfg`` (resolved), cached per process per loaded dataset."""
    c = load_cifar10(data_dir)
    return _prepare(c, cfg.n_train, cfg.n_val, cfg.n_test, cfg.preprocess, cfg.dtype)


def run(cfg: AmlConfig, out: Path, ctx: RunContext | None = None) -> dict:
    """Train one MLP on CIFAR-10 and publish its run directory; returns metrics.json.

    Raises
    ------
    UsageError : invalid configuration or split sizes (before anything is written).
    DataError : CIFAR-10 missing or corrupted (before anything is written).
    TrainingDiverged : NaN/inf loss (the temporary run directory is discarded).
    """
    ctx = ctx or RunContext()
    cfg = cfg.resolved()
    started = now_iso()
    t0 = time.perf_counter()
    c = load_cifar10(ctx.data_dir)
    data = _prepare(c, cfg.n_train, cfg.n_val, cfg.n_test, cfg.preprocess, cfg.dtype)
    checksums = cifar_checksums(c, CIFAR10_FILES)
    t_data = time.perf_counter() - t0
    with RunDir(out) as rd:
        t1 = time.perf_counter()
        rng = np.random.default_rng(cfg.seed)
        params = mlp.init_mlp(cfg.layer_sizes, rng, std=cfg.init_std, dtype=DTYPES[cfg.dtype],
                              scheme=cfg.init)
        hist, steps_lr = _train(cfg, params, data, rng, ctx)
        t_train = time.perf_counter() - t1
        metrics = final_metrics(cfg, params, hist, data)
        write_outputs(rd.path, cfg, params, hist, steps_lr, metrics)
        seconds = {"data": t_data, "train": t_train, "total": time.perf_counter() - t0}
        io.write_json(rd.path / "run.json", run_record(
            ctx.argv, cfg.seed, seconds, started,
            {"rng": {"kind": "numpy", "seed": cfg.seed}, "data": str(data.directory),
             "data_version": c.version, "data_sha256": checksums}))
        rd.commit()
    return metrics


def _train(cfg: AmlConfig, params: dict, data: Prepared, rng: np.random.Generator,
           ctx: RunContext) -> tuple[dict, np.ndarray]:
    """Run the optimiser; returns its history and the learning rate of every iteration."""
    n = len(data.y_train)
    total = cfg.iterations if cfg.optimizer == "sgd" else cfg.epochs * -(-n // cfg.batch_size)

    def progress(step: int, total_: int, fields: dict) -> None:
        if ctx.progress is not None:
            ctx.progress(step, total, {
                "epoch": fields["epoch"], "epochs": cfg.epochs if cfg.optimizer == "adam" else None,
                "loss": fields["loss"], "val_accuracy": fields["val_accuracy"]})

    common = dict(batch_size=cfg.batch_size, rng=rng, progress=progress)
    if cfg.optimizer == "sgd":
        hist = train_sgd(params, data.X_train, data.y_train, data.X_val, data.y_val,
                         learning_rate=cfg.learning_rate,
                         learning_rate_decay=cfg.learning_rate_decay, reg=cfg.l2,
                         num_iters=cfg.iterations, **common)
    else:
        hist = train_adam(params, data.X_train, data.y_train, data.X_val, data.y_val,
                          lr=cfg.learning_rate, weight_decay=cfg.l2,
                          lr_decay=cfg.learning_rate_decay, epochs=cfg.epochs, **common)
    return hist, np.asarray(hist["step_lr"], dtype=np.float64)


def epoch_table(cfg: AmlConfig, hist: dict) -> dict[str, np.ndarray]:
    """The accuracy records as columns (see the module docstring for ``epoch``)."""
    ipe = hist["iterations_per_epoch"]
    if cfg.optimizer == "sgd":
        it = np.asarray(hist["acc_iterations"], dtype=np.int64)
        return {"epoch": it // ipe, "iteration": it,
                "learning_rate": np.asarray(hist["learning_rate_history"], dtype=np.float64),
                "train_accuracy": np.asarray(hist["train_acc_history"], dtype=np.float64),
                "val_accuracy": np.asarray(hist["val_acc_history"], dtype=np.float64)}
    e = np.arange(1, len(hist["val_acc_history"]) + 1)
    return {"epoch": e, "iteration": e * ipe - 1,
            "learning_rate": np.asarray(hist["learning_rate_history"], dtype=np.float64),
            "loss": np.asarray(hist["epoch_loss_history"], dtype=np.float64),
            "train_accuracy": np.asarray(hist["train_acc_history"], dtype=np.float64),
            "val_accuracy": np.asarray(hist["val_acc_history"], dtype=np.float64)}


def final_metrics(cfg: AmlConfig, params: dict, hist: dict, data: Prepared) -> dict:
    """metrics.json of a CIFAR-10 run (accuracies of the final parameters)."""
    table = epoch_table(cfg, hist)
    val_hist = table["val_accuracy"]
    best = int(np.argmax(val_hist))
    val_acc = mlp.accuracy(params, data.X_val, data.y_val)
    n_iter = len(hist["loss_history"])
    ipe = hist["iterations_per_epoch"]
    metrics = {
        "optimizer": cfg.optimizer,
        "hidden": list(cfg.hidden),
        "layer_sizes": cfg.layer_sizes,
        "n_params": int(sum(p.size for p in params.values())),
        "train_accuracy": mlp.accuracy(params, data.X_train, data.y_train),
        "val_accuracy": val_acc,
        "test_accuracy": mlp.accuracy(params, data.X_test, data.y_test),
        "best_val_accuracy": float(val_hist[best]),
        "best_val_epoch": int(table["epoch"][best]),
        "best_val_iteration": int(table["iteration"][best]),
        "at_chance": bool(val_acc < CHANCE_THRESHOLD),
        "final_loss": float(hist["loss_history"][-1]),
        "final_learning_rate": hist["final_learning_rate"],
        "iterations": n_iter,
        "iterations_per_epoch": ipe,
        "epochs": (n_iter / ipe) if cfg.optimizer == "sgd" else cfg.epochs,
        "learning_rate": cfg.learning_rate,
        "learning_rate_decay": cfg.learning_rate_decay,
        "l2": cfg.l2,
        "l2_form": cfg.l2_form,
        "batch_size": cfg.batch_size,
        "init_std": cfg.init_std,
        "init": cfg.init,
        "preprocess": cfg.preprocess,
        "n_train": int(len(data.y_train)),
        "n_val": int(len(data.y_val)),
        "n_test": int(len(data.y_test)),
        "weight_norms": {k: float(np.linalg.norm(v.astype(np.float64)))
                         for k, v in params.items() if k.startswith("W")},
    }
    if len(data.y_test_full) != len(data.y_test):
        metrics["test_accuracy_full"] = mlp.accuracy(params, data.X_test_full, data.y_test_full)
        metrics["n_test_full"] = int(len(data.y_test_full))
    return metrics


def _title(cfg: AmlConfig) -> str:
    h = "-".join(str(x) for x in cfg.hidden)
    what = "reg" if cfg.optimizer == "sgd" else "weight decay"
    return f"{cfg.optimizer.upper()}, hidden {h}, lr {cfg.learning_rate:g}, {what} {cfg.l2:g}"


def write_outputs(d: Path, cfg: AmlConfig, params: dict, hist: dict,
                  steps_lr: np.ndarray, metrics: dict) -> None:
    io.atomic_write_text(d / "config.yaml", yaml.safe_dump(
        {"kind": KIND, **cfg.to_dict()}, sort_keys=False))
    io.write_json(d / "metrics.json", metrics)
    loss = np.asarray(hist["loss_history"], dtype=np.float64)
    it = np.arange(len(loss))
    ipe = hist["iterations_per_epoch"]
    table = epoch_table(cfg, hist)
    io.write_csv(d / "history_steps.csv", {"iteration": it, "epoch": it // ipe,
                                           "learning_rate": steps_lr, "loss": loss})
    io.write_csv(d / "history_epochs.csv", table)
    io.write_npz(d / "weights.npz", **params)
    title = _title(cfg)
    line_figure(d / "loss.png", [Series(it, loss, "training loss (mini-batch)")],
                "Iteration", "Loss", title=f"Loss history: {title}")
    train_label = "train (mini-batch)" if cfg.optimizer == "sgd" else "train"
    line_figure(d / "accuracy.png", [
        Series(table["epoch"], table["train_accuracy"], train_label, style="o-"),
        Series(table["epoch"], table["val_accuracy"], "val", style="o-"),
    ], "Epoch", "Classification accuracy", title=f"Classification accuracy history: {title}")
    if len(cfg.hidden) == 1:
        first_layer_grid(params["W1"], d / "first_layer.png", layout="chw",
                         title=f"First-layer weights: {title}")


def load_history(d: Path) -> dict[str, dict[str, np.ndarray]]:
    """Read back the history CSVs of a CIFAR-10 run directory as column arrays."""
    return {name: io.read_csv(Path(d) / f"{name}.csv") for name in ("history_steps", "history_epochs")}
