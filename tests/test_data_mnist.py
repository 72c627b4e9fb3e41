"""MNIST IDX reading, verification, loading and the TDT4265 split."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from linclf_cli.data import locate, mnist
from linclf_cli.data.mnist import load_mnist, parse_idx, read_idx, verify_mnist
from linclf_cli.data.registry import MNIST_FILES
from linclf_cli.data.splits import binary_subset, tdt4265_split
from linclf_cli.data.synthetic import idx_bytes, write_synthetic_mnist_idx
from linclf_cli.errors import DataError, UsageError

REAL_DIR = os.environ.get("LINCLF_DATA_DIR")


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(locate, "cache_dir", lambda: tmp_path / "cache")
    monkeypatch.delenv("LINCLF_DATA_DIR", raising=False)


@pytest.fixture(scope="module")
def full_synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic MNIST with the real counts (60000/10000); parent folder."""
    root = tmp_path_factory.mktemp("mnist_full")
    write_synthetic_mnist_idx(root, 60000, 10000, seed=1)
    return root


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


# --- IDX reader -------------------------------------------------------------------------


def test_idx_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    raw = tmp_path / "x-idx3-ubyte"
    raw.write_bytes(idx_bytes(a))
    gz = tmp_path / "x-idx3-ubyte.gz"
    gz.write_bytes(gzip.compress(idx_bytes(a)))
    for p in (raw, gz):
        b = read_idx(p)
        assert b.dtype == np.uint8 and b.shape == (7, 28, 28)
        np.testing.assert_array_equal(a, b)
    assert int.from_bytes(raw.read_bytes()[:4], "big") == 2051
    lab = tmp_path / "l-idx1-ubyte"
    lab.write_bytes(idx_bytes(np.arange(10, dtype=np.uint8)))
    assert int.from_bytes(lab.read_bytes()[:4], "big") == 2049
    np.testing.assert_array_equal(read_idx(lab), np.arange(10))


def test_idx_other_dtypes_are_native_endian() -> None:
    a = np.arange(6, dtype=">i4").reshape(2, 3)
    data = bytes([0, 0, 0x0C, 2]) + (2).to_bytes(4, "big") + (3).to_bytes(4, "big") + a.tobytes()
    b = parse_idx(data)
    assert b.dtype == np.dtype("int32") and b.dtype.isnative
    np.testing.assert_array_equal(b, [[0, 1, 2], [3, 4, 5]])


def test_synthetic_files_read_back(tmp_path: Path) -> None:
    d = write_synthetic_mnist_idx(tmp_path, 50, 20, seed=3)
    assert read_idx(d / "train-images-idx3-ubyte.gz").shape == (50, 28, 28)
    assert read_idx(d / "t10k-labels-idx1-ubyte.gz").shape == (20,)
    again = write_synthetic_mnist_idx(tmp_path / "again", 50, 20, seed=3)
    for f in d.iterdir():
        assert f.read_bytes() == (again / f.name).read_bytes()


def test_truncated_gz_names_file(tmp_path: Path) -> None:
    d = write_synthetic_mnist_idx(tmp_path, 50, 20)
    p = d / "train-images-idx3-ubyte.gz"
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    with pytest.raises(DataError) as ei:
        read_idx(p)
    assert str(p) in ei.value.message and "truncated" in ei.value.message
    assert "fetch mnist" in ei.value.hint


def test_not_gzip_and_trailing_garbage_after_gzip(tmp_path: Path) -> None:
    p = tmp_path / "a.gz"
    p.write_bytes(b"this is not gzip at all, just text")
    with pytest.raises(DataError, match="corrupted") as ei:
        read_idx(p)
    assert str(p) in ei.value.message
    q = tmp_path / "b.gz"
    q.write_bytes(gzip.compress(idx_bytes(np.zeros(3, np.uint8))) + b"GARBAGE!")
    with pytest.raises(DataError, match="corrupted"):
        read_idx(q)


def test_wrong_magic(tmp_path: Path) -> None:
    p = tmp_path / "bad-idx3-ubyte"
    p.write_bytes(b"\x12\x34\x08\x03" + bytes(12))
    with pytest.raises(DataError, match="not an IDX file") as ei:
        read_idx(p)
    assert str(p) in ei.value.message
    p.write_bytes(bytes([0, 0, 0x42, 1, 0, 0, 0, 0]))  # unknown dtype code
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(p)


