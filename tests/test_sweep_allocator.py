"""A Dask nanny starts its workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which turns off
glibc's dynamic mmap threshold: every array over 128 KiB is then a fresh mapping whose pages
fault in again, and the AML point trained 30 % slower on a worker.  ``usual_allocator``
(around each point on a worker) lets such arrays reuse heap memory; these tests count the page
faults of a loop of 600 KiB temporaries, as a training step makes them, in a process started
with the nanny's variable."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from linclf_cli.sweeps import allocator

pytestmark = pytest.mark.skipif(allocator._libc() is None, reason="glibc's mallopt (Linux) only")

PROBE = r"""
import json, resource
import numpy as np
from linclf_cli.sweeps.allocator import usual_allocator

W = np.ones((3072, 50), np.float32)
def faults(n=200):
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(n):
        g = W * 0.5     # a fresh 600 KiB array, freed on the next line
        W.sum(); del g
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / n
faults(5)
plain = faults()
with usual_allocator() as changed:
    faults(5)
    inside = faults()
after = faults()
print(json.dumps({"plain": plain, "inside": inside, "after": after, "changed": changed}))
"""


def probe(env_extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.update(env_extra)
    r = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_under_the_nannys_setting_temporaries_stop_faulting_inside_and_fault_again_after():
    got = probe({"MALLOC_TRIM_THRESHOLD_": "65536"})
    assert got["changed"] is True
    assert got["plain"] > 100  # each 600 KiB temporary: ~150 fresh pages
    assert got["inside"] < 5  # reused heap memory
    assert got["after"] > 100  # the worker's own setting is back


def test_without_the_variable_nothing_is_changed():
    got = probe({})
    assert got["changed"] is False and got["plain"] < 5 and got["inside"] < 5
