"""One directory per run, published atomically.

Everything is written into a hidden sibling ``.NAME.tmp-*`` directory; only when the run has
finished is it renamed to NAME (an existing NAME is swapped out and removed).  A crash, a
Ctrl-C or a ``kill -9`` therefore never leaves a half-written run directory under the final
name, and stale temporaries are ignored (and cleaned by the next run of the same name).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from linclf_cli.errors import OutputError


class RunDir:
    def __init__(self, final: Path) -> None:
        self.final = Path(final).absolute()
        parent = self.final.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            for stale in parent.glob(f".{self.final.name}.tmp-*"):
                shutil.rmtree(stale, ignore_errors=True)
            self.path = Path(tempfile.mkdtemp(prefix=f".{self.final.name}.tmp-", dir=parent))
        except OSError as exc:
            raise OutputError(
                f"Cannot write the output directory {self.final}: {exc.strerror or exc}.",
                "Choose a writable location with --out (or --results-dir).",
            ) from None

    def __enter__(self) -> "RunDir":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.discard()

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def commit(self) -> Path:
        os.chmod(self.path, 0o755)
        old = None
        if self.final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{self.final.name}.old-", dir=self.final.parent))
            os.rmdir(old)
            os.replace(self.final, old)
        os.replace(self.path, self.final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.final
