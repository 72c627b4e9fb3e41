"""CIFAR-10: safe unpickling, validation, synthetic data, splits and pre-processing."""

from __future__ import annotations

import codecs
import os
import pickle
import pickletools
import shutil
from pathlib import Path

import numpy as np
import pytest

from linclf_cli.data import locate
from linclf_cli.data.integrity import trust_synthetic
from linclf_cli.data.cifar import (
    SafeUnpickler,
    aml_split,
    dd2424_bonus_split,
    dd2424_split,
    load_cifar10,
    load_cifar10_dir,
    read_batch,
    safe_load_pickle,
    verify_cifar10,
)
from linclf_cli.data.splits import standardize, subtract_mean_image
from linclf_cli.data.synthetic import CIFAR10_LABEL_NAMES, dump_py2_pickle, write_synthetic_cifar10
from linclf_cli.errors import DataError, UsageError

N = 200


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(locate, "cache_dir", lambda: tmp_path / "cache")
    monkeypatch.delenv("LINCLF_DATA_DIR", raising=False)


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cifar")
    write_synthetic_cifar10(root, n_per_batch=N, seed=0)
    return root


@pytest.fixture
def synth_copy(tmp_path: Path, synth_root: Path) -> Path:
    """A private copy of the synthetic batches folder that a test may damage."""
    dst = tmp_path / "copy" / "cifar-10-batches-py"
    shutil.copytree(synth_root / "cifar-10-batches-py", dst)
    for f in dst.iterdir():  # synthetic data of this process (a copy is not trusted by itself)
        trust_synthetic(f)
    return dst


def test_synthetic_is_in_official_format(synth_root: Path) -> None:
    d = synth_root / "cifar-10-batches-py"
    with open(d / "data_batch_1", "rb") as f:
        b = pickle.load(f, encoding="bytes")
    assert set(b) == {b"batch_label", b"labels", b"data", b"filenames"}
    assert b[b"batch_label"] == b"training batch 1 of 5"
    assert isinstance(b[b"data"], np.ndarray) and b[b"data"].dtype == np.uint8
    assert b[b"data"].shape == (N, 3072)
    assert isinstance(b[b"labels"], list) and isinstance(b[b"labels"][0], int)
    assert isinstance(b[b"filenames"][0], bytes)
    with open(d / "batches.meta", "rb") as f:
        meta = pickle.load(f, encoding="bytes")
    assert meta == {b"num_cases_per_batch": N, b"num_vis": 3072,
                    b"label_names": [n.encode() for n in CIFAR10_LABEL_NAMES]}
    raw = (d / "data_batch_1").read_bytes()
    assert raw[:2] == b"\x80\x02"  # protocol 2
    ops = [(op.name, arg) for op, arg, _ in pickletools.genops(raw)]
    globals_ = {arg for name, arg in ops if name == "GLOBAL"}
    assert globals_ <= {"numpy._core.multiarray _reconstruct", "numpy.core.multiarray _reconstruct",
                        "numpy ndarray", "numpy dtype"}
    assert any(name in ("BINSTRING", "SHORT_BINSTRING") for name, _ in ops)


def test_synthetic_deterministic(tmp_path: Path) -> None:
    a = write_synthetic_cifar10(tmp_path / "a", n_per_batch=20, seed=5)
    b = write_synthetic_cifar10(tmp_path / "b", n_per_batch=20, seed=5)
    c = write_synthetic_cifar10(tmp_path / "c", n_per_batch=20, seed=6)
    for name in ("data_batch_1", "test_batch", "batches.meta"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    assert (a / "data_batch_1").read_bytes() != (c / "data_batch_1").read_bytes()


def test_load_round_trip(synth_root: Path) -> None:
    c = load_cifar10(synth_root, env={})
    assert c.n_per_batch == N and not c.is_full
    assert len(c.train_batches) == 5
    for X, y in c.train_batches:
        assert X.shape == (N, 3072) and X.dtype == np.uint8
        assert y.shape == (N,) and y.dtype == np.int64 and 0 <= y.min() and y.max() <= 9
        assert not X.flags.writeable
    assert c.test_images.shape == (N, 3072) and c.test_labels.shape == (N,)
    assert c.label_names == CIFAR10_LABEL_NAMES
    assert c.directory == synth_root / "cifar-10-batches-py"
    with open(c.directory / "data_batch_3", "rb") as f:
        ref = pickle.load(f, encoding="bytes")
    np.testing.assert_array_equal(c.train_batches[2][0], ref[b"data"])
    np.testing.assert_array_equal(c.train_batches[2][1], ref[b"labels"])
    assert load_cifar10(synth_root, env={}) is c  # cached per process


def test_synthetic_is_learnable(synth_root: Path) -> None:
    """A linear classifier (nearest class mean) beats chance by far."""
    c = load_cifar10(synth_root, env={})
    s = aml_split(c, n_train=900, n_val=100, n_test=N)
    X = s.X_train.astype(np.float64)
    means = np.stack([X[s.y_train == k].mean(0) for k in range(10)])
    W, b = means, -0.5 * (means**2).sum(1)
    acc = np.mean(np.argmax(s.X_test @ W.T + b, axis=1) == s.y_test)
    assert acc > 0.5


def test_python3_protocol2_pickles_also_load(tmp_path: Path, synth_copy: Path) -> None:
    """Re-saved batches (Python 3, protocol 2) encode bytes with _codecs.encode."""
    p = synth_copy / "data_batch_1"
    with open(p, "rb") as f:
        b = pickle.load(f, encoding="bytes")
    p.write_bytes(pickle.dumps(b, protocol=2))
    assert b"_codecs" in p.read_bytes()
    X, y = read_batch(p)
    np.testing.assert_array_equal(X, b[b"data"])


class _Evil:
    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):  # noqa: ANN204
        return (os.system, (f"echo pwned > {self.target}",))


