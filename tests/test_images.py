from __future__ import annotations

import numpy as np
import pytest
from matplotlib.image import imread

from linclf_cli.plots.images import (
    cifar_templates,
    compose_weight_rows,
    first_layer_grid,
    grid_image,
    mnist_weight_rows,
    probability_histograms,
    template_images,
)


def _readable_png(path):
    assert path.exists()
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = imread(path)
    assert img.ndim == 3 and img.shape[2] in (3, 4)
    assert img.shape[0] > 20 and img.shape[1] > 20
    assert float(img[..., :3].std()) > 0.01  # not a blank canvas
    # no temp files left behind by the atomic write
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []
    return img


# --------------------------------------------------------------------------- MNIST


def test_compose_weight_rows_shape_and_per_row_normalisation():
    rng = np.random.default_rng(0)
    rows = [rng.normal(size=(785, 10)), 5.0 * rng.normal(size=(784, 10)) + 3.0, rng.normal(size=(785, 10))]
    img = compose_weight_rows(rows)
    assert img.shape == (28 * 3, 280)
    for r in range(3):
        band = img[28 * r : 28 * (r + 1)]
        assert band.min() == pytest.approx(0.0)
        assert band.max() == pytest.approx(1.0)


def test_compose_weight_rows_excludes_bias_row():
    rng = np.random.default_rng(1)
    W = rng.normal(size=(785, 10))
    W[-1] = 1e9  # a huge bias must not squash the normalisation
    img = compose_weight_rows([W])
    expected = compose_weight_rows([W[:-1]])
    np.testing.assert_allclose(img, expected)
    assert img.min() == pytest.approx(0.0) and img.max() == pytest.approx(1.0)
    assert img.std() > 0.1  # with the bias included everything would collapse to ~0


def test_compose_weight_rows_digit_layout():
    W = np.zeros((784, 10))
    W[0 * 28 + 27, 3] = 1.0  # class 3, pixel (row 0, col 27)
    img = compose_weight_rows([W])
    assert img[0, 3 * 28 + 27] == 1.0
    assert img.sum() == 1.0


def test_compose_weight_rows_rejects_bad_shape():
    with pytest.raises(ValueError):
        compose_weight_rows([np.zeros((100, 10))])
    with pytest.raises(ValueError):
        compose_weight_rows([])


def test_mnist_weight_rows_writes_png(tmp_path):
    rng = np.random.default_rng(2)
    path = tmp_path / "weights.png"
    out = mnist_weight_rows([rng.normal(size=(785, 10)), rng.normal(size=(785, 10))], ["λ = 0", "λ = 2"], path)
    assert out == path
    _readable_png(path)
    with pytest.raises(ValueError):
        mnist_weight_rows([rng.normal(size=(785, 10))], ["a", "b"], tmp_path / "x.png")


def test_png_bytes_are_deterministic(tmp_path):
    rng = np.random.default_rng(3)
    rows = [rng.normal(size=(785, 10))]
    a = mnist_weight_rows(rows, ["λ = 0"], tmp_path / "a.png").read_bytes()
    b = mnist_weight_rows(rows, ["λ = 0"], tmp_path / "b.png").read_bytes()
    assert a == b
    assert b"Software" not in a


def test_writer_overwrites_existing_file(tmp_path):
    path = tmp_path / "w.png"
    path.write_bytes(b"old")
    mnist_weight_rows([np.arange(7850.0).reshape(785, 10)], ["x"], path)
    _readable_png(path)


# --------------------------------------------------------------------------- CIFAR templates


def test_template_images_orientation_and_range():
    rng = np.random.default_rng(4)
    W = rng.uniform(-1, 1, size=(10, 3072))
    for k in range(10):
        W[k, 0 * 1024 + 0 * 32 + 31] = 50.0  # channel 0, row 0, column 31
    imgs = template_images(W)
    assert imgs.shape == (10, 32, 32, 3)
    for k in range(10):
        assert imgs[k].min() == pytest.approx(0.0)
        assert imgs[k].max() == pytest.approx(1.0)
        assert np.unravel_index(np.argmax(imgs[k]), imgs[k].shape) == (0, 31, 0)
        assert imgs[k, 0, 31, 0] == 1.0


