"""The train/validation/test splits each assignment uses, and their pre-processing.

* TDT4265 A1 (spec A.1): first 20 000 MNIST training images; the whole 10 000-image test set
  as validation; the binary task keeps digits 2 (target 1) and 3 (target 0).
* DD2424 A1 (spec B.1): train = data_batch_1, val = data_batch_2, test = test_batch;
  bonus (B.2 a): all five batches minus the last ``n_val`` images, which are the validation set.
* AML A2 Q3b (spec C.2): train = first 49 000 of the 50 000, val = next 1 000, test = first
  1 000 test images.

CIFAR rows are uint8 (n, 3072) in the python-pickle layout: three channel blocks R, G, B of
1024 values, each a row-major 32x32 image.  Splits keep the original order and never copy
more than needed (slices of a single batch are read-only views).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from linclf_cli.errors import UsageError

if TYPE_CHECKING:
    from linclf_cli.data.cifar import Cifar10Data
    from linclf_cli.data.mnist import MnistData

TDT4265_N_TRAIN = 20000


def tdt4265_split(
    m: MnistData,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The canonical TDT4265 A1 split.

    Parameters
    ----------
    m : loaded MNIST.

    Returns
    -------
    X_train : (20000, 784) uint8, the first 20 000 training images.
    y_train : (20000,) int64.
    X_val : (10000, 784) uint8, the whole test set.
    y_val : (10000,) int64.
    """
    n = TDT4265_N_TRAIN
    return (
        m.train_images[:n],
        m.train_labels[:n].astype(np.int64),
        m.test_images,
        m.test_labels.astype(np.int64),
    )


def binary_subset(
    X: np.ndarray,
    y: np.ndarray,
    positive: int = 2,
    negative: int = 3,
    dtype: np.dtype | type = np.float64,
) -> tuple[np.ndarray, np.ndarray]:
    """Keep only two classes, in their original order, with binary targets.

    Parameters
    ----------
    X : (n, d) inputs.
    y : (n,) integer labels.
    positive, negative : the classes mapped to target 1 and 0.
    dtype : dtype of the targets.

    Returns
    -------
    X_sub : (m, d) the kept rows.
    t : (m, 1) targets, 1.0 for ``positive`` and 0.0 for ``negative``.
    """
    if positive == negative:
        raise UsageError(
            f"binary_subset needs two different classes, got {positive} twice.",
            "Pick distinct --positive and --negative digits.",
        )
    y = np.asarray(y).reshape(-1)
    if len(y) != len(X):
        raise UsageError(f"X has {len(X)} rows but y has {len(y)} labels.")
    keep = (y == positive) | (y == negative)
    t = (y[keep] == positive).astype(dtype).reshape(-1, 1)
    return X[keep], t


