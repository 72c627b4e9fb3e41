"""Baseline: TDT4265 A1 task 3b written the way the course starter code / solution does it.

A straightforward float64 NumPy implementation, deliberately without any optimisation:

* ``pre_process_images``: x / 127.5 - 1, then a column of ones appended (bias trick), float64;
* ``SoftmaxModel``: W (785, 10) of zeros, ``forward`` = softmax(X W), ``backward`` =
  -X^T (Y - Y_hat) / N;
* ``cross_entropy_loss``: -mean(sum(Y * log(Y_hat)));
* ``batch_loader``: a generator that shuffles a Python list of indices every epoch and
  yields ``X[batch_indices]`` (the last incomplete batch is dropped);
* ``SoftmaxTrainer``: ``train_step`` (forward, backward, W -= lr * grad; returns the loss
  of the batch *before* the update) and ``validation_step`` every
  ``num_batches_per_epoch // 5`` steps (step 0 included): validation loss, accuracy on the
  WHOLE training set and validation accuracy.

Task 3b: 20 000 training images, the 10 000 test images as validation, lr 0.01, batch 128,
50 epochs, shuffle, no L2, no early stopping.

The only departure from the starter is the source of randomness: the starter shuffles with
the global ``np.random`` state; here the shuffles come from ``np.random.default_rng(seed)``
(``rng.shuffle`` of the index list gives exactly ``rng.permutation(n)``), so the run is
deterministic and visits the batches in the same order as ``linclf`` with the same seed.
The baseline is thus also a correctness reference for the engine.

Run: ``python benchmarks/baseline_tdt4265.py --data-dir /work/shared/data``
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


# ----------------------------------------------------------------------------- data


def _read_idx_gz(path: Path) -> np.ndarray:
    """Decode a gzip IDX file (uint8 payload) into an array of the header's shape."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_full_mnist(mnist_dir: str | Path):
    """(X_train, Y_train, X_test, Y_test): images (n, 784) uint8, labels (n,) int."""
    d = Path(mnist_dir)
    X_train = _read_idx_gz(d / "train-images-idx3-ubyte.gz").reshape(-1, 784)
    Y_train = _read_idx_gz(d / "train-labels-idx1-ubyte.gz").astype(int)
    X_test = _read_idx_gz(d / "t10k-images-idx3-ubyte.gz").reshape(-1, 784)
    Y_test = _read_idx_gz(d / "t10k-labels-idx1-ubyte.gz").astype(int)
    return X_train, Y_train, X_test, Y_test


def load_task3_data(mnist_dir: str | Path, train_size: int = 20000):
    """The task 3 split: the first 20 000 training images, all 10 000 test images."""
    X_train, Y_train, X_val, Y_val = load_full_mnist(mnist_dir)
    return X_train[:train_size], Y_train[:train_size], X_val, Y_val


# ----------------------------------------------------------------------------- task 2a/3a


def pre_process_images(X: np.ndarray) -> np.ndarray:
    """Images (N, 784) in [0, 255] -> (N, 785) in [-1, 1] with a trailing bias column 1."""
    assert X.shape[1] == 784, f"X.shape[1]: {X.shape[1]}, should be 784"
    X = X / 127.5 - 1
    X = np.concatenate((X, np.ones((X.shape[0], 1))), axis=1)
    return X


def one_hot_encode(Y: np.ndarray, num_classes: int) -> np.ndarray:
    """Labels (N,) or (N, 1) -> one-hot (N, num_classes)."""
    Y = np.asarray(Y).reshape(-1)
    encoded = np.zeros((Y.shape[0], num_classes))
    encoded[np.arange(Y.shape[0]), Y] = 1
    return encoded


def cross_entropy_loss(targets: np.ndarray, outputs: np.ndarray) -> float:
    """Mean over the batch of -sum_k y_k ln y_hat_k."""
    assert targets.shape == outputs.shape, \
        f"Targets shape: {targets.shape}, outputs: {outputs.shape}"
    return -np.mean(np.sum(targets * np.log(outputs), axis=1))


class SoftmaxModel:

    def __init__(self, l2_reg_lambda: float = 0.0):
        self.I = 785  # 784 pixels + bias
        self.num_outputs = 10
        self.w = np.zeros((self.I, self.num_outputs))
        self.grad = None
        self.l2_reg_lambda = l2_reg_lambda

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Softmax probabilities of shape (N, 10)."""
        z = X @ self.w
        exp_z = np.exp(z)
        return exp_z / np.sum(exp_z, axis=1, keepdims=True)

    def backward(self, X: np.ndarray, outputs: np.ndarray, targets: np.ndarray) -> None:
        """Gradient of the mean cross-entropy (plus c W for L2) into self.grad."""
        assert targets.shape == outputs.shape, \
            f"Output shape: {outputs.shape}, targets: {targets.shape}"
        self.grad = -X.T @ (targets - outputs) / X.shape[0]
        if self.l2_reg_lambda:
            self.grad += self.l2_reg_lambda * self.w
        assert self.grad.shape == self.w.shape, \
            f"Grad shape: {self.grad.shape}, w: {self.w.shape}"

    def zero_grad(self) -> None:
        self.grad = None


def calculate_accuracy(X: np.ndarray, targets: np.ndarray, model: SoftmaxModel) -> float:
    """Fraction of rows whose argmax output equals the argmax of the one-hot target."""
    outputs = model.forward(X)
    return np.mean(np.argmax(outputs, axis=1) == np.argmax(targets, axis=1))


# ----------------------------------------------------------------------------- trainer


def batch_loader(X: np.ndarray, Y: np.ndarray, batch_size: int, rng: np.random.Generator,
                 shuffle: bool = False, drop_last: bool = True):
    """Yield (X_batch, Y_batch) for one epoch, as the starter's ``utils.batch_loader``."""
    assert len(X) == len(Y)
    num_batches = len(X) // batch_size
    if not drop_last:
        num_batches = int(np.ceil(len(X) / batch_size))
    indices = list(range(len(X)))
    if shuffle:
        rng.shuffle(indices)  # the starter: np.random.shuffle(indices)
    for i in range(num_batches):
        batch_indices = indices[i * batch_size:(i + 1) * batch_size]
        x = X[batch_indices]
        y = Y[batch_indices]
        yield (x, y)


