"""Smoke tests of the benchmark scripts at tiny sizes (no timing assertions).

The starter-style baseline of TDT4265 task 3b doubles as an independent reference for
the TDT4265 recipe's trainer (``fit`` with the block-GEMM evaluator): with the same seed both visit the same batches, so their
curves and final metrics must agree.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import _common as C
from benchmarks import baseline_tdt4265 as baseline
from benchmarks import bench_dd2424, bench_mlp, bench_tdt4265


def _tiny_mnist(n_train=200, n_val=100, seed=0):
    """uint8 'images' (n, 784) with class structure and labels 0..9."""
    rng = np.random.default_rng(seed)
    protos = rng.integers(0, 256, size=(10, 784))
    out = []
    for n in (n_train, n_val):
        y = rng.integers(0, 10, size=n)
        X = np.clip(protos[y] + rng.normal(0, 60, size=(n, 784)), 0, 255).astype(np.uint8)
        out += [X, y]
    return out


@pytest.fixture(scope="module")
def tiny_runs():
    Xtr, ytr, Xva, yva = _tiny_mnist()
    kw = dict(epochs=2, batch_size=16, learning_rate=0.01, seed=0)
    base = bench_tdt4265.run_baseline(baseline.prepare(Xtr, ytr, Xva, yva), **kw)
    f64 = bench_tdt4265.run_linclf(bench_tdt4265.linclf_arrays(Xtr, ytr, Xva, yva, np.float64), **kw)
    f32 = bench_tdt4265.run_linclf(bench_tdt4265.linclf_arrays(Xtr, ytr, Xva, yva, np.float32), **kw)
    return base, f64, f32


def test_baseline_agrees_with_linclf_trainer(tiny_runs):
    base, f64, f32 = tiny_runs
    assert base["out"]["steps"] == f64["result"].steps == 2 * (200 // 16)
    assert bench_tdt4265.compare_metrics(f64["metrics"], base["metrics"])["max"] < 1e-10
    assert bench_tdt4265.compare_metrics(f32["metrics"], base["metrics"])["max"] < 1e-4
    h = bench_tdt4265.compare_histories(f64["result"], base["out"])
    assert h["same_checks"]
    assert max(h["val_loss"], h["val_accuracy"], h["train_accuracy"], h["step_loss"]) < 1e-10
    # the run really learned something (the reference is not trivially equal at zero)
    assert base["metrics"]["val_accuracy"] > 0.5


def test_baseline_pieces():
    X = baseline.pre_process_images(np.array([[0] * 784, [255] * 784], dtype=np.uint8))
    assert X.shape == (2, 785) and X.min() == -1 and X.max() == 1 and (X[:, -1] == 1).all()
    Y = baseline.one_hot_encode(np.array([3, 0]), 10)
    assert Y[0, 3] == 1 and Y.sum() == 2
    m = baseline.SoftmaxModel()
    assert np.allclose(m.forward(X), 0.1)
    rng = np.random.default_rng(0)
    batches = list(baseline.batch_loader(np.arange(10)[:, None], np.arange(10), 3, rng, shuffle=True))
    assert len(batches) == 3  # 10 // 3, last incomplete batch dropped
    assert list(np.concatenate([b[1] for b in batches])) == list(np.random.default_rng(0).permutation(10)[:9])


def test_floor_analysis_counts():
    fl = bench_tdt4265.floor_analysis(gemm_rate=1e11, bandwidth=1e10)
    assert (fl["steps"], fl["val_every"], fl["checks"]) == (7800, 31, 252)
    assert fl["flops_steps"] == 7800 * 4 * 128 * 785 * 10
    assert fl["flops_checks"] == 252 * 2 * 30000 * 785 * 10
    assert fl["bytes"] == 50 * 20000 * 785 * 4 + 252 * 30000 * 785 * 4
    assert fl["floor"] == max(fl["t_compute"], fl["t_memory"])
    assert fl["floor_sum"] == pytest.approx(fl["t_compute"] + fl["t_memory"])


def test_common_helpers(monkeypatch, tmp_path):
    assert C.gemm_rate(64, repeat=1) > 0 and C.gemm_rate(64, repeat=1, threads=1) > 0
    bw = C.memory_bandwidth(2 ** 20, repeat=1)
    assert bw["read"] > 0 and bw["copy"] > 0
    assert "threadpool" in C.format_blas_info(C.blas_info())
    t = C.table([["a", "1.0"], ["bbb", "22.0"]], ["name", "x"])
    assert t.splitlines()[0].startswith("name") and len(t.splitlines()) == 4
    (X, y), (Xv, yv) = C.synthetic_classes(300, 50, 10, n_extra=(40,))
    assert X.dtype == np.float32 and X.shape == (300, 50) and Xv.shape == (40, 50)
    assert np.allclose(X.mean(0), 0, atol=1e-4) and np.allclose(X.std(0), 1, atol=1e-3)
    assert C.max_rss() > 0
    monkeypatch.delenv("LINCLF_DATA_DIR", raising=False)
    with pytest.raises(SystemExit, match="--data-dir"):
        C.resolve_mnist_dir(None)
    with pytest.raises(SystemExit, match="does not hold MNIST"):
        C.resolve_mnist_dir(str(tmp_path))


def test_dd2424_run_once_tiny():
    data = bench_dd2424.make_data(n_train=200, n_val=100)
    out = bench_dd2424.run_once(data, epochs=2, flip=True, trace=True)
    assert out["steps"] == 2 * 2 and out["seconds"] > 0
    # ru_maxrss (kB) and /proc RSS are sampled differently: allow a few pages of slack
    assert out["tracemalloc_peak"] > 0 and out["ru_maxrss"] >= 0.95 * out["rss_after_data"] > 0


def test_mlp_epoch_tiny():
    data = bench_mlp.make_data(N=400, N_val=50, D=64)
    out = bench_mlp.run_epoch(data, H=16, B=20, threads=1)
    assert out["iters"] == 20 and np.isfinite(out["final_loss"])
    fl = bench_mlp.epoch_flops()
    assert fl["iters"] == 245
    assert fl["forward"] == 2 * 200 * (3072 * 500 + 500 * 10)
    assert fl["needed"] < fl["rule_of_thumb"]