def test_idx_payload_truncated_and_trailing(tmp_path: Path) -> None:
    good = idx_bytes(np.zeros((4, 28, 28), np.uint8))
    p = tmp_path / "x-idx3-ubyte.gz"
    p.write_bytes(gzip.compress(good[:-10]))
    with pytest.raises(DataError, match="truncated") as ei:
        read_idx(p)
    assert str(p) in ei.value.message
    p.write_bytes(gzip.compress(good + b"\x00\x01"))
    with pytest.raises(DataError, match="2 trailing bytes"):
        read_idx(p)
    p.write_bytes(gzip.compress(good[:6]))
    with pytest.raises(DataError, match="truncated"):
        read_idx(p)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="Cannot read"):
        read_idx(tmp_path / "nope.gz")


# --- load_mnist / verify_mnist on synthetic data -----------------------------------------


def test_checksum_mismatch_refused(full_synthetic: Path) -> None:
    with pytest.raises(DataError) as ei:
        load_mnist(full_synthetic, env={})
    msg = ei.value.message
    assert "Checksum mismatch" in msg and "train-images-idx3-ubyte.gz" in msg
    assert MNIST_FILES["train-images-idx3-ubyte"].sha256 in msg
    actual = hashlib.sha256((full_synthetic / "mnist/train-images-idx3-ubyte.gz").read_bytes())
    assert actual.hexdigest() in msg
    assert "fetch mnist" in ei.value.hint


def test_load_unverified_and_cached(full_synthetic: Path) -> None:
    m = load_mnist(full_synthetic, env={}, verify=False)
    assert m.train_images.shape == (60000, 784) and m.train_images.dtype == np.uint8
    assert m.train_labels.shape == (60000,) and m.test_images.shape == (10000, 784)
    assert m.test_labels.shape == (10000,) and m.test_labels.max() <= 9
    assert not m.verified and m.directory == full_synthetic / "mnist"
    assert set(m.sha256) == {f.name for f in MNIST_FILES.values()}
    assert not m.train_images.flags.writeable
    t0 = time.perf_counter()
    m2 = load_mnist(full_synthetic, env={}, verify=False)
    assert time.perf_counter() - t0 < 0.1
    assert np.shares_memory(m2.train_images, m.train_images)  # per-process cache


def test_cache_invalidated_when_file_changes(tmp_path: Path, full_synthetic: Path) -> None:
    root = _copy(full_synthetic, tmp_path / "copy")
    m = load_mnist(root, env={}, verify=False)
    p = root / "mnist/t10k-labels-idx1-ubyte.gz"
    labels = np.array(m.test_labels)
    labels[0] = (labels[0] + 1) % 10
    p.write_bytes(gzip.compress(idx_bytes(labels)))
    os.utime(p, ns=(time.time_ns(), time.time_ns() + 10**9))
    m2 = load_mnist(root, env={}, verify=False)
    assert m2.test_labels[0] == labels[0] and not np.shares_memory(m2.test_labels, m.test_labels)


def test_wrong_counts_and_labels(tmp_path: Path, full_synthetic: Path) -> None:
    small = tmp_path / "small"
    write_synthetic_mnist_idx(small, 100, 10)
    with pytest.raises(DataError, match="unexpected layout"):
        load_mnist(small, env={}, verify=False)
    root = _copy(full_synthetic, tmp_path / "copy")
    p = root / "mnist/train-labels-idx1-ubyte.gz"
    p.write_bytes(gzip.compress(idx_bytes(np.full(60000, 11, np.uint8))))
    with pytest.raises(DataError, match="outside 0..9") as ei:
        load_mnist(root, env={}, verify=False)
    assert str(p) in ei.value.message


