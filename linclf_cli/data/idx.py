"""Any dataset in MNIST's IDX layout: a folder holding the four files under MNIST's names.

``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
``t10k-labels-idx1-ubyte``, each optionally gzipped (``.gz``).  Images may be any size
(n, h, w) of uint8; labels are integers 0..K-1.  Nothing is pinned (the folder is the user's
own data), so the files' SHA-256 digests are returned for provenance.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from linclf_cli.errors import DataError

from .mnist import MnistData, read_idx

NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _find(folder: Path, name: str) -> Path:
    for cand in (folder / name, folder / f"{name}.gz"):
        if cand.is_file():
            return cand
    raise DataError(f"{folder} holds no {name} (or {name}.gz).",
                    f"An IDX folder needs the four files {', '.join(NAMES)}.")


def load_idx_folder(folder: Path | str) -> MnistData:
    """Read the four IDX files of ``folder``; returns images as (n, h*w) rows."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder.", "Pass --data mnist, cifar10 or a folder of IDX files.")
    arrays, digests = {}, {}
    for name in NAMES:
        path = _find(folder, name)
        arrays[name] = read_idx(path, max_bytes=1 << 34)
        digests[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    tr_x, tr_y, te_x, te_y = (arrays[n] for n in NAMES)
    for x, y, what in ((tr_x, tr_y, "training"), (te_x, te_y, "test")):
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y) or len(x) == 0:
            raise DataError(f"The {what} files of {folder} do not match: images {x.shape}, labels {y.shape}.",
                            "Images must be (n, h, w) and labels (n,), with the same n.")
    if tr_x.shape[1:] != te_x.shape[1:]:
        raise DataError(f"Training images are {tr_x.shape[1:]}, test images {te_x.shape[1:]} in {folder}.")
    return MnistData(tr_x.reshape(len(tr_x), -1), tr_y, te_x.reshape(len(te_x), -1), te_y,
                     folder, digests, verified=False)
