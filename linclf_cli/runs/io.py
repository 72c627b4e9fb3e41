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


def _unreadable(path: Path, why: str) -> Exception:
    from linclf_cli.errors import OutputError

    return OutputError(f"{path} is unreadable: {why}.",
                       "It was not written by this linclf (or was damaged); rerun the task "
                       "(`linclf run TASK --force`) or the training to write it again.")


def read_csv(path: Path) -> dict[str, np.ndarray]:
    """A CSV written by :func:`write_csv` back as column arrays (float).

    A header that is not plain column names, a row of the wrong length or a value that is not
    a number raises OutputError naming the file and the line."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            names = fh.readline().strip().split(",")
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise _unreadable(path, getattr(exc, "strerror", None) or str(exc)) from None
    if not names or not all(n.replace("_", "").isalnum() for n in names):
        raise _unreadable(path, f"line 1 is not a header of column names ({','.join(names)!r})")
    rows = []
    for i, line in enumerate(text.splitlines(), start=2):
        if not line.strip():
            continue
        cells = line.split(",")
        if len(cells) != len(names):
            raise _unreadable(path, f"line {i} has {len(cells)} values, expected {len(names)}")
        try:
            rows.append([float(c) for c in cells])
        except ValueError:
            raise _unreadable(path, f"line {i} holds a value that is not a number ({line[:60]!r})") from None
    data = np.asarray(rows, dtype=np.float64).reshape(-1, len(names))
    return {k: data[:, i] for i, k in enumerate(names)}


def read_npz(path: Path, expected: dict[str, tuple[int | None, ...]],
             max_elements: int = 50_000_000) -> dict[str, np.ndarray]:
    """Arrays ``expected`` (name -> shape, ``None`` for a free dimension) from an ``.npz`` that
    linclf wrote, with every member's header (shape, dtype) checked *before* its data is read:
    a 300-byte file declaring shape (785, 10**9) is refused, not allocated.  Only numeric and
    boolean dtypes are accepted (never pickled objects).  Raises OutputError naming the file."""
    import zipfile

    from numpy.lib import format as npformat

    path = Path(path)
    out: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            members = set(zf.namelist())
            for name, shape in expected.items():
                if f"{name}.npy" not in members:
                    raise _unreadable(path, f"it holds no array {name!r}")
                with zf.open(f"{name}.npy") as fh:
                    version = npformat.read_magic(fh)
                    if version == (1, 0):
                        got, fortran, dtype = npformat.read_array_header_1_0(fh)
                    elif version == (2, 0):
                        got, fortran, dtype = npformat.read_array_header_2_0(fh)
                    else:
                        raise _unreadable(path, f"{name}: unsupported .npy version {version}")
                    if dtype.hasobject or dtype.kind not in "biuf":
                        raise _unreadable(path, f"{name}: dtype {dtype} is not numeric")
                    if len(got) != len(shape) or any(e is not None and g != e for g, e in zip(got, shape)):
                        raise _unreadable(path, f"{name}: shape {got}, expected {shape}")
                    n = int(np.prod(got, dtype=object))
                    if n > max_elements:
                        raise _unreadable(path, f"{name}: shape {got} is too large ({n} elements)")
                    data = fh.read(n * dtype.itemsize)
                    if len(data) != n * dtype.itemsize:
                        raise _unreadable(path, f"{name}: truncated ({len(data)} of {n * dtype.itemsize} bytes)")
                    arr = np.frombuffer(data, dtype=dtype)
                    out[name] = (arr.reshape(got[::-1]).T if fortran else arr.reshape(got)).copy()
    except (OSError, zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise _unreadable(path, getattr(exc, "strerror", None) or str(exc) or type(exc).__name__) from None
    return out


def npz_problem(path: Path) -> str | None:
    """Why the ``.npz`` at ``path`` is unreadable (headers and sizes only; no data read), or
    None when it is absent or sound: the planner treats a run with a broken one as stale."""
    import zipfile

    from numpy.lib import format as npformat

    path = Path(path)
    if not path.exists():
        return None
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                with zf.open(info) as fh:
                    version = npformat.read_magic(fh)
                    read = (npformat.read_array_header_1_0 if version == (1, 0)
                            else npformat.read_array_header_2_0)
                    shape, _, dtype = read(fh)
                    if dtype.hasobject:
                        return f"{path}: {info.filename} holds Python objects"
                    if int(np.prod(shape, dtype=object)) * dtype.itemsize > info.file_size:
                        return f"{path}: {info.filename} is shorter than its header says"
    except (OSError, zipfile.BadZipFile, ValueError, EOFError) as exc:
        return f"{path}: {exc or type(exc).__name__}"
    return None
