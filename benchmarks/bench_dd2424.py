"""Benchmark one DD2424 A1 run: wall time and peak memory.

``train_fused`` with softmax/CE, batch 100, eta 0.001, lam 0, 40 epochs, shuffle, float32,
on CIFAR-sized synthetic data (10 000 x 3072 training and 10 000 x 3072 validation rows,
standardised random data with class structure; no CIFAR-10 download needed), once without
and once with random horizontal flips (``flip=True``).

Every measurement runs in a fresh subprocess so that ``ru_maxrss`` (the process's peak
resident memory) is not polluted by earlier runs:

* a timing run (no tracing): wall time of ``train_fused``, RSS after the data were built,
  ``ru_maxrss`` at the end;
* a memory run under ``tracemalloc`` (started after the data were built): the peak of the
  Python/NumPy allocations made *by training*, i.e. on top of the input arrays.

    python benchmarks/bench_dd2424.py [--repeat 1] [--epochs 40] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _common as C  # noqa: E402


def make_data(n_train: int = 10000, n_val: int = 10000, d: int = 3072, K: int = 10,
              seed: int = 0):
    """(X_train, Y_train, y_train, X_val, Y_val, y_val), float32 inputs and one-hot targets."""
    from linclf_cli.engine.functions import one_hot

    (Xt, yt), (Xv, yv) = C.synthetic_classes(n_train, d, K, seed=seed, n_extra=(n_val,))
    return Xt, one_hot(yt, K, np.float32), yt, Xv, one_hot(yv, K, np.float32), yv


def run_once(data, *, epochs: int = 40, flip: bool = False, trace: bool = False,
             seed: int = 1) -> dict:
    """One ``train_fused`` call on ``data``; wall time, memory figures, final accuracies."""
    from linclf_cli.assignments.dd2424.linear import train_fused

    rss_data = C.current_rss()
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    res = train_fused(*data, model="softmax", lam=0.0, eta=0.001, n_batch=100,
                       n_epochs=epochs, shuffle=True, flip=flip,
                       rng=np.random.default_rng(seed), dtype=np.float32)
    seconds = time.perf_counter() - t0
    out = {
        "seconds": seconds, "flip": flip, "epochs": epochs, "steps": res.steps,
        "rss_after_data": rss_data, "ru_maxrss": C.max_rss(),
        "input_bytes": int(sum(a.nbytes for a in data)),
        "final_train_accuracy": res.history["train_accuracy"][-1],
        "final_val_accuracy": res.history["val_accuracy"][-1],
    }
    if trace:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out["tracemalloc_peak"] = peak
    return out


def worker(args) -> int:
    data = make_data(args.n_train, args.n_val)
    out = run_once(data, epochs=args.epochs, flip=args.flip, trace=args.trace)
    print("RESULT " + json.dumps(out))
    return 0


def spawn(flip: bool, trace: bool, epochs: int, n_train: int, n_val: int) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--epochs", str(epochs),
           "--n-train", str(n_train), "--n-val", str(n_val)]
    cmd += ["--flip"] if flip else []
    cmd += ["--trace"] if trace else []
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"worker failed ({proc.returncode}):\n{proc.stderr}")
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=1, help="timing runs per variant (1)")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--n-train", type=int, default=10000)
    p.add_argument("--n-val", type=int, default=10000)
    p.add_argument("--json", help="write all numbers to this JSON file")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--flip", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args)

    print(C.format_blas_info(C.blas_info()))
    results = {}
    rows = []
    for flip in (False, True):
        timed = [spawn(flip, False, args.epochs, args.n_train, args.n_val)
                 for _ in range(max(1, args.repeat))]
        traced = spawn(flip, True, args.epochs, args.n_train, args.n_val)
        secs = [t["seconds"] for t in timed]
        t = timed[-1]
        name = f"flip={flip}"
        results[name] = {"timed": timed, "traced": traced, "seconds": C.summary(secs)}
        rows.append([
            name, f"{min(secs):.2f} / {C.summary(secs)['median']:.2f}",
            f"{min(secs) / args.epochs * 1000:.0f}",
            C.mib(t["input_bytes"]), C.mib(traced["tracemalloc_peak"]),
            C.mib(t["rss_after_data"]), C.mib(t["ru_maxrss"]),
            C.mib(t["ru_maxrss"] - t["rss_after_data"]),
            f"{traced['seconds']:.2f}", f"{t['final_val_accuracy']:.4f}",
        ])
        print(f"  {name}: {min(secs):.2f} s", flush=True)
    print(f"\n== DD2424: {args.epochs} epochs, {args.n_train} x 3072 train, {args.n_val} val, "
          f"batch 100, eta 0.001, lam 0, float32 ==")
    print(C.table(rows, ["variant", "seconds (best/med)", "ms/epoch", "inputs",
                         "tracemalloc peak", "RSS after data", "ru_maxrss",
                         "maxrss - data RSS", "s under tracemalloc", "val acc"]))
    C.write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
