"""Learning-rate schedules for mini-batch gradient descent (epochs counted from 1).

Epochs are counted from 1 (epoch 0 is the initial model, before any update).  Every
schedule has the same two methods, which the trainer calls as

    for epoch in 1..n_epochs:
        eta = schedule.lr(epoch)        # rate used for every update of this epoch
        ... train one epoch, evaluate ...
        schedule.step(val_loss)         # report the epoch's validation loss

* :class:`ConstantLR`:   eta(epoch) = eta0.
* :class:`StepDecay`:    eta(epoch) = eta0 * factor ** floor((epoch - 1) / every)
  ("divide eta by 10 every n epochs" with factor = 0.1).
* :class:`PlateauDecay`: eta is multiplied by ``factor`` once the validation loss has not
  improved by more than ``min_delta`` on ``patience`` consecutive epochs (then the count
  restarts); ``eta >= min_lr`` always.  Stateful and deterministic.

Pure Python, no I/O.
"""

from __future__ import annotations

import math

from ..errors import UsageError

__all__ = ["ConstantLR", "StepDecay", "ExponentialDecay", "DecayEachStep", "PlateauDecay", "make_schedule", "SCHEDULES"]

SCHEDULES = ("constant", "step", "exponential", "plateau")


def _check_eta(eta0: float) -> float:
    eta0 = float(eta0)
    if not (eta0 > 0 and math.isfinite(eta0)):
        raise UsageError(f"The learning rate must be a positive number, got {eta0}.")
    return eta0


def _check_factor(factor: float) -> float:
    factor = float(factor)
    if not 0 < factor <= 1:
        raise UsageError(f"The decay factor must lie in (0, 1], got {factor}.")
    return factor


class ConstantLR:
    """The same rate ``eta0`` for every epoch."""

    def __init__(self, eta0: float) -> None:
        self.eta0 = _check_eta(eta0)

    def lr(self, epoch: int) -> float:
        """Rate for ``epoch`` (1-based): always ``eta0``."""
        return self.eta0

    def step(self, val_loss: float) -> float:
        """No state; returns ``eta0``."""
        return self.eta0

    def __repr__(self) -> str:
        return f"ConstantLR(eta0={self.eta0:g})"


class StepDecay:
    """``eta(epoch) = eta0 * factor ** ((epoch - 1) // every)``.

    Parameters
    ----------
    eta0 : rate for epochs 1..every.
    factor : multiplier applied every ``every`` epochs (0.1 = "divide by 10").
    every : period in epochs (>= 1).
    """

    def __init__(self, eta0: float, factor: float = 0.1, every: int = 10) -> None:
        self.eta0 = _check_eta(eta0)
        self.factor = _check_factor(factor)
        if int(every) != every or every < 1:
            raise UsageError(f"The step-decay period must be a positive integer, got {every}.")
        self.every = int(every)

    def lr(self, epoch: int) -> float:
        """Rate for ``epoch`` (1-based; epoch 0 gets ``eta0``)."""
        k = max(int(epoch) - 1, 0) // self.every
        return self.eta0 * self.factor**k

    def step(self, val_loss: float) -> float:
        """Stateless; present for a uniform interface.  Returns nothing useful (eta0)."""
        return self.eta0

    def __repr__(self) -> str:
        return f"StepDecay(eta0={self.eta0:g}, factor={self.factor:g}, every={self.every})"


class ExponentialDecay:
    """eta(epoch) = eta0 * factor ** (epoch - 1): the rate multiplied by ``factor`` each epoch."""

    def __init__(self, eta0: float, factor: float = 0.95) -> None:
        self.eta0 = _check_eta(eta0)
        self.factor = _check_factor(factor)

    def lr(self, epoch: int) -> float:
        return self.eta0 * self.factor ** (epoch - 1)

    def step(self, val_loss: float) -> float:
        return self.eta0

    def __repr__(self) -> str:
        return f"ExponentialDecay(eta0={self.eta0:g}, factor={self.factor:g})"


