"""The AML 2020 toy problem (Q1-Q3a): a 4-10-3 net on 5 samples, exactly as the starter.

The starter seeds the *global* legacy generator (``np.random.seed(0)`` for the model,
``np.random.seed(1)`` for the data).  Here private ``np.random.RandomState(seed)`` objects
produce the identical streams without touching global state.

Everything is float64.  Functions return numbers; nothing prints.
"""

from __future__ import annotations

import numpy as np

from linclf_cli.assignments.aml2020 import net as mlp
from linclf_cli.assignments.aml2020.net import train_sgd
from linclf_cli.engine.gradcheck import ParamCheck, check_model

__all__ = [
    "INPUT_SIZE",
    "HIDDEN_SIZE",
    "NUM_CLASSES",
    "NUM_INPUTS",
    "TOY_REG",
    "CORRECT_SCORES",
    "CORRECT_LOSS",
    "init_toy_model",
    "init_toy_data",
    "toy_forward_check",
    "toy_loss_check",
    "toy_gradcheck",
    "toy_train",
    "toy_train_legacy",
]

INPUT_SIZE = 4
HIDDEN_SIZE = 10
NUM_CLASSES = 3
NUM_INPUTS = 5
TOY_REG = 0.05  # reg used by the Q1b loss check and the Q2d gradient check

#: The text's ``correct_scores`` (softmax probabilities of the toy model, Q1a), shape (5, 3).
CORRECT_SCORES = np.array(
    [
        [0.36446210, 0.22911264, 0.40642526],
        [0.47590629, 0.17217039, 0.35192332],
        [0.43035767, 0.26164229, 0.30800004],
        [0.41583127, 0.29832280, 0.28584593],
        [0.36328815, 0.32279939, 0.31391246],
    ]
)

#: The text's ``correct_loss`` at reg = 0.05 (Q1b).
CORRECT_LOSS = 1.30378789133


def init_toy_model(rng: np.random.RandomState | None = None) -> dict:
    """``np.random.seed(0); TwoLayerNet(4, 10, 3, std=1e-1)``: W1 (4, 10), b1 (10,),
    W2 (10, 3), b2 (3,), float64.

    The 70 draws (W1, then W2; biases are 0) come from ``rng``, default a fresh
    ``RandomState(0)``; pass a stream to continue it afterwards, as the notebook's training
    batches continue the seed-0 stream after the model (:func:`toy_train_legacy`)."""
    return mlp.init_mlp(
        [INPUT_SIZE, HIDDEN_SIZE, NUM_CLASSES],
        np.random.RandomState(0) if rng is None else rng,
        std=1e-1,
        dtype=np.float64,
    )


def init_toy_data() -> tuple[np.ndarray, np.ndarray]:
    """``np.random.seed(1); X = 10 * randn(5, 4); y = [0, 1, 2, 2, 1]``.

    Returns
    -------
    X : ndarray of shape (5, 4), float64.
    y : int ndarray of shape (5,).
    """
    X = 10 * np.random.RandomState(1).randn(NUM_INPUTS, INPUT_SIZE)
    y = np.array([0, 1, 2, 2, 1])
    return X, y


def toy_forward_check() -> float:
    """Q1a: sum of absolute differences between the toy model's probabilities and the
    text's ``correct_scores`` (the text gets < 1e-7)."""
    X, _ = init_toy_data()
    return float(np.sum(np.abs(mlp.forward_proba(init_toy_model(), X) - CORRECT_SCORES)))


def toy_loss_check() -> float:
    """Q1b: |loss(reg=0.05) - 1.30378789133| (the text gets < 1e-12)."""
    X, y = init_toy_data()
    loss, _ = mlp.loss_and_grads(init_toy_model(), X, y, reg=TOY_REG)
    return abs(loss - CORRECT_LOSS)


def toy_gradcheck(h: float = 1e-5) -> list[ParamCheck]:
    """Q2d: centred-difference check of W1, b1, W2, b2 on the full regularised loss
    (reg = 0.05), relative error with floor 1e-8 (the text requires < 1e-8)."""
    params = init_toy_model()
    X, y = init_toy_data()
    return check_model(mlp.model_for(mlp.layer_sizes(params), TOY_REG), params, X, y, h=h,
                       rel_floor=1e-8)


def toy_train(
    *,
    rng: np.random.Generator | None = None,
    seed: int = 0,
    learning_rate: float = 1e-1,
    reg: float = 5e-6,
    num_iters: int = 100,
    batch_size: int = 200,
    learning_rate_decay: float = 0.95,
    params: dict | None = None,
) -> dict:
    """Q3a: ``net.train(X, y, X, y, learning_rate=1e-1, reg=5e-6, num_iters=100)``.

    Mini-batches of 200 indices are drawn with replacement from the 5 toy samples, and the
    learning rate decays by 0.95 after every iteration (one iteration per "epoch").  The
    text expects a final training loss below 0.02.

    Parameters
    ----------
    rng : generator for the batch indices; default ``np.random.default_rng(seed)``.
    seed : used only when ``rng`` is None.
    params : model to train in place; default a fresh ``init_toy_model()``.

    Returns
    -------
    history : the dict of :func:`linclf_cli.assignments.aml2020.net.train_sgd`.
    """
    if rng is None:
        rng = np.random.default_rng(seed)
    if params is None:
        params = init_toy_model()
    X, y = init_toy_data()
    return train_sgd(
        params,
        X,
        y,
        X,
        y,
        learning_rate=learning_rate,
        learning_rate_decay=learning_rate_decay,
        reg=reg,
        num_iters=num_iters,
        batch_size=batch_size,
        rng=rng,
    )


def toy_train_legacy(seed: int = 0, **kwargs) -> dict:
    """Q3a on the notebook's own stream: ``np.random.seed(0)`` builds the model again right
    before training (70 draws), and the mini-batches (``np.random.choice(5, 200)`` each
    iteration) continue that stream -- 1.241994 -> 0.017149607938732093, the printed losses.

    ``seed`` other than 0 draws the batches from ``RandomState(seed)`` after the same 70
    draws (a seed study); the model is always the text's seed-0 model.
    """
    rng = np.random.RandomState(seed)
    init_toy_model(rng)  # the model's 70 draws: for seed 0 exactly the model trained below
    return toy_train(rng=rng, params=init_toy_model(), **kwargs)
