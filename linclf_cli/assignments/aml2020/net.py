r"""The AML two-layer net (any depth) as the engine's one model, and its two trainers on ``fit``.

The network is :class:`~linclf_cli.engine.model.Model` with a softmax head, bias vectors and
the L2 penalty ``reg * sum_l ||W_l||_F^2`` (no 1/2, no biases; ``L2(reg, "full", "weights",
fused=True)``: summed by dot products and fused into each layer's weight gradient, the
arithmetic of the starter's ``TwoLayerNet``).  Targets are class labels, so the loss reads
the true class's score by index.  Parameters are a dict ``{"W1", "b1", ..., "WL", "bL"}``,
``W_l`` of shape (fan_in, fan_out).

* :func:`train_sgd` (Q3b): ``TwoLayerNet.train``: ``fit`` with batches drawn with
  replacement, ``iterations`` steps, a check every ``max(N // B, 1)`` iterations (step 0
  included) recording the accuracy of the current mini-batch and of the validation set, and
  the rate multiplied by ``learning_rate_decay`` after each check (``DecayEachStep``).
* :func:`train_adam` (Q4): PyTorch's loop: ``fit`` with reshuffled epochs keeping the last
  partial batch, Adam with coupled weight decay, the epoch's forward-pass accuracy and mean
  batch loss, and the rate multiplied by ``lr_decay`` after every epoch.

Both train ``params`` in place and return a history dict of plain Python numbers.
"""

from __future__ import annotations

import math
import numbers
from typing import Callable, Mapping, MutableMapping, Sequence, Union

import numpy as np

from linclf_cli.engine.fit import FitConfig, fit
from linclf_cli.engine.functions import softmax
from linclf_cli.engine.init import Init
from linclf_cli.engine.model import Model
from linclf_cli.engine.optim import SGD, Adam
from linclf_cli.engine.regularizers import L2
from linclf_cli.engine.samplers import Sampler
from linclf_cli.engine.schedules import DecayEachStep
from linclf_cli.errors import UsageError

Params = dict
RandomSource = Union[np.random.Generator, np.random.RandomState]
Callback = Callable[[dict], None]

__all__ = ["validate_sizes", "model_for", "init_mlp", "num_layers", "layer_sizes",
           "forward_scores", "forward_proba", "softmax", "loss", "loss_and_grads", "predict",
           "accuracy", "train_sgd", "train_adam"]


# ----------------------------------------------------------------------------- model


def validate_sizes(sizes: Sequence[int]) -> list[int]:
    """Check a layer-size list ``[D, H_1, ..., H_{L-1}, C]`` and return it as ints."""
    hint = "Give them as [input, hidden..., classes], for example [3072, 50, 10]."
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
        raise UsageError(f"Layer sizes must be a list of integers, got {sizes!r}.", hint)
    sizes = list(sizes)
    if len(sizes) < 2:
        raise UsageError(f"The layer-size list {sizes!r} needs at least an input size and a "
                         "number of classes.", hint)
    out = []
    for i, s in enumerate(sizes):
        if isinstance(s, bool) or not isinstance(s, numbers.Integral):
            raise UsageError(f"Layer size {s!r} (position {i}) is not an integer.",
                             "Every layer size must be a whole number such as 50.")
        out.append(int(s))
    if out[0] < 1:
        raise UsageError(f"The input size must be at least 1, got {out[0]}.")
    for i, h in enumerate(out[1:-1], start=1):
        if h < 1:
            raise UsageError(f"Hidden layer {i} has size {h}; every hidden size must be at least 1.")
    if out[-1] < 2:
        raise UsageError(f"A softmax classifier needs at least 2 classes, got {out[-1]}.")
    return out


def model_for(sizes: Sequence[int], reg: float = 0.0) -> Model:
    """The net of ``sizes`` with the starter's L2 ``reg * sum ||W||^2``."""
    return Model(tuple(sizes), head="softmax", bias="vector",
                 l2=L2(float(reg), "full", "weights", fused=True))


