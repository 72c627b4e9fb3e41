"""Download dataset files from pinned mirrors, verified before they are put in place.

A download streams into a temporary file next to its destination, its digest is checked,
and only then is it renamed into place with :func:`os.replace`; a file that fails
verification is deleted.  Nothing here runs unless the user asks to fetch a dataset.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from linclf_cli.data.locate import check_name
from linclf_cli.data.registry import (
    CIFAR10_ARCHIVE,
    CIFAR10_ARCHIVE_MEMBERS,
    CIFAR10_FILES,
    CIFAR10_MIRRORS,
    CIFAR10_SUBDIR,
    MNIST_FILES,
    MNIST_MIRRORS,
    MNIST_SUBDIR,
    mnist_urls,
)
from linclf_cli.errors import DataError

CHUNK = 1 << 20
TIMEOUT_S = 60.0
Opener = Callable[..., Any]


class _VerificationFailed(Exception):
    pass


def _digests_match(
    path: Path, sha256: str | None, md5: str | None, size: int | None
) -> tuple[bool, str]:
    """Check a file on disk; returns (ok, reason)."""
    h_sha, h_md5, n = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            n += len(chunk)
            h_sha.update(chunk)
            h_md5.update(chunk)
    return _compare(n, h_sha.hexdigest(), h_md5.hexdigest(), sha256, md5, size)


def _compare(
    n: int, got_sha: str, got_md5: str, sha256: str | None, md5: str | None, size: int | None
) -> tuple[bool, str]:
    if size is not None and n != size:
        return False, f"size {n} bytes, expected {size}"
    if sha256 is not None and got_sha != sha256.lower():
        return False, f"sha256 {got_sha}, expected {sha256}"
    if md5 is not None and got_md5 != md5.lower():
        return False, f"md5 {got_md5}, expected {md5}"
    return True, ""


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=False,
    )


def _fetch_one(
    url: str,
    tmp: Path,
    opener: Opener,
    progress: Progress,
    sha256: str | None,
    md5: str | None,
    size: int | None,
) -> None:
    h_sha, h_md5, n = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
    with opener(url, timeout=TIMEOUT_S) as resp:
        headers = getattr(resp, "headers", None)
        length = headers.get("Content-Length") if headers is not None else None
        total = size if size is not None else (int(length) if length and length.isdigit() else None)
        task = progress.add_task(url.rsplit("/", 1)[-1] or url, total=total)
        with open(tmp, "wb") as out:
            while chunk := resp.read(CHUNK):
                out.write(chunk)
                h_sha.update(chunk)
                h_md5.update(chunk)
                n += len(chunk)
                progress.update(task, advance=len(chunk))
                if size is not None and n > size:
                    raise _VerificationFailed(f"more than the expected {size} bytes")
    ok, reason = _compare(n, h_sha.hexdigest(), h_md5.hexdigest(), sha256, md5, size)
    if not ok:
        raise _VerificationFailed(f"verification failed: {reason}")


def download_file(
    urls: Sequence[str],
    dest: Path,
    sha256: str | None,
    md5: str | None = None,
    size: int | None = None,
    progress: bool = True,
    opener: Opener = urllib.request.urlopen,
) -> Path:
    """Download ``dest`` from the first mirror that serves a file with the pinned digests.

    If ``dest`` already exists and verifies, nothing is downloaded.

    Parameters
    ----------
    urls : mirror URLs of the same file, tried in order.
    dest : final path; its folder is created.
    sha256, md5, size : expected digests / size; ``None`` skips that check.
    progress : show a Rich progress bar on stderr.
    opener : ``urllib.request.urlopen``-like callable ``opener(url, timeout=...)`` returning a
        context manager with ``read(n)`` (and optionally ``headers``).

    Returns
    -------
    Path : ``dest``, verified.

    Raises
    ------
    DataError : every mirror failed (each URL and its error are listed), or ``dest``'s folder
        cannot be written.
    """
    dest = Path(dest)
    if dest.is_file() and (sha256 or md5) and _digests_match(dest, sha256, md5, size)[0]:
        return dest
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"Cannot create {dest.parent}: {exc.strerror or exc}.",
                        "Choose a writable --dest folder.") from exc
    tmp = dest.with_name(f".linclf-tmp-{dest.name}.{os.getpid()}.part")
    errors: list[str] = []
    with _progress(progress) as bar:
        for url in urls:
            try:
                _fetch_one(url, tmp, opener, bar, sha256, md5, size)
                os.replace(tmp, dest)
                return dest
            except (OSError, ValueError, http.client.HTTPException, _VerificationFailed) as exc:
                errors.append(f"{url}: {type(exc).__name__}: {exc}")
            finally:
                tmp.unlink(missing_ok=True)
    tried = "; ".join(errors) if errors else "no URLs given"
    expect = f" (sha256 {sha256})" if sha256 else (f" (md5 {md5})" if md5 else "")
    raise DataError(
        f"Could not download {dest.name}. Tried: {tried}.",
        f"Download {dest.name}{expect} by hand on a machine with internet and put it at {dest}.",
    )


def extract_cifar10_archive(archive: Path, dest_root: Path) -> Path:
    """Extract the expected members of ``cifar-10-python.tar.gz`` into ``dest_root``.

    Only the fixed member names of the official archive are extracted, as regular files,
    to paths built from those names (never from the archive), so links and ``..`` paths in a
    hostile archive are ignored.

    Returns
    -------
    Path : ``dest_root / "cifar-10-batches-py"``.

    Raises
    ------
    DataError : unreadable archive or a required member missing / not a regular file.
    """
    out = Path(dest_root) / CIFAR10_SUBDIR
    required = {f"{CIFAR10_SUBDIR}/{n}" for n in CIFAR10_FILES}
    hint = f"Delete {archive} and run `linclf data fetch cifar10` again."
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive, "r:gz") as tar:
            for name in CIFAR10_ARCHIVE_MEMBERS:
                try:
                    member = tar.getmember(name)
                except KeyError:
                    member = None
                if member is None or not member.isfile():
                    if name in required:
                        raise DataError(f"{archive} has no regular file {name}.", hint)
                    continue
                src = tar.extractfile(member)
                assert src is not None  # regular files always have a stream
                target = out / name.rsplit("/", 1)[1]
                tmp = target.with_name(f".linclf-tmp-{target.name}")
                with src, open(tmp, "wb") as f:
                    shutil.copyfileobj(src, f, CHUNK)
                os.replace(tmp, target)
    except DataError:
        raise
    except (OSError, EOFError, tarfile.TarError) as exc:
        raise DataError(f"Cannot extract {archive}: {type(exc).__name__}: {exc}.", hint) from exc
    return out


def fetch_dataset(
    name: str,
    dest_root: Path,
    progress: bool = True,
    opener: Opener = urllib.request.urlopen,
    mirrors: Sequence[str] | None = None,
    keep_archive: bool = False,
) -> Path:
    """Download and verify a dataset into ``dest_root``.

    Parameters
    ----------
    name : ``"mnist"`` (four files into ``dest_root/mnist``) or ``"cifar10"`` (archive
        verified, then extracted into ``dest_root/cifar-10-batches-py``).
    dest_root : parent folder, e.g. the cache dir or ``$LINCLF_DATA_DIR``.
    progress : Rich progress bars on stderr.
    opener : see :func:`download_file`.
    mirrors : base URLs overriding the pinned mirrors (each ending in ``/``).
    keep_archive : keep ``cifar-10-python.tar.gz`` after extraction.

    Returns
    -------
    Path : the dataset folder.

    Raises
    ------
    UsageError : unknown name.  DataError : download, verification or extraction failed.
    """
    check_name(name)
    dest_root = Path(dest_root)
    if name == "mnist":
        out = dest_root / MNIST_SUBDIR
        bases = tuple(mirrors) if mirrors else MNIST_MIRRORS
        for f in MNIST_FILES.values():
            download_file(mnist_urls(f, bases), out / f.name, f.sha256, f.md5, f.size,
                          progress=progress, opener=opener)
        return out
    bases = tuple(mirrors) if mirrors else CIFAR10_MIRRORS
    a = CIFAR10_ARCHIVE
    archive = download_file(
        [b.rstrip("/") + "/" + a.name for b in bases], dest_root / a.name,
        a.sha256, a.md5, a.size, progress=progress, opener=opener,
    )
    out = extract_cifar10_archive(archive, dest_root)
    if not keep_archive:
        archive.unlink(missing_ok=True)
    return out
