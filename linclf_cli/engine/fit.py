"""One training loop with pluggable parts (cs231n ``Solver``, Keras ``fit`` callbacks).

``fit(model, params, data, cfg, optimizer, sampler)`` trains any :class:`~.model.Model`:

* the **sampler** (samplers.py) gives each epoch's batches (in order, reshuffled, with
  replacement; drop-last);
* the **length** is ``cfg.epochs`` or ``cfg.iterations`` (steps; the sampler's epochs are
  walked until that many steps are done);
* the **optimizer** (optim.py) updates the parameter dict in place; the **schedule**
  (schedules.py) sets its rate at the start of every epoch and hears the epoch's validation
  loss;
* **augment** ``(X_batch, rng) -> X_batch`` (augment.random_flip) runs on each batch;
* the **evaluator** computes loss and accuracy on the validation (and training) set at the
  evaluation cadence: every ``cfg.eval_every`` steps including step 0, or every epoch
  including before training (``eval_every=None``);
* **early stopping** stops when ``cfg.patience`` consecutive checks have not beaten the best
  validation loss (``restore_best`` returns the best check's parameters);
* **divergence** (divergence.py) raises :class:`~linclf_cli.errors.TrainingDiverged`;
* **callbacks** ``callback(step, total, fields)`` see progress.

The **evaluator** (evaluators.py) is a strategy: the plain chunked one (any model, the
default); the block-GEMM one of a linear model (several checks in one GEMM, in a background
thread; ``fit`` runs ahead of its early-stopping decisions and restores the deciding check's
snapshot, so the results are those of the step-by-step loop); or the fused one of a linear
model with per-epoch checks (the training set evaluated during the next epoch's pass through
its ``batch_scores`` hook, which shares the forward GEMM).  Every strategy gives the plain
one's numbers.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from linclf_cli.errors import TrainingDiverged

from . import heads
from .divergence import DivergenceGuard
from .evaluators import Chunked, evaluate  # noqa: F401  (evaluate: re-exported)
from .schedules import ConstantLR

HISTORY = ("step", "epoch", "lr", "val_loss", "val_accuracy", "train_loss", "train_accuracy",
           "val_cost", "train_cost")


@dataclass(frozen=True)
class FitConfig:
    """Length, cadence and stopping of one run (rates live in the optimizer/schedule)."""

    epochs: int | None = None
    iterations: int | None = None
    eval_every: int | None = None  # steps; None = every epoch
    early_stopping: bool = False
    patience: int = 10
    restore_best: bool = False
    eval_train: bool | str = True  # True: whole training set; "batch"; "passes"; False
    record: str = "loss"  # what step_loss holds (and the divergence guard watches): loss or cost

    def __post_init__(self):
        if (self.epochs is None) == (self.iterations is None):
            raise ValueError("give exactly one of epochs and iterations")
        if (self.epochs or self.iterations) < 1:
            raise ValueError("the run length must be at least 1")
        if self.eval_every is not None and self.eval_every < 1:
            raise ValueError("eval_every must be >= 1 step")
        if self.patience < 1:
            raise ValueError("patience must be >= 1")
        if self.eval_train not in (True, False, "batch", "passes"):
            raise ValueError("eval_train must be True, False, 'batch' or 'passes'")
        if self.record not in ("loss", "cost"):
            raise ValueError("record must be 'loss' or 'cost'")


@dataclass
class FitResult:
    params: dict
    steps: int
    steps_per_epoch: int = 0
    history: dict = field(default_factory=dict)  # per check: HISTORY columns
    step_loss: np.ndarray | None = None  # mini-batch loss (or cost) before each update
    step_lr: np.ndarray | None = None  # the rate of each update
    stopped_step: int | None = None
    stopped_epoch: int | None = None  # the stopping check's epoch (0-based in step cadence)
    best_step: int | None = None
    best_loss: float = math.inf
    seconds: dict = field(default_factory=dict)  # evaluation: time the evaluator took


def _accuracy(model, params: dict, X: np.ndarray, Y: np.ndarray) -> float:
    return float(np.count_nonzero(model.predict(params, X) == heads.labels_of(Y))) / len(X)


class _Batches:
    """Gathers index batches into reusable buffers (``np.take(..., out=)``; slices stay views)."""

    def __init__(self, X, Y):
        self.X, self.Y, self.buf = X, Y, {}

    def __call__(self, idx):
        if isinstance(idx, slice):
            return self.X[idx], self.Y[idx]
        n = len(idx)
        if n not in self.buf:  # at most two sizes: full batches and a last partial one
            self.buf[n] = (np.empty((n, *self.X.shape[1:]), self.X.dtype),
                           np.empty((n, *self.Y.shape[1:]), self.Y.dtype))
        bx, by = self.buf[n]
        # mode="clip": the sampler's indices are in range, and take's default mode="raise"
        # buffers ``out`` (an extra copy of every batch: 3x slower than fancy indexing)
        return (np.take(self.X, idx, axis=0, out=bx, mode="clip"),
                np.take(self.Y, idx, axis=0, out=by, mode="clip"))


@np.errstate(over="ignore", invalid="ignore")
def fit(model, params: dict, data: tuple, cfg: FitConfig, optimizer, sampler,
        schedule=None, augment: Callable | None = None, rng=None,
        callback: Callable | None = None, evaluator=None) -> FitResult:
    """Train ``params`` (updated in place) on ``data = (X_train, Y_train, X_val, Y_val)``.

    ``cfg.eval_train``: the training metrics of a check are those of the whole training set
    (True), of the current mini-batch after its update (``"batch"``: accuracy only, a
    starter's record), of the epoch's forward passes before each update (``"passes"``: the
    mean batch loss and the accuracy of the predictions made while training, per-epoch
    cadence), or none (False).  A schedule hears every check's validation loss
    (``schedule.step``) and sets the rate from then on."""
    X, Y, Xv, Yv = data
    spe = sampler.steps_per_epoch
    total = cfg.iterations if cfg.iterations is not None else cfg.epochs * spe
    epochs = cfg.epochs if cfg.epochs is not None else -(-total // spe)
    sched = copy.deepcopy(schedule) if schedule is not None else ConstantLR(optimizer.lr)
    ev = evaluator if evaluator is not None else Chunked()
    if getattr(ev, "lookahead", False) and schedule is not None and cfg.eval_every is not None:
        raise ValueError("a schedule stepped at checks needs an evaluator that decides at once")
    ev.open(model, data, cfg.eval_train, params=params, batch_size=sampler.batch_size)
    guard = DivergenceGuard(optimizer.lr)
    hist = {k: [] for k in HISTORY}
    step_loss = np.empty(total)
    step_lr = np.empty(total)
    passes = {"correct": 0, "seen": 0, "first": 0}  # eval_train="passes": this epoch so far
    best = {"loss": math.inf, "step": None, "params": None, "since": 0}
    state = {"stop": None}  # (step, epoch, snapshot) of the check early stopping stopped at
    lr_at = {}  # step -> rate of the check (a late evaluator reports after the rate moved on)
    pen_at = {}  # step -> the L2 penalty of the check's parameters (cost = loss + penalty)

    def decide(final: bool = False) -> None:
        """Apply the early-stopping rule to the evaluated checks, in order."""
        for s, e, (v_loss, v_acc, t_loss, t_acc), snap in ev.decided(final):
            if state["stop"] is not None:
                return
            if not math.isfinite(v_loss):  # the parameters the next step would train from
                raise TrainingDiverged(s + 1 if cfg.eval_every is not None else s, float(v_loss),
                                       guard.learning_rate)
            pen = pen_at.pop(s)
            for k, v in zip(HISTORY, (s, e, lr_at.pop(s), v_loss, v_acc, t_loss, t_acc,
                                      v_loss + pen, t_loss + pen)):
                hist[k].append(v)
            if cfg.eval_every is not None and schedule is not None:
                sched.step(v_loss)
                optimizer.lr = float(sched.lr(e + 1))
            if v_loss < best["loss"]:
                best.update(loss=float(v_loss), step=s, since=0)
                if cfg.restore_best:
                    best["params"] = snap if snap is not None else {k: p.copy() for k, p in params.items()}
            else:
                best["since"] += 1
                if cfg.early_stopping and best["since"] >= cfg.patience:
                    state["stop"] = (s, e, snap)

    def check(step: int, epoch: int, batch=None):
        """Hand the check to the evaluator; returns its validation loss when known at once."""
        lr_at[step] = optimizer.lr
        pen_at[step] = model.l2.penalty(params, model.column)
        train = None
        if cfg.eval_train == "batch":
            Xb, Yb = batch
            train = (math.nan, _accuracy(model, params, Xb, Yb))
        elif cfg.eval_train == "passes":
            seen = passes["seen"]
            train = ((float(np.mean(step_loss[passes["first"]:step])), passes["correct"] / seen)
                     if seen else (math.nan, math.nan))
            passes.update(correct=0, seen=0, first=step)
        v_loss = ev.submit(step, epoch, params, train)
        decide()
        return v_loss

    def latest() -> dict:
        """The latest check's accuracies (None before the first)."""
        va, ta = hist["val_accuracy"], hist["train_accuracy"]
        return {"val_accuracy": float(va[-1]) if va else None,
                "train_accuracy": float(ta[-1]) if ta else None}

    batch = _Batches(X, Y)
    batch_scores = getattr(ev, "batch_scores", None)  # an evaluator sharing the forward GEMM
    grads = None  # the previous step's gradient arrays, overwritten by the next
    with_pred = cfg.eval_train == "passes"
    step, epoch = 0, 0
    try:
        optimizer.lr = float(sched.lr(1))
        if cfg.eval_every is None:
            check(0, 0)
        while state["stop"] is None and step < total:
            epoch += 1
            optimizer.lr = float(sched.lr(epoch))
            for idx in sampler.epoch():
                Xb, Yb = batch(idx)
                S = batch_scores(idx, Xb, Yb, params) if batch_scores is not None else None
                if augment is not None:
                    Xb, S = augment(Xb, rng), None
                out = model.loss(params, Xb, Yb, out=grads, with_pred=with_pred, scores=S)
                loss, cost, grads = out[:3]
                if with_pred:
                    passes["correct"] += int(np.count_nonzero(out[3] == heads.labels_of(Yb)))
                    passes["seen"] += len(Yb)
                if cfg.record == "cost":
                    loss = cost
                step_loss[step] = loss
                step_lr[step] = optimizer.lr
                try:
                    guard.check(step, loss)  # non-finite, or 10x the initial loss (divergence.py)
                except TrainingDiverged:
                    decide(final=True)  # an earlier check may already have stopped the run
                    if state["stop"] is None:
                        raise
                    break
                optimizer.step(params, grads)  # step-cadence checks see the updated params
                if cfg.eval_every is not None and step % cfg.eval_every == 0:
                    check(step, epoch - 1, (Xb, Yb))
                    if state["stop"] is not None:
                        break
                step += 1
                if callback is not None:
                    callback(step, total, {"epoch": epoch, "epochs": epochs, "loss": float(loss),
                                           "lr": float(step_lr[step - 1]), **latest()})
                if step >= total:
                    break
            if cfg.eval_every is None and state["stop"] is None:
                v_now = check(step, epoch)
                if callback is not None:
                    callback(step, total, {"epoch": epoch, "epochs": epochs, "epoch_end": True,
                                           "loss": float(hist["train_loss"][-1]) if hist["train_loss"] else math.nan,
                                           "lr": float(hist["lr"][-1]), **latest()})
                if state["stop"] is None:
                    sched.step(v_now if v_now is not None else hist["val_loss"][-1])
        if state["stop"] is None:
            decide(final=True)
    finally:
        ev.close()
    stopped_step = stopped_epoch = None
    if state["stop"] is not None:
        stopped_step, stopped_epoch, snap = state["stop"]
        if snap is not None:
            params.update(snap)
        if cfg.eval_every is not None:
            step = stopped_step + 1
            if callback is not None:  # the display ends where the run stopped, not where it ran ahead to
                callback(step, total, {"epoch": stopped_epoch + 1, "epochs": epochs,
                                       "stopped_step": stopped_step, "stopped_epoch": stopped_epoch,
                                       "loss": float(step_loss[stopped_step]),
                                       "val_accuracy": float(hist["val_accuracy"][-1])})
    if cfg.restore_best and best["params"] is not None:
        params.update(best["params"])
    return FitResult(params=params, steps=step, steps_per_epoch=spe,
                     history={k: np.asarray(v) for k, v in hist.items()},
                     step_loss=step_loss[:step].copy(), step_lr=step_lr[:step].copy(),
                     stopped_step=stopped_step,
                     stopped_epoch=stopped_epoch, best_step=best["step"], best_loss=best["loss"],
                     seconds={"evaluation": ev.seconds})
