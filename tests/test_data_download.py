"""Downloads with a fake opener or file:// URLs only: never the network."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import urllib.error
from pathlib import Path

import pytest

from linclf_cli.data import download, locate
from linclf_cli.data.cifar import load_cifar10_dir
from linclf_cli.data.download import download_file, extract_cifar10_archive, fetch_dataset
from linclf_cli.data.registry import MNIST_FILES, PinnedFile
from linclf_cli.data.synthetic import write_synthetic_cifar10, write_synthetic_mnist_idx
from linclf_cli.errors import DataError, UsageError

REAL_DIR = os.environ.get("LINCLF_DATA_DIR")
PAYLOAD = b"hello mnist " * 1000


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def md5(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


class FakeOpener:
    """Serves bytes by URL; unknown URLs raise URLError.  Records every call."""

    def __init__(self, pages: dict[str, bytes]) -> None:
        self.pages = pages
        self.calls: list[str] = []

    def __call__(self, url: str, timeout: float | None = None) -> io.BytesIO:
        self.calls.append(url)
        if url not in self.pages:
            raise urllib.error.URLError(f"no route to {url}")
        return io.BytesIO(self.pages[url])


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(locate, "cache_dir", lambda: tmp_path / "cache")
    monkeypatch.delenv("LINCLF_DATA_DIR", raising=False)

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("tests must not use the network")

    monkeypatch.setattr(download.urllib.request, "urlopen", no_network)


def leftovers(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def test_good_digest_accepted(tmp_path: Path) -> None:
    op = FakeOpener({"https://m1/f": PAYLOAD})
    dest = tmp_path / "out" / "f"
    got = download_file(["https://m1/f"], dest, sha(PAYLOAD), md5(PAYLOAD), len(PAYLOAD),
                        progress=False, opener=op)
    assert got == dest and dest.read_bytes() == PAYLOAD
    assert leftovers(dest.parent) == ["f"]
    # already present and valid: no second download
    download_file(["https://m1/f"], dest, sha(PAYLOAD), progress=False, opener=op)
    assert op.calls == ["https://m1/f"]


def test_bad_digest_rejected_and_nothing_left(tmp_path: Path) -> None:
    op = FakeOpener({"https://m1/f": PAYLOAD + b"x"})
    dest = tmp_path / "out" / "f"
    with pytest.raises(DataError) as ei:
        download_file(["https://m1/f"], dest, sha(PAYLOAD), progress=False, opener=op)
    assert "https://m1/f" in ei.value.message and "sha256" in ei.value.message
    assert str(dest) in ei.value.hint and sha(PAYLOAD) in ei.value.hint
    assert not dest.exists() and leftovers(dest.parent) == []


def test_md5_and_size_checked(tmp_path: Path) -> None:
    op = FakeOpener({"u": PAYLOAD})
    with pytest.raises(DataError, match="md5"):
        download_file(["u"], tmp_path / "a", None, md5=md5(b"other"), progress=False, opener=op)
    with pytest.raises(DataError, match="size"):
        download_file(["u"], tmp_path / "b", None, size=len(PAYLOAD) - 1, progress=False, opener=op)
    assert leftovers(tmp_path) == []


def test_mirror_fallback(tmp_path: Path) -> None:
    op = FakeOpener({"https://bad/f": b"corrupt", "https://good/f": PAYLOAD})
    urls = ["https://down/f", "https://bad/f", "https://good/f", "https://never/f"]
    dest = tmp_path / "f"
    download_file(urls, dest, sha(PAYLOAD), progress=True, opener=op)
    assert op.calls == urls[:3]
    assert dest.read_bytes() == PAYLOAD and leftovers(tmp_path) == ["f"]


def test_all_mirrors_fail_lists_each(tmp_path: Path) -> None:
    op = FakeOpener({"https://bad/f": b"corrupt"})
    with pytest.raises(DataError) as ei:
        download_file(["https://down/f", "https://bad/f"], tmp_path / "f", sha(PAYLOAD),
                      progress=False, opener=op)
    msg = ei.value.message
    assert "https://down/f" in msg and "URLError" in msg
    assert "https://bad/f" in msg and "verification failed" in msg


def test_corrupt_existing_file_replaced(tmp_path: Path) -> None:
    dest = tmp_path / "f"
    dest.write_bytes(b"old and wrong")
    download_file(["u"], dest, sha(PAYLOAD), progress=False, opener=FakeOpener({"u": PAYLOAD}))
    assert dest.read_bytes() == PAYLOAD


def test_file_url(tmp_path: Path) -> None:
    import urllib.request as ur

    src = tmp_path / "src.bin"
    src.write_bytes(PAYLOAD)
    dest = tmp_path / "dl" / "copy.bin"
    opener = ur.build_opener(ur.FileHandler).open  # local files only (urlopen is patched)
    download_file([src.as_uri()], dest, sha(PAYLOAD), progress=False, opener=opener)
    assert dest.read_bytes() == PAYLOAD


def test_fetch_mnist_with_fake_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = write_synthetic_mnist_idx(tmp_path / "src", 30, 10)
    pinned = {}
    pages = {}
    for key, f in MNIST_FILES.items():
        data = (src / f.name).read_bytes()
        pinned[key] = PinnedFile(f.name, len(data), sha(data), md5(data), f.raw_name, None)
        pages[f"https://mirror2/mnist/{f.name}"] = data
    monkeypatch.setattr(download, "MNIST_FILES", pinned)
    op = FakeOpener(pages)
    out = fetch_dataset("mnist", tmp_path / "root", progress=False, opener=op,
                        mirrors=["https://mirror1/", "https://mirror2/mnist/"])
    assert out == tmp_path / "root" / "mnist"
    assert sorted(leftovers(out)) == sorted(f.name for f in MNIST_FILES.values())
    assert locate.find_dataset("mnist", tmp_path / "root", {}) == out


def _cifar_archive(tmp_path: Path, evil: bool) -> bytes:
    src = write_synthetic_cifar10(tmp_path / "src", n_per_batch=8)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for f in sorted(src.iterdir()):
            tar.add(f, arcname=f"cifar-10-batches-py/{f.name}")
        if evil:
            for name in ("../escaped.txt", "/tmp/linclf-absolute-evil.txt",
                         "cifar-10-batches-py/../../escaped2.txt"):
                info = tarfile.TarInfo(name)
                info.size = 4
                tar.addfile(info, io.BytesIO(b"evil"))
            link = tarfile.TarInfo("cifar-10-batches-py/readme.html")
            link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(link)
    return buf.getvalue()


def test_fetch_cifar10_safe_extract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _cifar_archive(tmp_path, evil=True)
    monkeypatch.setattr(download, "CIFAR10_ARCHIVE",
                        PinnedFile("cifar-10-python.tar.gz", len(data), sha(data), md5(data)))
    op = FakeOpener({"https://kriz/cifar-10-python.tar.gz": data})
    root = tmp_path / "deep" / "root"
    out = fetch_dataset("cifar10", root, progress=False, opener=op, mirrors=["https://kriz/"])
    assert out == root / "cifar-10-batches-py"
    assert sorted(leftovers(out)) == sorted(
        ["batches.meta", "test_batch", *[f"data_batch_{i}" for i in range(1, 6)]])
    assert leftovers(root) == ["cifar-10-batches-py"]  # archive removed
    assert not (root.parent / "escaped.txt").exists() and not (tmp_path / "escaped2.txt").exists()
    assert not Path("/tmp/linclf-absolute-evil.txt").exists()
    assert load_cifar10_dir(out).n_per_batch == 8


def test_fetch_cifar10_wrong_digest(tmp_path: Path) -> None:
    op = FakeOpener({"https://kriz/cifar-10-python.tar.gz": b"not the archive"})
    with pytest.raises(DataError, match="cifar-10-python.tar.gz"):
        fetch_dataset("cifar10", tmp_path, progress=False, opener=op, mirrors=["https://kriz/"])
    assert leftovers(tmp_path) == []


def test_extract_missing_member(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(buf.getvalue())
    with pytest.raises(DataError, match="data_batch_2"):
        extract_cifar10_archive(archive, tmp_path / "out")
    archive.write_bytes(b"not a tar")
    with pytest.raises(DataError, match="Cannot extract"):
        extract_cifar10_archive(archive, tmp_path / "out")


def test_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        fetch_dataset("svhn", tmp_path, opener=FakeOpener({}))


@pytest.mark.realdata
def test_fetch_real_mnist_from_file_mirror(tmp_path: Path) -> None:
    """The pinned digests accept the real files (served from a local file:// mirror)."""
    if not REAL_DIR:
        pytest.skip("LINCLF_DATA_DIR not set: real MNIST tests skipped")
    import urllib.request as ur

    src = locate.find_dataset("mnist", Path(REAL_DIR), {})
    out = fetch_dataset("mnist", tmp_path, progress=False,
                        opener=ur.build_opener(ur.FileHandler).open, mirrors=[src.as_uri() + "/"])
    for f in MNIST_FILES.values():
        assert sha((out / f.name).read_bytes()) == f.sha256