def init_mlp(sizes: Sequence[int], rng: RandomSource, std: float = 1e-4, dtype=np.float32,
             scheme: str = "normal") -> Params:
    """Weights ``std * N(0, 1)`` (``scheme="he"``: ``sqrt(2 / fan_in) * N(0, 1)``), biases 0,
    drawn layer by layer (W1, W2, ...) in float64 then cast: a ``RandomState(seed)`` gives a
    starter's ``np.random.seed(seed); std * np.random.randn(D, H)`` stream."""
    sizes = validate_sizes(sizes)
    std = float(std)
    if not np.isfinite(std) or std < 0:
        raise UsageError(f"The initial weight std must be a finite number >= 0, got {std}.")
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise UsageError(f"dtype must be float32 or float64, got {dtype}.")
    if scheme not in ("normal", "he"):
        raise UsageError(f"Unknown initialisation scheme {scheme!r}.", "Choose 'normal' or 'he'.")
    return model_for(sizes).init(rng, Init(scheme, std), dtype)


def num_layers(params: Mapping[str, np.ndarray]) -> int:
    """Number of weight layers L (``W1 .. WL``)."""
    L = 0
    while f"W{L + 1}" in params:
        L += 1
    if L == 0:
        raise UsageError("The parameter dict has no 'W1'; it is not an MLP.")
    return L


def layer_sizes(params: Mapping[str, np.ndarray]) -> list[int]:
    """``[D, H_1, ..., C]`` read back from the weight shapes."""
    L = num_layers(params)
    return [params["W1"].shape[0]] + [params[f"W{l}"].shape[1] for l in range(1, L + 1)]


def _as_input(params, X) -> np.ndarray:
    W1 = params["W1"]
    X = np.asarray(X, dtype=W1.dtype)
    if X.ndim != 2 or X.shape[1] != W1.shape[0]:
        raise UsageError(f"Input of shape {X.shape} does not fit a network expecting "
                         f"(n_samples, {W1.shape[0]}).")
    return X


def _check_labels(y, n: int, C: int) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n,):
        raise UsageError(f"Labels of shape {y.shape} do not match {n} samples.")
    if n and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= C):
        raise UsageError(f"Labels must be integers in [0, {C - 1}].")
    return y


def forward_scores(params, X) -> np.ndarray:
    """Raw class scores (N, C)."""
    return model_for(layer_sizes(params)).scores(params, _as_input(params, X))


def forward_proba(params, X) -> np.ndarray:
    """Class probabilities (N, C)."""
    return softmax(forward_scores(params, X), axis=1)


def loss_and_grads(params, X, y, reg: float = 0.0, *, return_pred: bool = False,
                   out: dict | None = None):
    """Regularised mean cross-entropy J and its gradients (and the forward pass's
    predictions with ``return_pred``); ``out``: a previous call's grads to overwrite."""
    X = _as_input(params, X)
    if X.shape[0] == 0:
        raise UsageError("Cannot compute a loss on an empty batch.")
    sizes = layer_sizes(params)
    y = _check_labels(y, X.shape[0], sizes[-1])
    _, cost, grads, pred = model_for(sizes, reg).loss(params, X, y, out=out, with_pred=True)
    return (cost, grads, pred) if return_pred else (cost, grads)


def loss(params, X, y, reg: float = 0.0) -> float:
    """Objective J only (forward pass; the numerical gradient checks' objective)."""
    X = _as_input(params, X)
    sizes = layer_sizes(params)
    return model_for(sizes, reg).cost(params, X, _check_labels(y, X.shape[0], sizes[-1]))


def predict(params, X, batch_size: int | None = 10_000) -> np.ndarray:
    """Predicted labels (N,), ``batch_size`` rows at a time (``None``: all at once)."""
    X = _as_input(params, X)
    model = model_for(layer_sizes(params))
    n = X.shape[0]
    if batch_size is None or n <= batch_size:
        return model.predict(params, X)
    out = np.empty(n, dtype=np.intp)
    for start in range(0, n, batch_size):
        out[start:start + batch_size] = model.predict(params, X[start:start + batch_size])
    return out


