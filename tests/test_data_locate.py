"""Data-directory resolution: --data-dir, then $LINCLF_DATA_DIR, then the cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from linclf_cli.data import locate
from linclf_cli.data.synthetic import write_synthetic_cifar10, write_synthetic_mnist_idx
from linclf_cli.errors import DataError, UsageError


@pytest.fixture(autouse=True)
def fake_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setattr(locate, "cache_dir", lambda: cache)
    monkeypatch.delenv("LINCLF_DATA_DIR", raising=False)
    return cache


def test_candidate_order(tmp_path: Path, fake_cache: Path) -> None:
    got = locate.candidate_dirs(tmp_path / "a", env={"LINCLF_DATA_DIR": str(tmp_path / "b")})
    assert got == [
        ("--data-dir", tmp_path / "a"),
        ("LINCLF_DATA_DIR", tmp_path / "b"),
        ("cache", fake_cache),
    ]
    assert locate.candidate_dirs(env={}) == [("cache", fake_cache)]
    assert locate.candidate_dirs(env={"LINCLF_DATA_DIR": ""}) == [("cache", fake_cache)]


def test_candidate_reads_os_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINCLF_DATA_DIR", str(tmp_path))
    assert locate.candidate_dirs()[0] == ("LINCLF_DATA_DIR", tmp_path)


def test_find_dataset_priority(tmp_path: Path, fake_cache: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b, fake_cache):
        write_synthetic_mnist_idx(d, 10, 5)
    env = {"LINCLF_DATA_DIR": str(b)}
    assert locate.find_dataset("mnist", a, env) == a / "mnist"
    assert locate.find_dataset("mnist", None, env) == b / "mnist"
    assert locate.find_dataset("mnist", None, {}) == fake_cache / "mnist"
    # an explicit --data-dir without the dataset is an error, never a silent fall-back
    with pytest.raises(DataError, match="does not hold a complete mnist") as ei:
        locate.find_dataset("mnist", tmp_path / "empty", env)
    assert str(b) not in ei.value.message


def test_explicit_incomplete_data_dir_names_missing_files(tmp_path: Path) -> None:
    """Issue 9 item 8: no fall-back to $LINCLF_DATA_DIR when --data-dir lacks one file."""
    given, env_dir = tmp_path / "given", tmp_path / "env"
    write_synthetic_mnist_idx(env_dir, 10, 5)
    d = write_synthetic_mnist_idx(given, 10, 5)
    (d / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError) as ei:
        locate.find_dataset("mnist", given, {"LINCLF_DATA_DIR": str(env_dir)})
    assert "t10k-labels-idx1-ubyte.gz" in ei.value.message and str(d) in ei.value.message
    assert "train-images" not in ei.value.message.split("Missing files:")[1]
    assert "leave out --data-dir" in ei.value.hint
    c = write_synthetic_cifar10(given, n_per_batch=3, version="binary")
    (c / "batches.meta.txt").unlink()
    with pytest.raises(DataError) as ei:
        locate.find_dataset("cifar10", given, {"LINCLF_DATA_DIR": str(env_dir)})
    assert "lacks batches.meta.txt" in ei.value.message
    # without --data-dir the fall-back order applies
    assert locate.find_dataset("mnist", None, {"LINCLF_DATA_DIR": str(env_dir)}) == env_dir / "mnist"


def test_find_dataset_flat_and_uncompressed_layouts(tmp_path: Path) -> None:
    import gzip

    src = write_synthetic_mnist_idx(tmp_path / "src", 10, 5)
    flat = tmp_path / "flat"
    flat.mkdir()
    for f in src.iterdir():
        (flat / f.name.removesuffix(".gz")).write_bytes(gzip.decompress(f.read_bytes()))
    assert locate.find_dataset("mnist", flat, {}) == flat

    cifar = write_synthetic_cifar10(tmp_path / "c", n_per_batch=5)
    assert locate.find_dataset("cifar10", tmp_path / "c", {}) == cifar
    assert locate.find_dataset("cifar10", cifar, {}) == cifar


def test_find_dataset_missing_lists_files_and_dirs(tmp_path: Path, fake_cache: Path) -> None:
    env = {"LINCLF_DATA_DIR": str(tmp_path / "env")}
    with pytest.raises(DataError) as ei:
        locate.find_dataset("mnist", None, env)
    text = str(ei.value)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        assert name in text
    for d in (tmp_path / "env", fake_cache):
        assert str(d) in ei.value.message
    assert "linclf data fetch mnist" in ei.value.hint
    assert "LINCLF_DATA_DIR" in ei.value.hint

    with pytest.raises(DataError) as ei:
        locate.find_dataset("cifar10", None, {})
    assert "data_batch_1" in ei.value.message and "batches.meta" in ei.value.message
    assert "linclf data fetch cifar10" in ei.value.hint


def test_partial_dataset_is_not_found(tmp_path: Path) -> None:
    d = write_synthetic_mnist_idx(tmp_path, 10, 5)
    (d / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError):
        locate.find_dataset("mnist", tmp_path, {})


def test_unknown_dataset_is_usage_error() -> None:
    with pytest.raises(UsageError) as ei:
        locate.find_dataset("imagenet", None, {})
    assert ei.value.exit_code == 2
    assert "mnist" in ei.value.hint
