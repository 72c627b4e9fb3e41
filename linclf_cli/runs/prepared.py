"""One prepared CIFAR-10 split per process.

A prepared split (float32 standardised or mean-subtracted pixels of 49 000 training images)
takes about 0.7 GB; with one cache per run kind, each holding two splits, a worker of the
parallel report could hold four at once (about 2.5 GB) and two workers more than the
machine's share.  :func:`one_slot` keeps, process-wide and across the DD2424 and AML
modules, only the split that was prepared last: preparing another one first drops the old
one, so a worker holds one split at a time and runs on the same split (e.g. the points of a
sweep) reuse it.

Shared between worker processes: the parallel scheduler gives its workers one folder
(:func:`shared_folder`, in ``/dev/shm`` when it has room, else the temporary directory;
removed when the run ends, also on Ctrl-C).  In a worker, :func:`shared_arrays` looks there
for the split (keyed by the data files' digests, the split's parameters and the dtype) and
maps its ``.npy`` files read-only (``np.load(mmap_mode="r")``); the first worker to ask, under
a file lock, prepares the split, writes each array atomically (temporary file, then
``os.replace``; a manifest last, so a half-written split is never used) and maps it in place
of its private copy.  So a split exists once on the machine however many workers use it, and
a worker that moves on to another split removes the files of the old one (workers still
mapping it keep their pages until they move on).  Without a shared folder (``linclf train``,
``-j 1``) every split is private, as before.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Callable, Iterator, Mapping

import numpy as np

_SLOT: dict = {}  # at most one entry: (function, args) -> prepared arrays
_SHARED: Path | None = None  # this worker's shared folder (set by the scheduler's pool)
_HELD: list[Path] = []  # shared splits mapped for the value in _SLOT
MANIFEST = "manifest.json"
FOLDER_PREFIX = "linclf-shared-"
MARKER = ".linclf-shared"


def one_slot(fn: Callable) -> Callable:
    """Cache ``fn(*args)`` (hashable args) in the single process-wide slot."""

    @functools.wraps(fn)
    def wrapper(*args):
        key = (fn.__module__, fn.__qualname__, args)
        try:
            return _SLOT[key]
        except KeyError:
            pass
        clear()  # drop the previous split before building the next one
        value = fn(*args)
        _SLOT[key] = value
        return value

    wrapper.cache_clear = clear
    return wrapper


def clear() -> None:
    """Empty the slot; remove the shared files of the split it held (see the module text)."""
    _SLOT.clear()
    while _HELD:
        _remove_split(_HELD.pop())


# --------------------------------------------------------------------------- sharing


def set_shared_dir(path: str | Path | None) -> None:
    """Use ``path`` as this process's shared folder (None: private splits only)."""
    global _SHARED
    _SHARED = Path(path) if path is not None else None


def data_key(digests: Mapping[str, str]) -> str | None:
    """A key for the data files (name -> sha256), None when one digest is unknown."""
    if not digests or not all(digests.values()):
        return None
    return hashlib.sha256(json.dumps(sorted(digests.items())).encode()).hexdigest()


def _read_only(arrays: dict) -> dict:
    for a in arrays.values():
        a.flags.writeable = False
    return arrays


def _open_split(d: Path) -> dict[str, np.ndarray] | None:
    """The arrays of the published split ``d``, mapped read-only; None when not (fully) there."""
    try:
        manifest = json.loads((d / MANIFEST).read_text())
        out = {}
        for name, (shape, dtype) in manifest.items():
            a = np.load(d / f"{name}.npy", mmap_mode="r", allow_pickle=False)
            if list(a.shape) != shape or a.dtype.str != dtype:
                return None
            out[name] = a.view(np.ndarray)  # a plain read-only array on the mapping
        return out
    except (OSError, ValueError):
        return None


