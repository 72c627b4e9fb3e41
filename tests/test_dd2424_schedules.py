"""Learning-rate schedules."""

from __future__ import annotations

import pytest

from linclf_cli.engine.schedules import ConstantLR, PlateauDecay, StepDecay, make_schedule
from linclf_cli.errors import UsageError


def test_constant():
    s = ConstantLR(0.01)
    assert [s.lr(e) for e in range(1, 5)] == [0.01] * 4
    assert s.step(1.0) == 0.01


def test_step_decay():
    s = StepDecay(0.1, factor=0.1, every=3)
    rates = [s.lr(e) for e in range(1, 10)]
    assert rates == pytest.approx([0.1] * 3 + [0.01] * 3 + [0.001] * 3)
    assert s.lr(0) == 0.1


def test_plateau_decay():
    s = PlateauDecay(1.0, factor=0.5, patience=2, min_delta=0.01)
    assert s.step(1.0) == 1.0  # improvement (from inf)
    assert s.step(0.995) == 1.0  # not enough improvement: bad 1
    assert s.step(0.999) == 0.5  # bad 2 -> decay
    assert s.lr(99) == 0.5
    assert s.step(0.5) == 0.5  # improvement
    assert s.step(0.6) == 0.5
    assert s.step(float("nan")) == 0.25
    assert s.n_decays == 2
    s.reset()
    assert s.lr(1) == 1.0 and s.n_decays == 0


def test_plateau_min_lr_and_determinism():
    def run():
        s = PlateauDecay(1.0, factor=0.1, patience=1, min_lr=0.005)
        return [s.step(v) for v in [3, 2, 2, 2, 2, 1]]

    assert run() == run()
    assert run() == pytest.approx([1.0, 1.0, 0.1, 0.01, 0.005, 0.005])


def test_validation_and_factory():
    for bad in (lambda: ConstantLR(0), lambda: StepDecay(0.1, every=0),
                lambda: StepDecay(0.1, factor=2), lambda: PlateauDecay(0.1, patience=0),
                lambda: make_schedule("cosine", 0.1), lambda: make_schedule("step", 0.1, foo=1)):
        with pytest.raises(UsageError):
            bad()
    assert isinstance(make_schedule("step", 0.1, every=5), StepDecay)
    assert isinstance(make_schedule("plateau", 0.1), PlateauDecay)
    assert isinstance(make_schedule("constant", 0.1), ConstantLR)
