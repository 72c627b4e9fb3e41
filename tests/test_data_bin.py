"""CIFAR-10 binary version, digests before use, the verified-files memo and bad dataset input.

Synthetic files do not match the published digests: they are registered as synthetic data of
this process by the writers (or by ``trust_synthetic``), or a test passes its own ``pins``.
Real-data tests (marked ``realdata``) read ``LINCLF_DATA_DIR``; they skip when it is unset,
and fail instead when ``LINCLF_REQUIRE_DATA=1``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

from linclf_cli.data import integrity, locate
from linclf_cli.data.cifar import (
    DataWarning,
    load_cifar10,
    load_cifar10_dir,
    read_bin_batch,
    verify_cifar10,
)
from linclf_cli.data.integrity import trust_synthetic
from linclf_cli.data.registry import CIFAR10_BIN_FILES
from linclf_cli.data.synthetic import write_synthetic_cifar10
from linclf_cli.errors import DataError

N = 30
BIN, PY = "cifar-10-batches-bin", "cifar-10-batches-py"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("LINCLF_CACHE_DIR", str(cache))
    monkeypatch.delenv("LINCLF_DATA_DIR", raising=False)
    return cache


@pytest.fixture
def both(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    write_synthetic_cifar10(root, n_per_batch=N, seed=7, version="both")
    return root


def test_python_and_binary_versions_load_to_identical_arrays(both: Path) -> None:
    b = load_cifar10_dir(both / BIN)
    p = load_cifar10_dir(both / PY)
    assert (b.version, p.version) == ("binary", "python")
    assert b.n_per_batch == p.n_per_batch == N and b.label_names == p.label_names
    for (Xb, yb), (Xp, yp) in zip(b.train_batches, p.train_batches):
        assert Xb.dtype == Xp.dtype == np.uint8 and Xb.shape == Xp.shape == (N, 3072)
        np.testing.assert_array_equal(Xb, Xp)
        np.testing.assert_array_equal(yb, yp)
        assert yb.dtype == yp.dtype == np.int64
        assert not Xb.flags.writeable and not yb.flags.writeable
    np.testing.assert_array_equal(b.test_images, p.test_images)
    np.testing.assert_array_equal(b.test_labels, p.test_labels)
    # the binary pixels are a view of the mapped file, not a copy
    X = b.train_batches[0][0]
    assert not X.flags.owndata and X.strides == (3073, 1)
    # both present: the binary version is used, with provenance
    c = load_cifar10(both, env={})
    assert c.version == "binary" and c.directory == both / BIN
    sums = c.checksums(["data_batch_1", "test_batch", "batches.meta"])
    assert set(sums) == {"data_batch_1.bin", "test_batch.bin", "batches.meta.txt"}
    assert sums["data_batch_1.bin"] == hashlib.sha256(
        (both / BIN / "data_batch_1.bin").read_bytes()).hexdigest()


def _flip(p: Path, offset: int = 100) -> None:
    raw = bytearray(p.read_bytes())
    raw[offset] ^= 0xFF
    p.write_bytes(bytes(raw))


def test_flipped_byte_is_refused_with_both_digests(both: Path) -> None:
    p = both / BIN / "data_batch_3.bin"
    good = hashlib.sha256(p.read_bytes()).hexdigest()
    _flip(p)
    bad = hashlib.sha256(p.read_bytes()).hexdigest()
    with pytest.raises(DataError) as ei:
        load_cifar10_dir(both / BIN)
    msg = ei.value.message
    assert "Checksum mismatch" in msg and str(p) in msg
    assert CIFAR10_BIN_FILES["data_batch_3"].sha256 in msg and bad in msg
    assert "linclf data fetch cifar10 --binary" in ei.value.hint
    assert ei.value.exit_code == 1
    del good


def test_one_version_corrupt_uses_the_other_and_says_so(both: Path) -> None:
    _flip(both / BIN / "test_batch.bin")
    with pytest.warns(DataWarning, match="using the python version"):
        c = load_cifar10(both, env={})
    assert c.version == "python" and c.directory == both / PY and c.notes
    assert set(c.checksums(["test_batch"])) == {"test_batch"}  # never mixed
    _flip(both / PY / "data_batch_1")
    with pytest.raises(DataError, match="Both CIFAR-10 versions failed"):
        load_cifar10(both, env={})


def test_python_version_digest_mismatch_names_expected_digest(tmp_path: Path) -> None:
    d = write_synthetic_cifar10(tmp_path / "p", n_per_batch=N, seed=1)
    dst = tmp_path / "copy" / PY
    shutil.copytree(d, dst)  # a copy is not registered: it must match the published md5s
    with pytest.raises(DataError) as ei:
        load_cifar10(dst.parent, env={})
    assert "expected md5" in ei.value.message and str(dst) in ei.value.message
    rows = verify_cifar10(dst)
    assert not any(r["ok"] for r in rows)
    assert rows[0]["expected"] == "c99cafc152244af753f735de768cd75f" and rows[0]["actual"]


@pytest.mark.parametrize(("size", "match"), [(3073 * N - 1, "not a positive multiple"),
                                             (0, "not a positive multiple"),
                                             (3073 * 10001, "more than the 10000")])
def test_bad_bin_size(tmp_path: Path, size: int, match: str) -> None:
    p = tmp_path / "data_batch_1.bin"
    with open(p, "wb") as f:
        f.truncate(size)
    trust_synthetic(p)
    with pytest.raises(DataError, match=match) as ei:
        read_bin_batch(p)
    assert str(p) in ei.value.message and "fetch cifar10 --binary" in ei.value.hint


def test_wrong_record_count_across_files(both: Path) -> None:
    p = both / BIN / "test_batch.bin"
    p.write_bytes(p.read_bytes()[: 3073 * (N - 2)])
    trust_synthetic(p)
    with pytest.raises(DataError, match="Inconsistent"):
        load_cifar10_dir(both / BIN)


def test_label_byte_above_9(both: Path) -> None:
    p = both / BIN / "data_batch_2.bin"
    raw = bytearray(p.read_bytes())
    raw[3073 * 5] = 10
    p.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="Checksum mismatch"):  # the real path: digest first
        load_cifar10_dir(both / BIN)
    trust_synthetic(p)
    with pytest.raises(DataError, match="record 5 has label byte 10") as ei:
        load_cifar10_dir(both / BIN)
    assert str(p) in ei.value.message


@pytest.mark.parametrize("missing", ["batches.meta.txt", "test_batch.bin"])
def test_missing_binary_file_is_named(tmp_path: Path, missing: str) -> None:
    d = write_synthetic_cifar10(tmp_path / "d", n_per_batch=N, version="binary")
    (d / missing).unlink()
    with pytest.raises(DataError) as ei:
        load_cifar10(tmp_path / "d", env={})
    assert f"lacks {missing}" in ei.value.message


def test_bad_meta_txt(tmp_path: Path) -> None:
    d = write_synthetic_cifar10(tmp_path / "d", n_per_batch=N, version="binary")
    (d / "batches.meta.txt").write_text("cat\ndog\n")
    with pytest.raises(DataError, match="ten class names") as ei:
        load_cifar10_dir(d)
    assert "batches.meta.txt" in ei.value.message


def test_injected_pins(tmp_path: Path) -> None:
    d = tmp_path / "raw" / BIN
    write_synthetic_cifar10(tmp_path / "src", n_per_batch=N, version="binary")
    shutil.copytree(tmp_path / "src" / BIN, d)
    pins = {p.name: ("sha256", hashlib.sha256(p.read_bytes()).hexdigest())
            for p in d.iterdir() if p.suffix == ".bin"}
    c = load_cifar10_dir(d, pins=pins)
    assert c.n_per_batch == N and c.checks["data_batch_1.bin"].startswith("sha256:")
    pins["test_batch.bin"] = ("sha256", "0" * 64)
    with pytest.raises(DataError, match="0000000000"):
        load_cifar10_dir(d, pins=pins)


def test_memo_skips_rehash_and_rechecks_on_change(tmp_path: Path, isolated: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "f.bin"
    p.write_bytes(b"x" * 5000)
    want = hashlib.sha256(p.read_bytes()).hexdigest()
    c1 = integrity.check(p, "sha256", want)
    assert c1.ok and not c1.memo
    memo = json.loads((isolated / "verified.json").read_text())
    entry = memo["files"][str(p.resolve())]
    assert entry["size"] == 5000 and entry["digests"]["sha256"] == want
    calls = []
    real = integrity.hash_stream
    monkeypatch.setattr(integrity, "hash_stream", lambda *a: calls.append(1) or real(*a))
    c2 = integrity.check(p, "sha256", want)
    assert c2.ok and c2.memo and calls == []
    # any change (same size, new mtime) is rehashed and refused
    p.write_bytes(b"y" * 5000)
    c3 = integrity.check(p, "sha256", want)
    assert not c3.ok and calls == [1]
    # a corrupt memo is ignored, never trusted
    (isolated / "verified.json").write_text("{not json")
    assert not integrity.check(p, "sha256", want).ok


# --- MNIST gzip bomb (issue 10 item 10) ---------------------------------------------------


def test_mnist_gzip_bomb_bounded_in_a_memory_limited_process(tmp_path: Path) -> None:
    import zlib

    from linclf_cli.data.synthetic import write_synthetic_mnist_idx

    d = write_synthetic_mnist_idx(tmp_path / "bomb", 10, 5)
    co = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(64 << 20)
    with open(d / "train-images-idx3-ubyte.gz", "wb") as f:  # 2 GiB of zeros in ~2 MB
        f.write(co.compress(bytes([0, 0, 8, 3]) + (60000).to_bytes(4, "big")
                            + (28).to_bytes(4, "big") * 2))
        for _ in range(32):
            f.write(co.compress(chunk))
        f.write(co.flush())
    code = textwrap.dedent(f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (600 << 20, 600 << 20))
        from pathlib import Path
        from linclf_cli.data.mnist import load_mnist
        from linclf_cli.errors import DataError
        for verify in (True, False):
            try:
                load_mnist(Path({str(d)!r}), env={{}}, verify=verify)
            except DataError as exc:
                print(verify, exc.message)
            else:
                sys.exit("loaded")
    """)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "LINCLF_CACHE_DIR": str(tmp_path / "cache")}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "MemoryError" not in res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith("True Checksum mismatch") and "before decompressing" in lines[0]
    assert lines[1].startswith("False") and "decompresses to more than 47040016" in lines[1]


