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

The engine's fast paths for linear models (several checks in one GEMM, evaluated in a
background thread) are evaluator strategies of the course trainers; this loop uses the plain
chunked evaluator, which any model gets.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import heads
from .divergence import DivergenceGuard
from .schedules import ConstantLR


@dataclass(frozen=True)
class FitConfig:
    """Length, cadence and stopping of one run (rates live in the optimizer/schedule)."""

    epochs: int | None = None
    iterations: int | None = None
    eval_every: int | None = None  # steps; None = every epoch
    early_stopping: bool = False
    patience: int = 10
    restore_best: bool = False
    eval_train: bool = True

    def __post_init__(self):
        if (self.epochs is None) == (self.iterations is None):
            raise ValueError("give exactly one of epochs and iterations")
        if (self.epochs or self.iterations) < 1:
            raise ValueError("the run length must be at least 1")
        if self.eval_every is not None and self.eval_every < 1:
            raise ValueError("eval_every must be >= 1 step")
        if self.patience < 1:
            raise ValueError("patience must be >= 1")


@dataclass
class FitResult:
    params: dict
    steps: int
    history: dict = field(default_factory=dict)  # per check: step, epoch, lr, val/train loss+acc
    step_loss: np.ndarray | None = None  # mini-batch loss before each update
    stopped_step: int | None = None
    best_step: int | None = None


def evaluate(model, params: dict, X: np.ndarray, Y: np.ndarray, chunk: int = 10_000):
    """(mean loss, accuracy) of ``model`` on (X, Y), in chunks of rows."""
    total, correct = 0.0, 0
    for lo in range(0, X.shape[0], chunk):
        S = model.scores(params, X[lo:lo + chunk])
        Yc = Y[lo:lo + chunk]
        total += float(np.sum(heads.per_sample_loss(model.head, S, Yc), dtype=np.float64))
        correct += int(np.count_nonzero(heads.predict(S) == heads.labels_of(Yc)))
    return total / X.shape[0], correct / X.shape[0]


@np.errstate(over="ignore", invalid="ignore")
def fit(model, params: dict, data: tuple, cfg: FitConfig, optimizer, sampler,
        schedule=None, augment: Callable | None = None, rng=None,
        callback: Callable | None = None) -> FitResult:
    """Train ``params`` (updated in place) on ``data = (X_train, Y_train, X_val, Y_val)``."""
    X, Y, Xv, Yv = data
    spe = sampler.steps_per_epoch
    total = cfg.iterations if cfg.iterations is not None else cfg.epochs * spe
    sched = copy.deepcopy(schedule) if schedule is not None else ConstantLR(optimizer.lr)
    guard = DivergenceGuard(optimizer.lr)
    hist = {k: [] for k in ("step", "epoch", "lr", "val_loss", "val_accuracy",
                            "train_loss", "train_accuracy")}
    step_loss = np.empty(total)
    best = {"loss": math.inf, "step": None, "params": None, "since": 0}

    def check(step: int, epoch: int) -> bool:
        """Evaluate; True when early stopping says stop."""
        v_loss, v_acc = evaluate(model, params, Xv, Yv)
        t_loss, t_acc = evaluate(model, params, X, Y) if cfg.eval_train else (math.nan, math.nan)
        for k, v in zip(hist, (step, epoch, optimizer.lr, v_loss, v_acc, t_loss, t_acc)):
            hist[k].append(v)
        guard.check(step, v_loss)
        if v_loss < best["loss"]:
            best.update(loss=v_loss, step=step, since=0,
                        params={k: p.copy() for k, p in params.items()} if cfg.restore_best else None)
            return False
        best["since"] += 1
        return cfg.early_stopping and best["since"] >= cfg.patience

    step, epoch, stopped = 0, 0, None
    optimizer.lr = float(sched.lr(1))
    if cfg.eval_every is None and check(0, 0):
        stopped = 0
    while stopped is None and step < total:
        epoch += 1
        optimizer.lr = float(sched.lr(epoch))
        for idx in sampler.epoch():
            Xb, Yb = X[idx], Y[idx]
            if augment is not None:
                Xb = augment(Xb, rng)
            loss, _, grads = model.loss(params, Xb, Yb)
            step_loss[step] = loss
            guard.check(step, loss)
            optimizer.step(params, grads)  # step-cadence checks see the updated params
            if cfg.eval_every is not None and step % cfg.eval_every == 0 and check(step, epoch - 1):
                stopped = step
            step += 1
            if callback is not None:
                va = hist["val_accuracy"]
                callback(step, total, {"epoch": epoch, "loss": float(loss),
                                       "val_accuracy": va[-1] if va else None})
            if stopped is not None or step >= total:
                break
        if cfg.eval_every is None:
            if check(step, epoch):
                stopped = step
            sched.step(hist["val_loss"][-1])
    if cfg.restore_best and best["params"] is not None:
        params.update(best["params"])
    return FitResult(params=params, steps=step, history={k: np.asarray(v) for k, v in hist.items()},
                     step_loss=step_loss[:step].copy(), stopped_step=stopped, best_step=best["step"])
