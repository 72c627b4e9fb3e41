"""Time the whole report cold on real data, each CIFAR task's share, and each run against its floor.

    python benchmarks/bench_cifar_report.py [--data-dir DIR] [-j 2] [names ...]
    python benchmarks/bench_cifar_report.py --from-results DIR   # analyse a finished run
    python benchmarks/bench_cifar_report.py -j 2 dd2424-a1/bonus1-ablation aml-a2/q3b aml-a2/q4b
        # only the heavy CIFAR tasks: where the memory peak comes from

1. Measures the machine: single-core float32 GEMM rate (2048^3 ``np.matmul``, best of 3,
   BLAS pinned to one thread as linclf runs) and read bandwidth (``np.sum`` of 512 MiB).
2. Runs ``linclf report --results-dir TMP -j N [names]`` as a process on an empty results
   directory (cold), sampling every 0.2 s the memory of the parent and all its workers:
   the peak of their own PSS (shared pages such as the memory-mapped CIFAR-10 files counted
   once; /dev/shm mappings left out) plus every /dev/shm file they map or have published
   (the prepared splits, whole and once, touched or not), the process breakdown at that
   peak, when each prepared split was live and which tasks used it; also the sums of RSS
   and PSS and ``RUSAGE_CHILDREN`` maxrss (the largest single process).
3. Reads every run's ``config.yaml`` and ``run.json`` (``seconds``) and, for each CIFAR run,
   the work it must do:

   * DD2424 (``kind: dd2424``, n training rows, m validation rows, d = 3072, K = 10, E epochs,
     batch B, s = E * (n // B) steps): FLOPs = 4 s B d K (forward and backward GEMMs)
     + 2 (E + 1)(n + m) d K (the full-set evaluations of train and val after every epoch and
     before training) + 2 n_test d K; bytes = E n d 4 (streaming X once an epoch: the
     training-set evaluation rides on that pass) + 2 n d 4 (the evaluations before training
     and after the last epoch) + (E + 1) m d 4 + n_test d 4;
   * AML (``kind: aml``, layer sizes d_0 = 3072, h_1, ..., K; iterations T = num_iters for
     SGD, epochs * (n // B) for Adam): FLOPs = T B (6 sum_l d_l d_{l+1} - 2 d_0 d_1)
     (forward, weight gradients and input gradients but the first layer's), plus a forward
     pass over the validation set and one batch once an epoch (as the trainers do); bytes = T (B d_0 4 + 3 * 4 sum_l d_l d_{l+1});

   floor = max(FLOPs / GEMM rate, bytes / read bandwidth), and the ratio measured train
   seconds / floor.  Other runs (TDT4265 on MNIST, gradient checks) count with their
   measured time.  The whole report's floor is (sum of floors + other runs' seconds) / N
   workers; target: wall <= 1.3 x that floor, peak memory < 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import yaml

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _common as C  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
D, K, N_TEST_DD = 3072, 10, 10000
GB = 1e9


# ----------------------------------------------------------------------------- floors


def _field(cfg: dict, name: str, old: str):
    """A config.yaml value in the one vocabulary (``name``), or its course spelling ``old`` in
    results written before linclf's runs format 3."""
    return cfg[name] if name in cfg else cfg[old]


