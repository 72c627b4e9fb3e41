"""TDT4265 Assignment 1 runs: MNIST, binary logistic or softmax regression.

``run(config, out_dir, ctx)`` loads and pre-processes the canonical split, trains, and
publishes one run directory:

    config.yaml          the resolved configuration
    run.json             argv, seed, versions, BLAS, git commit, data checksums, timings
    metrics.json         final metrics on the full sets, steps, early-stopping point, norms
    history_steps.csv    step, epoch, mini-batch training loss (before the update)
    history_checks.csv   step, epoch, val_loss, val_accuracy, train_loss, train_accuracy
    weights.npz          W of shape (785, K); row 784 is the bias
    loss.png, accuracy.png
"""

from __future__ import annotations

import dataclasses
import functools
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from linclf_cli.data.mnist import load_mnist
from linclf_cli.data.splits import TDT4265_N_TRAIN, binary_subset, tdt4265_split
from linclf_cli.engine.evaluators import BlockGemm, batched_metrics
from linclf_cli.engine.fit import FitConfig, FitResult, fit
from linclf_cli.engine.functions import one_hot
from linclf_cli.engine.init import Init
from linclf_cli.engine.model import Model
from linclf_cli.engine.optim import SGD
from linclf_cli.engine.regularizers import L2
from linclf_cli.engine.samplers import RNG_KINDS, Sampler, make_rng
from linclf_cli.assignments.base import config_dict
from linclf_cli.assignments.tdt4265.preprocess import pre_process_images
from linclf_cli.errors import UsageError
from linclf_cli.plots.figures import ACC_LABEL, LOSS_LABEL, STEPS_LABEL, Series, line_figure, smoothed

from linclf_cli.runs import io
from linclf_cli.runs.context import RunContext
from linclf_cli.runs.provenance import now_iso, run_record
from linclf_cli.runs.rundir import RunDir

