"""Pinned metadata of the datasets: file names, sizes, digests and download mirrors.

Every downloaded or loaded file is checked against these values, so a corrupted mirror, a
truncated download or a silently different file is refused instead of being trained on.
The MNIST values come from ``shared/data/README.md`` (they equal the published md5s); the
CIFAR-10 values are the ones published on https://www.cs.toronto.edu/~kriz/cifar.html.
"""

from __future__ import annotations

from dataclasses import dataclass

DATASETS: tuple[str, ...] = ("mnist", "cifar10")
"""Dataset names accepted by the locate/fetch/verify functions and the CLI."""


@dataclass(frozen=True)
class PinnedFile:
    """One published file and the digests it must have.

    Attributes
    ----------
    name : file name as published (for MNIST the ``.gz`` name).
    size : size in bytes of the published file.
    sha256, md5 : hex digests of the published file.
    raw_name : name of the uncompressed file (``name`` without ``.gz``), if any.
    raw_md5 : md5 of the uncompressed content, used to verify ``raw_name``.
    """

    name: str
    size: int
    sha256: str
    md5: str
    raw_name: str | None = None
    raw_md5: str | None = None


MNIST_SUBDIR = "mnist"
MNIST_FILES: dict[str, PinnedFile] = {
    f.raw_name: f  # type: ignore[misc]
    for f in (
        PinnedFile(
            "train-images-idx3-ubyte.gz", 9912422,
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-images-idx3-ubyte", "6bbc9ace898e44ae57da46a324031adb",
        ),
        PinnedFile(
            "train-labels-idx1-ubyte.gz", 28881,
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "d53e105ee54ea40749a09fcbcd1e9432",
            "train-labels-idx1-ubyte", "a25bea736e30d166cdddb491f175f624",
        ),
        PinnedFile(
            "t10k-images-idx3-ubyte.gz", 1648877,
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "9fb629c4189551a2d022fa330f9573f3",
            "t10k-images-idx3-ubyte", "2646ac647ad5339dbf082846283269ea",
        ),
        PinnedFile(
            "t10k-labels-idx1-ubyte.gz", 4542,
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            "ec29112dd5afa0611ce80d1b7f02629c",
            "t10k-labels-idx1-ubyte", "27ae3e4e09519cfbb04c329615203637",
        ),
    )
}
"""The four MNIST files keyed by their uncompressed name (e.g. ``train-images-idx3-ubyte``)."""

MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
"""Base URLs, tried in order; a file's URL is ``base + PinnedFile.name``."""

MNIST_COUNTS: dict[str, int] = {"train": 60000, "t10k": 10000}
MNIST_IMAGE_SHAPE: tuple[int, int] = (28, 28)

CIFAR10_SUBDIR = "cifar-10-batches-py"
CIFAR10_ARCHIVE = PinnedFile(
    "cifar-10-python.tar.gz", 170498071,
    "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
    "c58f30108f718f92721af3b95e74349a",
)
CIFAR10_MIRRORS: tuple[str, ...] = ("https://www.cs.toronto.edu/~kriz/",)
CIFAR10_TRAIN_BATCHES: tuple[str, ...] = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_FILES: tuple[str, ...] = (*CIFAR10_TRAIN_BATCHES, "test_batch", "batches.meta")
"""The files ``load_cifar10`` needs inside ``cifar-10-batches-py/``."""
CIFAR10_ARCHIVE_MEMBERS: tuple[str, ...] = tuple(
    f"{CIFAR10_SUBDIR}/{name}" for name in (*CIFAR10_FILES, "readme.html")
)
"""The only archive members ever extracted (``readme.html`` is optional)."""
CIFAR10_ROWS_PER_BATCH = 10000
CIFAR10_DIM = 3072
CIFAR10_NUM_CLASSES = 10


def mnist_urls(file: PinnedFile, mirrors: tuple[str, ...] = MNIST_MIRRORS) -> list[str]:
    """Download URLs of one MNIST file, one per mirror, in mirror order."""
    return [base.rstrip("/") + "/" + file.name for base in mirrors]