class DecayEachStep:
    """The rate multiplied by ``factor`` at every ``step`` (after each check the trainer
    reports), one multiplication at a time like a starter's ``lr *= decay`` (so the rates are
    those products bit for bit, not ``eta0 * factor ** k``)."""

    def __init__(self, eta0: float, factor: float = 0.95) -> None:
        self.eta0 = self.current = _check_eta(eta0)
        self.factor = float(factor)
        if not (self.factor > 0 and math.isfinite(self.factor)):
            raise UsageError(f"The decay factor must be a positive number, got {factor}.")

    def lr(self, epoch: int) -> float:
        return self.current

    def step(self, val_loss: float) -> float:
        self.current *= self.factor
        return self.current

    def __repr__(self) -> str:
        return f"DecayEachStep(eta0={self.eta0:g}, factor={self.factor:g})"


class PlateauDecay:
    """Multiply the rate by ``factor`` when the validation loss stops improving.

    After each epoch call :meth:`step` with the validation loss.  A loss counts as an
    improvement when ``val_loss < best - min_delta``; otherwise a counter of bad epochs
    increases, and when it reaches ``patience`` the rate is multiplied by ``factor``
    (not below ``min_lr``) and the counter restarts.  A non-finite loss counts as bad.

    Parameters
    ----------
    eta0 : initial rate.
    factor : multiplier in (0, 1].
    patience : bad epochs tolerated before a decay (>= 1).
    min_delta : minimal decrease that counts as an improvement (>= 0).
    min_lr : lower bound of the rate (>= 0).

    Attributes
    ----------
    current : the rate now in force.
    best : best validation loss seen (inf before the first step).
    bad_epochs : consecutive epochs without improvement.
    n_decays : how many times the rate was reduced.
    """

    def __init__(
        self,
        eta0: float,
        factor: float = 0.1,
        patience: int = 3,
        min_delta: float = 0.0,
        min_lr: float = 0.0,
    ) -> None:
        self.eta0 = _check_eta(eta0)
        self.factor = _check_factor(factor)
        if int(patience) != patience or patience < 1:
            raise UsageError(f"The plateau patience must be a positive integer, got {patience}.")
        if not min_delta >= 0:
            raise UsageError(f"min_delta must be >= 0, got {min_delta}.")
        if not min_lr >= 0:
            raise UsageError(f"min_lr must be >= 0, got {min_lr}.")
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.min_lr = float(min_lr)
        self.reset()

    def reset(self) -> None:
        """Back to the initial state."""
        self.current = self.eta0
        self.best = math.inf
        self.bad_epochs = 0
        self.n_decays = 0

    def lr(self, epoch: int) -> float:
        """Rate now in force (the epoch number is not used)."""
        return self.current

    def step(self, val_loss: float) -> float:
        """Record one epoch's validation loss; return the rate for the next epoch."""
        v = float(val_loss)
        if math.isfinite(v) and v < self.best - self.min_delta:
            self.best = v
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
            if self.bad_epochs >= self.patience:
                new = max(self.current * self.factor, self.min_lr)
                if new < self.current:
                    self.n_decays += 1
                self.current = new
                self.bad_epochs = 0
        return self.current

    def __repr__(self) -> str:
        return (
            f"PlateauDecay(eta0={self.eta0:g}, factor={self.factor:g}, "
            f"patience={self.patience}, min_delta={self.min_delta:g}, current={self.current:g})"
        )


def make_schedule(name: str, eta0: float, **kwargs):
    """Build a schedule by name: ``"constant"``, ``"step"``, ``"exponential"`` or ``"plateau"``.

    Extra keyword arguments go to the class (``factor``, ``every``, ``patience``, ...).
    """
    key = str(name).strip().lower()
    classes = {"constant": ConstantLR, "step": StepDecay, "exponential": ExponentialDecay,
               "plateau": PlateauDecay}
    if key not in classes:
        raise UsageError(
            f"Unknown learning-rate schedule {name!r}.", f"Choose one of: {', '.join(SCHEDULES)}."
        )
    try:
        return classes[key](eta0, **kwargs)
    except TypeError as exc:
        raise UsageError(f"Bad options for the {key!r} schedule: {exc}.") from None
