"""First-order optimisers over a named parameter dict, with PyTorch semantics.

Both optimisers are small stateful objects::

    opt = Adam(lr=1e-3, weight_decay=1e-3)
    opt.step(params, grads)   # updates every params[name] in place
    opt.lr *= 0.95            # per-epoch decay: the next step uses the new rate

``SGD``:   theta <- theta - lr * g

``Adam`` (``torch.optim.Adam``, ``amsgrad=False``; weight decay is *coupled* L2, not AdamW)::

    g   <- g + weight_decay * theta            (every parameter, biases included)
    m   <- beta1 m + (1 - beta1) g
    v   <- beta2 v + (1 - beta2) g^2
    t   <- t + 1
    theta <- theta - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

The moments live in the parameters' dtype.  No I/O, no randomness.
"""

from __future__ import annotations

import math
from typing import Mapping, MutableMapping

import numpy as np

from linclf_cli.errors import UsageError

__all__ = ["SGD", "Adam"]


def _check_lr(lr: float) -> float:
    lr = float(lr)
    if not math.isfinite(lr) or lr <= 0:
        raise UsageError(f"The learning rate must be a positive number, got {lr}.")
    return lr


def _scratch(buf: dict, name: str, like: np.ndarray) -> np.ndarray:
    """A reusable work array shaped like ``like`` (re-made if the shape/dtype changed)."""
    b = buf.get(name)
    if b is None or b.shape != like.shape or b.dtype != like.dtype:
        b = buf[name] = np.empty_like(like)
    return b


class SGD:
    """Plain gradient descent ``theta <- theta - lr * g`` (no momentum).

    Parameters
    ----------
    lr : learning rate; may be changed between steps (``opt.lr *= decay``).
    """

    def __init__(self, lr: float) -> None:
        self.lr = _check_lr(lr)
        self._buf: dict = {}

    def step(
        self, params: MutableMapping[str, np.ndarray], grads: Mapping[str, np.ndarray]
    ) -> None:
        """Update every ``params[name]`` in place with ``grads[name]`` (same shape)."""
        for name, p in params.items():
            tmp = _scratch(self._buf, name, p)
            np.multiply(grads[name], self.lr, out=tmp, casting="same_kind")
            p -= tmp


class Adam:
    """Adam with PyTorch's update, bias correction and coupled weight decay.

    Parameters
    ----------
    lr : learning rate (mutable attribute).
    beta1, beta2 : moment decay rates, in [0, 1).
    eps : added to the bias-corrected sqrt(v) (torch places it there, not inside the sqrt).
    weight_decay : L2 coefficient added to the gradient as ``weight_decay * theta`` before
        the moments (``torch.optim.Adam(weight_decay=...)``; not decoupled AdamW).

    Attributes
    ----------
    t : number of steps taken.
    m, v : dicts of first and second moments, keyed like ``params``.
    """

    def __init__(
        self,
        lr: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        self.lr = _check_lr(lr)
        for label, b in (("beta1", beta1), ("beta2", beta2)):
            if not 0.0 <= float(b) < 1.0:
                raise UsageError(f"Adam's {label} must be in [0, 1), got {b}.")
        if not float(eps) >= 0.0:
            raise UsageError(f"Adam's eps must be >= 0, got {eps}.")
        if not (math.isfinite(float(weight_decay)) and float(weight_decay) >= 0.0):
            raise UsageError(f"The weight decay must be a number >= 0, got {weight_decay}.")
        self.beta1 = float(beta1)
        self.beta2 = float(beta2)
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)
        self.t = 0
        self.m: dict = {}
        self.v: dict = {}
        self._buf: dict = {}  # scratch arrays, one per parameter
        self._gbuf: dict = {}  # g + wd * theta, one per parameter

    def step(
        self, params: MutableMapping[str, np.ndarray], grads: Mapping[str, np.ndarray]
    ) -> None:
        """One Adam step on every ``params[name]``, in place (``grads`` is not modified)."""
        self.t += 1
        b1, b2, t = self.beta1, self.beta2, self.t
        step_size = self.lr / (1.0 - b1**t)
        bc2_sqrt = math.sqrt(1.0 - b2**t)
        for name, p in params.items():
            g = grads[name]
            if name not in self.m:
                self.m[name] = np.zeros_like(p)
                self.v[name] = np.zeros_like(p)
            m, v = self.m[name], self.v[name]
            tmp = _scratch(self._buf, name, p)
            if self.weight_decay:
                gw = _scratch(self._gbuf, name, p)
                np.multiply(p, self.weight_decay, out=gw)  # g + wd * theta (coupled L2)
                gw += g
                g = gw
            m *= b1  # m = beta1 m + (1 - beta1) g
            np.multiply(g, 1.0 - b1, out=tmp, casting="same_kind")
            m += tmp
            v *= b2  # v = beta2 v + (1 - beta2) g^2
            np.multiply(g, g, out=tmp, casting="same_kind")
            tmp *= 1.0 - b2
            v += tmp
            # denom = sqrt(v) / sqrt(1 - beta2^t) + eps;  p -= (lr / (1 - beta1^t)) m / denom
            np.sqrt(v, out=tmp)
            tmp /= bc2_sqrt
            tmp += self.eps
            np.divide(m, tmp, out=tmp)
            tmp *= step_size
            p -= tmp
