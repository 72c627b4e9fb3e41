"""Load the python-pickle CIFAR-10 (``cifar-10-batches-py``) without executing pickle code.

The official files are protocol-2 pickles of dicts with bytes keys (``b'data'``: uint8 array
(10000, 3072), ``b'labels'``: list of int, ``b'batch_label'``, ``b'filenames'``).  They are
read with :class:`SafeUnpickler`, which resolves only the few globals a numpy array needs and
refuses everything else, so a tampered file cannot run code.

Returned arrays are cached per process and **read-only**.
"""

from __future__ import annotations

import codecs
import functools
import io
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # numpy < 2
    from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]

from linclf_cli.data.locate import find_dataset
from linclf_cli.data.registry import (
    CIFAR10_DIM,
    CIFAR10_FILES,
    CIFAR10_NUM_CLASSES,
    CIFAR10_ROWS_PER_BATCH,
    CIFAR10_TRAIN_BATCHES,
)
from linclf_cli.errors import DataError

_REFETCH = (
    "Re-extract cifar-10-python.tar.gz or run `linclf data fetch cifar10` "
    "(on a machine with internet)."
)


def _latin1_encode(obj: str, encoding: str = "utf-8") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles from Python 3 use it for bytes objects."""
    if codecs.lookup(encoding).name != "iso8859-1":
        raise pickle.UnpicklingError(f"refusing _codecs.encode with encoding {encoding!r}")
    return obj.encode("latin1")


_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("_codecs", "encode"): _latin1_encode,
}
"""The only globals a CIFAR-10 batch may reference (numpy arrays and protocol-2 bytes)."""


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that only resolves the globals CIFAR-10's python batches contain.

    Allowed: ``numpy.ndarray``, ``numpy.dtype``, ``numpy.core.multiarray._reconstruct``,
    ``numpy._core.multiarray._reconstruct`` and ``_codecs.encode`` (latin-1 only).  Any
    other global raises DataError("refusing to unpickle MODULE.NAME from FILE").
    """

    def __init__(self, file: io.BufferedIOBase, source: Path | str) -> None:
        super().__init__(file, encoding="bytes")
        self.source = source

    def find_class(self, module: str, name: str) -> Any:  # noqa: D102
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise DataError(
                f"refusing to unpickle {module}.{name} from {self.source}: CIFAR-10 batches "
                "only contain numpy arrays, lists, bytes and ints.",
                "The file is not an original CIFAR-10 batch (it may be malicious); "
                + _REFETCH,
            ) from None


