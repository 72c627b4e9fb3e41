"""Pinned metadata of the datasets: file names, sizes, digests and download mirrors.

Every downloaded or loaded file is checked against these values, so a corrupted mirror, a
truncated download or a silently different file is refused instead of being trained on.
The MNIST values come from ``shared/data/README.md`` (they equal the published md5s); the
CIFAR-10 values are the ones published on https://www.cs.toronto.edu/~kriz/cifar.html (md5s;
the binary version's sha256s are from ``shared/data/README.md``).
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
    sha256: str | None
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
CIFAR10_LABEL_NAMES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)

# --- the python version (cifar-10-batches-py): published md5s (no published sha256)
CIFAR10_PY_SUBDIR = CIFAR10_SUBDIR
CIFAR10_PY_MD5: dict[str, str] = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
}

# --- the binary version (cifar-10-batches-bin): 3073-byte records, label byte + R, G, B planes
CIFAR10_BIN_SUBDIR = "cifar-10-batches-bin"
CIFAR10_BIN_RECORD = 1 + CIFAR10_DIM
CIFAR10_BIN_META = "batches.meta.txt"
CIFAR10_BIN_FILES: dict[str, PinnedFile] = {
    f.name.removesuffix(".bin"): f
    for f in (
        PinnedFile("data_batch_1.bin", 30730000,
                   "cee916563c9f80d84e3cc88e17fdc0941787f1244f00a67874d45b261883ada5",
                   "5dd7e06a14cb22eb9f671a540d1b7c25"),
        PinnedFile("data_batch_2.bin", 30730000,
                   "a591ca11fa1708a91ee40f54b3da4784ccd871ecf2137de63f51ada8b3fa57ed",
                   "5ea93a67294ea407fff1d09f752e9692"),
        PinnedFile("data_batch_3.bin", 30730000,
                   "bbe8596564c0f86427f876058170b84dac6670ddf06d79402899d93ceea26f67",
                   "942cd6a4bcdd0dd3c604fbe906cb4421"),
        PinnedFile("data_batch_4.bin", 30730000,
                   "014e562d6e23c72197cc727519169a60359f5eccd8945ad5a09d710285ff4e48",
                   "ae636b3ba5c66a11e91e8cb52e771fcb"),
        PinnedFile("data_batch_5.bin", 30730000,
                   "755304fc0b379caeae8c14f0dac912fbc7d6cd469eb67a1029a08a39453a9add",
                   "53f37980c15c3d472c316c40844f3f0d"),
        PinnedFile("test_batch.bin", 30730000,
                   "8e2eb146ae340b09e24670f29cabc6326dba54da8789dab6768acf480273f65b",
                   "803d5f7f4d78ea53de84dbe85f74fb6d"),
    )
}
"""The six binary batches keyed by their python-version name (``data_batch_1`` ...)."""
CIFAR10_BIN_FILE_NAMES: tuple[str, ...] = (
    *(f.name for f in CIFAR10_BIN_FILES.values()), CIFAR10_BIN_META,
)
"""The files ``load_cifar10`` needs inside ``cifar-10-batches-bin/``."""
CIFAR10_BIN_ARCHIVE = PinnedFile(
    "cifar-10-binary.tar.gz", None, None, "c32a1d4ab5d03f1284b67883e8d87530",  # type: ignore[arg-type]
)
CIFAR10_BIN_ARCHIVE_MEMBERS: tuple[str, ...] = tuple(
    f"{CIFAR10_BIN_SUBDIR}/{name}" for name in (*CIFAR10_BIN_FILE_NAMES, "readme.html")
)
CIFAR10_VERSIONS: dict[str, str] = {"binary": CIFAR10_BIN_SUBDIR, "python": CIFAR10_PY_SUBDIR}
"""Version name -> folder name; the binary version is preferred when both are present."""


def cifar10_files(version: str) -> tuple[str, ...]:
    """The file names a CIFAR-10 folder of ``version`` ("binary" / "python") must hold."""
    return CIFAR10_BIN_FILE_NAMES if version == "binary" else CIFAR10_FILES


def cifar10_file_name(version: str, logical: str) -> str:
    """On-disk name of a python-version file name (``data_batch_1``) in ``version``."""
    if version == "python":
        return logical
    if logical == "batches.meta":
        return CIFAR10_BIN_META
    return CIFAR10_BIN_FILES[logical].name


def mnist_raw_size(raw_name: str) -> int:
    """Exact size in bytes of an uncompressed MNIST IDX file (header + data)."""
    n = MNIST_COUNTS[raw_name.split("-")[0]]
    if "images" in raw_name:
        return 16 + n * MNIST_IMAGE_SHAPE[0] * MNIST_IMAGE_SHAPE[1]
    return 8 + n


def mnist_urls(file: PinnedFile, mirrors: tuple[str, ...] = MNIST_MIRRORS) -> list[str]:
    """Download URLs of one MNIST file, one per mirror, in mirror order."""
    return [base.rstrip("/") + "/" + file.name for base in mirrors]
