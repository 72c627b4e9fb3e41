"""The TDT4265 gradient-approximation test (tasks 2a and 3a), as a function that returns numbers.

Starter semantics: weights w ~ Normal(0, std = 1/785^2) (essentially zero), every weight
perturbed by +-eps with eps = 1e-3, centred difference of the objective on the first 100
pre-processed training images, and |numeric - analytic| <= eps^2 for every weight.  With L2
the objective is J = C + (c/2) sum W^2, whose gradient the model adds as c W (convention E.1).
All arithmetic is float64.
"""

from __future__ import annotations

import numpy as np

from linclf_cli.engine.gradcheck import check_model

from .recipe import model_for


def tdt4265_gradcheck(model: str, X: np.ndarray, T: np.ndarray, l2: float = 0.0,
                      rng: np.random.Generator | None = None, eps: float = 1e-3,
                      weight_std: float = 1 / 785**2) -> dict:
    """Check ``model``'s analytic gradient on (X, T); returns the errors and the verdict.

    Parameters
    ----------
    X : ndarray of shape (n, d), pre-processed.   T : targets of shape (n, K).
    l2 : weight-decay coefficient c.   weight_std : std of the random weights.
    """
    rng = rng or np.random.default_rng(0)
    X = np.asarray(X, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    W = rng.normal(0.0, weight_std, size=(X.shape[1], T.shape[1]))
    bound = eps**2
    # relative errors with the denominator floored at eps^2: entries whose gradient is below
    # the absolute tolerance (e.g. exactly cancelling pixels) are judged on the same scale
    (res,) = check_model(model_for(X.shape[1], T.shape[1], l2), {"W1": W}, X, T, h=eps,
                         rel_floor=bound)
    return {
        "model": model,
        "l2": l2,
        "eps": eps,
        "n_samples": int(X.shape[0]),
        "n_weights": res.size,
        "weight_std": weight_std,
        "max_abs_error": res.max_abs_error,
        "bound": bound,
        "max_rel_error": res.max_rel_error,
        "passed": bool(res.max_abs_error <= bound),
    }
