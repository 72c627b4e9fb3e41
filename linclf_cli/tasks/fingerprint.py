"""Content fingerprints of the datasets a run reads (part of every cache key)."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from linclf_cli.data.locate import find_dataset


@functools.lru_cache(maxsize=64)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def dataset(name: str | None, data_dir: Path | None) -> str | None:
    """SHA-256 over the dataset's files (name, digest), or "none" for runs without data.

    Raises DataError when the dataset cannot be found.
    """
    if name is None:
        return "none"
    folder = find_dataset(name, data_dir)
    h = hashlib.sha256()
    for p in sorted(folder.iterdir()):
        if p.is_file() and not p.name.startswith("."):
            st = p.stat()
            h.update(f"{p.name}:{_file_sha256(str(p), st.st_size, st.st_mtime_ns)}\n".encode())
    return h.hexdigest()
