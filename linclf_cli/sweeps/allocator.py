"""glibc's usual allocator settings while a point trains on a Dask worker.

A Dask nanny starts its worker with ``MALLOC_TRIM_THRESHOLD_=65536``
(``distributed.nanny.pre-spawn-environ``) so that freed memory goes back to the system at
once.  Setting that variable also switches off glibc's dynamic mmap threshold, so every
array over 128 KiB is a fresh ``mmap`` whose pages are faulted in and zeroed, then unmapped
again.  A training step makes a few such arrays (the 3072 x 50 gradient of the AML net is
600 KiB), and measured on the AML sweep point (benchmarks/bench_sweep.py) that made the same
training 30 % slower on a worker than in a plain process (6.2 s against 4.7 s; the same
slowdown in a plain process started with the variable).

:func:`usual_allocator` sets the thresholds a long-running glibc process settles on (arrays
under 32 MiB reuse freed heap memory) for the duration of a point, then puts back the values
the worker was started with and hands the freed memory back (``malloc_trim``), which is what
Dask's setting is for.  The numbers a run computes do not depend on it.  Not glibc (macOS,
musl, Windows): nothing to do.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
import sys
from typing import Iterator

M_TRIM_THRESHOLD = -1  # mallopt parameters, <malloc.h>
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 << 20  # glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit: where its dynamic threshold stops
GLIBC_MMAP_THRESHOLD = 128 << 10  # glibc's starting mmap threshold
GLIBC_TRIM_THRESHOLD = 128 << 10


@functools.cache  # find_library searches the system's libraries: once per process, not per point
def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        return libc
    except (OSError, AttributeError):  # not glibc
        return None


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ[name])
    except (KeyError, ValueError):
        return default


@contextlib.contextmanager
def usual_allocator() -> Iterator[bool]:
    """Within: arrays under 32 MiB come from (and go back to) the heap; yields whether the
    settings could be changed.  On exit: the thresholds this process was started with
    (``MALLOC_TRIM_THRESHOLD_`` / ``MALLOC_MMAP_THRESHOLD_``, else glibc's), then
    ``malloc_trim(0)``."""
    libc = _libc()
    if libc is None or not ("MALLOC_TRIM_THRESHOLD_" in os.environ or "MALLOC_MMAP_THRESHOLD_" in os.environ):
        yield False  # glibc's dynamic thresholds are in force already (or not glibc)
        return
    changed = bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)) and \
        bool(libc.mallopt(M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD_MAX))
    try:
        yield changed
    finally:
        libc.mallopt(M_MMAP_THRESHOLD, _env_int("MALLOC_MMAP_THRESHOLD_", GLIBC_MMAP_THRESHOLD))
        libc.mallopt(M_TRIM_THRESHOLD, _env_int("MALLOC_TRIM_THRESHOLD_", GLIBC_TRIM_THRESHOLD))
        libc.malloc_trim(0)
