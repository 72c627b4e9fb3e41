"""Horizontal flips of flattened 3x32x32 images."""

from __future__ import annotations

import numpy as np
import pytest

from linclf_cli.engine.augment import flip, flip_permutation, random_flip
from linclf_cli.errors import UsageError


def _images(n=4, seed=0):
    # distinct value for every (image, c, r, j)
    base = np.arange(3072, dtype=np.float64)
    return np.stack([base + 10_000 * i for i in range(n)])


def test_permutation_is_involution_and_permutation():
    perm = flip_permutation()
    assert perm.shape == (3072,)
    np.testing.assert_array_equal(np.sort(perm), np.arange(3072))
    np.testing.assert_array_equal(perm[perm], np.arange(3072))


def test_known_image_flips_per_channel():
    X = _images(2)
    Xf = flip(X)
    for c in range(3):
        for r in (0, 5, 31):
            for j in (0, 1, 17, 31):
                np.testing.assert_array_equal(
                    Xf[:, c * 1024 + r * 32 + j], X[:, c * 1024 + r * 32 + 31 - j]
                )
    # equivalent to reversing the last axis of the (3, 32, 32) view
    np.testing.assert_array_equal(
        Xf.reshape(2, 3, 32, 32), X.reshape(2, 3, 32, 32)[:, :, :, ::-1]
    )
    np.testing.assert_array_equal(flip(Xf), X)


def test_other_geometry():
    perm = flip_permutation(height=2, width=3, channels=2)
    np.testing.assert_array_equal(perm, [2, 1, 0, 5, 4, 3, 8, 7, 6, 11, 10, 9])


def test_random_flip_p0_identity_p1_all():
    X = _images(5)
    X0 = X.copy()
    out0 = random_flip(X, np.random.default_rng(0), p=0.0)
    np.testing.assert_array_equal(out0, X)
    assert out0 is not X
    out1 = random_flip(X, np.random.default_rng(0), p=1.0)
    np.testing.assert_array_equal(out1, flip(X))
    np.testing.assert_array_equal(X, X0)  # input untouched


def test_random_flip_mixes_and_is_deterministic():
    rng_data = np.random.default_rng(1)
    X = rng_data.standard_normal((400, 3072)).astype(np.float32)
    X0 = X.copy()
    a = random_flip(X, np.random.default_rng(3))
    b = random_flip(X, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(X, X0)
    assert a.dtype == np.float32
    flipped = np.all(a == flip(X), axis=1)
    same = np.all(a == X, axis=1)
    assert np.all(flipped ^ same)
    assert 150 < flipped.sum() < 250  # about half
    expected = np.random.default_rng(3).random(400) < 0.5
    np.testing.assert_array_equal(flipped, expected)


def test_random_flip_validation():
    X = _images(2)
    with pytest.raises(UsageError):
        random_flip(X, np.random.default_rng(0), p=1.5)
    with pytest.raises(ValueError):
        random_flip(np.zeros((2, 10)), np.random.default_rng(0))
    out = random_flip(np.arange(12.0).reshape(1, 12), np.random.default_rng(0), p=1.0,
                      perm=flip_permutation(2, 3, 2))
    np.testing.assert_array_equal(out[0], [2, 1, 0, 5, 4, 3, 8, 7, 6, 11, 10, 9])
