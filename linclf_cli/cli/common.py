"""Shared CLI plumbing: stderr console, progress bars, error reporting."""

from __future__ import annotations

import contextlib
import functools
import signal
import threading
from typing import Callable, Iterator

import typer
from rich.markup import escape

from rich.console import Console
from rich.progress import Progress

from linclf_cli.errors import Interrupted, LinclfError, UsageError

from . import progress as _progress

err_console = Console(stderr=True)  # human messages and progress; silenced by --quiet
error_console = Console(stderr=True)  # errors: never silenced


def set_quiet(quiet: bool) -> None:
    """``--quiet``: no progress and no messages on stderr, only errors (stdout unchanged)."""
    err_console.quiet = bool(quiet)


def make_progress(console: Console | None = None) -> Progress:
    """A Rich progress display on stderr, silent when stderr is not a terminal or --quiet."""
    return _progress.make_progress(console or err_console)


@contextlib.contextmanager
def progress_callback(description: str, console: Console | None = None) -> Iterator:
    """Yields ``callback(done, total, fields)`` that drives one progress bar."""
    with _progress.progress_callback(description, console or err_console) as cb:
        yield cb


def report_error(exc: LinclfError, console: Console | None = None) -> int:
    """Print a one-paragraph error (no traceback) and return the exit code."""
    console = console or error_console
    kind = "Usage error" if exc.exit_code == 2 else "Error"
    text = escape(exc.message) + (f" {escape(exc.hint)}" if exc.hint else "")
    console.print(f"[bold red]{kind}:[/] {text}", highlight=False, soft_wrap=True)
    return exc.exit_code


_TERMINATING = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))


@contextlib.contextmanager
def signals_as_interrupts() -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP raise :class:`Interrupted` (a KeyboardInterrupt) in the main
    thread, so every signal takes the Ctrl-C path: temporaries discarded, locks released,
    exit 128 + signal number.  Only the first signal raises; later ones are ignored so that
    they cannot cut the cleanup short (``kill -9`` still works)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired: list[int] = []

    def handler(signum, frame):  # noqa: ARG001
        if not fired:
            fired.append(signum)
            raise Interrupted(signum)

    old = {}
    for s in _TERMINATING:
        try:
            old[s] = signal.signal(s, handler)
        except (OSError, ValueError):  # pragma: no cover - not settable here
            pass
    try:
        yield
    finally:
        for s, h in old.items():
            if h is not None:
                signal.signal(s, h)


def handle_errors(fn: Callable) -> Callable:
    """Decorator for commands: LinclfError -> message on stderr + its exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            with signals_as_interrupts():
                return fn(*args, **kwargs)
        except LinclfError as exc:
            raise typer.Exit(report_error(exc)) from None
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP turned into Interrupted
            signum = getattr(exc, "signum", signal.SIGINT)
            error_console.print("[bold red]Interrupted.[/] Nothing half-written was kept; "
                                "unfinished runs are redone next time.", highlight=False)
            raise typer.Exit(128 + int(signum)) from None

    return wrapper


def job_progress_hook(progress: Progress, n_jobs: int, description: str = "all runs") -> _progress.JobProgress:
    """A scheduler hook drawing one overall bar plus one bar per job (queued or running);
    call its ``finish()`` when the scheduler returns."""
    return _progress.JobProgress(progress, n_jobs, description)


def parse_hidden(values: list[str]) -> list[int]:
    """``--hidden 128 --hidden 64`` or ``--hidden 128,64`` -> [128, 64]."""
    out = []
    for v in values:
        for part in str(v).replace(",", " ").split():
            try:
                out.append(int(part))
            except ValueError:
                raise UsageError(f"--hidden takes integer layer sizes, got {part!r}.",
                                 "For example --hidden 50 or --hidden 128,64.") from None
    if values and not out:
        raise UsageError("--hidden got an empty layer list.", "For example --hidden 50 or --hidden 128,64.")
    bad = [h for h in out if h < 1]
    if bad:
        raise UsageError(f"Hidden sizes must be >= 1, got {bad[0]}.", "For example --hidden 50.")
    return out
