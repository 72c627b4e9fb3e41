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

Under the scheduler's memory plan (tasks/scheduler.py) a worker is told the tag of the split
its job needs (:func:`set_split_tag`, from ``assignments.registry.prepared_split``); the split
is published with a ``.tag-*`` file naming it, the worker unmaps it when the job ends
(:func:`release`) and the scheduler removes it (:func:`free_split`) once no pending job needs
it, so what is live in ``/dev/shm`` is exactly what the scheduler planned.
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
_TAG: str | None = None  # the scheduler's name for the split of this worker's job
MANIFEST = "manifest.json"
FOLDER_PREFIX = "linclf-shared-"
MARKER = ".linclf-shared"


def one_slot(fn: Callable) -> Callable:
    """Cache ``fn(*args, **inputs)`` in the single process-wide slot, keyed by the (hashable)
    positional ``args`` alone: keyword ``inputs`` are what the value is built from (a loaded
    dataset) and must be determined by ``args`` (its digests among them)."""

    @functools.wraps(fn)
    def wrapper(*args, **inputs):
        key = (fn.__module__, fn.__qualname__, args)
        try:
            return _SLOT[key]
        except KeyError:
            pass
        clear()  # drop the previous split before building the next one
        value = fn(*args, **inputs)
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


def set_split_tag(tag: str | None) -> None:
    """Name the split the current job needs (None: unplanned; its files go with the job)."""
    global _TAG
    _TAG = tag


def _tag_file(tag: str) -> str:
    return ".tag-" + hashlib.sha256(tag.encode()).hexdigest()[:16]


def _mark(d: Path, tag: str | None) -> None:
    if tag is None:
        return
    with contextlib.suppress(OSError):
        f = d / _tag_file(tag)
        if not f.exists():
            f.write_text(tag + "\n")


def release() -> None:
    """End of a job in a worker: unmap its shared split (the slot is emptied) so that the
    worker holds nothing between jobs.  A planned split's files stay for the next job that
    needs it (the scheduler frees them); an unplanned one's are removed.  A private split
    (no shared folder) stays in the slot, as before."""
    global _TAG
    if _HELD:
        if _TAG is None:
            clear()
        else:
            _SLOT.clear()
            _HELD.clear()
        import gc

        gc.collect()  # the mapping goes with its last reference
    _TAG = None


def free_split(folder: str | Path | None, tag: str) -> bool:
    """Remove (under their lock) the published splits in ``folder`` tagged ``tag``; workers
    still mapping them keep their pages until they unmap.  True when one was removed."""
    if folder is None:
        return False
    name = _tag_file(tag)
    try:
        dirs = [d for d in Path(folder).iterdir()
                if d.is_dir() and not d.name.startswith(".") and (d / name).is_file()]
    except OSError:
        return False
    for d in dirs:
        _remove_split(d)
    return bool(dirs)


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


CHUNK = 32 << 20  # bytes copied (and private pages given back) at a time when publishing
_MADV_DONTNEED = 4  # Linux


def _madvise_free():
    """libc ``madvise`` on Linux (None elsewhere: private pages are then freed at the end)."""
    import sys

    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        fn = ctypes.CDLL(None, use_errno=True).madvise
        fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        return fn
    except (OSError, AttributeError):  # pragma: no cover
        return None


def _consumable(name: str, arrays: dict[str, np.ndarray], refs: int) -> bool:
    """May ``arrays[name]``'s pages be given back while it is copied?  Only a large,
    C-contiguous array that owns its memory, shares it with no other array of the split and
    that nothing but the split dict references (``refs``: the references the caller holds)."""
    import sys

    a = arrays[name]
    return (a.nbytes >= 4 * CHUNK and a.flags.c_contiguous and a.flags.owndata and a.base is None
            and sys.getrefcount(a) <= refs
            and not any(np.may_share_memory(a, b) for k, b in arrays.items() if k != name))


def _give_back(madvise, a: np.ndarray, lo: int, hi: int) -> None:
    """Free the whole pages of ``a``'s bytes [lo, hi) (they read as zeros afterwards)."""
    page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
    base = a.ctypes.data
    start = -(-(base + lo) // page) * page
    stop = (base + hi) // page * page
    if stop > start:
        madvise(start, stop - start, _MADV_DONTNEED)


def _write_npy(path: Path, a: np.ndarray, consume: bool, madvise) -> None:
    """``np.save(path, a)``, copied CHUNK bytes at a time into the file's mapping; with
    ``consume`` each copied chunk's private pages are given back at once, so publishing a
    split never holds it twice."""
    a = np.asarray(a)
    if a.ndim == 0 or a.size == 0 or not a.flags.c_contiguous:
        with open(path, "wb") as fh:
            np.save(fh, np.ascontiguousarray(a), allow_pickle=False)
        return
    _check_room(path.parent, a.nbytes)
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=a.dtype, shape=a.shape)
    try:
        row = max(1, a.nbytes // max(1, len(a)))
        step = max(1, CHUNK // row)
        for i in range(0, len(a), step):
            j = min(len(a), i + step)
            mm[i:j] = a[i:j]
            if consume:  # from the array's start: pages across a chunk border go too
                _give_back(madvise, a, max(0, i * row - 2 * 65536), j * row)
        mm.flush()
    finally:
        del mm


def _check_room(folder: Path, nbytes: int) -> None:
    """OSError (no space) now when ``folder`` has not room for ``nbytes`` more: a full tmpfs
    would otherwise kill the process with SIGBUS on a page of the mapping.  (Reserving the
    file with fallocate would allocate the whole split at once beside its private copy.)"""
    import errno

    try:
        st = os.statvfs(folder)
    except (OSError, AttributeError):
        return
    if st.f_bavail * st.f_frsize < nbytes + (64 << 20):
        raise OSError(errno.ENOSPC, "No space left for the prepared split", str(folder))


def _publish_split(d: Path, arrays: dict[str, np.ndarray], consume: bool = False,
                   eaten: list | None = None) -> None:
    """Write ``arrays`` into ``d``: each file atomically, the manifest last.

    With ``consume`` the large arrays the dict alone holds are emptied as they are copied
    (their pages read as zeros afterwards; see :func:`_write_npy`): the caller must drop
    ``arrays`` and use the published files.  ``eaten`` collects the names of the arrays
    emptied so far (also when writing fails).
    """
    d.mkdir(exist_ok=True)
    madvise = _madvise_free() if consume else None
    manifest = {name: [list(a.shape), a.dtype.str] for name, a in arrays.items()}
    for name in list(arrays):
        # references: the dict, _consumable's local and the getrefcount argument
        eat = madvise is not None and _consumable(name, arrays, refs=3)
        if eat and eaten is not None:
            eaten.append(name)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=d)
        os.close(fd)
        try:
            _write_npy(Path(tmp), arrays[name], eat, madvise)
            os.replace(tmp, d / f"{name}.npy")
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
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
                    eaten: list[str] = []
                    try:
                        _publish_split(d, arrays, consume=True, eaten=eaten)
                    finally:
                        if eaten:  # emptied while published: never used again
                            arrays = None
                    got = _open_split(d)
                _mark(d, _TAG)
        except OSError:
            got = None
        if got is None:  # could not share (e.g. no room left): keep a private copy
            return _read_only(arrays if arrays is not None else build())
        del arrays  # the private copy goes; the mapping replaces it
    elif _TAG is not None and not (d / _tag_file(_TAG)).exists():
        with contextlib.suppress(OSError), _lock(folder, key):
            _mark(d, _TAG)
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
