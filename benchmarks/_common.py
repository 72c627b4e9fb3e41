"""Helpers shared by the benchmark scripts: machine rates, BLAS info, timing, tables.

Everything here is plain NumPy + threadpoolctl; nothing touches ``linclf_cli`` so the
helpers can also time the baseline without importing the engine.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

try:  # threadpoolctl is a linclf dependency, but keep the helpers usable without it
    import threadpoolctl
except ImportError:  # pragma: no cover
    threadpoolctl = None


# ----------------------------------------------------------------------------- data dir

MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def resolve_mnist_dir(data_dir: str | None) -> Path:
    """The folder that holds the four MNIST ``.gz`` files.

    ``data_dir`` (``--data-dir``) wins, then ``$LINCLF_DATA_DIR``.  Either the folder itself
    or its ``mnist/`` subfolder may hold the files.  Exits with a clear message otherwise.
    """
    source = "--data-dir"
    if not data_dir:
        data_dir = os.environ.get("LINCLF_DATA_DIR")
        source = "LINCLF_DATA_DIR"
    if not data_dir:
        sys.exit(
            "error: no MNIST location given.\n"
            "  Pass --data-dir DIR or set LINCLF_DATA_DIR=DIR, where DIR (or DIR/mnist) holds\n"
            "  " + ", ".join(MNIST_FILES) + "\n"
            "  e.g. --data-dir /work/shared/data"
        )
    base = Path(data_dir).expanduser()
    for d in (base, base / "mnist"):
        if all((d / f).is_file() for f in MNIST_FILES):
            return d
    sys.exit(
        f"error: {source}={data_dir} does not hold MNIST: expected {', '.join(MNIST_FILES)} "
        f"in {base} or {base / 'mnist'}."
    )


# ----------------------------------------------------------------------------- timing


def timed_process(cmd: list[str], env: dict, cwd: str | Path | None = None) -> float:
    """Wall seconds of one ``cmd`` process (stdout discarded); exits with its stderr's tail
    when it fails."""
    import subprocess

    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr[-2000:]}")
    return dt


def time_call(fn: Callable[[], object], repeat: int = 3) -> tuple[list[float], object]:
    """Run ``fn`` ``repeat`` times; return the wall times (s) and the last result."""
    times, out = [], None
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return times, out


def summary(times: Sequence[float]) -> dict:
    """best / median / all of a list of wall times."""
    return {"best": min(times), "median": statistics.median(times), "all": list(times)}


@contextlib.contextmanager
def blas_threads(n: int | None):
    """Limit BLAS to ``n`` threads inside the block (``None``: leave the default)."""
    if n is None or threadpoolctl is None:
        yield
        return
    with threadpoolctl.threadpool_limits(limits=n, user_api="blas"):
        yield


# ----------------------------------------------------------------------------- machine rates


def gemm_rate(n: int = 2048, repeat: int = 3, threads: int | None = None,
              dtype=np.float32) -> float:
    """Best-of-``repeat`` FLOP/s of an ``n x n @ n x n`` GEMM (2 n^3 flops)."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, n)).astype(dtype)
    B = rng.standard_normal((n, n)).astype(dtype)
    C = np.empty((n, n), dtype=dtype)
    with blas_threads(threads):
        np.matmul(A, B, out=C)  # warm-up (thread pool start, page faults)
        best = np.inf
        for _ in range(repeat):
            t0 = time.perf_counter()
            np.matmul(A, B, out=C)
            best = min(best, time.perf_counter() - t0)
    return 2.0 * n ** 3 / best


def memory_bandwidth(nbytes: int = 512 * 2 ** 20, repeat: int = 5) -> dict:
    """Best-of-``repeat`` memory bandwidth in bytes/s.

    ``read``: ``np.sum`` of a float32 array (bytes read / s; what a streaming GEMM operand
    needs); ``copy``: ``np.copyto`` counted as read + write bytes.
    """
    n = nbytes // 4
    a = np.ones(n, dtype=np.float32)
    b = np.empty_like(a)
    np.copyto(b, a)
    best_read = best_copy = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        a.sum(dtype=np.float32)
        best_read = min(best_read, time.perf_counter() - t0)
        t0 = time.perf_counter()
        np.copyto(b, a)
        best_copy = min(best_copy, time.perf_counter() - t0)
    return {"read": a.nbytes / best_read, "copy": 2 * a.nbytes / best_copy}


def machine_rates(gemm_n: int = 2048, repeat: int = 3, bw_bytes: int = 512 * 2 ** 20) -> dict:
    """float32 GEMM FLOP/s (default threads and 1 thread) and memory bandwidth."""
    return {
        "gemm_n": gemm_n,
        "gemm_f32_default": gemm_rate(gemm_n, repeat),
        "gemm_f32_1thread": gemm_rate(gemm_n, repeat, threads=1),
        "bandwidth": memory_bandwidth(bw_bytes),
    }


# ----------------------------------------------------------------------------- BLAS info


