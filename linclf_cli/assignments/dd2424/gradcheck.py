"""The DD2424 gradient check of its linear classifier (reduced dimensionality, batch 1 then
larger, lambda = 0 and > 0, relative error), on the engine's linear model and gradcheck."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from linclf_cli.engine.gradcheck import ParamCheck, check_gradients
from linclf_cli.assignments.dd2424.linear import _COST_GRAD, init_params, one_hot, per_sample_loss, resolve_model
from linclf_cli.errors import UsageError


def gradcheck_dd2424(
    model: str,
    lam: float,
    rng: np.random.Generator,
    n: int = 1,
    d: int = 20,
    h: float = 1e-6,
    *,
    X: np.ndarray | None = None,
    Y: np.ndarray | None = None,
    K: int = 10,
    std: float = 0.01,
    rel_floor: float = 1e-10,
    analytic: Callable | None = None,
    oracle_dtype=np.longdouble,
) -> list[ParamCheck]:
    """Compare the analytic gradient of the cost with centred differences (float64).

    The DD2424 recipe: reduced dimensionality (the first ``d`` dimensions of the first
    ``n`` samples, ``W[:, :d]``), batch size 1 first, then larger batches, ``lam = 0`` and
    ``lam > 0``; step ``h = 1e-6``; relative error
    ``|g_a - g_n| / max(rel_floor, |g_a| + |g_n|)``.

    Parameters
    ----------
    model : ``"softmax"`` or ``"sigmoid"``.
    lam : regularisation strength.
    rng : Generator for W, b (N(0, std^2)) and, when ``X`` is None, the synthetic data
        (``X ~ N(0, 1)`` of shape (n, d), random labels over ``K`` classes).
    n, d : batch size and number of input dimensions used.
    h : finite-difference step.
    X, Y : optional data (e.g. the normalised training set); ``X[:n, :d]`` and ``Y[:n]``
        are used, K is then ``Y.shape[1]``.
    analytic : optional replacement for the analytic ``cost_grad`` with the same signature
        ``(W, b, X, Y, lam) -> (loss, cost, dW, db)`` (used to test that a wrong gradient is
        detected).
    oracle_dtype : dtype in which the cost is evaluated for the finite differences.  The
        default ``np.longdouble`` (80-bit extended precision on x86; plain float64 where the
        platform has none) shrinks the rounding error of ``(f(x+h) - f(x-h)) / 2h`` from
        about ``eps64 |f| / h ~ 1e-10`` to ``~1e-13``, so the *relative* error stays
        meaningful for gradient entries near zero (large batches make such cancellations
        common).  The parameters themselves are float64 and perturbed in float64.

    Returns
    -------
    list of ParamCheck, for ``"W"`` (K x d) and ``"b"`` (K,).
    """
    model = resolve_model(model)
    if n < 1 or d < 1:
        raise UsageError(f"gradcheck needs n >= 1 and d >= 1, got n={n}, d={d}.")
    if X is None:
        Xs = rng.standard_normal((n, d))
        ys = rng.integers(0, K, size=n)
        Ys = one_hot(ys, K, dtype=np.float64)
    else:
        if Y is None:
            raise UsageError("gradcheck_dd2424 needs Y together with X.")
        Xs = np.array(X[:n, :d], dtype=np.float64)
        Ys = np.array(Y[:n], dtype=np.float64)
        K = Ys.shape[1]
    W, b = init_params(K, Xs.shape[1], rng, std=std, bias="normal", dtype=np.float64)
    fn = analytic if analytic is not None else _COST_GRAD[model]
    _, _, dW, db = fn(W, b, Xs, Ys, lam)
    Xo = Xs.astype(oracle_dtype)
    Yo = Ys.astype(oracle_dtype)

    def f():
        Wo = W.astype(oracle_dtype)
        S = Xo @ Wo.T + b.astype(oracle_dtype)
        return np.mean(per_sample_loss(S, Yo, model)) + lam * np.sum(Wo * Wo)

    return check_gradients(f, {"W": W, "b": b}, {"W": dW, "b": db}, h, rel_floor)


@dataclass(frozen=True)
class GradcheckCase:
    """One gradient-check setting and its per-parameter results."""

    model: str
    n: int
    lam: float
    checks: list

    @property
    def max_rel_error(self) -> float:
        return max(c.max_rel_error for c in self.checks)

    @property
    def max_abs_error(self) -> float:
        return max(c.max_abs_error for c in self.checks)


def gradcheck_dd2424_suite(
    model: str,
    rng: np.random.Generator,
    *,
    batch_sizes: tuple[int, ...] = (1, 20),
    lams: tuple[float, ...] = (0.0, 0.1),
    d: int = 20,
    h: float = 1e-6,
    X: np.ndarray | None = None,
    Y: np.ndarray | None = None,
    rel_floor: float = 1e-10,
) -> list[GradcheckCase]:
    """Run :func:`gradcheck_dd2424` for every (batch size, lam) pair, batch 1 / lam 0 first."""
    out = []
    for n in batch_sizes:
        for lam in lams:
            checks = gradcheck_dd2424(model, lam, rng, n=n, d=d, h=h, X=X, Y=Y, rel_floor=rel_floor)
            out.append(GradcheckCase(model=resolve_model(model), n=n, lam=lam, checks=checks))
    return out
