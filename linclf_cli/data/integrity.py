"""File digests, checked before a dataset file is used, and remembered once verified.

Hashing 180 MB of CIFAR-10 costs every run its seconds, so a file that matched its pinned
digest is remembered in a small JSON file in the user cache, keyed by its resolved path,
size and modification time (ns) together with the digest it had.  A later check with the
same path, size and mtime trusts the remembered digest; any change rehashes the file.

* ``$LINCLF_CACHE_DIR`` (else the platformdirs user cache) holds ``verified.json``.
* Synthetic datasets written by :mod:`linclf_cli.data.synthetic` are registered in an
  in-process table (never on disk), so tests and demos on synthetic data verify against
  the digests they were written with; a folder on disk can never vouch for itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from linclf_cli.errors import DataError

MEMO_NAME = "verified.json"
_MEMO_VERSION = 1
_CHUNK = 4 << 20
_lock = threading.Lock()
_TRUSTED: dict[str, str] = {}
"""resolved path -> sha256 of synthetic files written by this process."""


def memo_path() -> Path:
    """``verified.json`` in ``$LINCLF_CACHE_DIR`` or the user cache."""
    from linclf_cli.data.locate import cache_dir

    return cache_dir() / MEMO_NAME


def _read_memo(path: Path) -> dict:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    files = doc.get("files") if isinstance(doc, dict) and doc.get("version") == _MEMO_VERSION else None
    return files if isinstance(files, dict) else {}


def _write_memo(path: Path, files: dict) -> None:
    """Atomic write (temp file + rename); a cache that cannot be written is skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".verified-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"version": _MEMO_VERSION, "files": files}, f, indent=1, sort_keys=True)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        pass


def recall(resolved: str, st: os.stat_result) -> dict[str, str]:
    """The remembered digests of a verified file, if path, size and mtime are unchanged."""
    e = _read_memo(memo_path()).get(resolved)
    if (isinstance(e, dict) and e.get("size") == st.st_size
            and e.get("mtime_ns") == st.st_mtime_ns and isinstance(e.get("digests"), dict)):
        return {k: v for k, v in e["digests"].items() if isinstance(v, str)}
    return {}


def remember(resolved: str, st: os.stat_result, digests: dict[str, str]) -> None:
    """Record a verified file (read-merge-write, so concurrent processes rarely lose one)."""
    with _lock:
        p = memo_path()
        files = _read_memo(p)
        files[resolved] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "digests": digests}
        _write_memo(p, files)


def hash_stream(f, algorithms: tuple[str, ...]) -> dict[str, str]:
    """Hex digests of an open binary file from its current position (large chunks)."""
    hs = {a: hashlib.new(a, usedforsecurity=False) if a == "md5" else hashlib.new(a)
          for a in algorithms}
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    while n := f.readinto(buf):
        for h in hs.values():
            h.update(view[:n])
    return {a: h.hexdigest() for a, h in hs.items()}


def hash_bytes(data: bytes, algorithms: tuple[str, ...]) -> dict[str, str]:
    return {a: (hashlib.md5(data, usedforsecurity=False) if a == "md5"
                else hashlib.new(a, data)).hexdigest() for a in algorithms}


def trust_synthetic(path: Path | str) -> None:
    """Register a file this process just wrote as synthetic data (in memory only)."""
    p = Path(path).resolve()
    with open(p, "rb") as f:
        _TRUSTED[str(p)] = hash_stream(f, ("sha256",))["sha256"]


@dataclass
class Check:
    """The outcome of one digest check.

    ``source``: ``"pinned"`` (matched the published digest), ``"synthetic"`` (matched the
    digest this process wrote it with), or ``None`` (mismatch).  ``memo``: the digests came
    from the verified-files memo, the file was not rehashed.  ``sha256`` is always filled.
    """

    path: Path
    algorithm: str
    expected: str
    actual: str
    sha256: str
    source: str | None
    memo: bool = False

    @property
    def ok(self) -> bool:
        return self.source is not None


def check(path: Path, algorithm: str, expected: str, *, f=None, data: bytes | None = None,
          st: os.stat_result | None = None, use_memo: bool = True) -> Check:
    """Digest of ``path`` (``algorithm`` and sha256) against ``expected`` (hex).

    A file remembered as verified with the same resolved path, size and mtime is not
    rehashed.

    Parameters
    ----------
    f : an open binary file of ``path`` to hash (rewound to 0 afterwards), so the digest is
        of the very file that is then read; else ``path`` is opened.
    data : the file's bytes, when already read.
    st : ``os.fstat`` of that file (the memo key); taken from ``f`` or ``path`` if None.
    """
    resolved = str(Path(path).resolve())
    if st is None:
        st = os.fstat(f.fileno()) if f is not None else os.stat(path)
    expected = expected.lower()
    trusted = _TRUSTED.get(resolved)
    if use_memo and trusted is None:
        got = recall(resolved, st)
        if got.get(algorithm) == expected and "sha256" in got:
            return Check(Path(path), algorithm, expected, expected, got["sha256"], "pinned", True)
    algos = tuple(dict.fromkeys((algorithm, "sha256")))
    if data is not None:
        got = hash_bytes(data, algos)
    elif f is not None:
        f.seek(0)
        got = hash_stream(f, algos)
        f.seek(0)
    else:
        with open(path, "rb") as fh:
            got = hash_stream(fh, algos)
    actual, sha = got[algorithm], got["sha256"]
    if actual == expected:
        if use_memo and trusted is None:
            remember(resolved, st, got)
        return Check(Path(path), algorithm, expected, actual, sha, "pinned")
    if trusted is not None and trusted == sha:
        return Check(Path(path), algorithm, expected, actual, sha, "synthetic")
    return Check(Path(path), algorithm, expected, actual, sha, None)


def mismatch_error(c: Check, fix: str) -> DataError:
    return DataError(
        f"Checksum mismatch for {c.path}: expected {c.algorithm} {c.expected}, got {c.actual}.",
        "The file is corrupted or not the original file. " + fix,
    )
