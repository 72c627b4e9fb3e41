"""Named initialisation schemes with an explicit draw order.

A scheme fills the parameters of a :class:`~linclf_cli.engine.model.Model` from one random
source (a ``numpy.random.Generator``, or a ``RandomState`` for a course's legacy stream):

* ``zeros``: every parameter 0 (no draws);
* ``normal``: weights ``std * standard_normal(shape)`` (drawn in float64, then cast);
* ``he``: weights ``sqrt(2 / fan_in) * standard_normal(shape)``.

Biases are ``zeros`` or ``normal`` (same std) by ``bias``.  ``order`` fixes the order of the
draws: ``layerwise`` (W1, b1, W2, b2, ...) or ``weights-first`` (W1, W2, ..., then b1, b2, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCHEMES = ("zeros", "normal", "he")
ORDERS = ("layerwise", "weights-first")


def _normal(rng, shape) -> np.ndarray:
    if isinstance(rng, np.random.RandomState):
        return rng.randn(*shape)
    return rng.standard_normal(shape)


@dataclass(frozen=True)
class Init:
    """An initialisation scheme; see the module docstring."""

    scheme: str = "normal"
    std: float = 0.01
    bias: str = "zeros"
    order: str = "layerwise"

    def __post_init__(self):
        if self.scheme not in SCHEMES:
            raise ValueError(f"init scheme must be one of {SCHEMES}, got {self.scheme!r}")
        if self.bias not in ("zeros", "normal"):
            raise ValueError(f"bias init must be 'zeros' or 'normal', got {self.bias!r}")
        if self.order not in ORDERS:
            raise ValueError(f"draw order must be one of {ORDERS}, got {self.order!r}")

    def _weight(self, rng, shape, dtype):
        if self.scheme == "zeros":
            return np.zeros(shape, dtype=dtype)
        std = self.std if self.scheme == "normal" else np.sqrt(2.0 / shape[0])
        return (std * _normal(rng, shape)).astype(dtype, copy=False)

    def _bias(self, rng, shape, dtype):
        if self.bias == "zeros" or self.scheme == "zeros":
            return np.zeros(shape, dtype=dtype)
        return (self.std * _normal(rng, shape)).astype(dtype, copy=False)

    def draw(self, shapes: dict, rng, dtype=np.float32) -> dict:
        """Parameters for ``shapes`` (name -> shape, names ``W1, b1, ...``) in the draw order."""
        names = list(shapes)
        if self.order == "weights-first":
            names = [k for k in names if k.startswith("W")] + [k for k in names if k.startswith("b")]
        out = {}
        for k in names:
            make = self._weight if k.startswith("W") else self._bias
            out[k] = make(rng, shapes[k], dtype)
        return {k: out[k] for k in shapes}  # layer order for the caller
