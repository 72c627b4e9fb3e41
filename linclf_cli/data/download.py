"""Download dataset files through pooch: pinned digests, mirrors, retries, safe extraction.

* Each file (or archive) is fetched with :mod:`pooch` from the pinned mirrors in order, with
  retries; pooch streams it into a temporary file next to its destination and keeps it only
  if its digest equals the pinned one.  A Rich progress bar is handed to pooch's
  ``HTTPDownloader`` as its progress object.
* A file already at the destination is kept if it verifies; otherwise linclf refuses to
  replace it (it never replaces a file it did not write) and says so.
* CIFAR-10 archives are extracted by :class:`SafeUntar` (a ``pooch.Untar``): the whole member
  list is checked first (only the expected regular files and their folder; no links, no
  absolute or ``..`` paths), members are written into a fresh private temporary directory
  (``tempfile.mkdtemp`` inside the destination) with ``O_EXCL | O_NOFOLLOW``, and the folder
  is then renamed into place.

Nothing here runs unless the user asks to fetch a dataset.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
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

from linclf_cli.data import integrity
from linclf_cli.data.locate import check_name
from linclf_cli.data.registry import (
    CIFAR10_ARCHIVE,
    CIFAR10_ARCHIVE_MEMBERS,
    CIFAR10_BIN_ARCHIVE,
    CIFAR10_BIN_ARCHIVE_MEMBERS,
    CIFAR10_BIN_SUBDIR,
    CIFAR10_MIRRORS,
    CIFAR10_SUBDIR,
    MNIST_FILES,
    MNIST_MIRRORS,
    MNIST_SUBDIR,
    PinnedFile,
    mnist_urls,
)
from linclf_cli.errors import DataError

CHUNK = 1 << 20
TIMEOUT_S = 60.0
RETRIES = 2


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


class RichPoochBar:
    """The tqdm-like object pooch's ``HTTPDownloader(progressbar=...)`` drives (total,
    update, reset, close), shown as one task of a Rich progress display."""

    def __init__(self, progress: Progress, description: str, total: int | None = None) -> None:
        self._progress = progress
        self._total = total
        self.task = progress.add_task(description, total=total)

    @property
    def total(self) -> int | None:
        return self._total

    @total.setter
    def total(self, value: int | None) -> None:
        self._total = value or self._total  # a missing Content-Length keeps the pinned size
        self._progress.update(self.task, total=self._total)

    def update(self, n: int) -> None:
        self._progress.advance(self.task, n)

    def reset(self) -> None:
        self._progress.reset(self.task, total=self._total)

    def close(self) -> None:
        self._progress.refresh()


def _known_hash(sha256: str | None, md5: str | None) -> str | None:
    return f"sha256:{sha256}" if sha256 else (f"md5:{md5}" if md5 else None)


def _check_existing(dest: Path, sha256: str | None, md5: str | None) -> bool:
    """True if ``dest`` exists and verifies; DataError if it exists and does not."""
    if not os.path.lexists(dest):
        return False
    if dest.is_symlink() or not dest.is_file():
        raise DataError(f"{dest} exists and is not a regular file; linclf does not replace it.",
                        f"Move it aside, then fetch again.")
    algo, want = ("sha256", sha256) if sha256 else ("md5", md5)
    c = integrity.check(dest, algo, want or "-")
    if c.ok:
        return True
    raise DataError(
        f"{dest} exists but is not the published file: {algo} {c.actual}, expected {want}. "
        "linclf does not replace files it did not write.",
        f"Move {dest} aside (or delete it), then fetch again.")


def download_file(
    urls: Sequence[str],
    dest: Path,
    sha256: str | None,
    md5: str | None = None,
    size: int | None = None,
    progress: bool = True,
    downloader: Any = None,
    processor: Any = None,
) -> Path:
    """Download ``dest`` from the first mirror that serves a file with the pinned digest.

    If ``dest`` already exists and verifies, nothing is downloaded (a ``processor`` still
    runs on it).

    Parameters
    ----------
    urls : mirror URLs of the same file, tried in order (each with pooch's retries).
    dest : final path; its folder is created.
    sha256, md5 : pinned digests (sha256 preferred); at least one is required.
    size : expected size, shown on the progress bar when the server sends no length.
    progress : show a Rich progress bar on stderr.
    downloader : a pooch downloader to use instead of ``pooch.HTTPDownloader`` (tests).
    processor : a pooch processor run on the verified file (e.g. :class:`SafeUntar`).

    Raises
    ------
    DataError : every mirror failed (each URL and its error are listed), ``dest`` exists and
        does not verify, or ``dest``'s folder cannot be written.
    """
    import pooch  # imported on first use: only `linclf data fetch` needs it

    dest = Path(dest)
    known = _known_hash(sha256, md5)
    if known is None:
        raise DataError(f"No pinned digest for {dest.name}.", "Only pinned files are fetched.")
    existed = _check_existing(dest, sha256, md5)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"Cannot create {dest.parent}: {exc.strerror or exc}.",
                        "Choose a writable --dest folder.") from exc
    if existed:
        if processor is not None:
            processor(str(dest), "fetch", None)
        return dest
    errors: list[str] = []
    with _progress(progress) as bar:
        for url in urls:
            base, _, fname = url.rpartition("/")
            dl = downloader
            if dl is None:
                dl = pooch.HTTPDownloader(progressbar=RichPoochBar(bar, fname, size) if progress
                                          else False, timeout=TIMEOUT_S)
            p = pooch.create(path=dest.parent, base_url=base + "/", registry={fname: known},
                             retry_if_failed=RETRIES)
            try:
                p.fetch(fname, downloader=dl, processor=processor)
                if fname != dest.name:
                    os.replace(dest.parent / fname, dest)
                return dest
            except DataError:
                raise
            except Exception as exc:  # noqa: BLE001  network, HTTP and hash errors from pooch
                errors.append(f"{url}: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
    tried = "; ".join(errors) if errors else "no URLs given"
    raise DataError(
        f"Could not download {dest.name}. Tried: {tried}.",
        f"Download {dest.name} ({known}) by hand on a machine with internet and put it at "
        f"{dest}.",
    )


def _is_escaping(name: str) -> bool:
    p = PurePosixPath(name)
    return p.is_absolute() or ".." in p.parts or name.startswith(("/", "\\")) or "\\" in name


class SafeUntar:
    """A ``pooch.Untar`` processor that extracts only the expected members, safely.

    Parameters
    ----------
    members : the archive paths that may be extracted (``folder/file``); all share one
        top folder.
    required : those that must be present.
    extract_dir : absolute folder to extract into (a fresh private temporary directory).

    Raises DataError (naming the archive and the member) for an unexpected or
    path-escaping member, a link or device, or a required member that is missing.
    """

    def __init__(self, members: Sequence[str], required: Sequence[str], extract_dir: Path,
                 ) -> None:
        import pooch

        self._untar = pooch.Untar(members=list(members), extract_dir=str(extract_dir))
        self._untar._extract_file = self._extract_file  # type: ignore[method-assign]
        self.members = tuple(members)
        self.required = frozenset(required)
        self.top = self.members[0].split("/", 1)[0]

    def __call__(self, fname: str, action: str, pup: Any) -> list[str]:
        return self._untar(fname, action, pup)

    def _extract_file(self, fname: str, extract_dir: str) -> None:
        archive = Path(fname)
        hint = f"Delete {archive} and run `linclf data fetch` again (the archive is not the " \
               "published one)."
        try:
            with tarfile.open(archive, "r:gz") as tar:
                infos = tar.getmembers()
                seen: dict[str, tarfile.TarInfo] = {}
                for m in infos:
                    name = m.name.rstrip("/")
                    if _is_escaping(m.name):
                        raise DataError(f"{archive} has a path-escaping member {m.name!r}; "
                                        "nothing was extracted.", hint)
                    if name == self.top:
                        if not m.isdir():
                            raise DataError(f"{archive}: {name!r} is not a folder.", hint)
                        continue
                    if name not in self.members:
                        raise DataError(f"{archive} has an unexpected member {m.name!r} "
                                        f"(expected only {', '.join(self.members)}); nothing "
                                        "was extracted.", hint)
                    if not m.isfile():
                        raise DataError(f"{archive}: member {m.name!r} is not a regular file "
                                        "(a link or device); nothing was extracted.", hint)
                    seen[name] = m
                missing = sorted(self.required - set(seen))
                if missing:
                    raise DataError(f"{archive} has no {', '.join(missing)}.", hint)
                out = Path(extract_dir) / self.top
                out.mkdir(mode=0o700, exist_ok=True)
                for name, m in seen.items():
                    src = tar.extractfile(m)
                    assert src is not None
                    target = out / name.rsplit("/", 1)[1]
                    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                                 | getattr(os, "O_NOFOLLOW", 0), 0o644)
                    with src, os.fdopen(fd, "wb") as f:
                        shutil.copyfileobj(src, f, CHUNK)
        except DataError:
            raise
        except (OSError, EOFError, tarfile.TarError) as exc:
            raise DataError(f"Cannot extract {archive}: {type(exc).__name__}: {exc}.",
                            hint) from exc


def _place(extracted: Path, target: Path) -> None:
    """Move an extracted folder into place; never replace anything linclf did not write."""
    if target.is_symlink():
        raise DataError(f"{target} is a symbolic link; linclf does not write through it.",
                        f"Remove the link or choose another --dest.")
    if not os.path.lexists(target):
        os.rename(extracted, target)
        return
    if not target.is_dir():
        raise DataError(f"{target} exists and is not a folder.", "Move it aside and fetch again.")
    clash = []
    for f in sorted(extracted.iterdir()):
        dst = target / f.name
        if not os.path.lexists(dst):
            os.rename(f, dst)
        elif dst.is_symlink() or not dst.is_file() or dst.read_bytes() != f.read_bytes():
            clash.append(str(dst))
    if clash:
        raise DataError(f"{target} already holds different files: {', '.join(clash)}; linclf "
                        "does not replace files it did not write.",
                        f"Move {target} aside, then fetch again.")


def fetch_dataset(
    name: str,
    dest_root: Path,
    progress: bool = True,
    mirrors: Sequence[str] | None = None,
    keep_archive: bool = False,
    binary: bool = False,
    downloader: Any = None,
) -> Path:
    """Download and verify a dataset into ``dest_root``.

    Parameters
    ----------
    name : ``"mnist"`` (four files into ``dest_root/mnist``) or ``"cifar10"`` (the python
        archive, or with ``binary`` the binary one, verified, then extracted into
        ``dest_root/cifar-10-batches-py`` or ``dest_root/cifar-10-batches-bin``).
    dest_root : parent folder, e.g. the cache dir or ``$LINCLF_DATA_DIR``.
    progress : Rich progress bars on stderr.
    mirrors : base URLs overriding the pinned mirrors.
    keep_archive : keep the downloaded archive after extraction (one that was already
        there is always kept).
    downloader : a pooch downloader (tests).

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
                          progress=progress, downloader=downloader)
        return out
    a: PinnedFile = CIFAR10_BIN_ARCHIVE if binary else CIFAR10_ARCHIVE
    members = CIFAR10_BIN_ARCHIVE_MEMBERS if binary else CIFAR10_ARCHIVE_MEMBERS
    sub = CIFAR10_BIN_SUBDIR if binary else CIFAR10_SUBDIR
    bases = tuple(mirrors) if mirrors else CIFAR10_MIRRORS
    archive = dest_root / a.name
    had_archive = os.path.lexists(archive)
    try:
        dest_root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".linclf-extract-", dir=dest_root))
    except OSError as exc:
        raise DataError(f"Cannot create a folder in {dest_root}: {exc.strerror or exc}.",
                        "Choose a writable --dest folder.") from exc
    try:
        untar = SafeUntar(members, [m for m in members if not m.endswith("readme.html")], tmp)
        download_file([b.rstrip("/") + "/" + a.name for b in bases], archive, a.sha256, a.md5,
                      a.size, progress=progress, downloader=downloader, processor=untar)
        _place(tmp / sub, dest_root / sub)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # our private temporary folder only
    if not keep_archive and not had_archive:
        archive.unlink(missing_ok=True)
    return dest_root / sub
