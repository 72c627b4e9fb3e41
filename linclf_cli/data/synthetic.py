"""Small synthetic datasets in the real on-disk formats, for tests and offline demos.

* :func:`write_synthetic_cifar10` writes ``cifar-10-batches-py/`` exactly like the official
  python version: protocol-2 pickles of dicts with bytes keys, bytes written as Python 2
  ``str`` opcodes (as cPickle did), so ``pickle.load(f, encoding='bytes')`` gives the same
  types as the real files.  Each class has its own random mean image, plus noise, so a
  linear classifier reaches far above chance.  ``version="binary"`` writes the same images
  as ``cifar-10-batches-bin/`` (3073-byte records), ``"both"`` writes both folders.

The files written are registered as synthetic data of this process
(:func:`linclf_cli.data.integrity.trust_synthetic`), so the verifying loaders accept them in
this process (and its forked workers) although they do not match the published digests.
* :func:`write_synthetic_mnist_idx` writes the four gzip IDX files (they do not match the
  pinned MNIST checksums: load them with ``verify=False`` or read them with ``read_idx``).
* :func:`write_idx_folder` writes a custom IDX folder (``--data DIR``: the four uncompressed
  MNIST-named files) of noisy class templates, sized and shaped as asked.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np

from linclf_cli.data.integrity import trust_synthetic
from linclf_cli.data.registry import (
    CIFAR10_BIN_FILES,
    CIFAR10_BIN_META,
    CIFAR10_BIN_SUBDIR,
    CIFAR10_DIM,
    CIFAR10_LABEL_NAMES,
    CIFAR10_NUM_CLASSES,
    CIFAR10_SUBDIR,
    CIFAR10_TRAIN_BATCHES,
    MNIST_SUBDIR,
)


class _Py2Pickler(pickle._Pickler):  # type: ignore[name-defined]
    """Protocol-2 pickler writing ``bytes`` as Python 2 ``str`` (SHORT_BINSTRING/BINSTRING)."""

    dispatch = dict(pickle._Pickler.dispatch)  # type: ignore[attr-defined]

    def save_py2_str(self, obj: bytes) -> None:
        n = len(obj)
        if n < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", n) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


def dump_py2_pickle(obj: Any, path: Path) -> None:
    """Write ``obj`` as a protocol-2 pickle with Python-2 style byte strings."""
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    path.write_bytes(buf.getvalue())
    trust_synthetic(path)


def write_cifar10_bin(out: Path, batches: dict[str, tuple[np.ndarray, np.ndarray]]) -> Path:
    """Write ``{python name: (X uint8 (n, 3072), labels)}`` as the binary version into ``out``.

    Each record is the label byte then the 3072 pixel bytes; ``batches.meta.txt`` holds the
    ten class names, one a line.  The files are registered as synthetic data.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name, (X, y) in batches.items():
        rec = np.empty((len(y), 1 + CIFAR10_DIM), dtype=np.uint8)
        rec[:, 0] = np.asarray(y, dtype=np.uint8)
        rec[:, 1:] = X
        p = out / CIFAR10_BIN_FILES[name].name
        p.write_bytes(rec.tobytes())
        trust_synthetic(p)
    meta = out / CIFAR10_BIN_META
    meta.write_text("".join(n + "\n" for n in CIFAR10_LABEL_NAMES), encoding="ascii")
    trust_synthetic(meta)
    return out