def blas_info() -> dict:
    """A compact summary of NumPy's build/BLAS configuration and the live thread pools."""
    info: dict = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpu_count": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
    }
    try:
        cfg = np.show_config(mode="dicts")  # numpy >= 1.26
        deps = cfg.get("Build Dependencies", {})
        info["blas"] = {k: deps.get("blas", {}).get(k) for k in ("name", "version", "openblas configuration")}
        simd = cfg.get("SIMD Extensions", {})
        info["simd_found"] = simd.get("found")
    except Exception:  # older numpy: fall back to the text output
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            np.show_config()
        info["show_config"] = buf.getvalue()
    if threadpoolctl is not None:
        info["threadpools"] = [
            {k: p.get(k) for k in ("user_api", "internal_api", "num_threads", "version",
                                   "threading_layer", "architecture")}
            for p in threadpoolctl.threadpool_info()
        ]
    return info


def format_blas_info(info: dict) -> str:
    lines = [f"python {info['python']}, numpy {info['numpy']}, "
             f"{info['cpu_count']} CPUs ({info.get('affinity')} usable)"]
    if "blas" in info:
        b = info["blas"]
        lines.append(f"numpy BLAS: {b.get('name')} {b.get('version')}  [{b.get('openblas configuration')}]")
        lines.append(f"SIMD found: {', '.join(info.get('simd_found') or [])}")
    for p in info.get("threadpools", []):
        lines.append(
            f"threadpool: {p['internal_api']} {p['version']} ({p['user_api']}), "
            f"{p['num_threads']} threads, {p['threading_layer']}, arch {p['architecture']}")
    return "\n".join(lines)


def format_rates(r: dict) -> str:
    bw = r["bandwidth"]
    return (f"float32 GEMM {r['gemm_n']}^3: {r['gemm_f32_default'] / 1e9:.1f} GFLOP/s (default threads), "
            f"{r['gemm_f32_1thread'] / 1e9:.1f} GFLOP/s (1 thread)\n"
            f"memory bandwidth: {bw['read'] / 1e9:.1f} GB/s read (sum), "
            f"{bw['copy'] / 1e9:.1f} GB/s copy (read+write)")


# ----------------------------------------------------------------------------- output


def table(rows: Iterable[Sequence], header: Sequence[str]) -> str:
    """A plain-text table with right-aligned columns (first column left-aligned)."""
    rows = [[str(c) for c in r] for r in rows]
    header = [str(h) for h in header]
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) if rows else len(header[i])
              for i in range(len(header))]

    def fmt(r):
        return "  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i])
                         for i, c in enumerate(r))

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(header), sep, *(fmt(r) for r in rows)])


def write_json(path: str | Path | None, obj: dict) -> None:
    if not path:
        return

    def default(o):
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        return str(o)

    Path(path).write_text(json.dumps(obj, indent=2, default=default) + "\n")


# ----------------------------------------------------------------------------- synthetic data


def synthetic_classes(n: int, d: int, K: int = 10, *, seed: int = 0, sep: float = 0.3,
                      n_extra: Sequence[int] = (), chunk: int = 512):
    """CIFAR-sized random data with class structure, standardised, float32.

    Each class k has a random mean image ``m_k ~ N(0, sep^2 I)``; a sample of class k is
    ``m_k + N(0, I)``.  Every column is then standardised with the statistics of the first
    (training) set, as DD2424 does.  Built in chunks, in place, so the peak memory is about
    the size of the returned float32 arrays.

    Returns
    -------
    list of (X, y) pairs: the training set of ``n`` rows, then one per ``n_extra`` entry;
    X float32 (rows, d), y int64 (rows,).
    """
    rng = np.random.default_rng(seed)
    means = (sep * rng.standard_normal((K, d))).astype(np.float32)
    out = []
    for rows in (n, *n_extra):
        y = rng.integers(0, K, size=rows)
        X = np.empty((rows, d), dtype=np.float32)
        for s in range(0, rows, chunk):
            blk = X[s:s + chunk]
            rng.standard_normal(blk.shape, dtype=np.float32, out=blk)
            blk += means[y[s:s + chunk]]
        out.append((X, y))
    X0 = out[0][0]
    mu = np.zeros(d)  # chunked: X0.mean(axis=0, dtype=float64) would cast a full copy
    for s in range(0, n, chunk):
        mu += X0[s:s + chunk].sum(axis=0, dtype=np.float64)
    mu /= n
    var = np.zeros(d)
    for s in range(0, n, chunk):
        diff = X0[s:s + chunk].astype(np.float64) - mu
        var += np.einsum("ij,ij->j", diff, diff)
    sd = np.sqrt(var / n)
    sd[sd == 0] = 1.0
    mu32, inv32 = mu.astype(np.float32), (1.0 / sd).astype(np.float32)
    for X, _ in out:
        for s in range(0, len(X), chunk):
            blk = X[s:s + chunk]
            blk -= mu32
            blk *= inv32
    return out


def current_rss() -> int:
    """Resident set size of this process now, in bytes (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def max_rss() -> int:
    """Peak resident set size of this process so far, in bytes (``ru_maxrss``)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r if sys.platform == "darwin" else r * 1024  # Linux reports KiB


def mib(nbytes: float) -> str:
    return f"{nbytes / 2 ** 20:.0f} MiB"
