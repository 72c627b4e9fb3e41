"""Load CIFAR-10, the binary or the python version, verified, without executing pickle code.

* **Binary version** (``cifar-10-batches-bin/``): ``data_batch_1.bin`` ... ``test_batch.bin``,
  each a sequence of 3073-byte records (label byte, then 1024 R, 1024 G, 1024 B bytes), and
  ``batches.meta.txt`` (the ten class names).  Read as a read-only memory map: the pixels
  are a strided (n, 3072) view of the mapped file, never copied, so worker processes share
  the same pages through the page cache.
* **Python version** (``cifar-10-batches-py/``): protocol-2 pickles of dicts with bytes
  keys (``b'data'``: uint8 array (10000, 3072), ``b'labels'``: list of int, ...), read with
  :class:`SafeUnpickler`, which resolves only the few globals a numpy array needs.

Both give identical arrays (same values, order and labels).  Every file is checked against
its pinned digest (sha256 for the binary batches, the published md5 for the python files;
``batches.meta.txt`` by its content) before it is used; verified files are remembered in the
user cache (:mod:`linclf_cli.data.integrity`).  When a folder holds both versions the binary
one is used; if it fails verification and the python one passes, the python one is used and
a :class:`DataWarning` says so -- the two are never mixed.

Returned arrays are cached per process and **read-only**.
"""

from __future__ import annotations

import codecs
import dataclasses
import functools
import io
import os
import pickle
import warnings
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # numpy < 2
    from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]

from linclf_cli.data import integrity
from linclf_cli.data.locate import cifar10_dirs_in, find_dataset
from linclf_cli.data.registry import (
    CIFAR10_BIN_FILES,
    CIFAR10_BIN_META,
    CIFAR10_BIN_RECORD,
    CIFAR10_DIM,
    CIFAR10_FILES,
    CIFAR10_LABEL_NAMES,
    CIFAR10_NUM_CLASSES,
    CIFAR10_PY_MD5,
    CIFAR10_ROWS_PER_BATCH,
    CIFAR10_TRAIN_BATCHES,
    cifar10_file_name,
    cifar10_files,
)
from linclf_cli.errors import DataError

_REFETCH = (
    "Re-extract cifar-10-python.tar.gz or run `linclf data fetch cifar10` "
    "(on a machine with internet)."
)
_REFETCH_BIN = (
    "Re-extract cifar-10-binary.tar.gz or run `linclf data fetch cifar10 --binary` "
    "(on a machine with internet)."
)
Pins = Mapping[str, tuple[str, str]]
"""On-disk file name -> (algorithm, expected hex digest)."""


class DataWarning(UserWarning):
    """A dataset problem linclf worked around (e.g. a corrupt binary version, python used)."""


def _fix(version: str) -> str:
    return _REFETCH_BIN if version == "binary" else _REFETCH


def default_pins(version: str) -> dict[str, tuple[str, str]]:
    """The pinned digests of every file of ``version`` (``batches.meta.txt``: by content)."""
    if version == "binary":
        return {f.name: ("sha256", f.sha256) for f in CIFAR10_BIN_FILES.values()}  # type: ignore[misc]
    return {name: ("md5", md5) for name, md5 in CIFAR10_PY_MD5.items()}


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
    return _batch_from(safe_load_pickle(path), path)


def _batch_from(d: Any, path: Path) -> tuple[np.ndarray, np.ndarray]:
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
    return _meta_from(safe_load_pickle(path), path)


def _meta_from(d: Any, path: Path) -> tuple[tuple[str, ...], int | None]:
    names = d.get(b"label_names") if isinstance(d, dict) else None
    if not isinstance(names, (list, tuple)) or len(names) != CIFAR10_NUM_CLASSES:
        raise DataError(f"{path} is not a valid batches.meta: expected 10 b'label_names'.", _REFETCH)
    try:
        label_names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)
    except UnicodeDecodeError:
        raise DataError(f"{path} has undecodable label names.", _REFETCH) from None
    n = d.get(b"num_cases_per_batch")
    return label_names, n if isinstance(n, int) else None


