"""Gradient checks as a runnable job: choose the data, run the library checks, collect rows.

Every row is a dict with at least: check, model, l2, n_weights, max_abs_error, bound,
max_rel_error, passed.  The CLI renders them; tasks (1a, 1b, 4a) store them in
metrics.json and the report quotes them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from linclf_cli.data.mnist import load_mnist
from linclf_cli.data.splits import binary_subset, tdt4265_split
from linclf_cli.engine.functions import one_hot
from linclf_cli.assignments.tdt4265.preprocess import pre_process_images
from linclf_cli.assignments.tdt4265.gradcheck import tdt4265_gradcheck

TDT_MODELS = ("binary", "softmax")


def tdt_check_data(model: str, data_dir: Path | None, synthetic: bool, n: int = 100,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """The first ``n`` pre-processed training images (float64) and targets for ``model``."""
    if synthetic:
        rng = np.random.default_rng(seed)
        images = rng.integers(0, 256, size=(n, 784), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n) if model == "softmax" else rng.integers(0, 2, size=n) + 2
        source = f"synthetic ({n} random images, seed {seed})"
    else:
        m = load_mnist(data_dir)
        images, labels, _, _ = tdt4265_split(m)
        source = f"MNIST, first {n} training images" + (" of the 2-vs-3 subset" if model == "binary" else "")
    if model == "binary":
        images, T = binary_subset(images, labels, 2, 3, dtype=np.float64)
        return pre_process_images(images[:n], np.float64), T[:n], source
    return (pre_process_images(images[:n], np.float64), one_hot(labels[:n], 10, np.float64), source)


def tdt_gradchecks(models=TDT_MODELS, l2_values=(0.0, 2.0), data_dir: Path | None = None,
                   synthetic: bool = False, eps: float = 1e-3, seed: int = 0) -> list[dict]:
    rows = []
    for model in models:
        X, T, source = tdt_check_data(model, data_dir, synthetic)
        for l2 in l2_values:
            r = tdt4265_gradcheck(model, X, T, l2=l2, rng=np.random.default_rng(seed), eps=eps)
            rows.append({"check": "tdt4265", "param": "W", "data": source, **r})
    return rows


# --------------------------------------------------------------------------- as a run


from dataclasses import dataclass  # noqa: E402

from linclf_cli.errors import UsageError  # noqa: E402

from linclf_cli.runs import io  # noqa: E402
from linclf_cli.runs.context import RunContext  # noqa: E402
from linclf_cli.runs.provenance import now_iso, run_record  # noqa: E402
from linclf_cli.runs.rundir import RunDir  # noqa: E402


@dataclass(frozen=True)
class GradcheckConfig:
    """TDT4265 gradient checks (tasks 1a, 1b, 2a, 3a, 4a)."""

    models: tuple[str, ...] = TDT_MODELS
    l2: tuple[float, ...] = (0.0,)
    synthetic: bool = False
    eps: float = 1e-3
    seed: int = 0

    def resolved(self) -> "GradcheckConfig":
        bad = [m for m in self.models if m not in TDT_MODELS]
        if bad or not self.models:
            raise UsageError(f"Unknown gradcheck model {bad[0] if bad else None!r}.",
                             f"Choose from: {', '.join(TDT_MODELS)}.")
        if any(c < 0 for c in self.l2):
            raise UsageError(f"L2 coefficients must be >= 0, got {list(self.l2)}.")
        if not 0 < self.eps < 1:
            raise UsageError(f"eps must lie in (0, 1), got {self.eps}.")
        return self

    def to_dict(self) -> dict:
        return {"models": list(self.models), "l2": list(self.l2), "synthetic": self.synthetic,
                "eps": self.eps, "seed": self.seed}

    @property
    def dataset(self) -> str | None:
        return None if self.synthetic else "mnist"


def starter_tests() -> dict:
    """The starter's other assertions (tasks 2a/3a): zero-weight outputs and one-hot."""
    from linclf_cli.assignments.tdt4265.recipe import model_for
    from linclf_cli.engine.functions import sigmoid, softmax

    X = pre_process_images(np.arange(784 * 4, dtype=np.int64).reshape(4, 784) % 256, np.float64)
    oh = one_hot(np.array([3]), 10)
    S1 = model_for(785, 1).scores({"W1": np.zeros((785, 1))}, X)
    S10 = model_for(785, 10).scores({"W1": np.zeros((785, 10))}, X)
    return {
        "binary_zero_weight_mean_output": float(np.mean(sigmoid(S1))),
        "softmax_zero_weight_mean_output": float(np.mean(softmax(S10, axis=1))),
        "one_hot_of_3": oh[0].astype(int).tolist(),
        "one_hot_sums_to_one": bool(oh.sum() == 1),
    }


