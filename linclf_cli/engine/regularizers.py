"""L2 regularisation with an explicit form, so ``l2`` means one thing per run.

``form``:

* ``half``: R = (lambda/2) sum theta^2, gradient lambda theta (the coefficient a
  starter adds to the gradient as c W);
* ``full``: R = lambda sum theta^2, gradient 2 lambda theta (the lambda of lambda sum W^2).

``over``:

* ``weights``: every layer's weight matrix, not the biases (in the ``column`` bias layout
  the last row of W, the bias row, is left out);
* ``all``: weights and biases (a whole bias-column matrix, bias row included).

``fused`` (the same penalty, other arithmetic): R summed by dot products in the parameters'
dtype (``c sum_l vdot(W_l, W_l)``) and the gradient fused into each layer's weight product
(``layers.affine_backward(decay=2c)``), which saves a W-sized temporary per layer and step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FORMS = ("half", "full")
OVER = ("weights", "all")


@dataclass(frozen=True)
class L2:
    """An L2 penalty ``strength`` (lambda) in ``form`` over ``over``."""

    strength: float = 0.0
    form: str = "full"
    over: str = "weights"
    fused: bool = False

    def __post_init__(self):
        if self.form not in FORMS:
            raise ValueError(f"l2 form must be one of {FORMS}, got {self.form!r}")
        if self.over not in OVER:
            raise ValueError(f"l2 over must be one of {OVER}, got {self.over!r}")
        if not (np.isfinite(self.strength) and self.strength >= 0):
            raise ValueError(f"l2 strength must be a number >= 0, got {self.strength}")

    @property
    def scale(self) -> float:
        """c in R = c sum theta^2: lambda/2 (half) or lambda (full)."""
        return 0.5 * self.strength if self.form == "half" else self.strength

    def parts(self, params: dict, column_bias: bool):
        """(name, view) of every regularised array."""
        for name, p in params.items():
            if name.startswith("W"):
                yield name, (p[:-1] if column_bias and self.over == "weights" else p)
            elif self.over == "all":
                yield name, p

    def penalty(self, params: dict, column_bias: bool = False) -> float:
        """R(theta), a float."""
        if not self.strength:
            return 0.0
        if self.fused:
            return self.scale * float(sum(np.vdot(v, v) for _, v in self.parts(params, column_bias)))
        return self.scale * sum(float(np.sum(np.square(v, dtype=np.float64)))
                                for _, v in self.parts(params, column_bias))

    def add_grad(self, params: dict, grads: dict, column_bias: bool = False) -> None:
        """grads += dR/dtheta (2 c theta), in place."""
        if not self.strength:
            return
        for name, v in self.parts(params, column_bias):
            if self.fused and name.startswith("W") and v is params[name]:
                continue  # added in the layer's backward (affine_backward(decay=))
            g = grads[name][:-1] if (column_bias and name.startswith("W")
                                     and self.over == "weights") else grads[name]
            g += (2.0 * self.scale) * v
