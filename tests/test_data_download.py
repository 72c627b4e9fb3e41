"""Downloads through pooch from a local HTTP server on 127.0.0.1 only: never the network."""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import tarfile
import threading
from pathlib import Path

import pytest

from linclf_cli.data import download, locate
from linclf_cli.data.cifar import load_cifar10_dir
from linclf_cli.data.download import download_file, fetch_dataset
from linclf_cli.data.registry import MNIST_FILES, PinnedFile
from linclf_cli.data.synthetic import write_synthetic_cifar10, write_synthetic_mnist_idx
from linclf_cli.errors import DataError, UsageError

REAL_DIR = os.environ.get("LINCLF_DATA_DIR")
PAYLOAD = b"hello mnist " * 1000


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def md5(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


class Server:
    """Serves ``pages`` (path -> bytes) on 127.0.0.1; records every path requested."""

    def __init__(self) -> None:
        self.pages: dict[str, bytes] = {}
        self.calls: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.calls.append(self.path)
                body = outer.pages.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch):
    for var in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setattr(download, "RETRIES", 0)
    s = Server()
    yield s
    s.httpd.shutdown()


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINCLF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LINCLF_DATA_DIR", raising=False)


def leftovers(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def test_good_digest_accepted_and_not_refetched(tmp_path: Path, server: Server) -> None:
    server.pages["/m1/f"] = PAYLOAD
    dest = tmp_path / "out" / "f"
    got = download_file([server.url("/m1/f")], dest, sha(PAYLOAD), progress=True)
    assert got == dest and dest.read_bytes() == PAYLOAD
    assert leftovers(dest.parent) == ["f"]
    download_file([server.url("/m1/f")], dest, sha(PAYLOAD), progress=False)
    assert server.calls == ["/m1/f"]


def test_bad_digest_rejected_and_nothing_left(tmp_path: Path, server: Server) -> None:
    server.pages["/m1/f"] = PAYLOAD + b"x"
    dest = tmp_path / "out" / "f"
    with pytest.raises(DataError) as ei:
        download_file([server.url("/m1/f")], dest, sha(PAYLOAD), progress=False)
    assert "/m1/f" in ei.value.message and "hash" in ei.value.message.lower()
    assert str(dest) in ei.value.hint and sha(PAYLOAD) in ei.value.hint
    assert not dest.exists() and leftovers(dest.parent) == []


def test_md5_checked(tmp_path: Path, server: Server) -> None:
    server.pages["/u"] = PAYLOAD
    with pytest.raises(DataError):
        download_file([server.url("/u")], tmp_path / "u", None, md5=md5(b"other"), progress=False)
    download_file([server.url("/u")], tmp_path / "u", None, md5=md5(PAYLOAD), progress=False)
    assert leftovers(tmp_path) == ["cache", "u"] or leftovers(tmp_path) == ["u"]


def test_mirror_fallback_and_all_fail(tmp_path: Path, server: Server) -> None:
    server.pages["/bad/f"] = b"corrupt"
    server.pages["/good/f"] = PAYLOAD
    urls = [server.url(p) for p in ("/down/f", "/bad/f", "/good/f", "/never/f")]
    dest = tmp_path / "d" / "f"
    download_file(urls, dest, sha(PAYLOAD), progress=False)
    assert server.calls == ["/down/f", "/bad/f", "/good/f"]
    assert dest.read_bytes() == PAYLOAD and leftovers(dest.parent) == ["f"]
    with pytest.raises(DataError) as ei:
        download_file(urls[:2], tmp_path / "e" / "f", sha(PAYLOAD), progress=False)
    msg = ei.value.message
    assert "/down/f" in msg and "HTTPError" in msg and "/bad/f" in msg


def test_existing_foreign_file_is_never_replaced(tmp_path: Path, server: Server) -> None:
    server.pages["/u/f"] = PAYLOAD
    dest = tmp_path / "f"
    dest.write_bytes(b"old and wrong")
    with pytest.raises(DataError, match="does not replace") as ei:
        download_file([server.url("/u/f")], dest, sha(PAYLOAD), progress=False)
    assert dest.read_bytes() == b"old and wrong" and "aside" in ei.value.hint
    assert server.calls == []


def test_fetch_mnist_with_local_mirror(tmp_path: Path, server: Server,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    src = write_synthetic_mnist_idx(tmp_path / "src", 30, 10)
    pinned = {}
    for key, f in MNIST_FILES.items():
        data = (src / f.name).read_bytes()
        pinned[key] = PinnedFile(f.name, len(data), sha(data), md5(data), f.raw_name, None)
        server.pages[f"/mirror2/mnist/{f.name}"] = data
    monkeypatch.setattr(download, "MNIST_FILES", pinned)
    out = fetch_dataset("mnist", tmp_path / "root", progress=False,
                        mirrors=[server.url("/mirror1/"), server.url("/mirror2/mnist/")])
    assert out == tmp_path / "root" / "mnist"
    assert sorted(leftovers(out)) == sorted(f.name for f in MNIST_FILES.values())
    assert locate.find_dataset("mnist", tmp_path / "root", {}) == out


def _archive(tmp_path: Path, version: str = "python", extra: list | None = None) -> bytes:
    src = write_synthetic_cifar10(tmp_path / "src", n_per_batch=8, version=version)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(src, arcname=src.name, recursive=False)
        for f in sorted(src.iterdir()):
            tar.add(f, arcname=f"{src.name}/{f.name}")
        for info, data in extra or []:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _serve_archive(server: Server, monkeypatch: pytest.MonkeyPatch, data: bytes,
                   binary: bool = False) -> None:
    name = "cifar-10-binary.tar.gz" if binary else "cifar-10-python.tar.gz"
    attr = "CIFAR10_BIN_ARCHIVE" if binary else "CIFAR10_ARCHIVE"
    monkeypatch.setattr(download, attr, PinnedFile(name, len(data), sha(data), md5(data)))
    server.pages[f"/kriz/{name}"] = data


@pytest.mark.parametrize("binary", [False, True])
def test_fetch_cifar10_extracts_only_expected_members(tmp_path: Path, server: Server,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      binary: bool) -> None:
    data = _archive(tmp_path, "binary" if binary else "python")
    _serve_archive(server, monkeypatch, data, binary)
    root = tmp_path / "deep" / "root"
    out = fetch_dataset("cifar10", root, progress=False, mirrors=[server.url("/kriz/")],
                        binary=binary)
    sub = "cifar-10-batches-bin" if binary else "cifar-10-batches-py"
    assert out == root / sub and leftovers(root) == [sub]  # archive and temp folder removed
    src = tmp_path / "src" / sub
    assert sorted(leftovers(out)) == sorted(leftovers(src))
    for f in out.iterdir():
        assert f.read_bytes() == (src / f.name).read_bytes()
    pins = {f.name: ("sha256", sha(f.read_bytes())) for f in out.iterdir()}
    c = load_cifar10_dir(out, pins=pins)
    assert c.n_per_batch == 8 and c.version == ("binary" if binary else "python")


def _evil_members() -> list:
    out = []
    for name in ("../escaped.txt", "/tmp/linclf-absolute-evil.txt",
                 "cifar-10-batches-py/../../escaped2.txt", "cifar-10-batches-py/extra"):
        info = tarfile.TarInfo(name)
        info.size = 4
        out.append([(info, b"evil")])
    link = tarfile.TarInfo("cifar-10-batches-py/readme.html")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    out.append([(link, None)])
    return out


@pytest.mark.parametrize("extra", _evil_members())
def test_archive_with_unexpected_or_escaping_member_is_refused(
        tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch, extra: list) -> None:
    data = _archive(tmp_path, extra=extra)
    _serve_archive(server, monkeypatch, data)
    root = tmp_path / "root"
    with pytest.raises(DataError) as ei:
        fetch_dataset("cifar10", root, progress=False, mirrors=[server.url("/kriz/")])
    assert "cifar-10-python.tar.gz" in ei.value.message and extra[0][0].name in ei.value.message
    assert "nothing was extracted" in ei.value.message
    assert not (root / "cifar-10-batches-py").exists()
    assert [p for p in leftovers(root) if p.startswith(".linclf")] == []
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "escaped2.txt").exists()
    assert not Path("/tmp/linclf-absolute-evil.txt").exists()


def test_planted_symlink_is_never_followed(tmp_path: Path, server: Server,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 10 item 11: extraction goes to a fresh private folder, a planted link is refused."""
    data = _archive(tmp_path)
    _serve_archive(server, monkeypatch, data)
    root = tmp_path / "root"
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    root.mkdir()
    (root / ".linclf-tmp-data_batch_1").symlink_to(victim / "keep.txt")  # old temp name
    (root / "cifar-10-batches-py").symlink_to(victim)
    with pytest.raises(DataError, match="symbolic link"):
        fetch_dataset("cifar10", root, progress=False, mirrors=[server.url("/kriz/")])
    assert sorted(p.name for p in victim.iterdir()) == ["keep.txt"]
    assert (victim / "keep.txt").read_text() == "mine"


def test_fetch_cifar10_wrong_digest(tmp_path: Path, server: Server) -> None:
    server.pages["/kriz/cifar-10-python.tar.gz"] = b"not the archive"
    with pytest.raises(DataError, match="cifar-10-python.tar.gz"):
        fetch_dataset("cifar10", tmp_path / "r", progress=False, mirrors=[server.url("/kriz/")])
    assert leftovers(tmp_path / "r") == []


def test_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        fetch_dataset("svhn", tmp_path)


def test_rich_bar_is_a_pooch_progress_object() -> None:
    from rich.progress import Progress

    with Progress(disable=True) as p:
        bar = download.RichPoochBar(p, "f", 100)
        bar.total = 0  # no Content-Length: keeps the pinned size
        bar.update(60)
        assert p.tasks[0].completed == 60 and p.tasks[0].total == 100
        bar.reset()
        bar.update(100)
        bar.close()
        assert p.tasks[0].completed == 100


@pytest.mark.realdata
def test_fetch_real_mnist_from_local_mirror(tmp_path: Path, server: Server) -> None:
    """The pinned digests accept the real files (served from a local mirror)."""
    if not REAL_DIR:
        pytest.skip("LINCLF_DATA_DIR not set: real MNIST tests skipped")
    src = locate.find_dataset("mnist", Path(REAL_DIR), {})
    for f in MNIST_FILES.values():
        server.pages[f"/m/{f.name}"] = (src / f.name).read_bytes()
    out = fetch_dataset("mnist", tmp_path, progress=False, mirrors=[server.url("/m/")])
    for f in MNIST_FILES.values():
        assert sha((out / f.name).read_bytes()) == f.sha256