def _bad_bin(path: Path, what: str) -> DataError:
    return DataError(f"{path} is not a valid CIFAR-10 binary batch: {what}.", _REFETCH_BIN)


def _verified(path: Path, version: str, pins: Pins | None, *, f=None, data: bytes | None = None,
              st: os.stat_result | None = None) -> integrity.Check:
    """Digest check of one file against its pin; refuses a mismatch or a missing pin."""
    table = default_pins(version) if pins is None else pins
    if path.name not in table:
        raise DataError(f"No pinned digest for {path} ({version} version of CIFAR-10).",
                        "Only the official CIFAR-10 file names are read.")
    algorithm, expected = table[path.name]
    c = integrity.check(path, algorithm, expected, f=f, data=data, st=st)
    if not c.ok:
        raise integrity.mismatch_error(c, _fix(version))
    return c


def read_bin_batch(path: Path | str, pins: Pins | None = None, verify: bool = True,
                   ) -> tuple[np.ndarray, np.ndarray, integrity.Check | None]:
    """Verify and map one binary batch (``data_batch_i.bin`` / ``test_batch.bin``).

    The size is checked first (a whole number of 3073-byte records), then the digest of the
    open file, then the labels; the pixels are a read-only strided view of a memory map.

    Returns
    -------
    X : (n, 3072) uint8 read-only view, channel-major rows as in the python version.
    y : (n,) int64 labels in 0..9, read-only.
    check : the digest check (None when ``verify`` is False).

    Raises
    ------
    DataError : unreadable file, bad size, digest mismatch or a label above 9.
    """
    path = Path(path)
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise DataError(f"Cannot read {path}: {exc.strerror or exc}.", _REFETCH_BIN) from exc
    with f:
        st = os.fstat(f.fileno())
        n, rest = divmod(st.st_size, CIFAR10_BIN_RECORD)
        if rest or n == 0:
            raise _bad_bin(path, f"its size {st.st_size} bytes is not a positive multiple of "
                                 f"the {CIFAR10_BIN_RECORD}-byte record (label + 3072 pixels)")
        if n > CIFAR10_ROWS_PER_BATCH:
            raise _bad_bin(path, f"{n} records, more than the {CIFAR10_ROWS_PER_BATCH} of a batch")
        chk = _verified(path, "binary", pins, f=f, st=st) if verify else None
        try:
            mm = np.memmap(f, dtype=np.uint8, mode="r", shape=(n, CIFAR10_BIN_RECORD))
        except (OSError, ValueError) as exc:
            raise DataError(f"Cannot map {path}: {exc}.", _REFETCH_BIN) from exc
    rec = mm.view(np.ndarray)
    y = rec[:, 0].astype(np.int64)
    if int(y.max()) >= CIFAR10_NUM_CLASSES:
        bad = int(np.argmax(y >= CIFAR10_NUM_CLASSES))
        raise _bad_bin(path, f"record {bad} has label byte {int(y[bad])} (labels are 0..9)")
    X = rec[:, 1:]
    X.flags.writeable = False
    y.flags.writeable = False
    return X, y, chk


