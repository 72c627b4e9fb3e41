"""Read and verify the MNIST IDX files.

IDX format: a 4-byte magic ``0x00 0x00 <dtype code> <ndim>``, then ``ndim`` big-endian uint32
dimensions, then the data in C order.  MNIST images have magic 2051 (uint8, 3 dims), labels
2049 (uint8, 1 dim).  Files may be gzip-compressed (``.gz``, verified by their pinned sha256)
or uncompressed (verified by the pinned md5 of the uncompressed content).

Arrays returned by :func:`load_mnist` are cached per process and **read-only**; copy them
(or convert with ``astype``) before modifying.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import zlib
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from linclf_cli.data import integrity
from linclf_cli.data.locate import find_dataset
from linclf_cli.data.registry import (
    MNIST_COUNTS,
    MNIST_FILES,
    MNIST_IMAGE_SHAPE,
    PinnedFile,
    mnist_raw_size,
)
from linclf_cli.errors import DataError

IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_REFETCH = "Re-download it (`linclf data fetch mnist`) or copy a good copy over it."


@dataclass(frozen=True, eq=False)
class MnistData:
    """The MNIST train and test sets as loaded (read-only arrays).

    Attributes
    ----------
    train_images : ndarray, shape (60000, 784), uint8, row-major 28x28 images.
    train_labels : ndarray, shape (60000,), uint8, digits 0..9.
    test_images : ndarray, shape (10000, 784), uint8.
    test_labels : ndarray, shape (10000,), uint8.
    directory : folder the files were read from.
    sha256 : file name -> sha256 hex digest of the file as read.
    verified : whether every file matched its pinned digest.
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    directory: Path
    sha256: dict[str, str]
    verified: bool


MAX_RAW_BYTES = max(mnist_raw_size(k) for k in MNIST_FILES)
"""Largest uncompressed MNIST file (train-images, 47 040 016 bytes): the default bound."""


def _decompress(raw: bytes, path: Path, max_bytes: int = MAX_RAW_BYTES) -> bytes:
    """Gunzip ``raw`` into at most ``max_bytes`` bytes (never sized from the file's footer).

    Truncated or corrupted streams, trailing garbage and output beyond ``max_bytes`` (a gzip
    bomb) raise DataError without allocating more than ``max_bytes + 1`` bytes.
    """
    d = zlib.decompressobj(wbits=31)
    try:
        data = d.decompress(raw, max_bytes + 1)
    except zlib.error as exc:
        raise DataError(f"{path} is corrupted (not valid gzip: {exc}).", _REFETCH) from exc
    if len(data) > max_bytes or d.unconsumed_tail:
        raise DataError(
            f"{path} decompresses to more than {max_bytes} bytes, more than an MNIST file "
            "holds (a corrupted file or a gzip bomb); nothing beyond that was decompressed.",
            _REFETCH)
    if not d.eof:
        raise DataError(f"{path} is truncated (the gzip stream ends early).", _REFETCH)
    if d.unused_data:
        raise DataError(f"{path} is corrupted: {len(d.unused_data)} bytes after the gzip "
                        "stream.", _REFETCH)
    return data


