"""A sweep's figures: the selection metric against each swept option (a log axis when its
values span two decades or more; one line per value of the other option when exactly two
vary), a heatmap when exactly two options vary, and the validation curves of the top 5 points
overlaid."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from linclf_cli.plots.figures import Series, line_figure
from linclf_cli.plots.images import save_figure

from .results import value_text

TOP = 5


def _numeric(vals) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals)


def _log(vals) -> bool:
    a = np.asarray(vals, float)
    return bool(_numeric(vals) and (a > 0).all() and a.max() / a.min() >= 100)


def _label(name: str) -> str:
    return name.replace("_", " ")


def _coords(vals) -> tuple[np.ndarray, list[str] | None]:
    """Numbers as they are; names or layer lists as column indices (in first-seen order)."""
    if _numeric(vals):
        return np.asarray(vals, float), None
    cats = list(dict.fromkeys(value_text(v) for v in vals))
    return np.array([cats.index(value_text(v)) for v in vals], float), cats


GROUPS = 8  # the most values of the other option drawn as one line each


def metric_vs(out: Path, name: str, metric: str, done: list[dict], other: str | None = None) -> str:
    """``metric`` against ``name``; with ``other`` (the one other option that varies, at most
    8 values), one line per value of it, so a grid reads as curves instead of a cloud."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    vals = [r[name] for r in done]
    ys = np.array([r[metric] for r in done], float)
    fig = Figure(figsize=(6.0, 4.0))
    ax = fig.add_subplot(1, 1, 1)
    x, cats = _coords(vals)
    if cats is not None:  # names or layer lists: one column per value, in the order first seen
        ax.set_xticks(range(len(cats)), cats)
        ax.set_xlim(-0.5, len(cats) - 0.5)
    elif _log(vals):
        ax.set_xscale("log")
    groups = list(dict.fromkeys(value_text(r[other]) for r in done)) if other else []
    if 1 < len(groups) <= GROUPS:
        if _numeric([r[other] for r in done]):
            groups = [value_text(v) for v in sorted({r[other] for r in done})]
            colors = colormaps["viridis"](np.linspace(0.0, 0.85, len(groups)))
        else:
            colors = colormaps["tab10"](np.arange(len(groups)) % 10)
        for g, color in zip(groups, colors):
            idx = np.array([i for i, r in enumerate(done) if value_text(r[other]) == g])
            idx = idx[np.argsort(x[idx], kind="stable")]
            ax.plot(x[idx], ys[idx], "o-", color=color, alpha=0.85, label=g)
        ax.legend(title=_label(other), fontsize=8, title_fontsize=8, loc="center left",
                  bbox_to_anchor=(1.01, 0.5), frameon=False)
    else:
        ax.plot(x, ys, "o", alpha=0.8)
    ax.set_xlabel(_label(name))
    ax.set_ylabel(_label(metric))
    ax.set_title(f"{_label(metric)} against {_label(name)}")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    file = f"{metric}_vs_{name}.png"
    save_figure(fig, out / file, palette=True)
    return file


def heatmap(out: Path, a: str, b: str, metric: str, done: list[dict]) -> str:
    """Grid points: one cell per (a, b) value pair (the mean over repeats); random points:
    a scatter coloured by the metric."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 4.8))
    ax = fig.add_subplot(1, 1, 1)
    xa = list(dict.fromkeys(value_text(r[a]) for r in done))
    xb = list(dict.fromkeys(value_text(r[b]) for r in done))
    if len(xa) * len(xb) <= 2 * len(done):  # a grid (or close to one)
        if _numeric([r[a] for r in done]):
            xa = [value_text(v) for v in sorted({r[a] for r in done})]
        if _numeric([r[b] for r in done]):
            xb = [value_text(v) for v in sorted({r[b] for r in done})]
        grid = np.full((len(xb), len(xa)), np.nan)
        sums: dict = {}
        for r in done:
            k = (xb.index(value_text(r[b])), xa.index(value_text(r[a])))
            sums.setdefault(k, []).append(r[metric])
        for (i, j), v in sums.items():
            grid[i, j] = float(np.mean(v))
        im = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(range(len(xa)), xa, rotation=30)
        ax.set_yticks(range(len(xb)), xb)
        for (i, j), v in sums.items():  # dark text on the bright cells, white on the dark
            red, green, blue, _ = im.cmap(im.norm(np.mean(v)))
            ink = "black" if 0.299 * red + 0.587 * green + 0.114 * blue > 0.5 else "white"
            ax.text(j, i, f"{np.mean(v):.3g}", ha="center", va="center", color=ink, fontsize=8)
    else:
        x, y = _coords([r[a] for r in done]), _coords([r[b] for r in done])
        im = ax.scatter(x[0], y[0], c=[r[metric] for r in done], cmap="viridis", s=40)
        for (vals, ticks), axis in ((x, ax.xaxis), (y, ax.yaxis)):
            if ticks is not None:
                axis.set_ticks(range(len(ticks)), ticks)
        if _log([r[a] for r in done]):
            ax.set_xscale("log")
        if _log([r[b] for r in done]):
            ax.set_yscale("log")
    fig.colorbar(im, ax=ax, label=_label(metric))
    ax.set_xlabel(_label(a))
    ax.set_ylabel(_label(b))
    ax.set_title(f"{_label(metric)} over {_label(a)} and {_label(b)}")
    fig.tight_layout()
    file = f"{metric}_heatmap.png"
    save_figure(fig, out / file, palette=False)
    return file


def top_curves(out: Path, spec, planned, done: list[dict]) -> str | None:
    from linclf_cli.runs import io

    sign = 1 if spec.maximize else -1
    top = sorted(done, key=lambda r: -sign * r[spec.select])[:TOP]
    dirs = {p.point.name: p.job.out for p in planned}
    series = []
    for r in top:
        try:
            h = io.read_csv(dirs[r["point"]] / "history.csv")
        except (OSError, ValueError):
            continue
        if "val_accuracy" not in h or "step" not in h:
            continue
        shown = ", ".join(f"{k}={value_text(r[k])}" for k in spec.swept)
        series.append(Series(np.asarray(h["step"], float), np.asarray(h["val_accuracy"], float), shown))
    if not series:
        return None
    file = "top_curves.png"
    line_figure(out / file, series, "Number of Training Steps", "Validation Accuracy",
                title=f"Validation accuracy of the top {len(series)} points (by {_label(spec.select)})")
    return file


def _other(varying: list[str], name: str) -> str | None:
    """The one other option that varies, when exactly two do."""
    rest = [n for n in varying if n != name]
    return rest[0] if len(rest) == 1 else None


def draw_all(out: Path, spec, planned, table: list[dict]) -> list[str]:
    done = [r for r in table if r["status"] == "done" and r.get(spec.select) is not None]
    if not done:
        return []
    varying = [n for n in spec.swept if len({value_text(r[n]) for r in done}) > 1]
    files = [metric_vs(out, n, spec.select, done, other=_other(varying, n)) for n in varying]
    if len(varying) == 2:
        files.append(heatmap(out, *varying, spec.select, done))
    curves = top_curves(out, spec, planned, done)
    return files + ([curves] if curves else [])
