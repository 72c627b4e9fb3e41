"""One model: affine layers with ReLU between them, an output head and an L2 penalty.

``sizes = [d, h_1, ..., h_{L-1}, K]``: no hidden layer (``[d, K]``) is a linear classifier.
Parameters are a dict ``{"W1", "b1", ..., "WL", "bL"}`` (no ``b`` in the column layout);
``W_l`` has shape (fan_in, fan_out).  The objective and its gradient::

    a_0 = X,   z_l = a_{l-1} W_l + b_l,   a_l = ReLU(z_l)  (l < L),   S = z_L
    J = head_loss(S, Y) + R(theta)                                  (heads.py, regularizers.py)

In the ``column`` bias layout the input X already carries its constant-1 last column (d counts
it) and each hidden activation gets one appended, so W_l (l > 1) has ``h_{l-1} + 1`` rows.
:meth:`Model.loss` returns the loss, the cost (loss + R) and every gradient, cs231n style.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import heads
from .init import Init
from .layers import affine_backward, affine_forward, append_ones, relu_backward, relu_forward
from .regularizers import L2

LAYOUTS = ("vector", "column")


@dataclass(frozen=True)
class Model:
    """Layer sizes, head, bias layout and L2 penalty (no parameters: those are a dict)."""

    sizes: tuple
    head: str = "softmax"
    bias: str = "vector"
    l2: L2 = field(default_factory=L2)
    numerics: str = "shared-exp"  # the head's arithmetic (heads.FORMS)

    def __post_init__(self):
        object.__setattr__(self, "sizes", tuple(int(s) for s in self.sizes))
        if len(self.sizes) < 2 or min(self.sizes) < 1:
            raise ValueError(f"sizes must be >= 2 positive integers, got {self.sizes}")
        if self.head not in heads.HEADS:
            raise ValueError(f"head must be one of {heads.HEADS}, got {self.head!r}")
        if self.numerics not in heads.FORMS:
            raise ValueError(f"numerics must be one of {heads.FORMS}, got {self.numerics!r}")
        if self.bias not in LAYOUTS:
            raise ValueError(f"bias layout must be one of {LAYOUTS}, got {self.bias!r}")

    @property
    def depth(self) -> int:
        """Number of affine layers L (hidden layers + 1)."""
        return len(self.sizes) - 1

    @property
    def column(self) -> bool:
        return self.bias == "column"

    def shapes(self) -> dict:
        """name -> shape of every parameter, in layer order."""
        out = {}
        for l in range(1, self.depth + 1):
            fan_in = self.sizes[l - 1] + (1 if self.column and l > 1 else 0)
            out[f"W{l}"] = (fan_in, self.sizes[l])
            if not self.column:
                out[f"b{l}"] = (self.sizes[l],)
        return out

    def init(self, rng, scheme: Init = Init(), dtype=np.float32) -> dict:
        """Fresh parameters drawn by ``scheme`` from ``rng``."""
        return scheme.draw(self.shapes(), rng, dtype)

    def _forward(self, params: dict, X: np.ndarray):
        a, caches = X, []
        for l in range(1, self.depth + 1):
            if self.column and l > 1:
                a = append_ones(a)
            z, c = affine_forward(a, params[f"W{l}"], params.get(f"b{l}"))
            if l < self.depth:
                a, rc = relu_forward(z)
                caches.append((c, rc))
            else:
                caches.append((c, None))
                a = z
        return a, caches

    def scores(self, params: dict, X: np.ndarray) -> np.ndarray:
        """Scores S of shape (n, K)."""
        return self._forward(params, X)[0]

    def predict(self, params: dict, X: np.ndarray) -> np.ndarray:
        return heads.predict(self.scores(params, X))

    def _fused_decay(self, params: dict, name: str):
        """2c when the L2 gradient of ``name`` is fused into its layer's backward, else None."""
        l2 = self.l2
        if not (l2.fused and l2.strength) or (self.column and l2.over == "weights"):
            return None
        return 2.0 * l2.scale

    def loss(self, params: dict, X: np.ndarray, Y: np.ndarray, out: dict | None = None,
             with_pred: bool = False, scores: np.ndarray | None = None):
        """(loss, cost, grads) on the batch (X (n, d), targets Y (n, K) or labels (n,)).

        ``out``: a previous step's grads whose arrays are overwritten (training loops pass
        them back every step: no large allocations); ``with_pred`` appends the predictions
        of this forward pass (before any update); ``scores``: the scores ``X W + b`` of a
        linear model already computed (an evaluator's joint product)."""
        if scores is not None and self.depth == 1 and not self.column:
            S, caches = scores, [((X, params["W1"], True), None)]
        else:
            S, caches = self._forward(params, X)
        pred = heads.predict(S) if with_pred else None
        loss, G = heads.loss_and_dscores(self.head, S, Y, self.numerics)
        grads = {}
        out = out or {}
        for l in range(self.depth, 0, -1):
            c, rc = caches[l - 1]
            if rc is not None:
                G = relu_backward(G, rc)
            dW, db, da = affine_backward(G, c, need_input_grad=l > 1,
                                         decay=self._fused_decay(params, f"W{l}"),
                                         out={"W": out.get(f"W{l}"), "b": out.get(f"b{l}")})
            grads[f"W{l}"] = dW
            if db is not None:
                grads[f"b{l}"] = db
            if da is not None:
                G = da[:, :-1] if self.column else da  # drop the ones column
        grads = {k: grads[k] for k in params}
        self.l2.add_grad(params, grads, self.column)
        cost = loss + self.l2.penalty(params, self.column)
        return (loss, cost, grads, pred) if with_pred else (loss, cost, grads)

    def cost(self, params: dict, X: np.ndarray, Y: np.ndarray) -> float:
        """J = loss + R (no gradients)."""
        return heads.loss(self.head, self.scores(params, X), Y) + self.l2.penalty(params, self.column)
