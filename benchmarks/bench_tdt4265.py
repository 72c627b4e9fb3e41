"""Benchmark TDT4265 task 3b (softmax, 20 000 / 10 000 MNIST, lr 0.01, batch 128, 50 epochs,
shuffle, a validation check every 31 steps incl. step 0, no early stopping).

Measures, in one process and interleaved round-robin over ``--repeat`` rounds (so a noisy
neighbour hurts every variant alike):

(a) training only, ``linclf_cli.assignments.tdt4265.recipe.train`` (the engine's ``fit`` with the block-GEMM evaluator) on pre-processed arrays, float32
    (linclf's default) and float64, each with the default BLAS threads and with
    ``threadpoolctl.threadpool_limits(1)``;
(b) the whole process ``linclf train --model softmax --epochs 50 --out TMP`` (interpreter
    start, imports, data loading/verification, training, final metrics, CSV/NPZ/JSON,
    the two PNG plots);
(c) the starter-style float64 baseline (``benchmarks/baseline_tdt4265.py``), training only.

Then it checks float32 against float64 (final train/val loss and accuracy must agree within
1e-4), prints the NumPy/BLAS configuration and a floor analysis (FLOPs and bytes the run must
process vs. this machine's measured float32 GEMM rate and memory bandwidth).

    python benchmarks/bench_tdt4265.py --data-dir /work/shared/data [--repeat 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _common as C  # noqa: E402
from benchmarks import baseline_tdt4265 as baseline  # noqa: E402

TOL = 1e-4
METRIC_KEYS = ("train_loss", "val_loss", "train_accuracy", "val_accuracy")


# ----------------------------------------------------------------------------- runners


def linclf_arrays(X_train_u8, y_train, X_val_u8, y_val, dtype):
    """linclf's own pre-processing (``pre_process_images`` + ``one_hot``) in ``dtype``."""
    from linclf_cli.engine.functions import one_hot
    from linclf_cli.assignments.tdt4265.preprocess import pre_process_images

    return (pre_process_images(X_train_u8, dtype), one_hot(y_train, 10, dtype),
            pre_process_images(X_val_u8, dtype), one_hot(y_val, 10, dtype))


def run_linclf(arrays, *, epochs: int = 50, batch_size: int = 128, learning_rate: float = 0.01,
               seed: int = 0, threads: int | None = None) -> dict:
    """Train task 3b with ``trainer.train``; returns seconds, final metrics and the result."""
    from linclf_cli.assignments.tdt4265 import recipe as trainer

    X_train, T_train, X_val, T_val = arrays
    cfg = trainer.TrainConfig(learning_rate=learning_rate, batch_size=batch_size,
                              epochs=epochs, shuffle=True)
    with C.blas_threads(threads):
        t0 = time.perf_counter()
        res = trainer.train("softmax", X_train, T_train, X_val, T_val, cfg,
                            np.random.default_rng(seed))
        seconds = time.perf_counter() - t0
    metrics = trainer.final_metrics(res.params["W1"], X_train, T_train, X_val, T_val)
    return {"seconds": seconds, "metrics": metrics, "result": res}


def run_baseline(arrays, *, epochs: int = 50, batch_size: int = 128,
                 learning_rate: float = 0.01, seed: int = 0) -> dict:
    """Train task 3b with the starter-style float64 baseline; seconds, final metrics."""
    out = baseline.run_task3b(*arrays, num_epochs=epochs, learning_rate=learning_rate,
                              batch_size=batch_size, seed=seed)
    metrics = baseline.final_metrics(out["model"], *arrays)
    return {"seconds": out["seconds"], "metrics": metrics, "out": out}


def run_cli(mnist_dir: Path, epochs: int = 50, dtype: str = "float32") -> dict:
    """Wall time of ``linclf train --model softmax --epochs N --out TMP`` as a subprocess."""
    exe = Path(sys.executable).with_name("linclf")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "linclf_cli"]
    with tempfile.TemporaryDirectory(prefix="linclf-bench-") as tmp:
        out = Path(tmp) / "run"
        cmd = cmd + ["train", "--model", "softmax", "--epochs", str(epochs), "--dtype", dtype,
                     "--out", str(out), "--data-dir", str(mnist_dir)]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
        run = json.loads((out / "run.json").read_text())
        metrics = json.loads((out / "metrics.json").read_text())
    return {"seconds": wall, "inner": run.get("seconds", {}), "metrics": metrics}


