"""Time the whole TDT4265 report: cold (empty results directory) and fully cached.

    python benchmarks/bench_report.py [--data-dir DIR] [--jobs N]

Targets on a 2-core machine: cold <= 30 s wall, cached <= 1 s wall (both as whole processes,
interpreter start-up included).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(ROOT))

from benchmarks import _common as C  # noqa: E402


def timed(cmd: list[str], env: dict) -> float:
    return C.timed_process(cmd, env, cwd=ROOT)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=os.environ.get("LINCLF_DATA_DIR"))
    ap.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeat-cached", type=int, default=3)
    args = ap.parse_args()
    if not args.data_dir:
        sys.exit("Give --data-dir or set LINCLF_DATA_DIR (a folder holding mnist/).")
    env = {**os.environ, "LINCLF_DATA_DIR": args.data_dir}
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "linclf_cli", "report", "tdt4265-a1", "--results-dir",
               str(Path(tmp) / "results"), "-j", str(args.jobs)]
        cold = timed(cmd, env)
        cached = min(timed(cmd, env) for _ in range(args.repeat_cached))
    print(f"TDT4265 report, {args.jobs} worker(s), {os.cpu_count()} cores")
    print(f"  cold   (empty results dir): {cold:6.2f} s   target <= 30 s  {'OK' if cold <= 30 else 'MISSED'}")
    print(f"  cached (nothing to run)   : {cached:6.2f} s   target <=  1 s  {'OK' if cached <= 1 else 'MISSED'}")


if __name__ == "__main__":
    main()