def test_template_images_channel_and_row():
    W = np.zeros((10, 3072))
    W[2, 2 * 1024 + 5 * 32 + 7] = 1.0  # class 2, channel 2 (blue), row 5, column 7
    imgs = template_images(W)
    assert imgs[2, 5, 7, 2] == 1.0
    assert imgs[2].sum() == 1.0


def test_cifar_templates_writes_png(tmp_path):
    rng = np.random.default_rng(5)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    path = cifar_templates(rng.normal(size=(10, 3072)), names, tmp_path / "sub" / "templates.png", title="λ = 0.1")
    _readable_png(path)


# --------------------------------------------------------------------------- first layer grid


@pytest.mark.parametrize(
    ("hidden", "padding", "shape"),
    [
        (50, 1, (7 * 32 + 6, 8 * 32 + 7, 3)),  # ceil(sqrt(50)) = 8 columns, 7 rows
        (64, 1, (8 * 32 + 7, 8 * 32 + 7, 3)),
        (10, 3, (3 * 32 + 2 * 3, 4 * 32 + 3 * 3, 3)),
        (1, 1, (32, 32, 3)),
    ],
)
def test_grid_image_shape(hidden, padding, shape):
    rng = np.random.default_rng(6)
    grid = grid_image(rng.normal(size=(3072, hidden)), padding=padding)
    assert grid.shape == shape
    assert grid.min() >= 0.0 and grid.max() <= 1.0


def test_grid_image_per_unit_normalisation_and_placement():
    rng = np.random.default_rng(7)
    W1 = rng.normal(size=(3072, 5))
    W1[:, 4] *= 1000.0  # a loud unit must not dim the others
    grid = grid_image(W1, padding=1)  # 3 columns, 2 rows
    for i in range(5):
        r, c = divmod(i, 3)
        tile = grid[r * 33 : r * 33 + 32, c * 33 : c * 33 + 32]
        assert tile.min() == pytest.approx(0.0) and tile.max() == pytest.approx(1.0)
    # padding and the unused last cell are black
    assert np.all(grid[32, :] == 0.0) and np.all(grid[:, 32] == 0.0)
    assert np.all(grid[33:, 66:] == 0.0)


def test_grid_image_layouts():
    W1 = np.zeros((3072, 1))
    W1[(4 * 32 + 9) * 3 + 1, 0] = 1.0  # hwc: row 4, col 9, channel 1
    assert grid_image(W1)[4, 9, 1] == 1.0
    W1 = np.zeros((3072, 1))
    W1[1 * 1024 + 4 * 32 + 9, 0] = 1.0  # chw: channel 1, row 4, col 9
    assert grid_image(W1, layout="chw")[4, 9, 1] == 1.0


def test_first_layer_grid_writes_png(tmp_path):
    rng = np.random.default_rng(8)
    _readable_png(first_layer_grid(rng.normal(size=(3072, 50)), tmp_path / "w1.png", padding=1))


# --------------------------------------------------------------------------- histograms


def test_probability_histograms_writes_png(tmp_path):
    rng = np.random.default_rng(9)
    p1 = rng.uniform(size=500)
    p2 = rng.beta(5, 2, size=500)
    panels = {
        "softmax + CE": (p1, p1 > 0.4),
        "sigmoid + MBCE": (p2, p2 > 0.5),
    }
    img = _readable_png(probability_histograms(panels, tmp_path / "hist.png"))
    assert img.shape[1] > img.shape[0]  # side by side


def test_probability_histograms_edge_cases(tmp_path):
    # all correct (empty "incorrect" histogram) and probabilities exactly 0 and 1
    p = np.array([0.0, 1.0, 1.0, 0.5])
    _readable_png(probability_histograms({"m": (p, np.ones(4, bool))}, tmp_path / "h.png"))
    with pytest.raises(ValueError):
        probability_histograms({"m": (p, np.ones(3, bool))}, tmp_path / "bad.png")
    with pytest.raises(ValueError):
        probability_histograms({}, tmp_path / "empty.png")
