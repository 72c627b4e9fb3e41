"""Progress display on stderr: one bar per run showing its epoch, loss and validation
accuracy; queued runs wait without a moving bar or clock; the overall bar counts only the
runs that actually train and ends at 100 %."""

from __future__ import annotations

import contextlib
import re
from typing import Iterator

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.progress_bar import ProgressBar
from rich.text import Text

SYMBOLS = {"l2": "λ", "lambda": "λ", "lam": "λ", "eta": "η"}


def display_label(label: str) -> str:
    """``tdt4265-a1/4c [l2-0.2]`` -> ``tdt4265-a1/4c λ = 0.2``; grid points
    ``[l2-0.1_learning_rate-0.01]`` -> ``λ = 0.1, learning_rate = 0.01`` (the old course
    spellings ``lambda``, ``lam``, ``eta`` show as their symbols too)."""
    m = re.fullmatch(r"(.*?)\s*\[(.+)\]", label)
    if not m:
        return label
    name = m.group(2)
    pair = r"([A-Za-z][A-Za-z0-9_]*?)-([^_]+)"  # key-value, pairs joined by "_"
    if not re.fullmatch(rf"{pair}(?:_{pair})*", name):
        return f"{m.group(1)} {name}".strip()
    pairs = [f"{SYMBOLS.get(k, k)} = {v}" for k, v in re.findall(rf"{pair}(?:_|$)", name)]
    return f"{m.group(1)} {', '.join(pairs)}".strip()


def format_fields(fields: dict | None) -> str:
    """``epoch 3/50 loss 0.0651 val 0.979`` from what a run reports (missing parts left out)."""
    fields = fields or {}
    parts = []
    if fields.get("epoch") is not None:
        parts.append(f"epoch {fields['epoch']}" + (f"/{fields['epochs']}" if fields.get("epochs") else ""))
    if fields.get("loss") is not None:
        parts.append(f"loss {fields['loss']:.3g}")
    if fields.get("val_accuracy") is not None:
        parts.append(f"val {fields['val_accuracy']:.3f}")
    return " ".join(parts)  # fits beside a bar at 80 columns


class _Bar(BarColumn):
    """A bar that stays still (empty, no pulse) until its task has started."""

    def render(self, task) -> ProgressBar:
        if not task.started:
            return ProgressBar(total=1, completed=0, width=self.bar_width, pulse=False,
                               style=self.style, complete_style=self.complete_style)
        return super().render(task)


class _Elapsed(TimeElapsedColumn):
    """Elapsed time, or ``queued`` for a task that has not started."""

    def render(self, task) -> Text:
        if not task.started:
            return Text("queued", style="dim")
        return super().render(task)


class _Info(ProgressColumn):
    def render(self, task) -> Text:
        return Text(str(task.fields.get("info", "")), style="cyan", overflow="ellipsis", no_wrap=True)


def make_progress(console: Console) -> Progress:
    """A Rich progress display, silent when ``console`` is not a terminal or is quiet."""
    return Progress(
        TextColumn("[bold]{task.description}"), _Bar(bar_width=10), TaskProgressColumn(),
        _Elapsed(), _Info(), console=console, disable=not console.is_terminal or console.quiet,
        transient=False)


@contextlib.contextmanager
def progress_callback(description: str, console: Console) -> Iterator:
    """Yields ``callback(done, total, fields)`` driving one bar; when the run stops early, the
    bar is closed where it stopped ("stopped at epoch N")."""
    with make_progress(console) as progress:
        task = progress.add_task(description, total=None, info="")
        last: dict = {"done": 0, "total": None, "fields": {}}

        def callback(done: int, total: int, fields: dict | None = None) -> None:
            last.update(done=done, total=total, fields=fields or {})
            progress.update(task, completed=done, total=total, info=format_fields(fields))

        yield callback
        if last["total"] and last["done"] < last["total"]:  # early stop: the bar stays where it stopped
            progress.update(task, info=stopped_text(last["fields"]))
            progress.stop_task(task)


def stopped_text(fields: dict) -> str:
    """``stopped early at step 1038 (epoch 33)``: where an early-stopped run ended, numbered as
    metrics.json and ``linclf train`` give it (0-based)."""
    if fields.get("stopped_step") is None:
        return "stopped early"
    return f"stopped early at step {fields['stopped_step']} (epoch {fields['stopped_epoch']})"


class JobProgress:
    """The scheduler hook: one overall bar (runs to train, excluding skipped and up-to-date
    ones) plus one bar per run; a finished run's bar is replaced by one line above."""

    def __init__(self, progress: Progress, n_jobs: int, description: str = "all runs") -> None:
        self.progress = progress
        self.n_jobs = n_jobs
        self.overall = progress.add_task(description, total=n_jobs or 1, info="")
        self.bars: dict[str, int] = {}
        self.started: set[str] = set()
        self.last: dict[str, tuple[int, int, dict]] = {}

    def __call__(self, event: str, label: str, done: int = 0, total: int = 0, fields: dict | None = None) -> None:
        p = self.progress
        if event == "start":  # submitted; waits for a worker
            self.bars[label] = p.add_task(display_label(label), total=None, start=False, info="")
        elif event == "progress" and label in self.bars:
            bar = self.bars[label]
            if label not in self.started:
                self.started.add(label)
                p.start_task(bar)
                p.update(bar, info="")
            if total:
                self.last[label] = (done, total, fields or {})
                p.update(bar, completed=done, total=total, info=format_fields(fields))
        elif event in ("done", "failed") and label in self.bars:
            p.remove_task(self.bars.pop(label))
            p.advance(self.overall)
            d, t, f = self.last.get(label, (0, 0, {}))
            if event == "done":
                note = stopped_text(f) if t and d < t else format_fields(f)
                p.console.print(f"[green]done[/] {display_label(label)}  [dim]{note}[/]", highlight=False)

    def finish(self) -> None:
        """The overall bar ends at 100 % (runs trained once for two tasks are copied, not run)."""
        self.progress.update(self.overall, completed=self.n_jobs or 1)