# --- real data ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_cifar():
    d = os.environ.get("LINCLF_DATA_DIR")
    if not d:
        if os.environ.get("LINCLF_REQUIRE_DATA") == "1":
            pytest.fail("LINCLF_REQUIRE_DATA=1 but LINCLF_DATA_DIR is not set")
        pytest.skip("LINCLF_DATA_DIR not set: real CIFAR-10 tests skipped")
    try:
        return load_cifar10(Path(d), env={})
    except DataError as exc:
        pytest.fail(f"LINCLF_DATA_DIR={d} is set but CIFAR-10 cannot be read there: {exc}")


@pytest.mark.realdata
def test_real_cifar10_documented_facts(real_cifar) -> None:
    c = real_cifar
    assert c.is_full and all(len(y) == 10000 for _, y in c.train_batches)
    assert len(c.test_labels) == 10000
    assert list(c.train_batches[0][1][:10]) == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    assert list(c.test_labels[:10]) == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]
    y = np.concatenate([b[1] for b in c.train_batches])
    assert np.bincount(y, minlength=10).tolist() == [5000] * 10
    sums = np.zeros(3)
    for X, _ in c.train_batches:
        sums += X.reshape(-1, 3, 1024).sum(axis=(0, 2), dtype=np.int64)
    mean = sums / (50000 * 1024) / 255
    np.testing.assert_allclose(mean, [0.4914, 0.4822, 0.4465], atol=5e-5)
    assert all(v.startswith(("sha256:", "md5:")) or v == "content" for v in c.checks.values())
