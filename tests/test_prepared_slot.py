"""One prepared split per process, across run kinds (linclf_cli/runs/prepared.py)."""

from __future__ import annotations

from linclf_cli.assignments.aml2020 import recipe as aml
from linclf_cli.assignments.dd2424 import recipe as dd2424
from linclf_cli.runs import prepared
from linclf_cli.runs.prepared import _SLOT, one_slot


def test_one_slot_keeps_only_the_last_value_across_functions():
    calls = []

    @one_slot
    def f(x):
        calls.append(("f", x))
        return [x]

    @one_slot
    def g(x):
        calls.append(("g", x))
        return [x]

    a = f(1)
    assert f(1) is a and calls == [("f", 1)]  # cached
    g(1)  # another function's value replaces f's
    assert len(_SLOT) == 1
    assert f(1) is not a and calls == [("f", 1), ("g", 1), ("f", 1)]
    f(2)
    assert len(_SLOT) == 1 and calls[-1] == ("f", 2)
    f.cache_clear()
    assert not _SLOT


def test_both_cifar_run_kinds_share_the_slot():
    assert getattr(dd2424._prepare, "__wrapped__", None) is not None
    assert getattr(aml._prepare, "__wrapped__", None) is not None
    assert dd2424._prepare.cache_clear == aml._prepare.cache_clear == prepared.clear
