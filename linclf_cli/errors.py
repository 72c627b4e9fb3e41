"""Errors the CLI turns into a one-paragraph message and an exit code (never a traceback).

Every module raises one of these for a problem the *user* can fix.  ``exit_code`` follows
the Unix convention the CLI promises: 2 for usage errors (bad option values, unknown names),
1 for run failures (missing/corrupt data, divergence, unwritable output).
"""

from __future__ import annotations

import math


class LinclfError(Exception):
    """A problem the user can fix.  ``message`` names the problem, ``hint`` the fix."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} {self.hint}"


class UsageError(LinclfError):
    """Invalid option values, unknown models/tasks, malformed config: exit 2."""

    exit_code = 2


class DataError(LinclfError):
    """Missing, truncated, corrupted or unverifiable dataset files: exit 1."""


# the learning rates a divergence hint suggests: 1, 0.5, 0.1, 0.05, ..., 5e-13, 1e-13
_STANDARD_RATES = tuple(m * 10.0 ** -e for e in range(0, 14) for m in (1.0, 0.5))


def suggest_learning_rate(lr: float) -> float:
    """A learning rate to try after ``lr`` diverged: the largest of the standard values
    1, 0.5, 0.1, 0.05, 0.01, ... that is at most ``lr / 10`` (so 1e38 -> 1, 0.5 -> 0.05,
    0.01 -> 0.001); ``lr / 10`` itself below the table."""
    target = lr / 10
    return next((r for r in _STANDARD_RATES if r <= target * (1 + 1e-12)), target)


class TrainingDiverged(LinclfError):
    """Training diverged: the loss became NaN or infinite, or stayed far above its initial
    value (see ``linclf_cli.engine.divergence``): exit 1."""

    def __init__(self, step: int, loss: float, learning_rate: float | None = None,
                 initial_loss: float | None = None, factor: float = 10.0) -> None:
        hint = "Try a smaller learning rate"
        if learning_rate is not None and learning_rate > 0:
            hint += f" (for example --lr {suggest_learning_rate(learning_rate):g})"
        if initial_loss is None or not math.isfinite(loss):
            message = f"Training diverged: the loss became {loss} at step {step}."
        else:
            message = (f"Training diverged: the loss reached {loss:.4g} at step {step}, more than "
                       f"{factor:g} times its initial {initial_loss:.4g}.")
        if learning_rate is not None:
            message = message[:-1] + f" (learning rate {learning_rate:g})."
        super().__init__(message, hint + ".")
        self._init_args = (step, loss, learning_rate, initial_loss, factor)
        self.step = step
        self.loss = loss
        self.learning_rate = learning_rate
        self.suggested_learning_rate = (suggest_learning_rate(learning_rate)
                                        if learning_rate is not None and learning_rate > 0 else None)

    def __reduce__(self):
        # a worker process sends its exception to the parent by pickle; the default
        # (cls, self.args) would call __init__ with the message alone, fail to unpickle and
        # break the whole process pool ("the worker process died")
        return (type(self), self._init_args)


class Interrupted(KeyboardInterrupt):
    """SIGTERM (or another terminating signal) turned into the Ctrl-C path: a subclass of
    KeyboardInterrupt, so every cleanup that handles Ctrl-C handles it too.  The CLI exits
    128 + ``signum`` (130 for Ctrl-C, 143 for SIGTERM)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class OutputError(LinclfError):
    """An output/results directory that cannot be written: exit 1."""