def accuracy(params, X, y, batch_size: int | None = 10_000) -> float:
    """Fraction of rows of ``X`` whose prediction equals ``y``."""
    y = np.asarray(y)
    if y.size == 0:
        return float("nan")
    return float(np.mean(predict(params, X, batch_size) == y))


# ----------------------------------------------------------------------------- trainers


def _check_data(params, X, y, X_val, y_val, batch_size) -> None:
    X, X_val = np.asarray(X), np.asarray(X_val)
    D = params["W1"].shape[0]
    for name, A, b in (("training", X, y), ("validation", X_val, y_val)):
        if A.ndim != 2 or A.shape[1] != D:
            raise UsageError(f"The {name} inputs have shape {A.shape}; expected (n, {D}).")
        if np.shape(b) != (A.shape[0],):
            raise UsageError(f"The {name} labels have shape {np.shape(b)}; expected ({A.shape[0]},).")
    if X.shape[0] == 0:
        raise UsageError("The training set is empty.")
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise UsageError(f"The batch size must be a positive integer, got {batch_size!r}.")


def _check_count(name: str, value) -> int:
    if isinstance(value, bool) or int(value) != value or value < 0:
        raise UsageError(f"{name} must be a non-negative integer, got {value!r}.")
    return int(value)


def _check_factor(name: str, value, *, positive: bool) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise UsageError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}, got {value}.")
    return value


def _fit(params, X, y, X_val, y_val, cfg, opt, sampler, schedule, reg, callback):
    data = (_as_input(params, X), np.asarray(y), _as_input(params, X_val), np.asarray(y_val))
    return fit(model_for(layer_sizes(params), reg), params, data, cfg, opt, sampler,
               schedule=schedule, callback=callback)


