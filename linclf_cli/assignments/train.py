"""The orthogonal training run: any recipe x data x model x head x optimizer x schedule.

``TrainConfig`` is the one vocabulary (``learning_rate``, ``batch_size``, ``epochs`` or
``iterations``, ``l2`` and ``l2_form``, ``seed``, ``optimizer``, ``schedule``, ``hidden``, ...).
``None`` fields take the recipe's value; without ``recipe`` the data's natural recipe applies
(TDT4265's for MNIST and IDX folders, DD2424's for a linear model on CIFAR-10, AML's for an
MLP on it) and the resolved config records which.  ``run`` trains the engine's one
:class:`~linclf_cli.engine.model.Model` with the one :func:`~linclf_cli.engine.fit.fit` and
writes a run directory (config.yaml, run.json, metrics.json, history.csv, weights.npz,
loss.png, accuracy.png).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from linclf_cli.engine import heads
from linclf_cli.engine.augment import flip_permutation, random_flip
from linclf_cli.engine.fit import FitConfig, evaluate, fit
from linclf_cli.engine.functions import one_hot
from linclf_cli.engine.model import Model
from linclf_cli.engine.optim import SGD, Adam
from linclf_cli.engine.regularizers import L2
from linclf_cli.engine.samplers import RNG_KINDS, Sampler, make_rng
from linclf_cli.engine.schedules import SCHEDULES, make_schedule
from linclf_cli.errors import TrainingDiverged, UsageError
from linclf_cli.plots.figures import ACC_LABEL, LOSS_LABEL, Series, line_figure
from linclf_cli.runs import io
from linclf_cli.runs.context import RunContext
from linclf_cli.runs.prepared import data_key, one_slot, shared_arrays
from linclf_cli.runs.provenance import now_iso, run_record
from linclf_cli.runs.rundir import RunDir

from .aml2020 import RECIPE as AML
from .base import Recipe, config_dict
from .dd2424 import RECIPE as DD
from .tdt4265 import RECIPE as TDT

RECIPES: dict[str, Recipe] = {r.name: r for r in (TDT, DD, AML)}
DATA = ("mnist", "mnist-2v3", "cifar10")  # or a path to an IDX folder
MODELS = ("linear", "mlp")
OPTIMIZERS = ("sgd", "adam")
DTYPES = {"float32": np.float32, "float64": np.float64}
TDT_N_TRAIN = 20_000


def natural_recipe(data: str, model: str) -> str:
    """TDT4265 for MNIST and IDX folders; on CIFAR-10 DD2424 (linear) or AML (MLP)."""
    if data == "cifar10":
        return "dd2424" if model == "linear" else "aml2020"
    return "tdt4265"


def _bad(msg: str, hint: str | None = None) -> UsageError:
    return UsageError(msg, hint)


@dataclass(frozen=True)
class TrainConfig:
    """One training run in the one vocabulary; ``None`` takes the recipe's value."""

    recipe: str | None = None
    data: str = "mnist"
    classes: tuple[int, int] | None = None
    model: str = "linear"
    hidden: tuple[int, ...] | None = None
    head: str | None = None
    optimizer: str = "sgd"
    schedule: str | None = None
    flip: bool = False
    early_stopping: bool = False
    patience: int = 10
    l2: float = 0.0
    l2_form: str | None = None
    learning_rate: float | None = None
    batch_size: int | None = None
    epochs: int | None = None
    iterations: int | None = None
    seed: int = 0
    rng: str = "numpy"  # numpy: default_rng(seed); legacy: RandomState(seed) (engine/samplers.py)
    dtype: str = "float32"

    @property
    def binary(self) -> bool:
        return self.classes is not None

    def resolved(self) -> "TrainConfig":
        """Recipe defaults filled in and every value checked (UsageError, exit 2)."""
        data = self.data
        if data not in DATA and not Path(data).is_dir():
            raise _bad(f"--data {data!r} is neither {', '.join(DATA)} nor a folder.",
                       "Pass a folder holding the four MNIST-named IDX files, or one of the names.")
        if self.model not in MODELS:
            raise _bad(f"Unknown --model {self.model!r}.", f"Choose one of: {', '.join(MODELS)}.")
        recipe = self.recipe or natural_recipe(data, self.model)
        if recipe not in RECIPES:
            raise _bad(f"Unknown --recipe {recipe!r}.", f"Choose one of: {', '.join(RECIPES)}.")
        r = RECIPES[recipe]
        if self.optimizer not in OPTIMIZERS:
            raise _bad(f"Unknown --optimizer {self.optimizer!r}.", "Choose sgd or adam.")
        if self.dtype not in DTYPES:
            raise _bad(f"Unknown dtype {self.dtype!r}.", "Choose float32 or float64.")
        if self.rng not in RNG_KINDS:
            raise _bad(f"Unknown --rng {self.rng!r}.",
                       "Choose numpy (default_rng(seed)) or legacy (RandomState(seed), a starter's "
                       "np.random.seed stream).")
        classes = self.classes
        if data == "mnist-2v3" and classes is None:
            classes = (2, 3)
        if classes is not None:
            if data == "cifar10":
                raise _bad("--classes picks two digits of MNIST-like data; it does not apply to cifar10.")
            pos, neg = classes
            if pos == neg or min(pos, neg) < 0:
                raise _bad(f"--classes needs two different labels, got {pos} and {neg}.")
            classes = (int(pos), int(neg))
        head = self.head or ("sigmoid" if classes is not None else "softmax")
        if head not in heads.HEADS:
            raise _bad(f"Unknown --head {head!r}.", "Choose softmax or sigmoid.")
        if classes is not None and head == "softmax":
            raise _bad("A two-digit task has one output: use --head sigmoid (the logistic loss).")
        if self.model == "linear" and self.hidden:
            raise _bad("--hidden does not apply to --model linear.", "Use --model mlp --hidden 128,64.")
        hidden = tuple(int(h) for h in (self.hidden or (r.hidden if self.model == "mlp" else ())))
        if any(h < 1 for h in hidden):
            raise _bad(f"Hidden sizes must be >= 1, got {list(hidden)}.")
        schedule = self.schedule or r.schedule
        if schedule not in SCHEDULES:
            raise _bad(f"Unknown --schedule {schedule!r}.", f"Choose one of: {', '.join(SCHEDULES)}.")
        l2_form = self.l2_form or r.l2_form
        if l2_form not in ("half", "full"):
            raise _bad(f"Unknown --l2-form {l2_form!r}.", "Choose half ((λ/2)ΣW²) or full (λΣW²).")
        if not (np.isfinite(self.l2) and self.l2 >= 0):
            raise _bad(f"--l2 must be a number >= 0, got {self.l2}.")
        if self.epochs is not None and self.iterations is not None:
            raise _bad("Give --epochs or --iterations, not both.")
        epochs, iterations = self.epochs, self.iterations
        if epochs is None and iterations is None:
            if r.iterations is not None and self.model == "mlp" and self.optimizer == "sgd":
                iterations = r.iterations
            else:
                epochs = r.epochs
        if (epochs or iterations) < 1:
            raise _bad("The run length (--epochs or --iterations) must be at least 1.")
        lr = r.learning_rate[self.optimizer] if self.learning_rate is None else float(self.learning_rate)
        if classes is not None and self.learning_rate is None and recipe == "tdt4265":
            lr = 0.05  # the TDT4265 starter's rate for the binary task
        if not (np.isfinite(lr) and lr > 0):
            raise _bad(f"The learning rate must be a positive number, got {lr}.")
        batch = r.batch_size if self.batch_size is None else int(self.batch_size)
        if batch < 1:
            raise _bad(f"The batch size must be at least 1, got {batch}.")
        if self.early_stopping and self.patience < 1:
            raise _bad(f"The early-stopping patience must be >= 1, got {self.patience}.")
        return dataclasses.replace(
            self, recipe=recipe, classes=classes, head=head, hidden=hidden, schedule=schedule,
            l2_form=l2_form, learning_rate=lr, batch_size=batch, epochs=epochs, iterations=iterations)

    def to_dict(self) -> dict:
        d = config_dict(self)
        d["classes"] = list(self.classes) if self.classes is not None else None
        d["hidden"] = list(self.hidden or ())
        return d


