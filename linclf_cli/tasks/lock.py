"""One linclf process per results directory at a time.

The write probe and the lock file are created without following symbolic links (a link
planted at either name in a results folder someone else wrote is refused by name, never
truncated or written through); filelock >= 3.20.1 opens its file with ``O_NOFOLLOW`` too.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from filelock import FileLock, Timeout

from linclf_cli.errors import LinclfError, OutputError

LOCK_NAME = ".linclf.lock"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _refuse_link(path: Path) -> None:
    if path.is_symlink():
        raise OutputError(f"Refusing to use {path}: it is a symbolic link (to {os.readlink(path)}), "
                          "and linclf never writes through links in a results folder.",
                          f"Remove the link {path}, or use another --results-dir.")


def _create_lock_file(path: Path) -> None:
    """Make sure the lock file exists as a regular file, created without following links."""
    _refuse_link(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644)
    except FileExistsError:
        _refuse_link(path)  # raced: a link appeared
        return
    os.close(fd)


@contextlib.contextmanager
def results_lock(results: Path, wait: bool, on_wait=None) -> Iterator[None]:
    """Hold ``<results>/.linclf.lock``; refuse (or wait, with ``wait=True``) when busy."""
    results = Path(results)
    lock_path = results / LOCK_NAME
    try:
        results.mkdir(parents=True, exist_ok=True)
        # mkstemp: a fresh random name, O_CREAT | O_EXCL | O_NOFOLLOW
        fd, probe = tempfile.mkstemp(dir=results, prefix=".write-test-")
        os.close(fd)
        os.unlink(probe)
        _create_lock_file(lock_path)
    except OSError as exc:
        raise OutputError(f"Cannot write the results directory {results}: {exc.strerror or exc}.",
                          "Choose a writable location with --results-dir.") from None
    lock = FileLock(str(lock_path))
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
    except OSError as exc:
        _refuse_link(lock_path)
        raise OutputError(f"Cannot lock {lock_path}: {exc.strerror or exc}.",
                          "Choose a writable location with --results-dir.") from None
    try:
        yield
    finally:
        lock.release()