def read_bin_meta(path: Path | str) -> tuple[str, ...]:
    """Read ``batches.meta.txt``: the ten official class names, one a line, in order."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(4097)
    except OSError as exc:
        raise DataError(f"Cannot read {path}: {exc.strerror or exc}.", _REFETCH_BIN) from exc
    try:
        names = tuple(line.strip() for line in raw.decode("ascii").splitlines() if line.strip())
    except UnicodeDecodeError:
        names = ()
    if len(raw) > 4096 or names != CIFAR10_LABEL_NAMES:
        raise DataError(
            f"{path} is not the CIFAR-10 batches.meta.txt: expected the ten class names "
            f"{', '.join(CIFAR10_LABEL_NAMES)}, one a line.", _REFETCH_BIN)
    return names


@dataclass(frozen=True, eq=False)
class Cifar10Data:
    """CIFAR-10 as loaded (read-only arrays).

    Attributes
    ----------
    train_batches : tuple of 5 (X, y): X (n, 3072) uint8 channel-major rows, y (n,) int64.
    test_images : (n, 3072) uint8.
    test_labels : (n,) int64.
    label_names : the 10 class names, e.g. ``"airplane"``.
    directory : the ``cifar-10-batches-bin`` or ``cifar-10-batches-py`` folder read.
    n_per_batch : rows per batch (10000 for the official data; fewer for synthetic data).
    version : ``"binary"`` or ``"python"``.
    sha256 : on-disk file name -> sha256 of every file read.
    checks : on-disk file name -> ``"md5:<hex>"`` / ``"sha256:<hex>"`` / ``"content"``, the
        check each file passed (``"synthetic"`` for synthetic data of this process).
    notes : problems worked around (e.g. the other version was corrupt).
    """

    train_batches: tuple[tuple[np.ndarray, np.ndarray], ...]
    test_images: np.ndarray
    test_labels: np.ndarray
    label_names: tuple[str, ...]
    directory: Path
    n_per_batch: int
    version: str = "python"
    sha256: Mapping[str, str] = dataclasses.field(default_factory=dict)
    checks: Mapping[str, str] = dataclasses.field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def is_full(self) -> bool:
        """True for the official sizes (5 x 10000 training, 10000 test)."""
        return self.n_per_batch == CIFAR10_ROWS_PER_BATCH

    def checksums(self, files=CIFAR10_FILES) -> dict[str, str]:
        """``{on-disk name: sha256}`` of the named files (python-version names accepted)."""
        names = [cifar10_file_name(self.version, n) if n in CIFAR10_FILES else n for n in files]
        return {n: self.sha256[n] for n in names}


def _stat_key(directory: Path, version: str) -> tuple:
    key = []
    for name in cifar10_files(version):
        p = directory / name
        try:
            st = p.stat()
        except OSError as exc:
            raise DataError(f"Cannot read {p}: {exc.strerror or exc}.", _fix(version)) from exc
        key.append((name, st.st_mtime_ns, st.st_size, st.st_ino))
    return tuple(key)


def _check_label(c: integrity.Check | None) -> str:
    if c is None:
        return "unverified"
    return "synthetic" if c.source == "synthetic" else f"{c.algorithm}:{c.actual}"


def _read_py_file(path: Path, pins: Pins | None, verify: bool):
    """Read, verify (digest of the bytes read) and decode one python-version file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"Cannot read {path}: {exc.strerror or exc}.", _REFETCH) from exc
    chk = _verified(path, "python", pins, data=raw) if verify else None
    sha = chk.sha256 if chk else integrity.hash_bytes(raw, ("sha256",))["sha256"]
    try:
        obj = SafeUnpickler(io.BytesIO(raw), path).load()
    except DataError:
        raise
    except EOFError as exc:
        raise DataError(f"{path} is truncated (the pickle ends early).", _REFETCH) from exc
    except Exception as exc:  # any decoding problem of an untrusted file
        raise DataError(
            f"{path} is corrupted (cannot unpickle: {type(exc).__name__}: {exc}).", _REFETCH
        ) from exc
    del raw
    return obj, chk, sha