def run(cfg: GradcheckConfig, out: Path, ctx: RunContext | None = None) -> dict:
    ctx = ctx or RunContext()
    cfg = cfg.resolved()
    started = now_iso()
    rows = tdt_gradchecks(cfg.models, cfg.l2, ctx.data_dir, cfg.synthetic, cfg.eps, cfg.seed)
    metrics = {
        "passed": all(r["passed"] for r in rows),
        "max_abs_error": max(r["max_abs_error"] for r in rows),
        "bound": cfg.eps**2,
        "max_rel_error": max(r["max_rel_error"] for r in rows),
        "checks": rows,
        **starter_tests(),
    }
    with RunDir(out) as rd:
        import yaml

        io.atomic_write_text(rd.path / "config.yaml",
                             yaml.safe_dump({"kind": "gradcheck-tdt", **cfg.to_dict()}, sort_keys=False))
        io.write_json(rd.path / "metrics.json", metrics)
        io.write_json(rd.path / "run.json", run_record(ctx.argv, cfg.seed, {}, started))
        rd.commit()
    return metrics


# --------------------------------------------------------------------------- DD2424 and MLP

DD2424_MODELS = ("dd2424-softmax", "dd2424-sigmoid")
DD2424_REL_BOUND = 1e-6   # DD2424: "all absolute differences < 1e-6, or a small relative error"
MLP_REL_BOUND = 1e-7      # float64 centred differences on a network away from ReLU kinks,
MLP_ABS_BOUND = 1e-8      # or, for wide layers whose tiny entries make relative errors noisy,
                          # every absolute difference below 1e-8 (the DD2424 acceptance rule)
AML_TOY_REL_BOUND = 1e-8  # the AML text's requirement for the toy network


def dd2424_gradchecks(models=DD2424_MODELS, lams=(0.0, 0.1), seed: int = 0) -> list[dict]:
    """DD2424 form: h = 1e-6 centred, the first 20 dimensions, batch 1 then 20, lambda 0 then
    > 0; relative error |g_a - g_n| / max(eps, |g_a| + |g_n|) per parameter."""
    from linclf_cli.assignments.dd2424.gradcheck import gradcheck_dd2424_suite

    rows = []
    for model in models:
        cases = gradcheck_dd2424_suite(model.removeprefix("dd2424-"), np.random.default_rng(seed),
                                       lams=tuple(lams))
        for case in cases:
            for c in case.checks:
                rows.append({"check": "dd2424", "model": model, "param": f"{c.name} (n={case.n})",
                             "l2": case.lam, "n_weights": c.size, "max_abs_error": c.max_abs_error,
                             "bound": None, "max_rel_error": c.max_rel_error,
                             "passed": bool(c.max_rel_error < DD2424_REL_BOUND or c.max_abs_error < 1e-6),
                             "data": "synthetic N(0,1), first 20 dimensions", "h": 1e-6})
    return rows


def mlp_check_problem(sizes: list[int], seed: int, n: int = 10):
    """He-scaled weights, random biases, unit inputs; redrawn until no hidden pre-activation
    lies within 1e-3 of the ReLU kink (a centred difference must not cross it)."""
    from linclf_cli.assignments.aml2020 import net as mlp

    for s in range(seed, seed + 100):
        rng = np.random.default_rng(s)
        params = mlp.init_mlp(sizes, rng, std=1.0, dtype=np.float64)
        for k, v in params.items():
            if k.startswith("W"):
                v *= np.sqrt(2.0 / v.shape[0])
            else:
                v[:] = 0.5 * rng.standard_normal(v.shape)
        X = rng.standard_normal((n, sizes[0]))
        y = np.arange(n) % sizes[-1]
        a, ok = X, True
        for layer in range(1, len(sizes) - 1):
            z = a @ params[f"W{layer}"] + params[f"b{layer}"]
            ok &= bool(np.abs(z).min() > 1e-3)
            a = np.maximum(z, 0)
        if ok:
            return params, X, y
    raise RuntimeError("could not draw a kink-free gradient-check problem")  # pragma: no cover


def mlp_gradchecks(hidden=(50,), regs=(0.0, 0.05), seed: int = 0, inputs: int = 20,
                   classes: int = 10) -> list[dict]:
    """Centred differences (h = 1e-5) on the full regularised loss for every W_l and b_l of a
    ``inputs``-``hidden``-``classes`` ReLU network; relative error with the 1e-8 floor."""
    from linclf_cli.assignments.aml2020 import net as mlp
    from linclf_cli.engine.gradcheck import check_model

    sizes = mlp.validate_sizes([inputs, *hidden, classes])
    rows = []
    for reg in regs:
        params, X, y = mlp_check_problem(sizes, seed)
        for c in check_model(mlp.model_for(sizes, reg), params, X, y, h=1e-5):
            rows.append({"check": "mlp", "model": "mlp " + "-".join(map(str, sizes)), "param": c.name,
                         "l2": reg, "n_weights": c.size, "max_abs_error": c.max_abs_error, "bound": None,
                         "max_rel_error": c.max_rel_error,
                         "passed": bool(c.max_rel_error < MLP_REL_BOUND or c.max_abs_error < MLP_ABS_BOUND),
                         "data": "synthetic", "h": 1e-5})
    return rows


def aml_toy_gradchecks() -> list[dict]:
    from linclf_cli.assignments.aml2020.toy import toy_gradcheck

    return [{"check": "aml-toy", "model": "aml toy 4-10-3", "param": c.name, "l2": 0.05,
             "n_weights": c.size, "max_abs_error": c.max_abs_error, "bound": None,
             "max_rel_error": c.max_rel_error, "passed": bool(c.max_rel_error < AML_TOY_REL_BOUND),
             "data": "the text's toy data", "h": 1e-5} for c in toy_gradcheck()]
