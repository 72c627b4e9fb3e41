"""Errors the CLI turns into a one-paragraph message and an exit code (never a traceback).

Every module raises one of these for a problem the *user* can fix.  ``exit_code`` follows
the Unix convention the CLI promises: 2 for usage errors (bad option values, unknown names),
1 for run failures (missing/corrupt data, divergence, unwritable output).
"""

from __future__ import annotations


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


class TrainingDiverged(LinclfError):
    """The loss became NaN or infinite during training: exit 1."""

    def __init__(self, step: int, loss: float, learning_rate: float | None = None) -> None:
        hint = "Try a smaller learning rate"
        if learning_rate is not None:
            hint += f" (for example --lr {learning_rate / 10:g})"
        super().__init__(f"The training loss became {loss} at step {step}.", hint + ".")
        self.step = step
        self.loss = loss


class OutputError(LinclfError):
    """An output/results directory that cannot be written: exit 1."""