MODELS = ("binary", "softmax")
DTYPES = {"float32": np.float32, "float64": np.float64}
DEFAULTS = {
    # the starter's defaults and the text's suggested y-limits
    "binary": {"learning_rate": 0.05, "shuffle": False, "loss_ylim": (0.0, 0.2), "acc_ylim": (0.93, 0.99)},
    "softmax": {"learning_rate": 0.01, "shuffle": True, "loss_ylim": (0.2, 0.6), "acc_ylim": (0.89, 0.93)},
}


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one training run of the bias-column linear model.

    ``l2`` is the weight-decay coefficient c added to the gradient (c W); it equals the
    2022 text's lambda (R = 1/2 sum W^2, the engine's ``L2(c, "half", "all")``: the whole
    matrix, bias row included) and twice the 2021 text's lambda (R = sum W^2).
    """

    learning_rate: float
    batch_size: int
    epochs: int
    shuffle: bool = False
    l2: float = 0.0
    early_stopping: bool = False
    patience: int = 10
    restore_best: bool = False

    def validate(self, n_train: int | None) -> None:
        """Check the ranges; ``n_train`` (the training-set size) bounds the batch size, and
        ``None`` (size not known yet) checks only that it is at least 1."""
        if not np.isfinite(self.learning_rate) or self.learning_rate <= 0:
            raise UsageError(
                f"The learning rate must be a positive number, got {self.learning_rate}.",
                "Use for example --lr 0.01.",
            )
        if n_train is None and self.batch_size < 1:
            raise UsageError(f"The batch size must be at least 1, got {self.batch_size}.",
                             "Use for example --batch-size 128.")
        if n_train is not None and (self.batch_size < 1 or self.batch_size > n_train):
            raise UsageError(
                f"The batch size must lie between 1 and the training-set size {n_train}, "
                f"got {self.batch_size}.",
                "Use for example --batch-size 128.",
            )
        if self.epochs < 1:
            raise UsageError(f"The number of epochs must be at least 1, got {self.epochs}.")
        if not np.isfinite(self.l2) or self.l2 < 0:
            raise UsageError(f"The L2 coefficient must be >= 0, got {self.l2}.")
        if self.early_stopping and self.patience < 1:
            raise UsageError(f"The early-stopping patience must be >= 1, got {self.patience}.")


def steps_per_validation(steps_per_epoch: int) -> int:
    """The starter's ``num_batches_per_epoch // 5``, at least 1 for tiny data."""
    return max(steps_per_epoch // 5, 1)


def model_for(d: int, K: int, l2: float = 0.0) -> Model:
    """The starter's model: ``X W`` with the bias as the last row of W (785 x K), the logistic
    loss for one output and softmax cross-entropy for K, L2 as c/2 sum W^2 over all of W."""
    return Model((d, K), head="sigmoid" if K == 1 else "softmax", bias="column",
                 l2=L2(l2, "half", "all"))


def train(model: str, X_train: np.ndarray, T_train: np.ndarray, X_val: np.ndarray,
          T_val: np.ndarray, cfg: TrainConfig, rng: np.random.Generator, callback=None,
          block: int = 16, overlap: bool = True) -> FitResult:
    """The starter's trainer on the engine's ``fit``: zero weights, ``n // batch_size``
    batches per epoch (in order, or reshuffled by ``rng``), plain SGD, a check every fifth of
    an epoch (step 0 included) on the updated weights, early stopping with patience.  The
    checks go through the block-GEMM evaluator (``block`` checks per GEMM, in a background
    thread when ``overlap``); results do not depend on either.  ``model`` ("binary",
    "softmax") only names the run: the targets' width K picks the head."""
    n, d = X_train.shape
    cfg.validate(n)
    net = model_for(d, T_train.shape[1], cfg.l2)
    params = net.init(None, Init("zeros"), X_train.dtype)
    sampler = Sampler(n, cfg.batch_size, "shuffle" if cfg.shuffle else "in-order", rng=rng)
    fcfg = FitConfig(epochs=cfg.epochs, eval_every=steps_per_validation(sampler.steps_per_epoch),
                     early_stopping=cfg.early_stopping, patience=cfg.patience,
                     restore_best=cfg.restore_best)
    return fit(net, params, (X_train, T_train, X_val, T_val), fcfg, SGD(cfg.learning_rate),
               sampler, callback=callback, evaluator=BlockGemm(block, overlap))


def final_metrics(W: np.ndarray, X_train, T_train, X_val, T_val) -> dict:
    """Loss and accuracy on the full training and validation sets, and the weight norms."""
    tl, ta = batched_metrics(X_train, T_train, [W])
    vl, va = batched_metrics(X_val, T_val, [W])
    W64 = W.astype(np.float64)
    ss = float(np.sum(W64 * W64))
    return {
        "train_loss": float(tl[0]),
        "val_loss": float(vl[0]),
        "train_accuracy": float(ta[0]),
        "val_accuracy": float(va[0]),
        "weight_sum_of_squares": ss,
        "weight_frobenius_norm": float(np.sqrt(ss)),
    }


CHECK_COLUMNS = ("step", "epoch", "val_loss", "val_accuracy", "train_loss", "train_accuracy")


@dataclass(frozen=True)
class TdtConfig:
    """One TDT4265 training run.  ``None`` fields take the model's starter default.

    ``l2`` is the coefficient c added to the gradient (c W): the 2022 text's lambda; the
    2021 text's lambda is c / 2.  ``l2_form`` is ``half`` ((c/2) sum W^2 over the whole
    matrix, bias row included); config.yaml records it so ``l2`` means one thing per run.

    ``rng`` is the shuffle stream: ``numpy`` (linclf's ``default_rng(seed)``) or ``legacy``
    (``RandomState(seed)``, the starter's ``np.random.seed(0)`` and one ``np.random.shuffle``
    of a fresh index list per epoch; see engine/samplers.py).  ``numpy`` is left out of
    ``to_dict`` so runs made before the setting existed keep their keys.
    """

    model: str = "softmax"
    classes: tuple[int, int] = (2, 3)
    learning_rate: float | None = None
    batch_size: int = 128
    epochs: int = 50
    shuffle: bool | None = None
    l2: float = 0.0
    l2_form: str = "half"
    early_stopping: bool = False
    patience: int = 10
    restore_best: bool = False
    seed: int = 0
    rng: str = "numpy"
    dtype: str = "float32"
    loss_ylim: tuple[float, float] | None = None
    acc_ylim: tuple[float, float] | None = None

    def resolved(self) -> "TdtConfig":
        if self.model not in MODELS:
            raise UsageError(f"Unknown model {self.model!r} for MNIST.",
                             f"Choose one of: {', '.join(MODELS)}.")
        if self.dtype not in DTYPES:
            raise UsageError(f"Unknown dtype {self.dtype!r}.", "Choose float32 or float64.")
        if self.rng not in RNG_KINDS:
            raise UsageError(f"Unknown random stream rng={self.rng!r}.",
                             "Choose numpy (linclf's own default_rng) or legacy (the starter's "
                             "np.random.seed/shuffle stream, as RandomState(seed)).")
        if self.l2_form != "half":
            raise UsageError(f"l2_form must be 'half' here, got {self.l2_form!r}: TDT4265's "
                             "regulariser is (l2/2) sum W^2 over W, bias row included "
                             "(gradient l2 W).",
                             "Leave l2_form out (or set it to half); the orthogonal trainer "
                             "(linclf train --model linear|mlp --l2-form) takes either form.")
        pos, neg = self.classes
        if self.model == "binary" and (not (0 <= pos <= 9 and 0 <= neg <= 9) or pos == neg):
            raise UsageError(
                f"The binary task needs two different digits in 0-9, got {pos} and {neg}.",
                "Use for example --classes 2 3 (digit 2 is the positive class).")
        d = DEFAULTS[self.model]
        out = dataclasses.replace(
            self,
            classes=(int(pos), int(neg)),
            learning_rate=d["learning_rate"] if self.learning_rate is None else float(self.learning_rate),
            shuffle=d["shuffle"] if self.shuffle is None else bool(self.shuffle),
            loss_ylim=tuple(d["loss_ylim"] if self.loss_ylim is None else self.loss_ylim),
            acc_ylim=tuple(d["acc_ylim"] if self.acc_ylim is None else self.acc_ylim),
        )
        # ranges; the batch size against the training-set size where the split fixes it (softmax:
        # the first 20 000 images), else (binary: the digits' count) once the data is loaded
        out.train_config().validate(n_train=TDT4265_N_TRAIN if out.model == "softmax" else None)
        return out

    def train_config(self) -> TrainConfig:
        return TrainConfig(
            learning_rate=self.learning_rate, batch_size=self.batch_size, epochs=self.epochs,
            shuffle=bool(self.shuffle), l2=self.l2, early_stopping=self.early_stopping,
            patience=self.patience, restore_best=self.restore_best)

    def to_dict(self) -> dict:
        d = config_dict(self)
        for k in ("classes", "loss_ylim", "acc_ylim"):
            if d[k] is not None:
                d[k] = list(d[k])
        if self.model != "binary":
            d.pop("classes")
        return d


@dataclass(frozen=True)
class Prepared:
    X_train: np.ndarray
    T_train: np.ndarray
    X_val: np.ndarray
    T_val: np.ndarray
    checksums: dict


@functools.lru_cache(maxsize=8)
def _prepare(model: str, classes: tuple[int, int], dtype: str, data_dir: str | None) -> Prepared:
    m = load_mnist(Path(data_dir) if data_dir else None)
    X_train, y_train, X_val, y_val = tdt4265_split(m)
    dt = DTYPES[dtype]
    if model == "binary":
        X_train, T_train = binary_subset(X_train, y_train, classes[0], classes[1], dtype=dt)
        X_val, T_val = binary_subset(X_val, y_val, classes[0], classes[1], dtype=dt)
    else:
        T_train, T_val = one_hot(y_train, 10, dt), one_hot(y_val, 10, dt)
    return Prepared(pre_process_images(X_train, dt), T_train, pre_process_images(X_val, dt), T_val,
                    dict(m.sha256))


def prepare(cfg: TdtConfig, data_dir: Path | None) -> Prepared:
    """Pre-processed arrays for ``cfg`` (cached per process)."""
    return _prepare(cfg.model, tuple(cfg.classes), cfg.dtype, str(data_dir) if data_dir else None)


def run(cfg: TdtConfig, out: Path, ctx: RunContext | None = None) -> dict:
    """Train one model and publish its run directory at ``out``; returns metrics.json."""
    ctx = ctx or RunContext()
    cfg = cfg.resolved()
    started = now_iso()
    t0 = time.perf_counter()
    data = prepare(cfg, ctx.data_dir)
    tcfg = cfg.train_config()
    tcfg.validate(len(data.X_train))
    t_data = time.perf_counter() - t0
    with RunDir(out) as rd:
        t_train = time.perf_counter()
        res = train(cfg.model, data.X_train, data.T_train, data.X_val, data.T_val, tcfg,
                    make_rng(cfg.rng, cfg.seed), callback=ctx.progress)
        metrics = final_metrics(res.params["W1"], data.X_train, data.T_train,
                                data.X_val, data.T_val)
        metrics.update({
            "steps": res.steps,
            "epochs_completed": res.steps / res.steps_per_epoch,
            "steps_per_epoch": res.steps_per_epoch,
            "validation_every": steps_per_validation(res.steps_per_epoch),
            "stopped_step": res.stopped_step,
            "stopped_epoch": res.stopped_epoch,
            "best_val_loss": res.best_loss,
            "best_val_loss_step": res.best_step,
            "n_train": int(len(data.X_train)),
            "n_val": int(len(data.X_val)),
            "l2": cfg.l2,
            "l2_form": cfg.l2_form,
        })
        metrics["accuracy_gap"] = metrics["train_accuracy"] - metrics["val_accuracy"]
        metrics["loss_gap"] = metrics["val_loss"] - metrics["train_loss"]
        write_outputs(rd.path, cfg, res, metrics)
        seconds = {"data": t_data, "train": time.perf_counter() - t_train, **res.seconds,
                   "total": time.perf_counter() - t0}
        io.write_json(rd.path / "run.json", run_record(
            ctx.argv, cfg.seed, seconds, started,
            {"rng": {"kind": cfg.rng, "seed": cfg.seed}, "data_sha256": data.checksums}))
        rd.commit()
    return metrics


def write_outputs(d: Path, cfg: TdtConfig, res: FitResult, metrics: dict) -> None:
    io.atomic_write_text(d / "config.yaml", yaml.safe_dump(
        {"kind": "tdt4265", **cfg.to_dict()}, sort_keys=False))
    io.write_json(d / "metrics.json", metrics)
    steps = np.arange(res.steps)
    io.write_csv(d / "history_steps.csv", {
        "step": steps, "epoch": steps // res.steps_per_epoch, "train_loss": res.step_loss})
    io.write_csv(d / "history_checks.csv", {k: res.history[k] for k in CHECK_COLUMNS})
    io.write_npz(d / "weights.npz", W=res.params["W1"])
    plot_run(d, cfg, res)


def plot_run(d: Path, cfg: TdtConfig, res: FitResult) -> None:
    c = res.history
    line_figure(d / "loss.png", [
        smoothed(np.arange(res.steps), res.step_loss, 10, "Training Loss"),
        Series(c["step"], c["val_loss"], "Validation Loss"),
    ], STEPS_LABEL, LOSS_LABEL, cfg.loss_ylim)
    line_figure(d / "accuracy.png", [
        Series(c["step"], c["train_accuracy"], "Training Accuracy"),
        Series(c["step"], c["val_accuracy"], "Validation Accuracy"),
    ], STEPS_LABEL, ACC_LABEL, cfg.acc_ylim)


def load_history(d: Path) -> dict[str, dict[str, np.ndarray]]:
    """Read back history CSVs of a run directory as column arrays."""
    return {name: io.read_csv(Path(d) / f"{name}.csv") for name in ("history_steps", "history_checks")}