def dd2424_work(cfg: dict, metrics: dict) -> tuple[float, float]:
    """(FLOPs, bytes) a DD2424 run must do; sizes from metrics.json."""
    n, m = int(metrics["n_train"]), int(metrics["n_val"])
    n_test = int(metrics.get("n_test", N_TEST_DD))
    E, B = int(_field(cfg, "epochs", "n_epochs")), int(_field(cfg, "batch_size", "n_batch"))
    steps = E * (n // B)
    flops = 4.0 * steps * B * D * K + 2.0 * (E + 1) * (n + m) * D * K + 2.0 * n_test * D * K
    nbytes = 4.0 * D * (E * n + 2 * n + (E + 1) * m + n_test)
    return flops, nbytes


def aml_work(cfg: dict, metrics: dict) -> tuple[float, float]:
    """(FLOPs, bytes) an AML run must do."""
    dims = [D, *[int(h) for h in cfg["hidden"]], K]
    pairs = sum(a * b for a, b in zip(dims[:-1], dims[1:]))
    B = int(cfg["batch_size"])
    n, m = int(cfg["n_train"]), int(cfg["n_val"])
    per_epoch = max(1, n // B)
    if cfg["optimizer"] == "sgd":
        T = int(_field(cfg, "iterations", "num_iters"))
        epochs = max(1, T // per_epoch)
    else:
        epochs = int(cfg["epochs"])
        T = epochs * per_epoch
    # per epoch the trainer scores the validation set (and SGD the current batch again)
    flops = T * B * (6.0 * pairs - 2.0 * dims[0] * dims[1]) + epochs * 2.0 * (B + m) * pairs
    nbytes = T * (4.0 * B * dims[0] + 3 * 4.0 * pairs)
    return flops, nbytes


def _split_tag(kind: str, cfg: dict) -> str | None:
    """The tag of the shared prepared split a run maps (as the scheduler names it), if any."""
    try:
        from linclf_cli.assignments.registry import prepared_split
    except ImportError:  # an older linclf
        return None
    params = {k: v for k, v in cfg.items() if k != "kind"}
    need = prepared_split(kind, params)
    return need.tag if need is not None else None


def analyse(results: Path, rates: dict, jobs: int) -> dict:
    """Per run and per task: seconds, FLOPs, bytes, floor and ratio."""
    gemm, bw = rates["gemm_f32_1thread"], rates["bandwidth"]["read"]
    runs = []
    for rj in sorted(results.rglob("run.json")):
        d = rj.parent
        try:
            rec = json.loads(rj.read_text())
            cfg = yaml.safe_load((d / "config.yaml").read_text()) or {}
            metrics = json.loads((d / "metrics.json").read_text())
        except (OSError, ValueError, yaml.YAMLError):
            continue
        sec = rec.get("seconds") or {}
        kind = cfg.get("kind", "?")
        train = float(sec.get("train", sec.get("total", 0.0)) or 0.0)
        total = float(sec.get("total", train) or 0.0)
        row = {"run": str(d.relative_to(results)), "kind": kind, "train_s": train,
               "total_s": total, "data_s": float(sec.get("data", 0.0) or 0.0)}
        work = {"dd2424": dd2424_work, "aml": aml_work}.get(kind)
        if work is not None:
            try:
                flops, nbytes = work(cfg, metrics)
            except (KeyError, TypeError, ValueError):
                work = None
            else:
                floor = max(flops / gemm, nbytes / bw)
                row.update(flops=flops, bytes=nbytes, floor_s=floor,
                           ratio=train / floor if floor else float("nan"))
        row["split"] = _split_tag(kind, cfg)
        runs.append(row)
    tasks: dict[str, dict] = defaultdict(lambda: defaultdict(float))
    for r in runs:
        parts = r["run"].split("/")
        task = "/".join(parts[:2]) if len(parts) >= 2 else parts[0]
        t = tasks[task]
        t["runs"] += 1
        for key in ("train_s", "total_s", "data_s", "flops", "bytes", "floor_s"):
            t[key] += r.get(key, 0.0)
        t["kind"] = r["kind"]
    all_total = sum(t["total_s"] for t in tasks.values()) or 1.0
    for t in tasks.values():
        t["share"] = t["total_s"] / all_total
        if t["floor_s"]:
            t["ratio"] = t["train_s"] / t["floor_s"]
    floor_sum = sum(r.get("floor_s", r["total_s"]) for r in runs)
    return {"runs": runs, "tasks": {k: dict(v) for k, v in tasks.items()},
            "floor_whole_s": floor_sum / max(1, jobs), "sum_total_s": all_total}


# ----------------------------------------------------------------------------- memory


def _tree(root: int) -> list[int]:
    children = defaultdict(list)
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children[ppid].append(int(p.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def _mem(pid: int) -> tuple[int, int, int]:
    """(RSS, PSS, PSS of shared-memory mappings) of one process in bytes (zeros when gone)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0, 0, 0
    vals = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("Rss:", "Pss:", "Pss_Shmem:"):
            vals[parts[0]] = int(parts[1]) * 1024
    return vals.get("Rss:", 0), vals.get("Pss:", 0), vals.get("Pss_Shmem:", 0)


def _shm_mappings(pid: int) -> dict[str, int]:
    """``{inode: bytes}`` of the /dev/shm files ``pid`` maps (deleted ones too): what each
    file has allocated (a file being written counts what is written so far), else, when that
    cannot be read, the length of its mappings."""
    out: dict[str, int] = {}
    try:
        lines = Path(f"/proc/{pid}/maps").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        parts = line.split(None, 5)
        if len(parts) == 6 and parts[5].startswith("/dev/shm/"):
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            try:
                n = os.stat(f"/proc/{pid}/map_files/{parts[0]}").st_blocks * 512
            except OSError:
                n = out.get(parts[4], 0) + hi - lo
            out[parts[4]] = max(out.get(parts[4], 0), n)
    return out


def _shm_folders(root: int, base: Path = Path("/dev/shm")) -> list[Path]:
    try:
        return [p for p in base.glob(f"linclf-shared-{root}-*") if p.is_dir()]
    except OSError:
        return []


def _split_files(folders: list[Path]) -> tuple[dict[str, int], dict[str, str]]:
    """``({inode: bytes}, {split dir: label})`` of the published splits in ``folders``."""
    sizes: dict[str, int] = {}
    labels: dict[str, str] = {}
    for f in folders:
        try:
            entries = list(f.iterdir())
        except OSError:
            continue
        for d in entries:
            if not d.is_dir() or d.name.startswith("."):
                continue
            label = d.name[:12]
            try:
                files = list(d.iterdir())
            except OSError:
                continue
            for x in files:
                try:
                    st = x.stat()
                except OSError:
                    continue
                sizes[str(st.st_ino)] = st.st_blocks * 512
                if x.name.startswith(".tag-"):
                    try:
                        label = x.read_text().strip() or label
                    except OSError:
                        pass
            labels[d.name] = label
    return sizes, labels


class MemorySampler(threading.Thread):
    """Memory of a process tree, sampled every ``period`` s.

    ``total`` = sum over the processes of (PSS - PSS of /dev/shm mappings) + every /dev/shm
    file the tree maps or has published (by inode, whole size, counted once, touched or
    not): what the report holds, with the shared splits counted once.  Also the timeline of
    samples and when each shared split was live (first and last time seen).
    """

    def __init__(self, pid: int, period: float = 0.2, shm_base: Path = Path("/dev/shm")):
        super().__init__(daemon=True)
        self.pid, self.period, self.shm_base = pid, period, shm_base
        self.peak_rss = self.peak_pss = self.peak_total = 0
        self.peak_procs = 0
        self.peak_sample: dict = {}
        self.timeline: list[dict] = []
        self.splits: dict[str, dict] = {}  # split dir -> {label, first, last, bytes}
        self._t0 = time.perf_counter()
        self._halt = threading.Event()

    def sample(self) -> dict:
        t = time.perf_counter() - self._t0
        pids = _tree(self.pid)
        mems = {p: _mem(p) for p in pids}
        shm: dict[str, int] = {}
        for p in pids:
            for ino, n in _shm_mappings(p).items():
                shm[ino] = max(shm.get(ino, 0), n)
        files, labels = _split_files(_shm_folders(self.pid, self.shm_base))
        for ino, n in files.items():
            shm[ino] = max(shm.get(ino, 0), n)
        for d, label in labels.items():
            rec = self.splits.setdefault(d, {"label": label, "first_s": t, "last_s": t})
            rec["label"], rec["last_s"] = label, t
        private = sum(m[1] - m[2] for m in mems.values())
        s = {"t": round(t, 2), "procs": {str(p): m[1] for p, m in mems.items() if m[0]},
             "rss": sum(m[0] for m in mems.values()), "pss": sum(m[1] for m in mems.values()),
             "private": private, "shm": sum(shm.values()), "total": private + sum(shm.values()),
             "splits": sorted(labels.values())}
        return s

    def run(self) -> None:
        while not self._halt.is_set():
            s = self.sample()
            self.timeline.append(s)
            self.peak_rss = max(self.peak_rss, s["rss"])
            self.peak_pss = max(self.peak_pss, s["pss"])
            self.peak_procs = max(self.peak_procs, len(s["procs"]))
            if s["total"] > self.peak_total:
                self.peak_total, self.peak_sample = s["total"], s
            self._halt.wait(self.period)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def run_report(results: Path, jobs: int, names: list[str], data_dir: str,
               root: Path = ROOT) -> dict:
    cmd = [sys.executable, "-m", "linclf_cli", "report", *names, "--results-dir", str(results),
           "-j", str(jobs), "--quiet"]
    env = {**os.environ, "LINCLF_DATA_DIR": data_dir}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    sampler = MemorySampler(proc.pid)
    sampler.start()
    _, err = proc.communicate()
    wall = time.perf_counter() - t0
    sampler.stop()
    if proc.returncode not in (0, 1):  # 1: an expectation failed; the timing still counts
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-3000:]}")
    child_max = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return {"wall_s": wall, "returncode": proc.returncode, "peak_rss_sum": sampler.peak_rss,
            "peak_pss_sum": sampler.peak_pss, "peak_total": sampler.peak_total,
            "peak_sample": sampler.peak_sample, "max_single_rss": child_max,
            "max_processes": sampler.peak_procs, "splits_live": sampler.splits,
            "timeline": sampler.timeline, "command": cmd}


# ----------------------------------------------------------------------------- output


def print_summary(rates: dict, ana: dict, run: dict | None, jobs: int) -> None:
    gemm, bw = rates["gemm_f32_1thread"], rates["bandwidth"]["read"]
    print(f"machine: {os.cpu_count()} cores; float32 GEMM (1 thread) {gemm / 1e9:.1f} GFLOP/s; "
          f"read bandwidth {bw / GB:.1f} GB/s")
    rows = []
    for name, t in sorted(ana["tasks"].items(), key=lambda kv: -kv[1]["total_s"]):
        rows.append([name, t["kind"], int(t["runs"]), f"{t['total_s']:.1f}",
                     f"{t['data_s']:.1f}", f"{t['train_s']:.1f}",
                     f"{100 * t['share']:.1f} %",
                     f"{t['flops'] / 1e9:.0f}" if t.get("flops") else "-",
                     f"{t['bytes'] / GB:.1f}" if t.get("bytes") else "-",
                     f"{t['floor_s']:.1f}" if t.get("floor_s") else "-",
                     f"{t['ratio']:.2f}x" if t.get("ratio") else "-"])
    print(C.table(rows, ["task", "kind", "runs", "run s (total)", "data s", "train s", "share",
                         "GFLOP", "GB moved", "floor s", "train / floor"]))
    kinds = defaultdict(lambda: [0.0, 0.0])
    for r in ana["runs"]:
        if "floor_s" in r:
            kinds[r["kind"]][0] += r["train_s"]
            kinds[r["kind"]][1] += r["floor_s"]
    for k, (tr, fl) in sorted(kinds.items()):
        print(f"  {k}: train {tr:.1f} s against a floor of {fl:.1f} s: {tr / fl:.2f}x")
    fw = ana["floor_whole_s"]
    print(f"sum of run seconds {ana['sum_total_s']:.1f} s; whole-report floor "
          f"(floors + other runs) / {jobs} workers = {fw:.1f} s")
    if run is not None:
        ratio = run["wall_s"] / fw if fw else float("nan")
        print(f"whole report cold: {run['wall_s']:.1f} s wall = {ratio:.2f}x the floor "
              f"(target <= 1.3x: {'OK' if ratio <= 1.3 else 'MISSED'})")
        peak = run.get("peak_total") or run["peak_pss_sum"] or run["peak_rss_sum"]
        print(f"peak memory, parent + workers + shared splits: {peak / GB:.2f} GB "
              f"(target < 1.5 GB: {'OK' if peak < 1.5 * GB else 'MISSED'}); RSS sum "
              f"{run['peak_rss_sum'] / GB:.2f} GB, PSS sum {run['peak_pss_sum'] / GB:.2f} GB, "
              f"largest single process {run['max_single_rss'] / GB:.2f} GB")
        ps = run.get("peak_sample") or {}
        if ps:
            print(f"  at the peak (t = {ps['t']:.1f} s): processes' own {ps['private'] / GB:.2f} GB "
                  f"(PSS by pid: {', '.join(f'{p} {v / GB:.2f}' for p, v in ps['procs'].items())}), "
                  f"/dev/shm {ps['shm'] / GB:.2f} GB; splits published: "
                  f"{', '.join(ps['splits']) or 'none'}")
        users = defaultdict(set)
        for r in ana["runs"]:
            if r.get("split"):
                users[r["split"]].add("/".join(r["run"].split("/")[:2]))
        for d, rec in sorted((run.get("splits_live") or {}).items(), key=lambda kv: kv[1]["first_s"]):
            tasks = ", ".join(sorted(users.get(rec["label"], ()))) or "?"
            print(f"  split {rec['label']}: live {rec['first_s']:.1f} s .. {rec['last_s']:.1f} s "
                  f"({rec['last_s'] - rec['first_s']:.1f} s), tasks {tasks}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="assignments or tasks (default: the whole report)")
    ap.add_argument("--data-dir", default=os.environ.get("LINCLF_DATA_DIR"))
    ap.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--keep", help="results directory to use (must be empty or absent); "
                                   "default: a temporary one, removed afterwards")
    ap.add_argument("--from-results", help="analyse this finished results directory; run nothing")
    ap.add_argument("--json", help="write all numbers to this JSON file")
    ap.add_argument("--root", default=str(ROOT),
                    help="run `python -m linclf_cli` from this source tree (default: this "
                         "checkout), e.g. a worktree of an older commit for a before/after")
    args = ap.parse_args(argv)
    with C.blas_threads(1):
        rates = {"gemm_f32_1thread": C.gemm_rate(2048, 3), "bandwidth": C.memory_bandwidth()}
    run = None
    if args.from_results:
        results = Path(args.from_results)
        ana = analyse(results, rates, args.jobs)
    else:
        if not args.data_dir:
            sys.exit("Give --data-dir or set LINCLF_DATA_DIR (a folder holding mnist/ and "
                     "cifar-10-batches-bin/ or cifar-10-batches-py/).")
        with tempfile.TemporaryDirectory() as tmp:
            results = Path(args.keep) if args.keep else Path(tmp) / "results"
            if results.exists() and any(results.iterdir()):
                sys.exit(f"{results} is not empty; a cold run needs an empty results directory.")
            run = run_report(results, args.jobs, args.names, args.data_dir, Path(args.root))
            ana = analyse(results, rates, args.jobs)
    print_summary(rates, ana, run, args.jobs)
    C.write_json(args.json, {"rates": rates, "report": run, **ana})
    return 0


if __name__ == "__main__":
    sys.exit(main())