class _Rot13:
    def __reduce__(self):  # noqa: ANN204
        return (codecs.encode, ("abc", "rot13"))


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_malicious_pickle_refused(tmp_path: Path, synth_copy: Path, protocol: int) -> None:
    marker = tmp_path / "pwned.txt"
    p = synth_copy / "data_batch_1"
    p.write_bytes(pickle.dumps({b"data": _Evil(marker), b"labels": [0]}, protocol=protocol))
    with pytest.raises(DataError, match="Checksum mismatch") as ei:  # refused before unpickling
        load_cifar10(synth_copy.parent, env={})
    assert not marker.exists()
    trust_synthetic(p)  # even a file whose digest is trusted is never executed
    with pytest.raises(DataError) as ei:
        load_cifar10(synth_copy.parent, env={})
    assert "refusing to unpickle" in ei.value.message
    assert "system" in ei.value.message and str(p) in ei.value.message
    assert not marker.exists()
    # verify reports it too, without running it
    res = {r["file"]: r for r in verify_cifar10(synth_copy)}
    assert not res["data_batch_1"]["ok"] and "refusing" in res["data_batch_1"]["error"]
    assert not marker.exists()


def test_other_globals_refused(tmp_path: Path) -> None:
    p = tmp_path / "x"
    for obj in (_Rot13(), {b"f": eval}, [shutil.rmtree]):
        p.write_bytes(pickle.dumps(obj, protocol=2))
        with pytest.raises(DataError, match="refusing|corrupted"):
            safe_load_pickle(p)
    assert issubclass(SafeUnpickler, pickle.Unpickler)


def _rewrite(path: Path, **changes: object) -> None:
    with open(path, "rb") as f:
        d = pickle.load(f, encoding="bytes")
    d.update({k.encode(): v for k, v in changes.items()})
    dump_py2_pickle(d, path)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"data": np.zeros((N, 3000), np.uint8)}, "expected uint8"),
        ({"data": np.zeros((N, 3072), np.float32)}, "expected uint8"),
        ({"data": [1, 2, 3]}, "no b'data' array"),
        ({"labels": [0] * (N - 1)}, "labels for"),
        ({"labels": [10] * N}, "outside 0..9"),
        ({"labels": [-1] * N}, "outside 0..9"),
        ({"labels": ["a"] * N}, "not integers"),
    ],
)
def test_batch_validation(synth_copy: Path, changes: dict, match: str) -> None:
    p = synth_copy / "data_batch_2"
    _rewrite(p, **changes)
    with pytest.raises(DataError, match=match) as ei:
        load_cifar10_dir(synth_copy)
    assert str(p) in ei.value.message


def test_inconsistent_batch_sizes(synth_copy: Path) -> None:
    _rewrite(synth_copy / "test_batch", data=np.zeros((10, 3072), np.uint8), labels=[0] * 10)
    with pytest.raises(DataError, match="Inconsistent"):
        load_cifar10_dir(synth_copy)
    rows = {r["file"]: r for r in verify_cifar10(synth_copy)}
    assert not rows["data_batch_1"]["ok"] and "inconsistent" in rows["data_batch_1"]["error"]


def test_meta_validation(synth_copy: Path) -> None:
    meta = synth_copy / "batches.meta"
    dump_py2_pickle({b"label_names": [b"a"] * 9}, meta)
    with pytest.raises(DataError, match="label_names") as ei:
        load_cifar10_dir(synth_copy)
    assert str(meta) in ei.value.message
    dump_py2_pickle({b"label_names": [b"a"] * 10, b"num_cases_per_batch": 7}, meta)
    with pytest.raises(DataError, match="7 cases per batch"):
        load_cifar10_dir(synth_copy)


def test_truncated_and_garbage_files(synth_copy: Path) -> None:
    p = synth_copy / "data_batch_4"
    p.write_bytes(p.read_bytes()[:1000])
    with pytest.raises(DataError, match="Checksum mismatch") as ei:
        load_cifar10_dir(synth_copy)
    assert str(p) in ei.value.message
    trust_synthetic(p)  # structure checks behind the digest
    with pytest.raises(DataError, match="truncated|corrupted") as ei:
        load_cifar10_dir(synth_copy)
    assert str(p) in ei.value.message
    p.write_bytes(b"\x00garbage" * 10)
    trust_synthetic(p)
    with pytest.raises(DataError, match="corrupted"):
        load_cifar10_dir(synth_copy)
    p.write_bytes(b"")
    trust_synthetic(p)
    with pytest.raises(DataError, match="truncated"):
        load_cifar10_dir(synth_copy)


