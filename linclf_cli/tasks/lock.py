"""One linclf process per results directory at a time."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from filelock import FileLock, Timeout

from linclf_cli.errors import LinclfError, OutputError


@contextlib.contextmanager
def results_lock(results: Path, wait: bool, on_wait=None) -> Iterator[None]:
    """Hold ``<results>/.linclf.lock``; refuse (or wait, with ``wait=True``) when busy."""
    try:
        results.mkdir(parents=True, exist_ok=True)
        probe = results / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"Cannot write the results directory {results}: {exc.strerror or exc}.",
                          "Choose a writable location with --results-dir.") from None
    lock = FileLock(str(results / ".linclf.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if not wait:
            raise LinclfError(
                f"Another linclf process is already working on {results}.",
                "Wait for it to finish, pass --wait to queue behind it, or use another --results-dir.",
            ) from None
        if on_wait:
            on_wait()
        lock.acquire()
    try:
        yield
    finally:
        lock.release()