def _publish_split(d: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` into ``d``: each file atomically, the manifest last."""
    d.mkdir(exist_ok=True)
    for name, a in arrays.items():
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=d)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.save(fh, np.ascontiguousarray(a), allow_pickle=False)
            os.replace(tmp, d / f"{name}.npy")
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    manifest = {name: [list(a.shape), a.dtype.str] for name, a in arrays.items()}
    fd, tmp = tempfile.mkstemp(prefix=".manifest.", suffix=".tmp", dir=d)
    with os.fdopen(fd, "w") as fh:
        json.dump(manifest, fh)
    os.replace(tmp, d / MANIFEST)


def _lock(folder: Path, key: str, timeout: float = -1):
    from filelock import FileLock

    return FileLock(str(folder / f"{key}.lock"), timeout=timeout)


def _remove_split(d: Path) -> None:
    """Unpublish the split ``d`` (under its lock) and delete its files; processes that map
    them keep their pages until they unmap them."""
    from filelock import Timeout

    try:
        with _lock(d.parent, d.name, timeout=60):
            if not d.is_dir():
                return
            trash = d.parent / f".trash-{d.name}-{uuid.uuid4().hex[:8]}"
            os.replace(d, trash)
    except (OSError, Timeout):
        return
    shutil.rmtree(trash, ignore_errors=True)


def shared_arrays(name: str, data: str | None, params: tuple,
                  build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The read-only arrays ``build()`` returns, shared through this process's shared folder.

    ``name`` and ``params`` (JSON-able) with ``data`` (:func:`data_key`) identify the split.
    Without a shared folder, or when ``data`` is None or the folder cannot be written (full),
    the arrays are built privately (and made read-only), as ``build()`` would give them.
    """
    folder = _SHARED
    if folder is None or data is None:
        return _read_only(build())
    key = hashlib.sha256(json.dumps([name, data, list(params)]).encode()).hexdigest()[:40]
    d = folder / key
    got = _open_split(d)
    if got is None:
        arrays = None
        try:
            with _lock(folder, key):
                got = _open_split(d)
                if got is None:
                    arrays = build()
                    _publish_split(d, arrays)
                    got = _open_split(d)
        except OSError:
            got = None
        if got is None:  # could not share (e.g. no room left): keep a private copy
            return _read_only(arrays if arrays is not None else build())
        del arrays  # the private copy goes; the mapping replaces it
    if d not in _HELD:
        _HELD.append(d)
    return got


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. EPERM: someone else's live process
        return True
    return True


def _default_base(need: int = 4 << 30) -> Path:
    shm = Path("/dev/shm")
    try:
        st = os.statvfs(shm)
        if shm.is_dir() and os.access(shm, os.W_OK) and st.f_bavail * st.f_frsize >= need:
            return shm
    except OSError:
        pass
    return Path(tempfile.gettempdir())


def _sweep_stale(base: Path) -> None:
    """Remove shared folders left by linclf runs whose process is gone (``kill -9``)."""
    try:
        entries = list(base.glob(f"{FOLDER_PREFIX}*"))
    except OSError:
        return
    for p in entries:
        try:
            pid = int(p.name[len(FOLDER_PREFIX):].split("-")[0])
        except ValueError:
            continue
        if (p.is_dir() and not p.is_symlink() and (p / MARKER).is_file()
                and pid != os.getpid() and not _pid_alive(pid)):
            shutil.rmtree(p, ignore_errors=True)


@contextlib.contextmanager
def shared_folder(base: str | Path | None = None) -> Iterator[Path | None]:
    """A new shared folder for one scheduler run's workers, removed on exit (also on Ctrl-C
    or an error); None when none can be made (the workers then keep private splits)."""
    base = Path(base) if base is not None else _default_base()
    _sweep_stale(base)
    try:
        path = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-", dir=base))
        (path / MARKER).write_text("prepared CIFAR-10 splits shared by linclf's workers\n")
    except OSError:
        yield None
        return
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
