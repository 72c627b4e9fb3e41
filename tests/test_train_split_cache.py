"""A sweep's points share one prepared split: ``train._prepare`` builds the arrays once per
process for the data files, recipe, classes and dtype, never once per training setting (it
was keyed by the whole config, so every point of a sweep rebuilt its 0.6 GB CIFAR-10 split:
2 s of each 5 s AML point)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from linclf_cli.assignments import train
from linclf_cli.assignments.registry import prepared_split
from linclf_cli.data.synthetic import write_synthetic_cifar10
from linclf_cli.runs import prepared
from linclf_cli.runs.context import RunContext


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_synthetic_cifar10(root, n_per_batch=200, seed=3)
    return root


@pytest.fixture
def builds(monkeypatch):
    prepared.clear()
    calls: list = []
    real = train._split
    monkeypatch.setattr(train, "_split", lambda cfg, ds: calls.append(cfg) or real(cfg, ds))
    yield calls
    prepared.clear()


def cfg(**kw):
    base = dict(data="cifar10", model="mlp", hidden=(8,), iterations=3, batch_size=20)
    return train.TrainConfig(**{**base, **kw}).resolved()


def test_points_differing_in_training_settings_build_the_split_once(tmp_path, synth, builds):
    ctx = RunContext(data_dir=synth)
    metrics = [train.run(cfg(learning_rate=lr, l2=l2, seed=s), tmp_path / f"p{i}", ctx)
               for i, (lr, l2, s) in enumerate([(1e-3, 0.0, 1), (5e-3, 0.1, 2), (1e-2, 0.5, 3)])]
    assert len(builds) == 1
    assert len({m["val_loss"] for m in metrics}) == 3  # three different trainings on it
    train.run(cfg(dtype="float64"), tmp_path / "p64", ctx)  # another split: built, the old one dropped
    train.run(cfg(), tmp_path / "p32", ctx)
    assert [c.dtype for c in builds] == ["float32", "float64", "float32"]


def test_the_cached_split_equals_a_fresh_one_and_is_read_only(synth, builds):
    a = train._prepare(cfg(learning_rate=1e-3), str(synth))
    prepared.clear()
    b = train._prepare(cfg(learning_rate=9e-3), str(synth))
    assert len(builds) == 2
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y) and not x.flags.writeable
    assert a.checksums == b.checksums and a.image == b.image == (32, 32, 3)


def test_the_scheduler_plans_one_tag_for_a_sweep_over_training_settings():
    def tag(**kw):
        need = prepared_split("train", {"data": "cifar10", "model": "mlp", **kw})
        return need and need.tag

    assert tag(learning_rate=1e-3, l2=0.1) == tag(learning_rate=2e-3, l2=0.5, seed=7, iterations=9)
    assert tag(dtype="float64") != tag() and tag(model="linear") != tag()  # dd2424's split
    assert prepared_split("train", {"data": "mnist"}) is None  # small: private
    need = prepared_split("train", {"data": "cifar10", "model": "mlp"})
    assert 0.6e9 < need.nbytes < 0.7e9  # 51 000 float32 rows of 3073
