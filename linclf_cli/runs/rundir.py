"""One directory per run, published atomically, and the rules for what may be replaced.

Everything is written into a hidden sibling ``.NAME.tmp-*`` directory; only when the run has
finished is it renamed to NAME.  A crash, a Ctrl-C or a ``kill -9`` therefore never leaves a
half-written run directory under the final name, and stale temporaries are ignored (and
cleaned by the next run of the same name).

A run never deletes or hides anything linclf did not write: an existing NAME is replaced
only when it is an earlier linclf run directory (:func:`foreign_entry` finds nothing in it
that linclf would not have written); a file, a symbolic link or a folder holding other files
is refused by name.  :func:`inside` proves that a path below a results folder stays inside
it (no ``..``, no absolute parts, no symbolic links) before anything is written there.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

from linclf_cli.errors import OutputError, UsageError

# what a linclf run or task directory holds: its marker files, the suffixes of everything it
# writes, and its own hidden temporaries
MARKERS = ("run.json", "job.json", "task.json")
SUFFIXES = (".json", ".yaml", ".csv", ".npz", ".png", ".svg")
_TEMP = re.compile(r"^\..+\.(?:tmp|old)-[^/]*$|^\..+\.tmp$")
PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


def foreign_entry(path: Path) -> str | None:
    """None when ``path`` is a linclf run/task directory (or empty); else what is in the way:
    the path itself (not a directory, a link) or the first entry linclf did not write."""
    path = Path(path)
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):  # nothing there (RunDir reports an unwritable parent)
        return None
    if stat.S_ISLNK(st.st_mode):
        return f"{path} is a symbolic link"
    if not stat.S_ISDIR(st.st_mode):
        return f"{path} is a file, not a run directory"
    entries = sorted(os.scandir(path), key=lambda e: e.name)
    if not entries:
        return None
    names = {e.name for e in entries}
    if not names.intersection(MARKERS):
        shown = ", ".join(sorted(names)[:3]) + (", ..." if len(names) > 3 else "")
        return f"{path} is not a linclf run directory (it holds {shown})"
    for e in entries:
        if _TEMP.match(e.name):
            continue
        if e.is_symlink():
            return f"{path} holds {e.name}, a symbolic link linclf did not write"
        if e.is_dir(follow_symlinks=False):
            inner = foreign_entry(Path(e.path))
            if inner is not None:
                return inner
        elif not (e.is_file(follow_symlinks=False) and e.name.endswith(SUFFIXES)):
            return f"{path} holds {e.name}, which linclf did not write"
    return None


def check_replaceable(final: Path, force: bool = True, option: str = "--out") -> None:
    """Refuse (UsageError, exit 2) to publish at ``final`` over anything linclf did not write;
    an earlier linclf run directory is replaced only with ``force``."""
    final = Path(final)
    problem = foreign_entry(final)
    if problem is not None:
        raise UsageError(f"Refusing to write the run to {final}: {problem}, and linclf never "
                         "replaces or hides files it did not write.",
                         f"Choose another path with {option} (for example {final}-run).")
    if not force and final.is_dir() and any(final.iterdir()):
        raise UsageError(f"{final} already holds an earlier linclf run.",
                         f"Pass --force to replace it, or choose another path with {option}.")


def inside(root: Path, *parts: str) -> Path:
    """``root/part/...`` after proving it stays inside ``root``: every part a plain name
    (no ``/``, ``..``, absolute path or leading dot), no existing component a symbolic link,
    and the resolved path below the resolved root.  Raises OutputError naming the path."""
    root = Path(root)
    p = root
    for part in parts:
        part = str(part)
        if not PLAIN_NAME.match(part) or part in (".", ".."):
            raise OutputError(f"Refusing to write {root / part}: {part!r} is not a plain name "
                              "inside the results folder.",
                              "Names are letters, digits, '_', '.', '+' and '-', not starting with a dot.")
        p = p / part
        if p.is_symlink():
            raise OutputError(f"Refusing to write under {p}: it is a symbolic link "
                              f"(to {os.readlink(p)}), and linclf does not follow links in a "
                              "results folder.", f"Remove the link {p}, or use another --results-dir.")
    real_root = root.resolve()
    real = p.resolve()
    if real != real_root and real_root not in real.parents:
        raise OutputError(f"Refusing to write {p}: it resolves to {real}, outside {real_root}.")
    return p


class RunDir:
    def __init__(self, final: Path) -> None:
        self.final = Path(final).absolute()
        check_replaceable(self.final)
        parent = self.final.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            for stale in parent.glob(f".{self.final.name}.tmp-*"):
                if stale.is_dir() and not stale.is_symlink():
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
        check_replaceable(self.final)  # again: something may have appeared while we ran
        old = None
        if os.path.lexists(self.final):
            old = Path(tempfile.mkdtemp(prefix=f".{self.final.name}.old-", dir=self.final.parent))
            os.rmdir(old)
            os.replace(self.final, old)
        os.replace(self.path, self.final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.final