def test_uncompressed_files_verified_by_md5(tmp_path: Path, full_synthetic: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    for f in (full_synthetic / "mnist").iterdir():
        (raw / f.name.removesuffix(".gz")).write_bytes(gzip.decompress(f.read_bytes()))
    m = load_mnist(raw, env={}, verify=False)
    assert m.train_images.shape == (60000, 784)
    with pytest.raises(DataError, match="expected md5"):
        load_mnist(raw, env={})


def test_verify_mnist_reports(tmp_path: Path, full_synthetic: Path) -> None:
    root = _copy(full_synthetic, tmp_path / "copy")
    p = root / "mnist/t10k-images-idx3-ubyte.gz"
    p.write_bytes(p.read_bytes()[:100])
    (root / "mnist/t10k-labels-idx1-ubyte.gz").unlink()
    res = {r["file"]: r for r in verify_mnist(root / "mnist")}
    assert res["train-images-idx3-ubyte.gz"]["error"] == "checksum mismatch"
    assert res["train-images-idx3-ubyte.gz"]["shape"] is None  # never decompressed unverified
    assert res["t10k-images-idx3-ubyte.gz"]["error"] == "checksum mismatch"
    assert "missing" in res["t10k-labels-idx1-ubyte.gz"]["error"]
    assert not any(r["ok"] for r in res.values())


def test_load_missing_dataset(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not hold a complete mnist"):
        load_mnist(tmp_path, env={})


# --- splits ------------------------------------------------------------------------------


def test_binary_subset_order_and_targets() -> None:
    X = np.arange(8)[:, None] * np.ones((1, 3), np.uint8)
    y = np.array([2, 3, 1, 3, 2, 0, 2, 9])
    Xs, t = binary_subset(X, y)
    np.testing.assert_array_equal(Xs[:, 0], [0, 1, 3, 4, 6])
    np.testing.assert_array_equal(t[:, 0], [1.0, 0.0, 0.0, 1.0, 1.0])
    assert t.shape == (5, 1) and t.dtype == np.float64
    Xs, t = binary_subset(X, y, positive=9, negative=0)
    np.testing.assert_array_equal(t[:, 0], [0.0, 1.0])
    with pytest.raises(UsageError):
        binary_subset(X, y, 2, 2)


def test_tdt4265_split_synthetic(full_synthetic: Path) -> None:
    m = load_mnist(full_synthetic, env={}, verify=False)
    Xtr, ytr, Xva, yva = tdt4265_split(m)
    assert Xtr.shape == (20000, 784) and Xva.shape == (10000, 784)
    assert Xtr.dtype == np.uint8 and ytr.dtype == np.int64 and yva.shape == (10000,)
    np.testing.assert_array_equal(Xtr, m.train_images[:20000])
    np.testing.assert_array_equal(yva, m.test_labels)


# --- real data ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_dir() -> Path:
    if not REAL_DIR:
        pytest.skip("LINCLF_DATA_DIR not set: real MNIST tests skipped")
    return Path(REAL_DIR)


@pytest.mark.realdata
def test_real_mnist(real_dir: Path) -> None:
    t0 = time.perf_counter()
    m = load_mnist(real_dir, env={})  # must not skip: a broken data dir fails here
    elapsed = time.perf_counter() - t0
    assert m.verified
    for f in MNIST_FILES.values():
        assert m.sha256[f.name] == f.sha256
    assert m.train_images.shape == (60000, 784) and m.test_images.shape == (10000, 784)
    assert m.train_labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert np.bincount(m.test_labels).tolist()[:3] == [980, 1135, 1032]
    assert elapsed < 2.0, f"load_mnist took {elapsed:.2f} s"
    assert all(r["ok"] for r in verify_mnist(m.directory))

    Xtr, ytr, Xva, yva = tdt4265_split(m)
    assert (len(Xtr), len(Xva)) == (20000, 10000)
    Xb, tb = binary_subset(Xtr, ytr)
    Xvb, tvb = binary_subset(Xva, yva)
    assert (len(Xb), len(Xvb)) == (4005, 2042)
    assert tb.shape == (4005, 1) and set(np.unique(tb)) == {0.0, 1.0}


@pytest.mark.realdata
def test_real_mnist_uncompressed_md5(real_dir: Path, tmp_path: Path) -> None:
    src = locate.find_dataset("mnist", real_dir, {})
    for f in MNIST_FILES.values():
        (tmp_path / f.raw_name).write_bytes(gzip.decompress((src / f.name).read_bytes()))
    m = load_mnist(tmp_path, env={})
    assert m.verified and m.train_images.shape == (60000, 784)
