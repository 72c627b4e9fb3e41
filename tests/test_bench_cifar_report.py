"""benchmarks/bench_cifar_report.py: work counts and the analysis of a results directory."""

from __future__ import annotations

import json

import pytest
import yaml

from benchmarks import bench_cifar_report as B


def _run(d, cfg, metrics, seconds):
    d.mkdir(parents=True)
    (d / "config.yaml").write_text(yaml.safe_dump(cfg))
    (d / "metrics.json").write_text(json.dumps(metrics))
    (d / "run.json").write_text(json.dumps({"seconds": seconds}))


def test_dd2424_work_counts():
    cfg = {"n_epochs": 40, "n_batch": 100}
    flops, nbytes = B.dd2424_work(cfg, {"n_train": 49000, "n_val": 1000, "n_test": 10000})
    steps = 40 * 490
    assert flops == pytest.approx(4 * steps * 100 * 3072 * 10 + 2 * 41 * 50000 * 3072 * 10
                                  + 2 * 10000 * 3072 * 10)
    assert nbytes == pytest.approx(4 * 3072 * (40 * 49000 + 2 * 49000 + 41 * 1000 + 10000))


def test_aml_work_counts_sgd_and_adam():
    sgd = {"optimizer": "sgd", "hidden": [50], "batch_size": 200, "num_iters": 1000,
           "epochs": 10, "n_train": 49000, "n_val": 1000}
    flops, nbytes = B.aml_work(sgd, {})
    pairs = 3072 * 50 + 50 * 10
    assert flops == pytest.approx(1000 * 200 * (6 * pairs - 2 * 3072 * 50) + 4 * 2 * 1200 * pairs)
    assert nbytes == pytest.approx(1000 * (4 * 200 * 3072 + 12 * pairs))
    adam = dict(sgd, optimizer="adam", epochs=2)
    f2, _ = B.aml_work(adam, {})
    assert f2 == pytest.approx(2 * 245 * 200 * (6 * pairs - 2 * 3072 * 50) + 2 * 2 * 1200 * pairs)


def test_analyse_groups_runs_by_task(tmp_path):
    r = tmp_path / "results"
    _run(r / "dd2424-a1" / "run2", {"kind": "dd2424", "n_epochs": 2, "n_batch": 100},
         {"n_train": 10000, "n_val": 10000, "n_test": 10000}, {"data": 1, "train": 4.0, "total": 5})
    _run(r / "dd2424-a1" / "bonus" / "p1", {"kind": "dd2424", "n_epochs": 1, "n_batch": 100},
         {"n_train": 49000, "n_val": 1000}, {"train": 2.0, "total": 3})
    _run(r / "tdt4265-a1" / "2d", {"kind": "tdt4265"}, {}, {"train": 0.5, "total": 1.0})
    rates = {"gemm_f32_1thread": 1e11, "bandwidth": {"read": 1e10}}
    out = B.analyse(r, rates, jobs=2)
    assert {x["run"] for x in out["runs"]} == {"dd2424-a1/run2", "dd2424-a1/bonus/p1",
                                                "tdt4265-a1/2d"}
    t = out["tasks"]
    assert set(t) == {"dd2424-a1/run2", "dd2424-a1/bonus", "tdt4265-a1/2d"}
    run2 = next(x for x in out["runs"] if x["run"] == "dd2424-a1/run2")
    fl, nb = B.dd2424_work({"n_epochs": 2, "n_batch": 100},
                           {"n_train": 10000, "n_val": 10000, "n_test": 10000})
    assert run2["floor_s"] == pytest.approx(max(fl / 1e11, nb / 1e10))
    assert run2["ratio"] == pytest.approx(4.0 / run2["floor_s"])
    assert sum(v["share"] for v in t.values()) == pytest.approx(1.0)
    assert "floor_s" not in next(x for x in out["runs"] if x["kind"] == "tdt4265")
    floors = sum(x.get("floor_s", x["total_s"]) for x in out["runs"])
    assert out["floor_whole_s"] == pytest.approx(floors / 2)


def test_memory_sampler_counts_each_shared_split_once_with_its_tag(tmp_path):
    import os

    import numpy as np

    folder = tmp_path / f"linclf-shared-{os.getpid()}-abc"
    split = folder / "0123456789abcdef"
    split.mkdir(parents=True)
    np.save(split / "X.npy", np.ones((256, 1024), dtype=np.float32))  # 1 MiB
    (split / ".tag-00").write_text("dd2424:bonus:1000:float32\n")
    (folder / "other.lock").write_text("")
    s = B.MemorySampler(os.getpid(), shm_base=tmp_path)
    got = s.sample()
    assert got["splits"] == ["dd2424:bonus:1000:float32"]
    assert (1 << 20) <= got["shm"] < (1 << 20) + (64 << 10)  # the file, whole
    assert got["total"] == got["private"] + got["shm"] and got["private"] > 0
    assert str(os.getpid()) in got["procs"]
    assert s.splits["0123456789abcdef"]["label"] == "dd2424:bonus:1000:float32"
