"""What a runner needs from the outside world, injected (no globals)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ProgressFn = Callable[[int, int, dict], None]  # (done, total, fields for display)


@dataclass
class RunContext:
    """``data_dir``: the --data-dir option (None: LINCLF_DATA_DIR, then the cache).
    ``argv``: recorded in run.json.  ``progress``: ``progress(done, total, fields)``
    callback; ``fields`` may hold epoch, epochs, loss and val_accuracy (None when not known)."""

    data_dir: Path | None = None
    argv: list[str] | None = None
    progress: ProgressFn | None = None
