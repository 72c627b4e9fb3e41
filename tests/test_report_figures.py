"""Line figures: preset y-limits never hide the data, legends never cover a curve, HiDPI PNGs."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from linclf_cli.plots import figures
from linclf_cli.plots.figures import Series, effective_ylim, line_figure, smoothed
from linclf_cli.plots.images import DPI


def _loss(level: float, n: int = 400) -> Series:
    x = np.arange(n)
    return Series(x, level + 0.3 * np.exp(-x / 50.0), "loss")


def test_preset_ylim_kept_when_it_shows_the_data():
    # 2b-like: an early spike above the range, the bulk inside -> the course's framing stays
    assert effective_ylim([_loss(0.06)], (0.0, 0.2)) == (0.0, 0.2)


def test_preset_ylim_dropped_when_the_data_is_outside():
    # 4b / 4c lambda = 2: loss around 0.9 against the 3b limits (0.2, 0.6) -> autoscale
    assert effective_ylim([_loss(0.9)], (0.2, 0.6)) is None
    assert effective_ylim([_loss(0.06)], None) is None


def test_ylim_threshold_counts_all_series():
    inside, outside = _loss(0.3), _loss(5.0)
    assert effective_ylim([inside], (0.2, 0.6)) == (0.2, 0.6)
    # half of the points outside: kept at exactly MIN_INSIDE, dropped below it
    assert effective_ylim([inside, outside], (0.2, 0.6)) == (0.2, 0.6)
    assert effective_ylim([inside, outside, outside], (0.2, 0.6)) is None


def test_ylim_ignores_non_finite_values():
    s = Series(np.arange(4), np.array([np.nan, 0.3, np.inf, 0.4]), "x")
    assert effective_ylim([s], (0.2, 0.6)) == (0.2, 0.6)


def _draw(monkeypatch, series, ylim):
    """Run line_figure and keep the Figure (drawn) instead of only the PNG."""
    kept = {}

    def fake_save(fig, path, palette=False):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig).draw()
        kept["fig"] = fig
        return path

    monkeypatch.setattr(figures, "save_figure", fake_save)
    line_figure("unused.png", series, "steps", "loss", ylim)
    return kept["fig"]


def test_figure_axes_show_the_data(monkeypatch):
    fig = _draw(monkeypatch, [_loss(0.9)], (0.2, 0.6))
    lo, hi = fig.axes[0].get_ylim()
    assert lo <= 0.9 <= hi and hi >= 1.1  # the whole curve is visible, not empty axes


def _overlaps(a, b) -> bool:
    return not (a.x1 <= b.x0 or b.x1 <= a.x0 or a.y1 <= b.y0 or b.y1 <= a.y0)


def test_legend_is_outside_the_axes(monkeypatch):
    x = np.arange(500)
    series = [smoothed(x, 0.1 + np.exp(-x / 80.0), 10, "Training Loss"),
              Series(x[::6], 0.12 + np.exp(-x[::6] / 80.0), "Validation Loss"),
              Series(x[::6], 0.15 + np.exp(-x[::6] / 90.0), "Validation Loss with shuffle")]
    fig = _draw(monkeypatch, series, None)
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    legend = ax.get_legend()
    assert legend is not None and len(legend.get_texts()) == 4  # mean, band, two validation curves
    assert not _overlaps(legend.get_window_extent(renderer), ax.get_window_extent(renderer))


def test_png_is_hidpi(tmp_path):
    path = line_figure(tmp_path / "f.png", [_loss(0.3)], "steps", "loss", None, figsize=(7.0, 4.5))
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert DPI >= 192
    # 7 in wide at DPI (bbox "tight" trims or pads a little): twice the ~700 CSS px it is shown at
    assert width == pytest.approx(7.0 * DPI, rel=0.15)