def _load_python(d: Path, pins: Pins | None, verify: bool) -> Cifar10Data:
    names = (*CIFAR10_TRAIN_BATCHES, "test_batch")
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        futs = {n: pool.submit(_read_py_file, d / n, pins, verify) for n in (*names, "batches.meta")}
        results = {n: f.result() for n, f in futs.items()}
    sha = {n: r[2] for n, r in results.items()}
    checks = {n: _check_label(r[1]) for n, r in results.items()}
    label_names, meta_n = _meta_from(results["batches.meta"][0], d / "batches.meta")
    batches = {n: _batch_from(results[n][0], d / n) for n in names}
    train = tuple(batches[n] for n in CIFAR10_TRAIN_BATCHES)
    test = batches["test_batch"]
    n = _consistent(d, {k: len(v[1]) for k, v in batches.items()}, "python")
    if meta_n is not None and meta_n != n:
        raise DataError(
            f"{d / 'batches.meta'} says {meta_n} cases per batch but the batches have {n}.",
            _REFETCH,
        )
    return Cifar10Data(train, test[0], test[1], label_names, d, n, "python", sha, checks)


def _load_binary(d: Path, pins: Pins | None, verify: bool) -> Cifar10Data:
    names = (*CIFAR10_TRAIN_BATCHES, "test_batch")
    label_names = read_bin_meta(d / CIFAR10_BIN_META)
    meta_sha = integrity.hash_bytes((d / CIFAR10_BIN_META).read_bytes(), ("sha256",))["sha256"]
    with ThreadPoolExecutor(max_workers=min(6, os.cpu_count() or 1)) as pool:
        futs = {n: pool.submit(read_bin_batch, d / CIFAR10_BIN_FILES[n].name, pins, verify)
                for n in names}
        results = {n: f.result() for n, f in futs.items()}
    sha: dict[str, str] = {}
    checks: dict[str, str] = {}
    for n, (_, _, chk) in results.items():
        fname = CIFAR10_BIN_FILES[n].name
        checks[fname] = _check_label(chk)
        sha[fname] = chk.sha256 if chk else ""
    sha[CIFAR10_BIN_META], checks[CIFAR10_BIN_META] = meta_sha, "content"
    n = _consistent(d, {CIFAR10_BIN_FILES[k].name: len(v[1]) for k, v in results.items()},
                    "binary")
    train = tuple(results[k][:2] for k in CIFAR10_TRAIN_BATCHES)
    X_te, y_te, _ = results["test_batch"]
    return Cifar10Data(train, X_te, y_te, label_names, d, n, "binary", sha, checks)  # type: ignore[arg-type]


def _consistent(d: Path, sizes: dict[str, int], version: str) -> int:
    n = next(iter(sizes.values()))
    if len(set(sizes.values())) != 1 or n > CIFAR10_ROWS_PER_BATCH:
        raise DataError(
            f"Inconsistent CIFAR-10 batches in {d}: rows per file {sizes} "
            f"(all six must have the same count, at most {CIFAR10_ROWS_PER_BATCH}).",
            _fix(version),
        )
    return n


@functools.lru_cache(maxsize=4)
def _load_dir(directory: str, version: str, stat_key: tuple, pins: tuple | None,
              verify: bool) -> Cifar10Data:
    d = Path(directory)
    table = dict(pins) if pins is not None else None
    if version == "binary":
        return _load_binary(d, table, verify)
    return _load_python(d, table, verify)


def detect_version(directory: Path | str) -> str:
    """``"binary"`` if ``directory`` holds ``data_batch_1.bin``, else ``"python"``."""
    return "binary" if (Path(directory) / CIFAR10_BIN_FILES["data_batch_1"].name).exists() \
        else "python"


def load_cifar10_dir(directory: Path | str, version: str | None = None,
                     pins: Pins | None = None, verify: bool = True) -> Cifar10Data:
    """Verify and load the CIFAR-10 files in ``directory`` (cached per process).

    Parameters
    ----------
    directory : a ``cifar-10-batches-bin`` or ``cifar-10-batches-py`` folder.
    version : ``"binary"`` / ``"python"``; detected from the file names when None.
    pins : on-disk file name -> (algorithm, hex digest), replacing the pinned table (tests).
    verify : check digests (structure is always checked).
    """
    directory = Path(directory)
    version = version or detect_version(directory)
    key = tuple(sorted(pins.items())) if pins is not None else None
    return _load_dir(str(directory.resolve()), version, _stat_key(directory, version), key,
                     verify)


