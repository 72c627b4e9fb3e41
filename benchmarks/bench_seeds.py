"""Time a seed study of TDT4265 2e against one 2e run: the issue's bound is
``study <= seeds x one run / cores``.

    python benchmarks/bench_seeds.py [--data-dir DIR] [--jobs N] [--seeds 20] [--repeat 3] [--json out.json]

Every timing is a whole process (interpreter start-up and data loading included) into a fresh
results folder:

* one 2e run: ``linclf run 2e`` with 2d (which 2e uses) already in that folder, so only 2e
  trains; best of ``--repeat``;
* the study: ``linclf run 2e --seeds N -j JOBS`` (N + 1 runs: the course-stream run and N
  derived seeds, then the summary and histogram), and the same with ``-j 1`` (``--serial``).

The issue's bound is N x one run / JOBS: it charges the study's extra course-stream run and
its finalisation to the study.  The derived seeds stop at other epochs than the course
stream's 16 (median 23.5 over 20 seeds, see results/tdt4265-a1/2e-seeds), so they train
longer than the one run does; the mean of the runs' own seconds (their run.json) is printed
beside it, and the bound with that mean in place of the one run.  Timings on a loaded machine
mean nothing; run it on a quiet one.
"""

from __future__ import annotations

import argparse
import json
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


def bound(one_run_s: float, seeds: int, cores: int) -> float:
    """The issue's target for the study's wall time."""
    return seeds * one_run_s / max(1, cores)


def run_seconds(study_dir: Path) -> list[float]:
    """Each run's own total seconds (run.json) in a finished study folder."""
    out = []
    for p in sorted(study_dir.glob("*/run.json")):
        out.append(float(json.loads(p.read_text())["seconds"]["total"]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=os.environ.get("LINCLF_DATA_DIR"))
    ap.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--serial", action="store_true", help="also time the study with -j 1")
    args = ap.parse_args()
    if not args.data_dir:
        sys.exit("Give --data-dir or set LINCLF_DATA_DIR (a folder holding mnist/).")
    env = {**os.environ, "LINCLF_DATA_DIR": args.data_dir, "PYTHONPATH": str(ROOT)}
    base = [sys.executable, "-m", "linclf_cli", "run", "2e", "-q", "-f", str(ROOT / "tasks.yaml")]
    d2 = base[:4] + ["2d"] + base[5:]
    with tempfile.TemporaryDirectory() as tmp:
        ones = []
        for i in range(args.repeat):
            r = str(Path(tmp) / f"one{i}")
            timed(d2 + ["-r", r], env)  # 2d first: the timed process trains 2e alone
            ones.append(timed(base + ["-j", "1", "-r", r], env))
        res = Path(tmp) / "study"
        study = timed(base + ["--seeds", str(args.seeds), "-j", str(args.jobs), "-r", str(res)], env)
        serial_wall = (timed(base + ["--seeds", str(args.seeds), "-j", "1", "-r", str(Path(tmp) / "serial")], env)
                       if args.serial else None)
        dirs = [d for d in (res / "tdt4265-a1").iterdir() if d.is_dir()]
        serial = run_seconds(dirs[0])
    one = min(ones)
    target = bound(one, args.seeds, args.jobs)
    mean_run = sum(serial) / len(serial)
    out = {"cores": os.cpu_count(), "jobs": args.jobs, "seeds": args.seeds, "one_run_s": one,
           "one_run_all_s": ones, "study_s": study, "target_s": target, "ok": study <= target,
           "study_serial_s": serial_wall, "runs_in_study": len(serial), "sum_of_run_seconds": sum(serial),
           "mean_run_seconds": mean_run, "target_with_mean_run_s": bound(mean_run, args.seeds, args.jobs),
           "parallel_efficiency": sum(serial) / (study * args.jobs) if study else None}
    print(f"TDT4265 2e seed study: {args.seeds} seeds (+ the course-stream run), -j {args.jobs}, "
          f"{os.cpu_count()} cores")
    print(f"  one 2e run (process, best of {args.repeat}) : {one:7.2f} s")
    print(f"  the study (process)                  : {study:7.2f} s")
    print(f"  target {args.seeds} x one run / {args.jobs}            : {target:7.2f} s  "
          f"{'OK' if out['ok'] else 'MISSED'}")
    print(f"  sum of the {len(serial)} runs' own seconds     : {sum(serial):7.2f} s "
          f"(parallel efficiency {out['parallel_efficiency']:.0%}; mean run {mean_run:.2f} s, "
          f"bound with it {out['target_with_mean_run_s']:.2f} s)")
    if serial_wall is not None:
        print(f"  the study with -j 1                  : {serial_wall:7.2f} s "
              f"(speed-up {serial_wall / study:.2f} with -j {args.jobs})")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