def compare_metrics(a: dict, b: dict, keys=METRIC_KEYS) -> dict:
    """Absolute differences of the final metrics and their maximum."""
    diffs = {k: abs(float(a[k]) - float(b[k])) for k in keys}
    return {"diffs": diffs, "max": max(diffs.values())}


def compare_histories(res, base_out) -> dict:
    """Max abs difference of the per-check curves of linclf vs the baseline."""
    vh, th = base_out["val_history"], base_out["train_history"]
    steps = sorted(vh["loss"])
    c = res.history
    if list(c["step"]) != steps:
        return {"same_checks": False}
    return {
        "same_checks": True,
        "val_loss": float(np.max(np.abs(c["val_loss"] - np.array([vh["loss"][s] for s in steps])))),
        "val_accuracy": float(np.max(np.abs(c["val_accuracy"] - np.array([vh["accuracy"][s] for s in steps])))),
        "train_accuracy": float(np.max(np.abs(c["train_accuracy"] - np.array([th["accuracy"][s] for s in steps])))),
        "step_loss": float(np.max(np.abs(res.step_loss - np.array([th["loss"][s] for s in range(len(th["loss"]))])))),
    }


# ----------------------------------------------------------------------------- floor


def floor_analysis(n_train: int = 20000, n_val: int = 10000, d: int = 785, K: int = 10,
                   B: int = 128, epochs: int = 50, block: int = 16, itemsize: int = 4,
                   gemm_rate: float | None = None, bandwidth: float | None = None) -> dict:
    """FLOPs and bytes task 3b must process, and the resulting lower bound on time.

    FLOPs: per step forward 2 B d K + backward 2 B d K (+ the weight update 2 d K and about
    7 B K elementwise softmax/gradient operations); per validation check 2 (n_train + n_val)
    d K (+ about 6 (n_train + n_val) K for log-sum-exp, loss and argmax).

    Bytes: every epoch streams the n_train x d training matrix once to form the batches;
    every check streams the (n_train + n_val) x d matrices once.  ``bytes_blocked`` is what
    linclf actually needs: it evaluates ``block`` checks per pass over the data.
    """
    spe = n_train // B
    steps = spe * epochs
    val_every = max(spe // 5, 1)
    checks = len(range(0, steps, val_every))  # steps s with s % val_every == 0
    n_eval = n_train + n_val
    gemm_step = 4 * B * d * K
    gemm_check = 2 * n_eval * d * K
    elem = steps * (7 * B * K + 2 * d * K) + checks * 6 * n_eval * K
    flops_gemm = steps * gemm_step + checks * gemm_check
    flops = flops_gemm + elem
    bytes_epochs = epochs * n_train * d * itemsize
    bytes_checks = checks * n_eval * d * itemsize
    nbytes = bytes_epochs + bytes_checks
    nbytes_blocked = bytes_epochs + math.ceil(checks / block) * n_eval * d * itemsize
    out = {
        "steps": steps, "steps_per_epoch": spe, "val_every": val_every, "checks": checks,
        "flops_steps": steps * gemm_step, "flops_checks": checks * gemm_check,
        "flops_elementwise": elem, "flops": flops,
        "bytes_epochs": bytes_epochs, "bytes_checks": bytes_checks, "bytes": nbytes,
        "bytes_blocked": nbytes_blocked,
    }
    if gemm_rate and bandwidth:
        t_flop, t_mem, t_mem_b = flops / gemm_rate, nbytes / bandwidth, nbytes_blocked / bandwidth
        out.update({
            "t_compute": t_flop, "t_memory": t_mem, "t_memory_blocked": t_mem_b,
            "floor": max(t_flop, t_mem), "floor_sum": t_flop + t_mem,
            "floor_blocked": max(t_flop, t_mem_b), "floor_blocked_sum": t_flop + t_mem_b,
        })
    return out


# ----------------------------------------------------------------------------- main


def fmt_s(times) -> str:
    s = C.summary(times)
    return f"{s['best']:.2f} / {s['median']:.2f}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", help="folder holding MNIST (or its mnist/ subfolder); "
                                      "default $LINCLF_DATA_DIR")
    p.add_argument("--repeat", type=int, default=3, help="rounds of every measurement (3)")
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--json", help="write all numbers to this JSON file")
    p.add_argument("--skip-cli", action="store_true", help="skip the whole-process runs")
    p.add_argument("--skip-baseline", action="store_true", help="skip the float64 baseline")
    args = p.parse_args(argv)
    mnist_dir = C.resolve_mnist_dir(args.data_dir)

    print("== NumPy / BLAS ==")
    info = C.blas_info()
    print(C.format_blas_info(info))

    Xtr, ytr, Xva, yva = baseline.load_task3_data(mnist_dir)
    data = {
        "f32": linclf_arrays(Xtr, ytr, Xva, yva, np.float32),
        "f64": linclf_arrays(Xtr, ytr, Xva, yva, np.float64),
        "base": baseline.prepare(Xtr, ytr, Xva, yva),
    }
    variants = [  # name, kind, args
        ("linclf float32", "linclf", ("f32", None)),
        ("linclf float32, 1 BLAS thread", "linclf", ("f32", 1)),
        ("linclf float64", "linclf", ("f64", None)),
        ("linclf float64, 1 BLAS thread", "linclf", ("f64", 1)),
    ]
    if not args.skip_cli:
        variants.append(("linclf train (whole process, float32)", "cli", ("float32",)))
        variants.append(("linclf train (whole process, float64)", "cli", ("float64",)))
    if not args.skip_baseline:
        variants.append(("baseline float64 (starter style)", "baseline", ()))

    for key in ("f32", "f64"):  # warm-up: thread pools, page faults, first-call overheads
        run_linclf(data[key], epochs=1)
    times: dict[str, list[float]] = {v[0]: [] for v in variants}
    parts: dict[str, list[tuple[float, float]]] = {v[0]: [] for v in variants}  # (steps, checks)
    last: dict[str, dict] = {}
    failed: set[str] = set()
    for r in range(args.repeat):
        for name, kind, a in variants:
            if kind == "linclf":
                out = run_linclf(data[a[0]], epochs=args.epochs, threads=a[1])
            elif kind == "cli":
                if name in failed:
                    continue
                try:
                    out = run_cli(mnist_dir, args.epochs, a[0])
                except RuntimeError as exc:  # the CLI is shared work in progress
                    print(f"  WARNING: {name} failed, skipped:\n{str(exc)[-400:]}", flush=True)
                    failed.add(name)
                    continue
            else:
                out = run_baseline(data["base"], epochs=args.epochs)
            times[name].append(out["seconds"])
            if kind == "linclf":
                ev = out["result"].seconds["evaluation"]
                parts[name].append((out["seconds"] - ev, ev))
            last[name] = out
            print(f"  round {r + 1}/{args.repeat}: {name}: {out['seconds']:.2f} s", flush=True)

    print("\n== Machine rates ==")
    rates = C.machine_rates()
    print(C.format_rates(rates))

    for name in failed:
        times.pop(name), parts.pop(name)
    variants = [v for v in variants if v[0] not in failed]
    base_name = "baseline float64 (starter style)"
    base_best = min(times[base_name]) if base_name in times else None
    rows = []
    for name, _, _ in variants:
        best = min(times[name])
        sp = f"{base_best / best:.1f}x" if base_best else "-"
        rows.append([name, fmt_s(times[name]), sp])
    print(f"\n== Task 3b, {args.epochs} epochs: seconds (best / median of {args.repeat}) ==")
    print(C.table(rows, ["variant", "seconds", "speed-up vs baseline"]))
    for name in times:
        if name.startswith("linclf train"):
            inner = last[name]["inner"]
            print(f"  {name}: inside the run (run.json): " +
                  ", ".join(f"{k} {v:.2f} s" for k, v in inner.items()))

    # ------------------------------------------------------------------ correctness
    m32 = last["linclf float32"]["metrics"]
    m64 = last["linclf float64"]["metrics"]
    cmp = compare_metrics(m32, m64)
    print("\n== Final metrics ==")
    mrows = [["linclf float32", *(f"{m32[k]:.6f}" for k in METRIC_KEYS)],
             ["linclf float64", *(f"{m64[k]:.6f}" for k in METRIC_KEYS)]]
    result = {"blas": info, "rates": rates, "epochs": args.epochs, "repeat": args.repeat,
              "times": {k: C.summary(v) for k, v in times.items()},
              "metrics": {"float32": m32, "float64": m64}, "float32_vs_float64": cmp}
    if base_name in last:
        mb = last[base_name]["metrics"]
        mrows.append(["baseline float64", *(f"{mb[k]:.6f}" for k in METRIC_KEYS)])
        cb = compare_metrics(m64, mb)
        hb = compare_histories(last["linclf float64"]["result"], last[base_name]["out"])
        result["metrics"]["baseline"] = mb
        result["float64_vs_baseline"] = {**cb, "histories": hb}
    print(C.table(mrows, ["", *METRIC_KEYS]))
    verdict = "PASS" if cmp["max"] <= TOL else "FAIL"
    print(f"float32 vs float64: max |diff| = {cmp['max']:.2e} "
          f"({', '.join(f'{k} {v:.1e}' for k, v in cmp['diffs'].items())}) -> {verdict} "
          f"(tolerance {TOL:g})")
    result["float32_within_tol"] = verdict == "PASS"
    if base_name in last:
        print(f"linclf float64 vs baseline: max |diff| of final metrics = {cb['max']:.2e}; "
              f"histories: {', '.join(f'{k} {v:.1e}' if isinstance(v, float) else f'{k} {v}' for k, v in hb.items())}")

    # ------------------------------------------------------------------ threads
    t_def, t_one = min(times["linclf float32"]), min(times["linclf float32, 1 BLAS thread"])
    t_def64, t_one64 = min(times["linclf float64"]), min(times["linclf float64, 1 BLAS thread"])
    print("\n== BLAS threads, training only (best) ==")
    print(f"float32: default {t_def:.2f} s, 1 thread {t_one:.2f} s "
          f"(1 thread is {t_def / t_one:.2f}x the default's speed)")
    print(f"float64: default {t_def64:.2f} s, 1 thread {t_one64:.2f} s "
          f"(1 thread is {t_def64 / t_one64:.2f}x the default's speed)")
    prow = []
    for name, pp in parts.items():
        if pp:
            st, ev = [x[0] for x in pp], [x[1] for x in pp]
            prow.append([name, fmt_s(st), fmt_s(ev)])
    print("split of the training-only time (best / median s):")
    print(C.table(prow, ["variant", "per-step loop", "batched checks"]))
    result["parts"] = parts

    # ------------------------------------------------------------------ floor
    fl = floor_analysis(epochs=args.epochs, gemm_rate=rates["gemm_f32_default"],
                        bandwidth=rates["bandwidth"]["read"])
    result["floor"] = fl
    print("\n== Floor analysis (float32) ==")
    print(f"{fl['steps']} steps, a check every {fl['val_every']} steps -> {fl['checks']} checks")
    print(f"FLOPs: steps {fl['flops_steps'] / 1e9:.1f} G (fwd+bwd 4 B d K each), checks "
          f"{fl['flops_checks'] / 1e9:.1f} G (2 (20000+10000) d K each), elementwise "
          f"{fl['flops_elementwise'] / 1e9:.2f} G; total {fl['flops'] / 1e9:.1f} GFLOP")
    print(f"bytes: epochs {fl['bytes_epochs'] / 1e9:.2f} GB + checks {fl['bytes_checks'] / 1e9:.2f} GB "
          f"= {fl['bytes'] / 1e9:.2f} GB (linclf, {16} checks per pass: "
          f"{fl['bytes_blocked'] / 1e9:.2f} GB)")
    print(f"compute time at {rates['gemm_f32_default'] / 1e9:.1f} GFLOP/s: {fl['t_compute']:.2f} s; "
          f"memory time at {rates['bandwidth']['read'] / 1e9:.1f} GB/s: {fl['t_memory']:.2f} s "
          f"({fl['t_memory_blocked']:.2f} s blocked)")
    print(f"floor = max(compute, memory) = {fl['floor']:.2f} s (sum {fl['floor_sum']:.2f} s); "
          f"with linclf's blocked reads: max {fl['floor_blocked']:.2f} s (sum {fl['floor_blocked_sum']:.2f} s)")
    frows = []
    for name in times:
        if name.startswith("linclf") and "float32" in name:
            best = min(times[name])
            frows.append([name, f"{best:.2f}", f"{fl['floor'] / best:.0%}",
                          f"{fl['floor_sum'] / best:.0%}", f"{fl['floor_blocked'] / best:.0%}"])
    print(C.table(frows, ["variant", "best s", "floor/meas.", "sum-floor/meas.", "blocked-floor/meas."]))
    C.write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