def test_missing_file_is_not_found(synth_copy: Path) -> None:
    (synth_copy / "test_batch").unlink()
    with pytest.raises(DataError, match="does not hold a complete cifar10") as ei:
        load_cifar10(synth_copy.parent, env={})
    assert "lacks test_batch" in ei.value.message


def test_verify_ok(synth_root: Path) -> None:
    res = verify_cifar10(synth_root / "cifar-10-batches-py")
    assert len(res) == 7 and all(r["ok"] for r in res)
    assert {r["rows"] for r in res if r["file"] != "batches.meta"} == {N}


# --- splits ------------------------------------------------------------------------------


def test_dd2424_split(synth_root: Path) -> None:
    c = load_cifar10(synth_root, env={})
    s = dd2424_split(c)
    assert s.X_train is c.train_batches[0][0] and s.X_val is c.train_batches[1][0]
    assert s.y_test is c.test_labels
    assert s.sizes == {"train": N, "val": N, "test": N}


def test_dd2424_bonus_split(synth_root: Path) -> None:
    c = load_cifar10(synth_root, env={})
    s = dd2424_bonus_split(c, n_val=100)
    X = np.concatenate([b[0] for b in c.train_batches])
    y = np.concatenate([b[1] for b in c.train_batches])
    np.testing.assert_array_equal(s.X_train, X[:-100])
    np.testing.assert_array_equal(s.X_val, X[-100:])
    np.testing.assert_array_equal(s.y_val, y[-100:])
    assert s.sizes == {"train": 5 * N - 100, "val": 100, "test": N}
    for bad in (0, 5 * N, -1):
        with pytest.raises(UsageError):
            dd2424_bonus_split(c, n_val=bad)


def test_aml_split(synth_root: Path) -> None:
    c = load_cifar10(synth_root, env={})
    s = aml_split(c, n_train=900, n_val=50, n_test=60)
    X = np.concatenate([b[0] for b in c.train_batches])
    np.testing.assert_array_equal(s.X_train, X[:900])
    np.testing.assert_array_equal(s.X_val, X[900:950])
    np.testing.assert_array_equal(s.X_test, c.test_images[:60])
    assert s.sizes == {"train": 900, "val": 50, "test": 60}
    with pytest.raises(UsageError) as ei:
        aml_split(c)  # 49000 + 1000 do not fit 1000 synthetic images
    assert ei.value.exit_code == 2
    for kw in ({"n_test": N + 1}, {"n_val": 0}, {"n_train": 990, "n_val": 11}):
        with pytest.raises(UsageError):
            aml_split(c, **{"n_train": 900, "n_val": 50, "n_test": 60, **kw})


def test_standardize_uses_training_stats_only() -> None:
    rng = np.random.default_rng(0)
    tr = rng.integers(0, 256, size=(300, 12), dtype=np.uint8)
    tr[:, 3] = 7  # constant column: std 0 -> 1
    va = rng.integers(0, 256, size=(50, 12), dtype=np.uint8)
    (trs, vas), mean, std = standardize(tr, va)
    assert trs.dtype == np.float32 and vas.dtype == np.float32
    np.testing.assert_allclose(mean, (tr / 255).mean(0))
    ref_std = (tr / 255).std(0)
    ref_std[3] = 1.0
    np.testing.assert_allclose(std, ref_std)
    np.testing.assert_allclose(trs.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(np.delete(trs.std(0), 3), 1, atol=1e-4)
    assert np.all(trs[:, 3] == 0) and np.isfinite(trs).all()
    np.testing.assert_allclose(vas, (va / 255 - mean) / std, atol=1e-5)
    (_, vas2), mean2, _ = standardize(tr, 255 - va)  # other sets never change the stats
    np.testing.assert_array_equal(mean2, mean)
    (only,), _, _ = standardize(tr, dtype=np.float64)
    assert only.dtype == np.float64


def test_subtract_mean_image() -> None:
    rng = np.random.default_rng(1)
    tr = rng.integers(0, 256, size=(100, 6), dtype=np.uint8)
    te = rng.integers(0, 256, size=(10, 6), dtype=np.uint8)
    (trc, tec), mean = subtract_mean_image(tr, te)
    np.testing.assert_allclose(mean, tr.mean(0))
    np.testing.assert_allclose(trc.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(tec, te - tr.mean(0), atol=1e-4)
    assert tec.dtype == np.float32 and tec.max() <= 255


def test_preprocessing_shape_mismatch_is_usage_error() -> None:
    tr = np.zeros((5, 4), np.uint8)
    with pytest.raises(UsageError):
        standardize(tr, np.zeros((2, 3), np.uint8))
    with pytest.raises(UsageError):
        subtract_mean_image(np.zeros((0, 4), np.uint8))
