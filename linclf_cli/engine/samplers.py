"""Mini-batch samplers: each owns its random source and yields index batches per epoch.

* ``in-order``: batches 0..B-1, B..2B-1, ... every epoch (no draws);
* ``shuffle``: a fresh ``rng.permutation(n)`` at the start of every epoch;
* ``replacement``: each batch drawn with replacement, ``rng.choice(n, B)`` (a starter's
  ``np.random.choice(N, batch_size)``).

``drop_last`` drops the last incomplete batch (walking ``n // B`` batches per epoch).  With
replacement an epoch is ``max(n // B, 1)`` draws (B may exceed n).
In-order batches are slices (views, no copies); the others are index arrays.  ``rng`` may be
a ``numpy.random.Generator`` or a ``RandomState`` (a course's legacy stream).

Random streams (a recipe's ``rng`` setting, :func:`make_rng`):

* ``numpy``: linclf's own ``numpy.random.default_rng(seed)``;
* ``legacy``: an explicit ``numpy.random.RandomState(seed)`` -- the stream a starter's
  ``np.random.seed(seed)`` feeds to ``np.random.shuffle``, ``np.random.randn`` and
  ``np.random.choice`` -- never the global state.  ``RandomState.permutation(n)`` shuffles a
  fresh ``arange(n)`` with exactly the draws of ``np.random.shuffle(list(range(n)))``, which is
  what the TDT4265 starter's batch loader does at the start of every epoch (it builds
  ``indices = list(range(len(X)))`` anew on each call, so epoch 2's order is a shuffle of
  ``arange``, not of epoch 1's order: this order reproduces the published 2e stop epoch 16 and
  the 3b numbers to every printed digit, the in-place reshuffle of one array does not).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

KINDS = ("in-order", "shuffle", "replacement")
RNG_KINDS = ("numpy", "legacy")


def make_rng(kind: str, seed: int):
    """The random source of a recipe's ``rng`` setting: ``numpy`` -> ``default_rng(seed)``,
    ``legacy`` -> a private ``RandomState(seed)`` (the starters' ``np.random.seed(seed)``)."""
    if kind == "numpy":
        return np.random.default_rng(seed)
    if kind == "legacy":
        return np.random.RandomState(seed)
    raise ValueError(f"rng must be one of {RNG_KINDS}, got {kind!r}")


@dataclass
class Sampler:
    n: int
    batch_size: int
    kind: str = "in-order"
    drop_last: bool = True
    rng: Any = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"sampler must be one of {KINDS}, got {self.kind!r}")
        if not 1 <= self.batch_size <= (self.n if self.kind != "replacement" else max(self.batch_size, 1)):
            raise ValueError(f"batch size must lie in 1..{self.n}, got {self.batch_size}")
        if self.kind != "in-order" and self.rng is None:
            raise ValueError(f"the {self.kind!r} sampler needs an rng")

    @property
    def steps_per_epoch(self) -> int:
        if self.kind == "replacement":  # n // B draws make an epoch, at least one
            return max(self.n // self.batch_size, 1)
        full, rest = divmod(self.n, self.batch_size)
        return full if (self.drop_last or not rest) else full + 1

    def epoch(self):
        """The batches of one epoch, in order (index arrays or slices)."""
        B, n = self.batch_size, self.n
        if self.kind == "replacement":
            for _ in range(self.steps_per_epoch):
                yield self.rng.choice(n, B)
            return
        order = self.rng.permutation(n) if self.kind == "shuffle" else None
        for j in range(self.steps_per_epoch):
            lo, hi = j * B, min(n, (j + 1) * B)
            yield slice(lo, hi) if order is None else order[lo:hi]
