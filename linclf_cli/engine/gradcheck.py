"""Numerical gradient checks, the oracle every model's analytic gradient is held to.

Every check uses a centred difference

    g_num[i] = (f(x + h e_i) - f(x - h e_i)) / (2 h)

and compare it to the analytic gradient g_a with

* the absolute error |g_num - g_a| (for example <= eps**2 for a step eps = 1e-3), and
* the relative error |g_a - g_num| / max(floor, |g_a| + |g_num|), maximised over entries
  (the floor keeps entries near zero from dividing by nothing).

Each recipe chooses its form and tolerances (linclf_cli/assignments/*/gradcheck.py).

Functions here return numbers; they never print.  Use float64 parameters: the centred
difference has O(h^2) truncation error but O(machine_eps / h) rounding error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float) -> np.ndarray:
    """Centred-difference gradient of ``f()`` with respect to ``x``.

    ``x`` is perturbed *in place*, one entry at a time, and restored exactly afterwards, so
    ``f`` should read ``x`` through a closure.

    Parameters
    ----------
    f : callable returning a float; reads ``x``.
    x : ndarray of any shape, float64.
    h : step size.

    Returns
    -------
    grad : ndarray of the same shape as ``x``.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    flat = x.reshape(-1)  # a view: writes go to x
    gflat = grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        f_plus = f()
        flat[i] = old - h
        f_minus = f()
        flat[i] = old
        gflat[i] = (f_plus - f_minus) / (2.0 * h)
    return grad


def relative_error(analytic: np.ndarray, numeric: np.ndarray, floor: float = 1e-8) -> float:
    """max_i |a_i - n_i| / max(floor, |a_i| + |n_i|)  (the common ``rel_error``)."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - n) / np.maximum(floor, np.abs(a) + np.abs(n))))


@dataclass(frozen=True)
class ParamCheck:
    """Result of checking one parameter array."""

    name: str
    size: int
    max_abs_error: float
    max_rel_error: float

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "size": self.size,
            "max_abs_error": self.max_abs_error,
            "max_rel_error": self.max_rel_error,
        }


def check_gradients(
    loss: Callable[[], float],
    params: Mapping[str, np.ndarray],
    analytic: Mapping[str, np.ndarray],
    h: float,
    rel_floor: float = 1e-8,
) -> list[ParamCheck]:
    """Compare analytic gradients with centred differences for every named parameter.

    Parameters
    ----------
    loss : callable with no arguments returning the scalar objective; it must read the
        arrays in ``params`` (which are perturbed in place).
    params : name -> float64 parameter array.
    analytic : name -> analytic gradient, same shapes as ``params``.
    h : finite-difference step.
    rel_floor : floor of the relative-error denominator.
    """
    out = []
    for name, x in params.items():
        g_a = np.asarray(analytic[name], dtype=np.float64)
        if g_a.shape != x.shape:
            raise ValueError(f"gradient of {name} has shape {g_a.shape}, parameter {x.shape}")
        g_n = numerical_gradient(loss, x, h)
        out.append(
            ParamCheck(
                name=name,
                size=int(x.size),
                max_abs_error=float(np.max(np.abs(g_a - g_n))) if x.size else 0.0,
                max_rel_error=relative_error(g_a, g_n, rel_floor),
            )
        )
    return out


def check_model(model, params: Mapping[str, np.ndarray], X: np.ndarray, Y: np.ndarray,
                h: float = 1e-5, rel_floor: float = 1e-8) -> list[ParamCheck]:
    """Check the analytic gradients of any model with ``loss(params, X, Y) -> (loss, cost,
    grads)`` and ``cost(params, X, Y)`` (e.g. :class:`~linclf_cli.engine.model.Model`)
    against centred differences of its cost.  Use float64 parameters and data.

    Returns one :class:`ParamCheck` per parameter (absolute and relative forms: each caller
    chooses its form and tolerance).
    """
    params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    _, _, grads = model.loss(params, X, Y)
    grads = {k: np.array(v) for k, v in grads.items()}
    return check_gradients(lambda: model.cost(params, X, Y), params, grads, h, rel_floor)