# ----------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Prepared:
    X_train: np.ndarray
    Y_train: np.ndarray
    X_val: np.ndarray
    Y_val: np.ndarray
    X_test: np.ndarray | None
    Y_test: np.ndarray | None
    image: tuple[int, int, int]  # (height, width, channels) of a row
    checksums: dict


def _load(cfg: TrainConfig, data_dir: Path | None):
    """The dataset of ``cfg.data``, verified (its loader caches the decoded files per process)."""
    if cfg.data == "cifar10":
        from linclf_cli.data.cifar import load_cifar10

        return load_cifar10(data_dir)
    if cfg.data in ("mnist", "mnist-2v3"):
        from linclf_cli.data.mnist import load_mnist

        return load_mnist(data_dir)
    from linclf_cli.data.idx import load_idx_folder

    return load_idx_folder(cfg.data)


def _split(cfg: TrainConfig, ds):
    """Raw (X, y) of train, val, test (test may be None) of the loaded dataset ``ds``."""
    if cfg.data == "cifar10":
        from linclf_cli.data.splits import aml_split, dd2424_split

        if RECIPES[cfg.recipe].cifar_split == "aml":  # 49 000 / 1 000 / 1 000 on the real data
            n_all = len(ds.train_batches) * ds.n_per_batch
            n_val = min(1000, n_all // 10)
            s = aml_split(ds, n_all - n_val, n_val, min(1000, len(ds.test_labels)))
        else:
            s = dd2424_split(ds)
        return (s.X_train, s.y_train), (s.X_val, s.y_val), (s.X_test, s.y_test)
    n = min(TDT_N_TRAIN, len(ds.train_labels))  # TDT4265's split: the first 20 000; val = test set
    return ((ds.train_images[:n], ds.train_labels[:n].astype(np.int64)),
            (ds.test_images, ds.test_labels.astype(np.int64)), None)


def _targets(y: np.ndarray, classes, K: int, dt) -> np.ndarray:
    if classes is None:
        return one_hot(y, K, dt)
    return (y == classes[0]).astype(dt).reshape(-1, 1)


def split_tag(cfg: TrainConfig) -> str:
    """What keys a run's prepared split besides the data files' digests (the scheduler's
    memory-plan tag, ``assignments.registry.prepared_split``): the data, the recipe's
    pre-processing, the classes and the dtype; never a training setting, so every point of
    a sweep over training settings shares one split."""
    classes = ",".join(map(str, cfg.classes)) if cfg.classes is not None else "all"
    return f"train:{cfg.data}:{cfg.recipe}:{classes}:{cfg.dtype}"


def _prepare(cfg: TrainConfig, data_dir: str | None) -> Prepared:
    """The pre-processed arrays of ``cfg`` (resolved): built once per process for the data
    files, recipe, classes and dtype (one split at a time, ``runs.prepared.one_slot``), and
    shared read-only between the parallel scheduler's workers."""
    ds = _load(cfg, Path(data_dir) if data_dir else None)
    digests = data_key(ds.sha256)
    if digests is None:  # a file without a known digest: nothing to key a cache by
        return _build(cfg, ds, None)
    return _prepared(split_tag(cfg), digests, cfg=cfg, ds=ds)


@one_slot
def _prepared(tag: str, digests: str, *, cfg: TrainConfig, ds) -> Prepared:  # noqa: ARG001 - keys
    return _build(cfg, ds, digests)


def _build(cfg: TrainConfig, ds, digests: str | None) -> Prepared:
    from linclf_cli.data.splits import standardize, subtract_mean_image

    def build() -> dict:  # not called when another worker has published the split
        tr, va, te = _split(cfg, ds)
        sets = [tr, va] + ([te] if te is not None else [])
        if cfg.classes is not None:
            keep = [np.isin(y, cfg.classes) for _, y in sets]
            sets = [(X[k], y[k]) for (X, y), k in zip(sets, keep)]
            if min(len(y) for _, y in sets) == 0:
                raise UsageError(f"The data holds no images of the classes {list(cfg.classes)}.")
        dt = DTYPES[cfg.dtype]
        K = int(max(int(y.max()) for _, y in sets)) + 1
        r = RECIPES[cfg.recipe]
        Xs = [X for X, _ in sets]
        if r.preprocess == "scale-bias-column":
            from .tdt4265.preprocess import pre_process_images

            Xs = [pre_process_images(X, dt) for X in Xs]  # [x / 127.5 - 1, 1]
        elif r.preprocess == "standardize":
            Xs = list(standardize(*Xs, dtype=dt)[0])
        else:
            Xs = list(subtract_mean_image(*Xs, dtype=dt)[0])
        if r.bias == "column" and r.preprocess != "scale-bias-column":
            from linclf_cli.engine.layers import append_ones

            Xs = [append_ones(X) for X in Xs]
        names = ("train", "val", "test")[:len(Xs)]
        out = {f"X_{n}": X for n, X in zip(names, Xs)}
        out.update({f"Y_{n}": _targets(y, cfg.classes, K, dt) for n, (_, y) in zip(names, sets)})
        return out

    a = shared_arrays("train", digests, (split_tag(cfg),), build)
    return Prepared(a["X_train"], a["Y_train"], a["X_val"], a["Y_val"], a.get("X_test"),
                    a.get("Y_test"), _image(cfg, ds), dict(ds.sha256))


def _image(cfg: TrainConfig, ds) -> tuple[int, int, int]:
    """(height, width, channels) of a row of ``ds``."""
    if cfg.data == "cifar10":
        return (32, 32, 3)
    d = ds.train_images.shape[1]
    side = int(round(np.sqrt(d)))
    return (side, side, 1) if side * side == d else (1, d, 1)


# ----------------------------------------------------------------------------- run


def build(cfg: TrainConfig, d: int, K: int):
    """The model, initial parameters' scheme, optimizer, sampler factory and fit config."""
    r = RECIPES[cfg.recipe]
    model = Model((d, *cfg.hidden, K), head=cfg.head, bias=r.bias,
                  l2=L2(cfg.l2, cfg.l2_form, r.l2_over))
    init = r.init_mlp if cfg.hidden else r.init_linear
    opt = SGD(cfg.learning_rate) if cfg.optimizer == "sgd" else Adam(cfg.learning_rate)
    sampler = r.sampler
    if cfg.classes is not None and r.name == "tdt4265":
        sampler = "in-order"  # the starter's binary task does not shuffle
    return model, init, opt, sampler


def run(cfg: TrainConfig, out: Path, ctx: RunContext | None = None) -> dict:
    """Train one model and publish its run directory at ``out``; returns metrics.json."""
    ctx = ctx or RunContext()
    cfg = cfg.resolved()
    started, t0 = now_iso(), time.perf_counter()
    data = _prepare(cfg, str(ctx.data_dir) if ctx.data_dir else None)
    n, d = data.X_train.shape
    K = data.Y_train.shape[1]
    if cfg.batch_size > n:
        raise UsageError(f"The batch size must lie between 1 and the training-set size {n}, "
                         f"got {cfg.batch_size}.")
    r = RECIPES[cfg.recipe]
    rng = make_rng(cfg.rng, cfg.seed)
    model, init, opt, kind = build(cfg, d, K)
    params = model.init(rng, init, DTYPES[cfg.dtype])
    sampler = Sampler(n, cfg.batch_size, kind, drop_last=r.drop_last, rng=rng)
    spe = sampler.steps_per_epoch
    eval_every = max(spe // 5, 1) if r.eval_every == "fifth-epoch" else None
    fcfg = FitConfig(epochs=cfg.epochs, iterations=cfg.iterations, eval_every=eval_every,
                     early_stopping=cfg.early_stopping, patience=cfg.patience)
    augment = None
    if cfg.flip:
        h, w, c = data.image
        perm = flip_permutation(h, w, c)
        if d == perm.size + 1:  # the bias column stays where it is
            perm = np.append(perm, perm.size)
        augment = functools.partial(random_flip, p=0.5, perm=perm)
    schedule = make_schedule(cfg.schedule, cfg.learning_rate)
    t_data = time.perf_counter() - t0
    with RunDir(out) as rd:
        with np.errstate(over="ignore", invalid="ignore"):
            res = fit(model, params, (data.X_train, data.Y_train, data.X_val, data.Y_val), fcfg, opt,
                      sampler, schedule=schedule, augment=augment, rng=rng, callback=ctx.progress)
        metrics: dict = {"recipe": cfg.recipe, "l2": cfg.l2, "l2_form": cfg.l2_form,
                         "l2_over": r.l2_over, "steps": res.steps, "steps_per_epoch": spe,
                         "stopped_step": res.stopped_step,
                         "stopped_epoch": None if res.stopped_step is None else res.stopped_step // spe,
                         "best_val_loss_step": res.best_step,
                         "n_train": int(n), "n_val": int(len(data.X_val))}
        sets = [("train", data.X_train, data.Y_train), ("val", data.X_val, data.Y_val)]
        if data.X_test is not None:
            sets.append(("test", data.X_test, data.Y_test))
        for name, X, Y in sets:
            loss, acc = evaluate(model, res.params, X, Y)
            if not np.isfinite(loss):
                raise TrainingDiverged(res.steps, loss, cfg.learning_rate)
            metrics[f"{name}_loss"], metrics[f"{name}_accuracy"] = loss, acc
        metrics["train_cost"] = metrics["train_loss"] + model.l2.penalty(res.params, model.column)
        io.atomic_write_text(rd.path / "config.yaml", yaml.safe_dump(
            {"kind": "train", **cfg.to_dict()}, sort_keys=False, allow_unicode=True))
        io.write_json(rd.path / "metrics.json", metrics)
        io.write_csv(rd.path / "history.csv", dict(res.history))
        io.write_npz(rd.path / "weights.npz", **res.params)
        h = res.history
        line_figure(rd.path / "loss.png", [Series(h["step"], h["train_loss"], "Training Loss"),
                                           Series(h["step"], h["val_loss"], "Validation Loss")],
                    "Number of Training Steps", LOSS_LABEL, None)
        line_figure(rd.path / "accuracy.png", [Series(h["step"], h["train_accuracy"], "Training Accuracy"),
                                               Series(h["step"], h["val_accuracy"], "Validation Accuracy")],
                    "Number of Training Steps", ACC_LABEL, None)
        seconds = {"data": t_data, "total": time.perf_counter() - t0}
        io.write_json(rd.path / "run.json", run_record(ctx.argv, cfg.seed, seconds, started,
                                                      {"rng": {"kind": cfg.rng, "seed": cfg.seed},
                                                       "data_sha256": data.checksums, "recipe": cfg.recipe}))
        rd.commit()
    return metrics
