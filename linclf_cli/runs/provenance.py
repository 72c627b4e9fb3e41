"""What made a result: versions, BLAS, git commit, argv, timings (for run.json)."""

from __future__ import annotations

import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from linclf_cli import __version__


def git_commit(cwd: Path | None = None) -> str | None:
    here = cwd or Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                           capture_output=True, text=True, timeout=5).stdout.strip()
    return out.stdout.strip() + ("-dirty" if dirty else "")


def blas_info() -> list[dict]:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover
        return []
    keep = ("user_api", "internal_api", "version", "num_threads", "architecture", "threading_layer")
    return [{k: d.get(k) for k in keep} for d in threadpool_info()]


def environment() -> dict:
    return {
        "linclf": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "blas": blas_info(),
        "git_commit": git_commit(),
    }


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def run_record(argv: list[str] | None, seed: int | None, seconds: dict, started: str,
               extra: dict | None = None) -> dict:
    rec = {
        "argv": list(argv) if argv is not None else list(sys.argv),
        "seed": seed,
        "started": started,
        "finished": now_iso(),
        "seconds": seconds,
        **environment(),
    }
    if extra:
        rec.update(extra)
    return rec
