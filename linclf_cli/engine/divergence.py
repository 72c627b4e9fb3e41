"""Divergence detection shared by every trainer.

The rule (checked on losses the trainer has already computed, so it never changes a number):

* a loss that is NaN or infinite stops the run at once;
* a loss above ``FACTOR`` (10) times the *initial* loss -- the first loss the trainer computes,
  at the initial weights, before any update (ln 2 for a binary model, ln 10 for the 10-class
  models) -- at ``PATIENCE`` (3) consecutive checks stops the run too.

A converging run's loss falls below its initial value within the first checks and stays
there; the committed tasks' runs never come near 10x (their largest loss is the initial one,
measured by tests/test_reliability_divergence.py on the shipped configurations' trainers).
A run with a learning rate far too large (``--lr 1e6``) has losses in the thousands or more
from its first update on.  The guard raises :class:`TrainingDiverged` with the step, the loss
and a smaller learning rate to try; rendering is the CLI's job.
"""

from __future__ import annotations

import math

from linclf_cli.errors import TrainingDiverged

FACTOR = 10.0
PATIENCE = 3


class DivergenceGuard:
    """``check(step, loss)`` after each check of a run; raises :class:`TrainingDiverged`."""

    def __init__(self, learning_rate: float | None, factor: float = FACTOR,
                 patience: int = PATIENCE) -> None:
        self.learning_rate = learning_rate
        self.factor = factor
        self.patience = patience
        self.initial: float | None = None
        self.above = 0

    def start(self, loss: float) -> None:
        """Record the initial loss (the first one computed, before any update)."""
        if self.initial is None and math.isfinite(loss):
            self.initial = float(loss)

    def check(self, step: int, loss: float) -> None:
        loss = float(loss)
        if not math.isfinite(loss):
            raise TrainingDiverged(step, loss, self.learning_rate)
        if self.initial is None:
            self.start(loss)
            return
        if self.initial > 0 and loss > self.factor * self.initial:
            self.above += 1
            if self.above >= self.patience:
                raise TrainingDiverged(step, loss, self.learning_rate, self.initial, self.factor)
        else:
            self.above = 0
