"""Compare committed task results with regenerated ones: metrics, histories and figures.

Pure comparison: nothing here runs a task or prints.  :func:`compare_trees` takes two results
folders (``<results>/<assignment>/<task>/``) and returns one :class:`TaskVerdict` per task,
each with the list of :class:`Difference` found.  ``linclf verify`` reruns tasks into a
temporary folder and calls it; ``.ci/run`` regenerates once and calls ``linclf verify
--against``.

What is compared, per task folder:

* ``task.json``: every key (metrics, each expectation's value and pass/fail, the overall
  ``passed``, the figure list, title, command) except the bookkeeping keys ``key``, ``deps``
  and ``finished``; missing and extra keys are differences.
* every ``metrics.json`` and every ``*.csv`` (histories, sweep tables) in the folder and its
  run sub-folders, cell by cell.
* every ``*.png`` in either folder, against its twin, with matplotlib's
  :func:`matplotlib.testing.compare.compare_images` (RMS of the pixel difference, 0-255 scale);
  a figure of another size is a difference, never a crash.

Numbers agree when ``|committed - regenerated| <= atol + rtol * |committed|`` (float32
training is deterministic on one machine; the defaults absorb BLAS kernel differences between
machines).  Integers (both sides), booleans, strings and ``null`` must match exactly.

The committed folder is untrusted: links are not followed (a linked file or folder is a
difference), files are read with a size bound, and unreadable or malformed files are
differences naming the file, never exceptions.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import stat
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

DEFAULT_ATOL = 1e-6
DEFAULT_RTOL = 1e-5
DEFAULT_FIGURE_TOL = 1.0  # RMS, 0-255 scale: antialiasing noise passes, a drawn dot does not

IGNORED_TASK_KEYS = ("key", "deps", "finished")  # bookkeeping, not results
MAX_FILE_BYTES = 64 * 2**20  # a results file larger than this is refused, not read
MAX_DIFFS_PER_FILE = 20  # a history that differs everywhere is summarised, not listed in full


@dataclass(frozen=True)
class Tolerance:
    atol: float = DEFAULT_ATOL
    rtol: float = DEFAULT_RTOL
    figure_rms: float = DEFAULT_FIGURE_TOL

    def close(self, a: float, b: float) -> bool:
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        if math.isinf(a) or math.isinf(b):
            return a == b
        return abs(a - b) <= self.atol + self.rtol * abs(a)


@dataclass(frozen=True)
class Difference:
    """One thing that differs.  ``what`` names it inside the task (``val_loss``,
    ``expectations[3] val_loss <= 0.08 .passed``, ``figure loss.png``,
    ``l2-2/metrics.json: train_loss``)."""

    task: str
    what: str
    committed: Any = None
    regenerated: Any = None
    detail: str = ""

    def values(self) -> tuple[str, str]:
        return fmt_pair(self.committed, self.regenerated)

    def short(self) -> str:
        """``tdt4265-a1/2b val_loss 0.0651 vs 0.0702`` (or the detail when no values)."""
        if self.committed is None and self.regenerated is None:
            return f"{self.task} {self.what}: {self.detail}".rstrip(": ")
        c, r = self.values()
        return f"{self.task} {self.what} {c} vs {r}"


@dataclass
class TaskVerdict:
    """``status``: identical | differs | not-run (neither side has it, or it cannot be rerun
    here) | not-committed (regenerated, absent from the committed results)."""

    task: str
    status: str
    differences: list[Difference] = field(default_factory=list)
    note: str = ""

    def to_dict(self) -> dict:
        return {"task": self.task, "status": self.status, "note": self.note,
                "differences": [{k: v for k, v in asdict(d).items() if k != "task"}
                                for d in self.differences]}


# --------------------------------------------------------------------------- formatting

def _fmt(v: Any, digits: int) -> str:
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    if isinstance(v, (dict, list)):
        s = json.dumps(v, default=str)
        return s if len(s) <= 60 else s[:57] + "..."
    return "null" if v is None else str(v)


def fmt_pair(a: Any, b: Any) -> tuple[str, str]:
    """Both values with 3 significant digits, or as many more as it takes to tell them apart."""
    for digits in (3, 4, 6, 8, 10, 12, 17):
        sa, sb = _fmt(a, digits), _fmt(b, digits)
        if sa != sb:
            return sa, sb
    return sa, sb


# --------------------------------------------------------------------------- values

def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _item_label(i: int, v: Any) -> str:
    if isinstance(v, dict) and isinstance(v.get("metric"), str):
        cond = v.get("condition")
        return f"[{i}] {v['metric']}" + (f" {cond}" if isinstance(cond, str) else "")
    return f"[{i}]"


def compare_values(a: Any, b: Any, where: str, tol: Tolerance,
                   ignore: Iterable[str] = ()) -> list[tuple[str, Any, Any, str]]:
    """Differences between the JSON values ``a`` (committed) and ``b`` (regenerated), as
    ``(path, committed, regenerated, detail)``; ``ignore`` names top-level keys to skip."""
    out: list[tuple[str, Any, Any, str]] = []
    skip = set(ignore)

    def join(path: str, key: str) -> str:
        return f"{path}.{key}" if path else key

    def walk(x: Any, y: Any, path: str, top: bool) -> None:
        if isinstance(x, dict) and isinstance(y, dict):
            for k in x:
                if top and k in skip:
                    continue
                if k not in y:
                    out.append((join(path, str(k)), x[k], None, "missing in the regenerated results"))
                else:
                    walk(x[k], y[k], join(path, str(k)), False)
            for k in y:
                if not (top and k in skip) and k not in x:
                    out.append((join(path, str(k)), None, y[k], "missing in the committed results"))
        elif isinstance(x, list) and isinstance(y, list):
            if len(x) != len(y):
                out.append((path or "value", f"{len(x)} items", f"{len(y)} items", "lengths differ"))
                return
            for i, (p, q) in enumerate(zip(x, y)):
                walk(p, q, f"{path}{_item_label(i, p)}", False)
        elif _is_num(x) and _is_num(y):
            if _is_int(x) and _is_int(y):
                if x != y:
                    out.append((path or "value", x, y, "integers differ"))
            elif not tol.close(float(x), float(y)):
                out.append((path or "value", x, y,
                            f"beyond {tol.atol:g} + {tol.rtol:g}·|committed|"))
        elif type(x) is not type(y) or x != y:
            out.append((path or "value", x, y, ""))

    walk(a, b, "", True)
    return out


# --------------------------------------------------------------------------- files

class _Unreadable(Exception):
    pass


def _read_bytes(path: Path) -> bytes:
    """A regular file's bytes, refusing links and oversized files."""
    try:
        st = os.lstat(path)
    except OSError as exc:
        raise _Unreadable(f"cannot be read ({exc.strerror})") from None
    if stat.S_ISLNK(st.st_mode):
        raise _Unreadable("is a symbolic link (not followed)")
    if not stat.S_ISREG(st.st_mode):
        raise _Unreadable("is not a regular file")
    if st.st_size > MAX_FILE_BYTES:
        raise _Unreadable(f"is {st.st_size} bytes (over the {MAX_FILE_BYTES} limit)")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _Unreadable(f"cannot be read ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as fh:
        return fh.read(MAX_FILE_BYTES + 1)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(_read_bytes(path).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _Unreadable(f"is not valid JSON ({exc})") from None


def _parse_cell(s: str) -> Any:
    try:
        return int(s)
    except ValueError:
        pass
    try:
        return float(s)
    except ValueError:
        return s


def _read_csv(path: Path) -> list[list[Any]]:
    try:
        text = _read_bytes(path).decode("utf-8")
        return [[_parse_cell(c) for c in row] for row in csv.reader(io.StringIO(text))]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise _Unreadable(f"is not a readable CSV file ({exc})") from None


def _walk_files(root: Path) -> tuple[dict[str, Path], list[str]]:
    """Relative path -> file under ``root`` (links not followed, hidden names skipped), and
    the relative names of links found."""
    files: dict[str, Path] = {}
    links: list[str] = []
    if not root.is_dir() or root.is_symlink():
        return files, links
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        d = Path(dirpath)
        for name in list(dirnames):
            if name.startswith("."):
                dirnames.remove(name)
            elif (d / name).is_symlink():
                links.append((d / name).relative_to(root).as_posix())
                dirnames.remove(name)
        for name in filenames:
            if name.startswith("."):
                continue
            rel = (d / name).relative_to(root).as_posix()
            if (d / name).is_symlink():
                links.append(rel)
            else:
                files[rel] = d / name
    return files, links


# --------------------------------------------------------------------------- figures

def compare_figure(committed: Path, regenerated: Path, rms_tol: float = DEFAULT_FIGURE_TOL
                   ) -> tuple[Any, Any, str] | None:
    """None when the two PNGs agree within ``rms_tol``; else ``(committed, regenerated,
    detail)`` describing the difference (sizes, or the RMS).

    Both images are copied to a private temporary folder first: ``compare_images`` writes a
    ``-failed-diff.png`` beside its input, and neither results folder is ours to write."""
    from matplotlib.testing.compare import compare_images
    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="linclf-verify-") as tmp:
        paths = []
        for side, src in (("committed", committed), ("regenerated", regenerated)):
            try:
                data = _read_bytes(src)
            except _Unreadable as exc:
                return None, None, f"{side} file {exc}"
            if not data.startswith(b"\x89PNG\r\n\x1a\n"):
                return None, None, f"{side} file is not a PNG image"
            p = Path(tmp, f"{side}.png")
            p.write_bytes(data)
            paths.append(p)
        try:
            sizes = []
            for p in paths:
                with Image.open(p) as im:
                    sizes.append(im.size)
            if sizes[0] != sizes[1]:
                (w0, h0), (w1, h1) = sizes
                return f"{w0}x{h0}", f"{w1}x{h1}", "image sizes differ"
            result = compare_images(str(paths[0]), str(paths[1]), tol=rms_tol, in_decorator=True)
        except Exception as exc:  # noqa: BLE001 - ImageComparisonFailure and friends
            return None, None, f"cannot be compared ({type(exc).__name__}: {exc})"
    if result is None:
        return None
    return None, None, f"RMS {float(result['rms']):.3g} > tolerance {rms_tol:g}"


# --------------------------------------------------------------------------- one task

def compare_task_dir(ref: str, committed: Path, regenerated: Path,
                     tol: Tolerance = Tolerance()) -> list[Difference]:
    """Every difference between one committed task folder and its regenerated twin."""
    diffs: list[Difference] = []
    cfiles, clinks = _walk_files(committed)
    rfiles, _ = _walk_files(regenerated)
    for rel in clinks:
        diffs.append(Difference(ref, rel, detail="is a symbolic link in the committed results (not followed)"))

    def add_value_diffs(prefix: str, found: list[tuple[str, Any, Any, str]]) -> None:
        for path, a, b, detail in found[:MAX_DIFFS_PER_FILE]:
            diffs.append(Difference(ref, f"{prefix}{path}", a, b, detail))
        if len(found) > MAX_DIFFS_PER_FILE:
            diffs.append(Difference(ref, prefix.rstrip(": ") or "task.json",
                                    detail=f"{len(found) - MAX_DIFFS_PER_FILE} more differences"))

    def load(reader, rel: str, side: str, files: dict[str, Path]):
        try:
            return reader(files[rel])
        except _Unreadable as exc:
            diffs.append(Difference(ref, rel, detail=f"{side} {rel} {exc}"))
            return None

    # task.json: metrics under their plain names, the rest under their keys
    ct = load(_read_json, "task.json", "committed", cfiles) if "task.json" in cfiles else None
    rt = load(_read_json, "task.json", "regenerated", rfiles) if "task.json" in rfiles else None
    if ct is not None and rt is not None:
        if not isinstance(ct, dict):
            diffs.append(Difference(ref, "task.json", detail="committed task.json is not a JSON object"))
        elif isinstance(rt, dict):
            found = compare_values(ct, rt, "", tol, IGNORED_TASK_KEYS)
            add_value_diffs("", [(p[len("metrics."):] if p.startswith("metrics.") else p, a, b, d)
                                 for p, a, b, d in found])

    # every other metrics.json and CSV, cell by cell
    for rel in sorted(set(cfiles) | set(rfiles)):
        name = rel.rsplit("/", 1)[-1]
        if rel == "task.json":
            continue
        kind = ("json" if name == "metrics.json" else "csv" if name.endswith(".csv")
                else "png" if name.lower().endswith(".png") else None)
        if kind is None:
            continue
        label = f"figure {rel}" if kind == "png" else rel
        if rel not in rfiles:
            diffs.append(Difference(ref, label, detail="missing in the regenerated results"))
            continue
        if rel not in cfiles:
            diffs.append(Difference(ref, label, detail="missing in the committed results"))
            continue
        if kind == "png":
            res = compare_figure(cfiles[rel], rfiles[rel], tol.figure_rms)
            if res is not None:
                diffs.append(Difference(ref, label, *res))
            continue
        reader = _read_json if kind == "json" else _read_csv
        a = load(reader, rel, "committed", cfiles)
        b = load(reader, rel, "regenerated", rfiles)
        if a is None or b is None:
            continue
        if kind == "csv":  # name cells by row and column header
            found = _compare_tables(a, b, tol)
        else:
            found = compare_values(a, b, "", tol)
        add_value_diffs(f"{rel}: ", found)
    return diffs


def _compare_tables(a: list[list[Any]], b: list[list[Any]], tol: Tolerance
                    ) -> list[tuple[str, Any, Any, str]]:
    header = [str(h) for h in a[0]] if a else []
    if len(a) != len(b):
        return [("rows", len(a), len(b), "row counts differ")]
    out = []
    for i, (ra, rb) in enumerate(zip(a, b)):
        if len(ra) != len(rb):
            out.append((f"row {i}", f"{len(ra)} columns", f"{len(rb)} columns", ""))
            continue
        for j, (x, y) in enumerate(zip(ra, rb)):
            col = header[j] if j < len(header) else str(j)
            for _, p, q, d in compare_values(x, y, "", tol):
                out.append((f"row {i} {col}", p, q, d))
    return out


# --------------------------------------------------------------------------- trees

def _task_refs(root: Path) -> list[str]:
    """``assignment/task`` for every folder holding a task.json (links not followed)."""
    refs = []
    if not root.is_dir():
        return refs
    for a in sorted(root.iterdir()):
        if a.name.startswith(".") or not a.is_dir() or a.is_symlink():
            continue
        for t in sorted(a.iterdir()):
            if not t.name.startswith(".") and t.is_dir() and not t.is_symlink() \
                    and (t / "task.json").exists():
                refs.append(f"{a.name}/{t.name}")
    return refs


def _inside(root: Path, ref: str) -> tuple[Path, str]:
    """The task folder for ``ref`` under ``root``, and a problem ("" if none): a link
    anywhere on the way, or a path leaving ``root``."""
    p = root
    for part in ref.split("/"):
        if part in ("", ".", ".."):
            return root / ref, f"task name {ref!r} is not a plain name"
        p = p / part
        if p.is_symlink():
            return p, f"{p.relative_to(root).as_posix()} is a symbolic link (not followed)"
    return p, ""


def compare_trees(committed: Path, regenerated: Path, tasks: Iterable[str] | None = None, *,
                  unavailable: Mapping[str, str] | None = None,
                  errors: Mapping[str, str] | None = None,
                  strict: bool = False, tol: Tolerance = Tolerance()) -> list[TaskVerdict]:
    """Compare two results folders task by task.

    ``tasks``: refs (``assignment/task``) to compare; default every task with a task.json on
    either side.  ``unavailable``: ref -> why it cannot run here (its data is missing); such a
    task absent from the regenerated tree is "not run", not a difference, unless ``strict``.
    ``errors``: ref -> why regenerating it failed (shown in the difference).
    A task regenerated but absent from the committed results is a difference only when
    ``strict``."""
    committed, regenerated = Path(committed), Path(regenerated)
    unavailable = dict(unavailable or {})
    errors = dict(errors or {})
    refs = list(tasks) if tasks is not None else sorted(set(_task_refs(committed)) | set(_task_refs(regenerated)))
    verdicts = []
    for ref in refs:
        cdir, cproblem = _inside(committed, ref)
        rdir, _ = _inside(regenerated, ref)
        if cproblem:
            verdicts.append(TaskVerdict(ref, "differs", [Difference(ref, "task folder", detail=cproblem)]))
            continue
        has_c = (cdir / "task.json").is_file() and not (cdir / "task.json").is_symlink()
        has_r = (rdir / "task.json").is_file()
        if not has_c and (cdir / "task.json").is_symlink():
            verdicts.append(TaskVerdict(ref, "differs", [Difference(
                ref, "task.json", detail="is a symbolic link in the committed results (not followed)")]))
        elif has_c and has_r:
            d = compare_task_dir(ref, cdir, rdir, tol)
            verdicts.append(TaskVerdict(ref, "differs" if d else "identical", d))
        elif not has_c and not has_r:
            why = unavailable.get(ref) or errors.get(ref) or "in neither results folder"
            if ref in errors and ref not in unavailable:
                verdicts.append(TaskVerdict(ref, "differs", [Difference(ref, "task", detail=f"regenerating failed: {why}")]))
            else:
                verdicts.append(TaskVerdict(ref, "not-run", note=why))
        elif has_c:  # committed, not regenerated
            if ref in unavailable:
                note = f"committed, but cannot be rerun here: {unavailable[ref]}"
                verdicts.append(TaskVerdict(ref, "differs", [Difference(ref, "task", detail=note)])
                                if strict else TaskVerdict(ref, "not-run", note=note))
            else:
                why = f"not regenerated: {errors[ref]}" if ref in errors else "not regenerated"
                verdicts.append(TaskVerdict(ref, "differs", [Difference(ref, "task", detail=why)]))
        else:  # regenerated, not committed
            note = "regenerated, but not in the committed results"
            verdicts.append(TaskVerdict(ref, "differs", [Difference(ref, "task", detail=note)])
                            if strict else TaskVerdict(ref, "not-committed", note=note))
    return verdicts


def summary(verdicts: list[TaskVerdict]) -> str:
    """``14 tasks identical, 1 differs: tdt4265-a1/2b val_loss 0.0651 vs 0.0702; 3 not run``."""
    def count(n: int, one: str, many: str) -> str:
        return f"{n} {one if n == 1 else many}"

    ident = sum(v.status == "identical" for v in verdicts)
    bad = [v for v in verdicts if v.status == "differs"]
    parts = [count(ident, "task identical", "tasks identical")]
    if bad:
        first = bad[0].differences[0].short() if bad[0].differences else bad[0].task
        more = sum(len(v.differences) for v in bad) - 1
        parts.append(count(len(bad), "differs", "differ") + f": {first}"
                     + (f" (and {more} more difference{'s' if more != 1 else ''})" if more else ""))
    not_run = sum(v.status == "not-run" for v in verdicts)
    if not_run:
        parts.append(f"{not_run} not run")
    not_committed = sum(v.status == "not-committed" for v in verdicts)
    if not_committed:
        parts.append(f"{not_committed} not committed")
    return ", ".join(parts)