def parse_idx(data: bytes, path: Path | str = "<bytes>") -> np.ndarray:
    """Decode the bytes of an uncompressed IDX file.

    Parameters
    ----------
    data : the whole uncompressed file.
    path : used in error messages only.

    Returns
    -------
    ndarray : shape given by the header dims; native byte order; read-only view of ``data``.

    Raises
    ------
    DataError : bad magic, unknown dtype code, truncated data or trailing bytes.
    """
    if len(data) < 4:
        raise DataError(f"{path} is truncated: {len(data)} bytes, no IDX header.", _REFETCH)
    zero, code, ndim = int.from_bytes(data[:2], "big"), data[2], data[3]
    magic = int.from_bytes(data[:4], "big")
    if zero != 0 or code not in IDX_DTYPES or ndim == 0:
        raise DataError(
            f"{path} is not an IDX file (magic number {magic} / 0x{magic:08x}; "
            "expected 0x0000 + dtype code + ndim, e.g. 2051 for images, 2049 for labels).",
            _REFETCH,
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path} is truncated inside its IDX header.", _REFETCH)
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - header
    if actual < expected:
        raise DataError(
            f"{path} is truncated: header says {dims} ({expected} data bytes) "
            f"but only {actual} follow.",
            _REFETCH,
        )
    if actual > expected:
        raise DataError(
            f"{path} is corrupted: {actual - expected} trailing bytes after the "
            f"{dims} array the header declares.",
            _REFETCH,
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    if dtype.byteorder == ">":
        arr = arr.astype(dtype.newbyteorder("="))
        arr.flags.writeable = False
    return arr


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DataError(f"Cannot read {path}: {exc.strerror or exc}.", _REFETCH) from exc


def read_idx(path: Path | str, max_bytes: int = MAX_RAW_BYTES) -> np.ndarray:
    """Read an IDX file, gzip-compressed if its name ends in ``.gz``.

    Parameters
    ----------
    path : the file.

    Returns
    -------
    ndarray : e.g. (n, 28, 28) uint8 for images, (n,) uint8 for labels (read-only).

    Raises
    ------
    DataError : missing/unreadable, truncated or corrupted file.
    """
    path = Path(path)
    raw = _read_bytes(path)
    data = _decompress(raw, path, max_bytes) if path.suffix == ".gz" else raw
    return parse_idx(data, path)


def flatten_images(images: np.ndarray) -> np.ndarray:
    """Reshape (n, 28, 28) images to (n, 784) rows (a view)."""
    return images.reshape(images.shape[0], -1)


@dataclass(frozen=True)
class _Decoded:
    array: np.ndarray
    sha256: str
    digest_name: str  # "sha256" (of the .gz file) or "md5" (of the uncompressed file)
    digest: str


def _resolve_file(directory: Path, pinned: PinnedFile) -> Path | None:
    """The ``.gz`` file if present, else the uncompressed one, else None."""
    for name in (pinned.name, pinned.raw_name):
        p = directory / name  # type: ignore[operator]
        if p.is_file():
            return p
    return None


class _Mismatch(Exception):
    def __init__(self, check: integrity.Check) -> None:
        self.check = check


@functools.lru_cache(maxsize=16)
def _decode_cached(path_str: str, mtime_ns: int, size: int, verify: bool) -> _Decoded:
    """Read one file; with ``verify`` its digest is checked BEFORE anything is decompressed.

    Sizes are bounded first: a file larger than the original (.gz: its pinned size; raw: the
    IDX size of the pinned counts) is refused without being read.
    """
    path = Path(path_str)
    pinned = _pinned_for(path)
    gz = path.suffix == ".gz"
    if verify and pinned is not None:
        limit = pinned.size if gz else mnist_raw_size(pinned.raw_name)  # type: ignore[arg-type]
        if size > limit:
            raise DataError(
                f"Checksum mismatch for {path}: {size} bytes, more than the {limit} bytes of "
                "the original MNIST file (not read).",
                "The file is corrupted or not the original MNIST file. " + _REFETCH)
    raw = _read_bytes(path)
    if gz:
        digest_name, expected = "sha256", pinned.sha256 if pinned else ""
    else:
        digest_name, expected = "md5", (pinned.raw_md5 if pinned else "") or ""
    chk = integrity.check(path, digest_name, expected or "-", data=raw,
                          use_memo=verify and pinned is not None)
    if verify and not chk.ok:
        raise _Mismatch(chk)
    bound = mnist_raw_size(pinned.raw_name) if pinned is not None else MAX_RAW_BYTES  # type: ignore[arg-type]
    data = _decompress(raw, path, bound) if gz else raw
    del raw
    return _Decoded(parse_idx(data, path), chk.sha256, digest_name, chk.actual)


def _pinned_for(path: Path) -> PinnedFile | None:
    for f in MNIST_FILES.values():
        if path.name in (f.name, f.raw_name):
            return f
    return None


def _decode(path: Path, verify: bool = False) -> _Decoded:
    try:
        st = path.stat()
    except OSError as exc:
        raise DataError(f"Cannot read {path}: {exc.strerror or exc}.", _REFETCH) from exc
    return _decode_cached(str(path.resolve()), st.st_mtime_ns, st.st_size, verify)


def _mismatch_error(path: Path, chk: integrity.Check) -> DataError:
    return DataError(
        f"Checksum mismatch for {path}: expected {chk.algorithm} {chk.expected}, "
        f"got {chk.actual} (checked before decompressing).",
        "The file is corrupted or not the original MNIST file. " + _REFETCH
        + " (Pass verify=False only if you knowingly use a modified copy.)",
    )


def _expected_digest(pinned: PinnedFile, decoded: _Decoded) -> str:
    return pinned.sha256 if decoded.digest_name == "sha256" else pinned.raw_md5  # type: ignore[return-value]


def _check_structure(key: str, arr: np.ndarray, path: Path) -> None:
    """Magic/shape/count/label-range checks for one of the four MNIST files."""
    split = key.split("-")[0]
    n = MNIST_COUNTS[split]
    is_images = "images" in key
    shape = (n, *MNIST_IMAGE_SHAPE) if is_images else (n,)
    if arr.dtype != np.uint8 or arr.shape != shape:
        raise DataError(
            f"{path} has an unexpected layout: {arr.dtype} array of shape {arr.shape}, "
            f"expected uint8 {shape}.",
            _REFETCH,
        )
    if not is_images and arr.size and int(arr.max()) > 9:
        raise DataError(f"{path} is corrupted: label {int(arr.max())} outside 0..9.", _REFETCH)


def verify_mnist(directory: Path | str) -> list[dict]:
    """Check every MNIST file in ``directory``: digest and structure.

    Parameters
    ----------
    directory : folder holding the four files (``.gz`` or uncompressed).

    Returns
    -------
    list of dict, one per file, keys: ``file`` (name), ``path`` (str or None),
    ``algorithm`` (``"sha256"`` of the .gz or ``"md5"`` of the raw file), ``expected``,
    ``actual`` (hex or None), ``shape`` (list or None), ``ok`` (bool), ``error`` (str or None).
    Never raises for a bad file; the problem is reported in ``error``.
    """
    directory = Path(directory)
    results = []
    for key, pinned in MNIST_FILES.items():
        path = _resolve_file(directory, pinned)
        entry: dict = {
            "file": pinned.name if path is None else path.name,
            "path": None if path is None else str(path),
            "algorithm": "sha256",
            "expected": pinned.sha256,
            "actual": None,
            "shape": None,
            "ok": False,
            "error": None,
        }
        if path is None:
            entry["error"] = f"missing: neither {pinned.name} nor {pinned.raw_name} in {directory}"
            results.append(entry)
            continue
        try:
            try:
                dec = _decode(path, verify=True)
            except _Mismatch as mm:
                entry.update(algorithm=mm.check.algorithm, expected=mm.check.expected,
                             actual=mm.check.actual, error="checksum mismatch")
                results.append(entry)
                continue
            entry.update(
                algorithm=dec.digest_name,
                expected=_expected_digest(pinned, dec),
                actual=dec.digest,
                shape=list(dec.array.shape),
            )
            _check_structure(key, dec.array, path)
            if dec.digest != entry["expected"]:
                entry["error"] = "checksum mismatch"
            else:
                entry["ok"] = True
        except DataError as exc:
            entry["error"] = exc.message
        results.append(entry)
    return results


def load_mnist(
    data_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    verify: bool = True,
) -> MnistData:
    """Locate, verify and decode MNIST.

    Parameters
    ----------
    data_dir, env : where to look, see :func:`linclf_cli.data.locate.candidate_dirs`.
    verify : refuse files whose digest differs from the pinned one (sha256 of ``.gz`` files,
        md5 of uncompressed files).  Structure, counts and label range are always checked.

    Returns
    -------
    MnistData : images (n, 784) uint8 and labels (n,) uint8, read-only, cached per process.

    Raises
    ------
    DataError : missing, unreadable, truncated, corrupted or checksum-mismatched files.
    """
    directory = find_dataset("mnist", data_dir, env)
    paths: dict[str, Path] = {}
    for key, pinned in MNIST_FILES.items():
        path = _resolve_file(directory, pinned)
        if path is None:  # removed between find_dataset and now
            raise DataError(f"{directory / pinned.name} is missing.", _REFETCH)
        paths[key] = path
    # zlib and hashlib release the GIL: decode the four files concurrently.
    with ThreadPoolExecutor(max_workers=len(paths)) as pool:
        futures = {key: pool.submit(_decode, path, verify) for key, path in paths.items()}
    arrays: dict[str, np.ndarray] = {}
    hashes: dict[str, str] = {}
    all_ok = True
    for key, pinned in MNIST_FILES.items():
        path = paths[key]
        try:
            dec = futures[key].result()
        except _Mismatch as mm:
            raise _mismatch_error(path, mm.check) from None
        expected = _expected_digest(pinned, dec)
        if dec.digest != expected:
            all_ok = False
        _check_structure(key, dec.array, path)
        arrays[key] = dec.array
        hashes[path.name] = dec.sha256
    return MnistData(
        train_images=flatten_images(arrays["train-images-idx3-ubyte"]),
        train_labels=arrays["train-labels-idx1-ubyte"],
        test_images=flatten_images(arrays["t10k-images-idx3-ubyte"]),
        test_labels=arrays["t10k-labels-idx1-ubyte"],
        directory=directory,
        sha256=hashes,
        verified=all_ok,
    )