def find_cifar10(data_dir: Path | None = None, env: Mapping[str, str] | None = None,
                 ) -> list[tuple[str, Path]]:
    """Every complete CIFAR-10 folder in the first searched directory that has one.

    Returns (version, folder) pairs, binary first.  Raises DataError naming the missing files
    when none is found (see :func:`linclf_cli.data.locate.find_dataset`).
    """
    first = find_dataset("cifar10", data_dir, env)
    root = first.parent if first.name in ("cifar-10-batches-bin", "cifar-10-batches-py") else first
    found = [(v, d) for v, d in cifar10_dirs_in(root) if d.parent == root or d == root]
    return found or [(detect_version(first), first)]


def load_cifar10(
    data_dir: Path | None = None, env: Mapping[str, str] | None = None
) -> Cifar10Data:
    """Locate, verify and load CIFAR-10 (see :func:`linclf_cli.data.locate.find_dataset`).

    The binary version is preferred; if it fails and the python version in the same folder
    passes, that one is used and a :class:`DataWarning` (also in ``notes``) says why.

    Raises
    ------
    DataError : missing, corrupted, inconsistent or unsafe files.
    """
    found = find_cifar10(data_dir, env)
    errors: list[tuple[Path, DataError]] = []
    for version, d in found:
        try:
            c = load_cifar10_dir(d, version)
        except DataError as exc:
            errors.append((d, exc))
            continue
        if errors:
            note = (f"{errors[0][0]} failed verification ({errors[0][1].message}); "
                    f"using the {version} version in {d} instead.")
            warnings.warn(note, DataWarning, stacklevel=2)
            c = dataclasses.replace(c, notes=(*c.notes, note))
        return c
    if len(errors) == 1:
        raise errors[0][1]
    raise DataError(
        "Both CIFAR-10 versions failed: " + " ".join(f"{e.message}" for _, e in errors),
        errors[0][1].hint,
    )


def verify_cifar10(directory: Path | str, version: str | None = None,
                   pins: Pins | None = None) -> list[dict]:
    """Digest and structure check of every CIFAR-10 file in ``directory``.

    Returns
    -------
    list of dict, one per file, keys: ``file``, ``path``, ``version``, ``algorithm``
    (``sha256``, ``md5`` or ``content``), ``expected``, ``actual``, ``memo`` (digest taken
    from the verified-files memo), ``rows`` (int or None), ``ok`` (bool), ``error`` (str or
    None).  Never raises for a bad file.
    """
    directory = Path(directory)
    version = version or detect_version(directory)
    table = default_pins(version) if pins is None else pins
    results = []
    for name in cifar10_files(version):
        p = directory / name
        algo, expected = table.get(name, ("content", None))
        entry: dict = {"file": name, "path": str(p), "version": version, "algorithm": algo,
                       "expected": expected, "actual": None, "memo": False, "rows": None,
                       "ok": False, "error": None}
        try:
            if not p.is_file():
                raise DataError(f"missing: {p}")
            if name == CIFAR10_BIN_META:
                read_bin_meta(p)
            elif version == "binary":
                X, y, chk = read_bin_batch(p, pins)
                entry.update(actual=chk.actual, memo=chk.memo, rows=len(y))  # type: ignore[union-attr]
            else:
                obj, chk, _ = _read_py_file(p, pins, True)
                entry.update(actual=chk.actual, memo=chk.memo)  # type: ignore[union-attr]
                if name == "batches.meta":
                    _meta_from(obj, p)
                else:
                    entry["rows"] = len(_batch_from(obj, p)[1])
            entry["ok"] = True
        except DataError as exc:
            entry["error"] = exc.message
            if "Checksum mismatch" in exc.message:
                entry["actual"] = integrity.check(p, algo, expected, use_memo=False).actual
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
    "DataWarning",
    "find_cifar10",
    "read_bin_batch",
    "read_bin_meta",
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
