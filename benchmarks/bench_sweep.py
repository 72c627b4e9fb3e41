"""Benchmark `linclf sweep`: 16 AML points with the local executor against the ideal, and
through a local Dask cluster against the local executor.

The 16 points are a 4 x 4 grid over the AML two-layer net's learning rate and L2 (recipe
aml2020, hidden 50, SGD, ``--iterations``), on the real CIFAR-10 (``--data-dir`` or
``$LINCLF_DATA_DIR``), else on a synthetic IDX folder (28 x 28, 49 000 training images; only
the ratios mean something there).  Measured, each as a whole
``linclf sweep`` process into a fresh folder:

* ``one``: one point alone (-j 1): its wall time and the point's own seconds (run.json,
  without preparing the data split), so ``overhead = wall - point`` (start-up, loading and
  preparing the data once, summary);
* ``local``: the 16 points with ``-j WORKERS``; ideal = overhead + 16 x point / WORKERS
  (every core busy until the last point).  Target: local <= 1.10 x ideal;
* ``dask``: the same 16 points through ``LocalCluster(n_workers=WORKERS, threads_per_worker=1,
  processes=True)``.  Target: dask <= 1.20 x local.  The two folders' points are also checked
  bit for bit (every file but run.json).

Timings on a loaded machine mean little; run it on a quiet one with as many free cores as
``--workers``.

    python benchmarks/bench_sweep.py [--quick] [--workers 2] [--data-dir DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SIZES = {"full": {"n_train": 49000, "iterations": 1000},
         "quick": {"n_train": 2000, "iterations": 40}}
LRS = ("2.5e-4", "5e-4", "1e-3", "2e-3")  # 4e-3 diverges on the real CIFAR-10 (1000 iterations, hidden 50)
L2S = ("0.05", "0.1", "0.25", "0.5")


def sweep_args(out: Path, iterations: int, data: str, grid: bool = True) -> list[str]:
    args = [sys.executable, "-m", "linclf_cli", "sweep", "--recipe", "aml2020", "--data", data,
            "--model", "mlp", "--hidden", "50", "--iterations", str(iterations), "-o", str(out), "-q", "--json"]
    if grid:
        return args + ["-g", f"learning_rate={','.join(LRS)}", "-g", f"l2={','.join(L2S)}"]
    return args + ["-g", f"learning_rate={LRS[1]}", "-g", f"l2={L2S[1]}"]


def timed(args: list[str], env: dict) -> tuple[float, dict]:
    t0 = time.perf_counter()
    r = subprocess.run(args, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"error: {' '.join(args[3:6])} ... failed (exit {r.returncode}):\n{r.stderr[-2000:]}")
    return wall, json.loads(r.stdout)


def point_seconds(out: Path) -> list[float]:
    """Each point's own seconds (run.json): its training and outputs, without preparing the
    data split, which a sweep does once per worker and counts in the overhead."""
    secs = [json.loads((p / "run.json").read_text())["seconds"] for p in sorted(out.glob("p-*"))]
    return [s["total"] - s.get("data", 0.0) for s in secs]


def same_points(a: Path, b: Path) -> bool:
    def files(d: Path) -> dict:
        return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.glob("p-*/*")) if p.name != "run.json"}

    return files(a) == files(b)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="40 iterations (and 2000 synthetic images): a smoke run")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--data-dir", help="folder holding the real CIFAR-10 (default: $LINCLF_DATA_DIR; neither: synthetic IDX data)")
    ap.add_argument("--skip-dask", action="store_true")
    ap.add_argument("--json", help="write the numbers here")
    a = ap.parse_args(argv)
    size = SIZES["quick" if a.quick else "full"]
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        tmp = Path(tmp)
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        data_dir = a.data_dir or os.environ.get("LINCLF_DATA_DIR")
        if data_dir:
            data = "cifar10"
            env["LINCLF_DATA_DIR"] = data_dir
        else:
            from linclf_cli.data.synthetic import write_idx_folder

            data = str(write_idx_folder(tmp / "idx", size["n_train"], 1000))  # 10 noisy 28 x 28 classes
        one_wall, _ = timed(sweep_args(tmp / "one", size["iterations"], data, grid=False) + ["-j", "1"], env)
        (point,) = point_seconds(tmp / "one")
        overhead = max(0.0, one_wall - point)
        local_wall, local = timed(sweep_args(tmp / "local", size["iterations"], data) + ["-j", str(a.workers)], env)
        n = local["n_points"]
        ideal = overhead + n * point / a.workers
        res = {"size": "quick" if a.quick else "full", "data": data if data == "cifar10" else "synthetic idx",
               "workers": a.workers, "points": n,
               "iterations": size["iterations"], "one_point_wall_s": one_wall, "one_point_train_s": point,
               "overhead_s": overhead, "local_wall_s": local_wall, "ideal_s": ideal,
               "local_over_ideal": local_wall / ideal, "local_target": 1.10}
        if not a.skip_dask:
            from distributed import LocalCluster

            with LocalCluster(n_workers=a.workers, threads_per_worker=1, processes=True,
                              host="127.0.0.1", dashboard_address=None) as cluster:
                denv = dict(env)
                dask_wall, _ = timed(sweep_args(tmp / "dask", size["iterations"], data) +
                                     ["--executor", "dask", "--scheduler", cluster.scheduler_address], denv)
            res.update({"dask_wall_s": dask_wall, "dask_over_local": dask_wall / local_wall,
                        "dask_target": 1.20, "dask_points_identical": same_points(tmp / "local", tmp / "dask")})
    print(f"{n} AML points, {size['iterations']} iterations, {a.workers} workers")
    print(f"  one point      {one_wall:8.2f} s wall ({point:.2f} s training, {overhead:.2f} s overhead)")
    print(f"  local -j {a.workers}     {local_wall:8.2f} s   ideal {ideal:.2f} s   ratio {res['local_over_ideal']:.3f} (target <= 1.10)")
    if "dask_wall_s" in res:
        print(f"  dask ({a.workers} x 1 thr) {res['dask_wall_s']:8.2f} s   / local {res['dask_over_local']:.3f} (target <= 1.20)"
              f"   points identical: {res['dask_points_identical']}")
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=2) + "\n")
    return res


if __name__ == "__main__":
    main()