def _class_images(
    rng: np.random.Generator, means: np.ndarray, labels: np.ndarray, noise: float
) -> np.ndarray:
    x = means[labels] + rng.normal(0.0, noise, size=(len(labels), CIFAR10_DIM))
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def write_synthetic_cifar10(dest: Path, n_per_batch: int = 200, seed: int = 0,
                            version: str = "python") -> Path:
    """Write a synthetic CIFAR-10 in the official python-pickle and/or binary format.

    Parameters
    ----------
    dest : parent folder; created if needed.
    n_per_batch : rows in each of data_batch_1..5 and test_batch.
    seed : the output is a deterministic function of ``seed`` and ``n_per_batch``.
    version : ``"python"``, ``"binary"`` or ``"both"`` (the same images in both folders).

    Returns
    -------
    Path : ``dest / "cifar-10-batches-py"`` (``"cifar-10-batches-bin"`` for ``"binary"``).
    """
    if version not in ("python", "binary", "both"):
        raise ValueError(f"version must be python, binary or both, not {version!r}")
    rng = np.random.default_rng(seed)
    out = Path(dest) / CIFAR10_SUBDIR
    # Smooth-ish class templates: a shared base image plus a per-class pattern.
    base = rng.uniform(80, 176, size=CIFAR10_DIM)
    means = base + rng.normal(0.0, 30.0, size=(CIFAR10_NUM_CLASSES, CIFAR10_DIM))
    names = [*CIFAR10_TRAIN_BATCHES, "test_batch"]
    arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if version != "binary":
        out.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        labels = rng.integers(0, CIFAR10_NUM_CLASSES, size=n_per_batch)
        is_test = name == "test_batch"
        batch = {
            b"batch_label": (
                b"testing batch 1 of 1" if is_test else f"training batch {i + 1} of 5".encode()
            ),
            b"labels": [int(v) for v in labels],
            b"data": _class_images(rng, means, labels, noise=60.0),
            b"filenames": [
                f"synthetic_{CIFAR10_LABEL_NAMES[v]}_s{seed}_{i}_{j:05d}.png".encode()
                for j, v in enumerate(labels)
            ],
        }
        arrays[name] = (batch[b"data"], labels)
        if version != "binary":
            dump_py2_pickle(batch, out / name)
    if version != "python":
        bin_out = write_cifar10_bin(Path(dest) / CIFAR10_BIN_SUBDIR, arrays)
        if version == "binary":
            return bin_out
    meta = {
        b"num_cases_per_batch": n_per_batch,
        b"label_names": [n.encode() for n in CIFAR10_LABEL_NAMES],
        b"num_vis": CIFAR10_DIM,
    }
    dump_py2_pickle(meta, out / "batches.meta")
    return out


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array as an uncompressed IDX file (magic 0x0000 08 ndim)."""
    a = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, a.ndim]) + b"".join(struct.pack(">I", d) for d in a.shape)
    return header + a.tobytes()


def write_synthetic_mnist_idx(
    dest: Path, n_train: int = 600, n_test: int = 100, seed: int = 0
) -> Path:
    """Write the four MNIST files (gzip IDX) with synthetic digits.

    Parameters
    ----------
    dest : parent folder; the files go to ``dest / "mnist"``.
    n_train, n_test : number of images in the training and test files.
    seed : deterministic output per seed.

    Returns
    -------
    Path : ``dest / "mnist"``, holding ``train-images-idx3-ubyte.gz`` etc.
    """
    rng = np.random.default_rng(seed)
    out = Path(dest) / MNIST_SUBDIR
    out.mkdir(parents=True, exist_ok=True)
    templates = (rng.random((10, 28, 28)) < 0.2).astype(np.uint8) * 255
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        flips = rng.random((n, 28, 28)) < 0.05
        images = np.where(flips, 255 - templates[labels], templates[labels]).astype(np.uint8)
        for kind, arr, ndim in (("images", images, 3), ("labels", labels, 1)):
            name = f"{prefix}-{kind}-idx{ndim}-ubyte.gz"
            payload = gzip.compress(idx_bytes(arr), compresslevel=1, mtime=0)
            tmp = out / f".linclf-tmp-{name}"
            tmp.write_bytes(payload)
            os.replace(tmp, out / name)
    return out


def write_idx_folder(folder: Path, n_train: int, n_test: int, side: int = 28, n_classes: int = 10,
                     signal: float = 0.4, mean: float = 90.0, seed: int = 0) -> Path:
    """A custom IDX folder at ``folder``: ``n_classes`` random ``side`` x ``side`` templates,
    each image ``signal`` x its class template plus N(``mean``, 60) noise, clipped to uint8.
    Returns ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    templates = rng.integers(0, 256, (n_classes, side, side))
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        y = rng.integers(0, n_classes, n).astype(np.uint8)
        x = np.clip(templates[y] * signal + rng.normal(mean, 60, (n, side, side)), 0, 255).astype(np.uint8)
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(idx_bytes(x))
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(idx_bytes(y))
    return folder