def train_sgd(params: MutableMapping[str, np.ndarray], X, y, X_val, y_val, *,
              learning_rate: float = 1e-3, learning_rate_decay: float = 0.95, reg: float = 5e-6,
              num_iters: int = 100, batch_size: int = 200, rng: np.random.Generator,
              callback: Callback | None = None, progress: Callable | None = None) -> dict:
    """A ``TwoLayerNet.train``: ``num_iters`` SGD steps on batches drawn with replacement
    (``rng.choice(N, batch_size)``); at ``it % max(N // batch_size, 1) == 0`` (it = 0
    included) the accuracy of the current mini-batch (after its update) and of the validation
    set are recorded and the rate is multiplied by ``learning_rate_decay``.

    ``callback(info)`` per iteration: iteration, epoch, loss, learning_rate (+ val_acc at the
    checks); ``progress(step, total, fields)`` is ``fit``'s callback.  Returns loss_history
    (J before each update), train_acc_history, val_acc_history, acc_iterations,
    learning_rate_history, iterations_per_epoch, final_learning_rate (and step_lr)."""
    _check_data(params, X, y, X_val, y_val, batch_size)
    num_iters = _check_count("num_iters", num_iters)
    reg = _check_factor("reg", reg, positive=False)
    decay = _check_factor("learning_rate_decay", learning_rate_decay, positive=True)
    opt = SGD(learning_rate)
    N, B = np.shape(X)[0], int(batch_size)
    ipe = max(N // B, 1)
    hist = {"loss_history": [], "train_acc_history": [], "val_acc_history": [],
            "acc_iterations": [], "learning_rate_history": [], "iterations_per_epoch": ipe,
            "final_learning_rate": opt.lr, "step_lr": []}
    if num_iters == 0:
        return hist
    sched = DecayEachStep(opt.lr, decay)

    def cb(step, total, f):
        it = step - 1
        if callback is not None:
            info = {"iteration": it, "epoch": it // ipe, "loss": f["loss"], "learning_rate": f["lr"]}
            if it % ipe == 0:
                info.update(train_acc=f["train_accuracy"], val_acc=f["val_accuracy"])
            callback(info)
        if progress is not None:
            progress(step, total, f)

    res = _fit(params, X, y, X_val, y_val,
               FitConfig(iterations=num_iters, eval_every=ipe, eval_train="batch", record="cost"),
               opt, Sampler(N, B, "replacement", rng=rng), sched, reg, cb)
    h = res.history
    hist.update(loss_history=res.step_loss.tolist(), train_acc_history=h["train_accuracy"].tolist(),
                val_acc_history=h["val_accuracy"].tolist(), acc_iterations=h["step"].tolist(),
                learning_rate_history=h["lr"].tolist(), final_learning_rate=opt.lr,
                step_lr=res.step_lr.tolist())
    return hist


def train_adam(params: MutableMapping[str, np.ndarray], X, y, X_val, y_val, *,
               lr: float = 1e-3, weight_decay: float = 1e-3, lr_decay: float = 0.95,
               epochs: int = 10, batch_size: int = 200, rng: np.random.Generator,
               callback: Callback | None = None, progress: Callable | None = None) -> dict:
    """A PyTorch-style loop: every epoch a fresh ``rng.permutation(N)`` walked in batches of
    ``batch_size`` *including the last partial batch*, the plain mean cross-entropy (weight
    decay is Adam's coupled ``weight_decay``, biases included) and one Adam step per batch;
    after the epoch the rate is multiplied by ``lr_decay``.

    Returns loss_history, epoch_loss_history (the epoch's mean batch loss),
    train_acc_history (the epoch's forward passes, before each update), val_acc_history,
    learning_rate_history (the rate of each epoch), iterations_per_epoch (ceil(N / B)),
    final_learning_rate (and step_lr)."""
    _check_data(params, X, y, X_val, y_val, batch_size)
    epochs = _check_count("epochs", epochs)
    decay = _check_factor("lr_decay", lr_decay, positive=True)
    opt = Adam(lr, weight_decay=weight_decay)
    N, B = np.shape(X)[0], int(batch_size)
    hist = {"loss_history": [], "epoch_loss_history": [], "train_acc_history": [],
            "val_acc_history": [], "learning_rate_history": [], "iterations_per_epoch": -(-N // B),
            "final_learning_rate": opt.lr, "step_lr": []}
    if epochs == 0:
        return hist
    sched = DecayEachStep(opt.lr, decay)
    ipe = hist["iterations_per_epoch"]

    def cb(step, total, f):
        if callback is not None:
            if f.get("epoch_end"):
                callback({"iteration": step - 1, "epoch": f["epoch"] - 1, "loss": f["loss"],
                          "learning_rate": f["lr"], "train_acc": f["train_accuracy"],
                          "val_acc": f["val_accuracy"], "epoch_end": True})
            else:
                callback({"iteration": step - 1, "epoch": (step - 1) // ipe, "loss": f["loss"],
                          "learning_rate": f["lr"]})
        if progress is not None and not f.get("epoch_end"):
            progress(step, total, f)

    res = _fit(params, X, y, X_val, y_val, FitConfig(epochs=epochs, eval_train="passes"),
               opt, Sampler(N, min(B, N), "shuffle", drop_last=False, rng=rng), sched, 0.0, cb)
    h = {k: v[1:] for k, v in res.history.items()}  # row 0: the check before training
    hist.update(loss_history=res.step_loss.tolist(), epoch_loss_history=h["train_loss"].tolist(),
                train_acc_history=h["train_accuracy"].tolist(),
                val_acc_history=h["val_accuracy"].tolist(), learning_rate_history=h["lr"].tolist(),
                final_learning_rate=opt.lr * decay,  # the decay after the last epoch
                step_lr=res.step_lr.tolist())
    return hist
