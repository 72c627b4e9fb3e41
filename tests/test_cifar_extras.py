"""The additions made for the real-CIFAR-10 report: He initialisation, the flip probability as
a DD2424 setting, weights kept only for a grid's selected point, and longest-first ordering."""

from __future__ import annotations

import numpy as np
import pytest

from linclf_cli.assignments.aml2020 import net as mlp
from linclf_cli.errors import UsageError
from linclf_cli.assignments.aml2020.recipe import AmlConfig
from linclf_cli.assignments.dd2424.recipe import Dd2424Config
from linclf_cli.assignments.registry import estimated_cost


def test_he_init_scales_each_layer_by_its_fan_in() -> None:
    rng = np.random.default_rng(0)
    p = mlp.init_mlp([3072, 50, 50, 10], rng, std=1e-3, dtype=np.float64, scheme="he")
    for l, fan_in in ((1, 3072), (2, 50), (3, 50)):
        assert p[f"W{l}"].std() == pytest.approx(np.sqrt(2.0 / fan_in), rel=0.1)
        assert not p[f"b{l}"].any()
    normal = mlp.init_mlp([3072, 50, 10], np.random.default_rng(0), std=1e-3, dtype=np.float64)
    assert normal["W1"].std() == pytest.approx(1e-3, rel=0.05)


def test_he_init_draws_the_same_stream_as_normal() -> None:
    """Only the scale differs: the same standard-normal draws, layer by layer."""
    a = mlp.init_mlp([20, 7, 3], np.random.default_rng(5), std=1.0, dtype=np.float64)
    b = mlp.init_mlp([20, 7, 3], np.random.default_rng(5), dtype=np.float64, scheme="he")
    np.testing.assert_allclose(b["W1"], a["W1"] * np.sqrt(2 / 20))
    np.testing.assert_allclose(b["W2"], a["W2"] * np.sqrt(2 / 7))


def test_unknown_init_scheme_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="xavier"):
        mlp.init_mlp([4, 3], np.random.default_rng(0), scheme="xavier")
    with pytest.raises(UsageError, match="init"):
        AmlConfig(init="xavier").resolved()
    assert AmlConfig(init="he").resolved().init == "he"


@pytest.mark.parametrize("bad", [0.0, -0.5, 1.5, float("nan")])
def test_flip_probability_must_lie_in_0_1(bad: float) -> None:
    with pytest.raises(UsageError, match="flip_prob"):
        Dd2424Config(flip=True, flip_prob=bad).resolved()
    assert Dd2424Config(flip=True, flip_prob=0.25).resolved().flip_prob == 0.25


def test_estimated_cost_orders_longer_runs_first() -> None:
    small = estimated_cost("aml", {"optimizer": "sgd", "hidden": [100], "iterations": 2000, "batch_size": 200})
    big = estimated_cost("aml", {"optimizer": "sgd", "hidden": [1000], "iterations": 5000, "batch_size": 200})
    assert big > 10 * small > 0
    assert estimated_cost("dd2424", {"split": "bonus", "epochs": 80}) > \
        estimated_cost("dd2424", {"split": "a1", "epochs": 40})
    assert estimated_cost("aml", {"hidden": "nonsense"}) == 0.0  # never raises
    assert estimated_cost("aml-toy", {}) == 0.0


def test_grid_keeps_weights_and_figures_of_the_selected_point_only(tmp_path) -> None:
    from linclf_cli.tasks.handlers import parse_grid, summarize_grid

    g = parse_grid({"kind": "dd2424", "base": {"model": "softmax"}, "grid": {"lam": [0.0, 0.1, 1.0]},
                    "select": "val_accuracy"}, "test")
    metrics = {}
    for i, name in enumerate(g.points):
        d = tmp_path / name
        d.mkdir()
        (d / "weights.npz").write_bytes(b"x")
        (d / "loss.png").write_bytes(b"x")
        (d / "metrics.json").write_text("{}")
        (d / "history.csv").write_text("epoch\n0\n")
        metrics[name] = {"val_accuracy": [0.3, 0.5, 0.4][i], "train_accuracy": 0.5, "test_accuracy": 0.4}
    out = summarize_grid(tmp_path, g, metrics)
    for pattern in ("*/weights.npz", "*/loss.png"):
        kept = sorted(p.parent.name for p in tmp_path.glob(pattern))
        assert kept == [out["best_name"]] == [list(g.points)[1]]
    assert all((tmp_path / n / "metrics.json").exists() and (tmp_path / n / "history.csv").exists()
               for n in g.points)


def test_line_figures_are_palette_pngs_and_weight_images_keep_every_colour(tmp_path) -> None:
    from PIL import Image

    from linclf_cli.plots.figures import Series, line_figure
    from linclf_cli.plots.images import first_layer_grid

    x = np.arange(200)
    line_figure(tmp_path / "l.png", [Series(x, np.exp(-x / 50), "loss")], "step", "loss")
    with Image.open(tmp_path / "l.png") as im:
        assert im.mode == "P"
        rgb = np.asarray(im.convert("RGB"))
    assert (rgb < 128).any() and (rgb > 250).any()  # a drawn curve on white, not a blank image
    W1 = np.random.default_rng(0).normal(size=(3072, 1000))
    first_layer_grid(W1, tmp_path / "w.png", layout="chw")
    first_layer_grid(W1[:, :100], tmp_path / "w100.png", layout="chw")
    with Image.open(tmp_path / "w.png") as a, Image.open(tmp_path / "w100.png") as b:
        assert a.mode in ("RGB", "RGBA") and a.size == b.size  # all colours; at most 100 units
        assert np.array_equal(np.asarray(a), np.asarray(b))