@dataclass(frozen=True, eq=False)
class DataSplit:
    """Train/validation/test arrays of one assignment.

    Attributes
    ----------
    name : which split (``"dd2424"``, ``"dd2424-bonus"``, ``"aml"``).
    X_train, X_val, X_test : (n, 3072) uint8, channel-major rows.
    y_train, y_val, y_test : (n,) int64 labels 0..9.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    @property
    def sizes(self) -> dict[str, int]:
        """Number of rows per set."""
        return {"train": len(self.y_train), "val": len(self.y_val), "test": len(self.y_test)}


def _all_train(c: Cifar10Data) -> tuple[np.ndarray, np.ndarray]:
    X = np.concatenate([b[0] for b in c.train_batches])
    y = np.concatenate([b[1] for b in c.train_batches])
    return X, y


def dd2424_split(c: Cifar10Data) -> DataSplit:
    """DD2424 A1: train = data_batch_1, val = data_batch_2, test = test_batch."""
    (X1, y1), (X2, y2) = c.train_batches[0], c.train_batches[1]
    return DataSplit("dd2424", X1, y1, X2, y2, c.test_images, c.test_labels)


def dd2424_bonus_split(c: Cifar10Data, n_val: int = 1000) -> DataSplit:
    """DD2424 bonus: all five batches, the last ``n_val`` images held out for validation.

    Raises
    ------
    UsageError : ``n_val`` not in 1 .. total-1.
    """
    X, y = _all_train(c)
    if not 0 < n_val < len(y):
        raise UsageError(
            f"n_val={n_val} does not fit the {len(y)} training images.",
            f"Choose n_val between 1 and {len(y) - 1}.",
        )
    k = len(y) - n_val
    return DataSplit("dd2424-bonus", X[:k], y[:k], X[k:], y[k:], c.test_images, c.test_labels)


def aml_split(
    c: Cifar10Data, n_train: int = 49000, n_val: int = 1000, n_test: int = 1000
) -> DataSplit:
    """AML A2 Q3b: train[:n_train], train[n_train:n_train+n_val], test[:n_test].

    Raises
    ------
    UsageError : sizes that are not positive or do not fit the data.
    """
    n_all, n_test_all = len(c.train_batches) * c.n_per_batch, len(c.test_labels)
    if min(n_train, n_val, n_test) < 1 or n_train + n_val > n_all or n_test > n_test_all:
        raise UsageError(
            f"AML split sizes n_train={n_train}, n_val={n_val}, n_test={n_test} do not fit "
            f"{n_all} training and {n_test_all} test images.",
            f"Use positive sizes with n_train + n_val <= {n_all} and n_test <= {n_test_all}.",
        )
    X, y = _all_train(c)
    a, b = n_train, n_train + n_val
    return DataSplit(
        "aml", X[:a], y[:a], X[a:b], y[a:b], c.test_images[:n_test], c.test_labels[:n_test]
    )


def _check_dims(train: np.ndarray, others: tuple[np.ndarray, ...]) -> None:
    if np.ndim(train) != 2 or len(train) == 0:
        raise UsageError(f"Expected a non-empty (n, d) training array, got shape {np.shape(train)}.")
    for a in others:
        if np.ndim(a) != 2 or np.shape(a)[1] != train.shape[1]:
            raise UsageError(
                f"Shape {np.shape(a)} does not match the training data's {train.shape[1]} columns."
            )


def _column_mean_std(X: np.ndarray, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and population std (ddof=0) in float64, without a float64 copy of X."""
    mean = X.mean(axis=0, dtype=np.float64)
    ss = np.zeros(X.shape[1], dtype=np.float64)
    for i in range(0, len(X), chunk):
        d = X[i : i + chunk].astype(np.float64) - mean
        ss += np.einsum("ij,ij->j", d, d)
    return mean, np.sqrt(ss / len(X))


def standardize(
    train: np.ndarray,
    *others: np.ndarray,
    dtype: np.dtype | type = np.float32,
    scale: float = 255.0,
) -> tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray]:
    """DD2424 pre-processing: scale to [0, 1], then (x - mean) / std per dimension.

    The statistics come from ``train`` only (numpy ``std``, ddof=0); a zero std is replaced
    by 1 so constant pixels map to 0.

    Parameters
    ----------
    train : (n, d) training inputs (e.g. uint8).
    *others : (m_i, d) validation/test inputs, transformed with the training statistics.
    dtype : dtype of the returned arrays.
    scale : inputs are divided by this first (255 for uint8 pixels; 1 to skip).

    Returns
    -------
    arrays : tuple ``(train, *others)`` standardised, in ``dtype``.
    mean, std : (d,) float64 statistics of ``train / scale``.
    """
    _check_dims(train, others)
    mean, std = _column_mean_std(train)
    mean, std = mean / scale, std / scale
    std = np.where(std == 0, 1.0, std)
    m, s = mean.astype(dtype), std.astype(dtype)
    sc = np.asarray(scale, dtype=dtype)
    out = []
    for a in (train, *others):  # ((a / scale) - m) / s, in place in one new array per input
        x = np.array(a, dtype=dtype)
        np.divide(x, sc, out=x)
        np.subtract(x, m, out=x)
        np.divide(x, s, out=x)
        out.append(x)
    return tuple(out), mean, std


def subtract_mean_image(
    train: np.ndarray, *others: np.ndarray, dtype: np.dtype | type = np.float32
) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """AML pre-processing: pixels stay in 0..255; subtract the training mean image.

    Parameters
    ----------
    train : (n, d) training inputs.
    *others : (m_i, d) other sets, centred with the training mean.
    dtype : dtype of the returned arrays.

    Returns
    -------
    arrays : tuple ``(train, *others)`` centred, in ``dtype``.
    mean : (d,) float64 training mean image.
    """
    _check_dims(train, others)
    mean = train.mean(axis=0, dtype=np.float64)
    m = mean.astype(dtype)
    out = []
    for a in (train, *others):  # a - m, in place in one new array per input
        x = np.array(a, dtype=dtype)
        np.subtract(x, m, out=x)
        out.append(x)
    return tuple(out), mean
