"""Atomic file writes: a temporary file in the same directory, then ``os.replace``.

An interrupted process therefore leaves either the old file or the new one, never a torn
one; temporary files start with ``.`` and end in ``.tmp`` so nothing mistakes them for
results.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def _json_default(o: Any):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def to_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=False, default=_json_default, allow_nan=True) + "\n"


def write_json(path: Path, obj: Any) -> Path:
    return atomic_write_text(path, to_json(obj))


def write_npz(path: Path, **arrays: np.ndarray) -> Path:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return atomic_write_bytes(path, buf.getvalue())


def write_csv(path: Path, columns: dict[str, np.ndarray]) -> Path:
    """Columns of equal length -> CSV with a header; floats with full precision."""
    names = list(columns)
    cols = [np.asarray(columns[k]) for k in names]
    lines = [",".join(names)]
    for row in zip(*cols):
        lines.append(",".join(repr(float(v)) if isinstance(v, (float, np.floating)) else str(v)
                              for v in row))
    return atomic_write_text(path, "\n".join(lines) + "\n")


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def read_csv(path: Path) -> dict[str, np.ndarray]:
    """A CSV written by :func:`write_csv` back as column arrays (float)."""
    with open(path, encoding="utf-8") as fh:
        names = fh.readline().strip().split(",")
        data = np.loadtxt(fh, delimiter=",", ndmin=2, dtype=np.float64)
    data = data.reshape(-1, len(names))
    return {k: data[:, i] for i, k in enumerate(names)}