class SoftmaxTrainer:

    def __init__(self, model: SoftmaxModel, learning_rate: float, batch_size: int,
                 shuffle_dataset: bool, X_train, Y_train, X_val, Y_val,
                 rng: np.random.Generator):
        self.model = model
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.shuffle_dataset = shuffle_dataset
        self.X_train, self.Y_train = X_train, Y_train
        self.X_val, self.Y_val = X_val, Y_val
        self.rng = rng
        self.num_batches_per_epoch = X_train.shape[0] // batch_size
        # the starter: num_batches_per_epoch // 5 (guarded for tiny test data)
        self.num_steps_per_val = max(self.num_batches_per_epoch // 5, 1)

    def train_step(self, X_batch, Y_batch) -> float:
        """One gradient-descent step; returns the batch loss before the update."""
        outputs = self.model.forward(X_batch)
        self.model.backward(X_batch, outputs, Y_batch)
        self.model.w -= self.learning_rate * self.model.grad
        return cross_entropy_loss(Y_batch, outputs)

    def validation_step(self):
        """Validation loss, accuracy on the whole training set, validation accuracy."""
        outputs = self.model.forward(self.X_val)
        loss = cross_entropy_loss(self.Y_val, outputs)
        accuracy_train = calculate_accuracy(self.X_train, self.Y_train, self.model)
        accuracy_val = calculate_accuracy(self.X_val, self.Y_val, self.model)
        return loss, accuracy_train, accuracy_val

    def train(self, num_epochs: int):
        train_history = dict(loss={}, accuracy={})
        val_history = dict(loss={}, accuracy={})
        global_step = 0
        for epoch in range(num_epochs):
            train_loader = batch_loader(self.X_train, self.Y_train, self.batch_size, self.rng,
                                        shuffle=self.shuffle_dataset)
            for X_batch, Y_batch in iter(train_loader):
                loss = self.train_step(X_batch, Y_batch)
                train_history["loss"][global_step] = loss
                if global_step % self.num_steps_per_val == 0:
                    val_loss, accuracy_train, accuracy_val = self.validation_step()
                    train_history["accuracy"][global_step] = accuracy_train
                    val_history["loss"][global_step] = val_loss
                    val_history["accuracy"][global_step] = accuracy_val
                global_step += 1
        return train_history, val_history


# ----------------------------------------------------------------------------- task 3b


def prepare(X_train_u8, y_train, X_val_u8, y_val):
    """Pre-processed float64 arrays and one-hot targets."""
    X_train = pre_process_images(X_train_u8)
    X_val = pre_process_images(X_val_u8)
    Y_train = one_hot_encode(y_train, 10)
    Y_val = one_hot_encode(y_val, 10)
    return X_train, Y_train, X_val, Y_val


def run_task3b(X_train, Y_train, X_val, Y_val, *, num_epochs: int = 50,
               learning_rate: float = 0.01, batch_size: int = 128, shuffle: bool = True,
               seed: int = 0) -> dict:
    """Train task 3b on pre-processed data; return model, histories and the training time."""
    rng = np.random.default_rng(seed)
    model = SoftmaxModel(l2_reg_lambda=0.0)
    trainer = SoftmaxTrainer(model, learning_rate, batch_size, shuffle,
                             X_train, Y_train, X_val, Y_val, rng)
    t0 = time.perf_counter()
    train_history, val_history = trainer.train(num_epochs)
    seconds = time.perf_counter() - t0
    return {"model": model, "train_history": train_history, "val_history": val_history,
            "seconds": seconds, "steps": len(train_history["loss"])}


def final_metrics(model: SoftmaxModel, X_train, Y_train, X_val, Y_val) -> dict:
    """Loss and accuracy on the whole training and validation sets."""
    return {
        "train_loss": float(cross_entropy_loss(Y_train, model.forward(X_train))),
        "val_loss": float(cross_entropy_loss(Y_val, model.forward(X_val))),
        "train_accuracy": float(calculate_accuracy(X_train, Y_train, model)),
        "val_accuracy": float(calculate_accuracy(X_val, Y_val, model)),
    }


def main(argv=None) -> int:
    from benchmarks._common import resolve_mnist_dir

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", help="folder holding MNIST (or its mnist/ subfolder); "
                                      "default $LINCLF_DATA_DIR")
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    mnist_dir = resolve_mnist_dir(args.data_dir)
    t0 = time.perf_counter()
    X_train, Y_train, X_val, Y_val = prepare(*load_task3_data(mnist_dir))
    t_data = time.perf_counter() - t0
    out = run_task3b(X_train, Y_train, X_val, Y_val, num_epochs=args.epochs, seed=args.seed)
    m = final_metrics(out["model"], X_train, Y_train, X_val, Y_val)
    print(f"data loading + pre-processing: {t_data:.2f} s")
    print(f"training ({out['steps']} steps, {len(out['val_history']['loss'])} validation "
          f"checks): {out['seconds']:.2f} s")
    print("final: " + ", ".join(f"{k} {v:.6f}" for k, v in m.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