def safe_load_pickle(path: Path | str) -> Any:
    """Unpickle ``path`` with :class:`SafeUnpickler` (``encoding='bytes'``).

    Raises
    ------
    DataError : unreadable, truncated or corrupted file, or a disallowed global.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"Cannot read {path}: {exc.strerror or exc}.", _REFETCH) from exc
    try:
        return SafeUnpickler(io.BytesIO(raw), path).load()
    except DataError:
        raise
    except EOFError as exc:
        raise DataError(f"{path} is truncated (the pickle ends early).", _REFETCH) from exc
    except Exception as exc:  # any decoding problem of an untrusted file
        raise DataError(
            f"{path} is corrupted (cannot unpickle: {type(exc).__name__}: {exc}).", _REFETCH
        ) from exc


def _bad(path: Path, what: str) -> DataError:
    return DataError(f"{path} is not a valid CIFAR-10 batch: {what}.", _REFETCH)


def read_batch(path: Path | str) -> tuple[np.ndarray, np.ndarray]:
    """Read and validate one batch file (``data_batch_i`` or ``test_batch``).

    Returns
    -------
    X : (n, 3072) uint8, read-only (n = 10000 for the official files).
    y : (n,) int64 labels in 0..9, read-only.

    Raises
    ------
    DataError : unreadable/corrupted file or unexpected contents.
    """
    path = Path(path)
    d = safe_load_pickle(path)
    if not isinstance(d, dict):
        raise _bad(path, f"expected a dict, found {type(d).__name__}")
    data, labels = d.get(b"data"), d.get(b"labels")
    if not isinstance(data, np.ndarray):
        raise _bad(path, "no b'data' array")
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != CIFAR10_DIM:
        raise _bad(path, f"b'data' is {data.dtype} {data.shape}, expected uint8 (n, {CIFAR10_DIM})")
    if not isinstance(labels, (list, tuple, np.ndarray)):
        raise _bad(path, "no b'labels' list")
    try:
        y = np.asarray(labels, dtype=np.int64).reshape(-1)
    except (TypeError, ValueError, OverflowError):
        raise _bad(path, "b'labels' are not integers") from None
    if len(y) != len(data):
        raise _bad(path, f"{len(y)} labels for {len(data)} images")
    if len(y) == 0 or y.min() < 0 or y.max() >= CIFAR10_NUM_CLASSES:
        raise _bad(path, "labels outside 0..9 (or no rows)")
    X = np.ascontiguousarray(data)
    X.flags.writeable = False
    y.flags.writeable = False
    return X, y


def read_meta(path: Path | str) -> tuple[tuple[str, ...], int | None]:
    """Read ``batches.meta``: the 10 label names and ``num_cases_per_batch`` (if present)."""
    path = Path(path)
    d = safe_load_pickle(path)
    names = d.get(b"label_names") if isinstance(d, dict) else None
    if not isinstance(names, (list, tuple)) or len(names) != CIFAR10_NUM_CLASSES:
        raise DataError(f"{path} is not a valid batches.meta: expected 10 b'label_names'.", _REFETCH)
    try:
        label_names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)
    except UnicodeDecodeError:
        raise DataError(f"{path} has undecodable label names.", _REFETCH) from None
    n = d.get(b"num_cases_per_batch")
    return label_names, n if isinstance(n, int) else None


@dataclass(frozen=True, eq=False)
class Cifar10Data:
    """CIFAR-10 as loaded (read-only arrays).

    Attributes
    ----------
    train_batches : tuple of 5 (X, y): X (n, 3072) uint8 channel-major rows, y (n,) int64.
    test_images : (n, 3072) uint8.
    test_labels : (n,) int64.
    label_names : the 10 class names, e.g. ``"airplane"``.
    directory : the ``cifar-10-batches-py`` folder read.
    n_per_batch : rows per batch (10000 for the official data; fewer for synthetic data).
    """

    train_batches: tuple[tuple[np.ndarray, np.ndarray], ...]
    test_images: np.ndarray
    test_labels: np.ndarray
    label_names: tuple[str, ...]
    directory: Path
    n_per_batch: int

    @property
    def is_full(self) -> bool:
        """True for the official sizes (5 x 10000 training, 10000 test)."""
        return self.n_per_batch == CIFAR10_ROWS_PER_BATCH


def _stat_key(directory: Path) -> tuple:
    key = []
    for name in CIFAR10_FILES:
        p = directory / name
        try:
            st = p.stat()
        except OSError as exc:
            raise DataError(f"Cannot read {p}: {exc.strerror or exc}.", _REFETCH) from exc
        key.append((name, st.st_mtime_ns, st.st_size))
    return tuple(key)


@functools.lru_cache(maxsize=4)
def _load_dir(directory: str, stat_key: tuple) -> Cifar10Data:
    d = Path(directory)
    label_names, meta_n = read_meta(d / "batches.meta")
    train = tuple(read_batch(d / name) for name in CIFAR10_TRAIN_BATCHES)
    test = read_batch(d / "test_batch")
    sizes = {name: len(b[1]) for name, b in zip((*CIFAR10_TRAIN_BATCHES, "test_batch"), (*train, test))}
    n = sizes["data_batch_1"]
    if len(set(sizes.values())) != 1 or n > CIFAR10_ROWS_PER_BATCH:
        raise DataError(
            f"Inconsistent CIFAR-10 batches in {d}: rows per file {sizes} "
            f"(all six must have the same count, at most {CIFAR10_ROWS_PER_BATCH}).",
            _REFETCH,
        )
    if meta_n is not None and meta_n != n:
        raise DataError(
            f"{d / 'batches.meta'} says {meta_n} cases per batch but the batches have {n}.",
            _REFETCH,
        )
    return Cifar10Data(train, test[0], test[1], label_names, d, n)


def load_cifar10_dir(directory: Path | str) -> Cifar10Data:
    """Load and validate the CIFAR-10 files in ``directory`` (cached per process)."""
    directory = Path(directory)
    return _load_dir(str(directory.resolve()), _stat_key(directory))


def load_cifar10(
    data_dir: Path | None = None, env: Mapping[str, str] | None = None
) -> Cifar10Data:
    """Locate and load CIFAR-10 (see :func:`linclf_cli.data.locate.find_dataset`).

    Raises
    ------
    DataError : missing, corrupted, inconsistent or unsafe files.
    """
    return load_cifar10_dir(find_dataset("cifar10", data_dir, env))


def verify_cifar10(directory: Path | str) -> list[dict]:
    """Structure check of every CIFAR-10 file in ``directory``.

    Returns
    -------
    list of dict, one per file, keys: ``file``, ``path``, ``rows`` (int or None),
    ``ok`` (bool), ``error`` (str or None).  Never raises for a bad file.
    """
    directory = Path(directory)
    results = []
    for name in CIFAR10_FILES:
        p = directory / name
        entry: dict = {"file": name, "path": str(p), "rows": None, "ok": False, "error": None}
        try:
            if not p.is_file():
                raise DataError(f"missing: {p}")
            if name == "batches.meta":
                read_meta(p)
            else:
                entry["rows"] = len(read_batch(p)[1])
            entry["ok"] = True
        except DataError as exc:
            entry["error"] = exc.message
        results.append(entry)
    rows = {e["rows"] for e in results if e["rows"] is not None}
    if len(rows) > 1:
        for e in results:
            if e["ok"] and e["rows"] is not None:
                e["ok"], e["error"] = False, f"inconsistent rows per batch: {sorted(rows)}"
    return results


from linclf_cli.data.splits import (  # noqa: E402  (re-exported for convenience)
    DataSplit,
    aml_split,
    dd2424_bonus_split,
    dd2424_split,
    standardize,
    subtract_mean_image,
)

__all__ = [
    "Cifar10Data",
    "DataSplit",
    "SafeUnpickler",
    "aml_split",
    "dd2424_bonus_split",
    "dd2424_split",
    "load_cifar10",
    "load_cifar10_dir",
    "read_batch",
    "read_meta",
    "safe_load_pickle",
    "standardize",
    "subtract_mean_image",
    "verify_cifar10",
]
