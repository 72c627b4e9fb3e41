"""``linclf data ...``: find, verify and fetch the datasets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from linclf_cli.data import download, locate
from linclf_cli.data.cifar import find_cifar10, verify_cifar10
from linclf_cli.data.mnist import verify_mnist
from linclf_cli.data.registry import DATASETS
from linclf_cli.errors import DataError, LinclfError, UsageError

app = typer.Typer(help="""Find, verify and fetch the datasets.

[bold]Examples[/]

  linclf data where
  linclf data verify mnist
  linclf data fetch cifar10""", no_args_is_help=True)

_DATA_DIR_HELP = "Folder searched first (before $LINCLF_DATA_DIR and the cache)."


class DatasetName(str, Enum):
    mnist = "mnist"
    cifar10 = "cifar10"


class VerifyTarget(str, Enum):
    mnist = "mnist"
    cifar10 = "cifar10"
    all = "all"


def _out() -> Console:
    return Console()


def _err() -> Console:
    return Console(stderr=True)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Print a LinclfError as a message + hint on stderr and exit with its code."""
    try:
        yield
    except LinclfError as exc:
        err = _err()
        err.print(f"[bold red]Error:[/] {escape(exc.message)}", highlight=False)
        if exc.hint:
            err.print(f"[yellow]Hint:[/] {escape(exc.hint)}", highlight=False)
        raise typer.Exit(exc.exit_code) from None


@app.command()
def where(
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=_DATA_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON to stdout."),
) -> None:
    """Show the folders searched for datasets, in order, and what each one holds.

    Example: linclf data where --data-dir ~/datasets
    """
    with _user_errors():
        rows = []
        for rank, (source, path) in enumerate(locate.candidate_dirs(data_dir), start=1):
            found = {n: locate.dataset_dir_in(n, path) for n in DATASETS}
            rows.append({
                "rank": rank, "source": source, "path": str(path), "exists": path.is_dir(),
                "datasets": {n: (str(p) if p else None) for n, p in found.items()},
            })
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
            return
        # a list rather than a table: paths are printed whole (soft-wrapped by the terminal,
        # never broken inside a name by linclf), so they can be copied at any width
        out = _out()
        out.print("[bold]Dataset search order[/] (first match wins):")
        for r in rows:
            state = "" if r["exists"] else " [dim](does not exist)[/]"
            out.print(f"{r['rank']:>2}. {escape(r['source'])}: {escape(r['path'])}{state}",
                      highlight=False, soft_wrap=True)
            for n in DATASETS:
                found = r["datasets"][n]
                if found:
                    rel = Path(found).relative_to(r["path"]) if Path(found).is_relative_to(r["path"]) else found
                    out.print(f"      {n:<8} [green]found[/] in {escape(str(rel))}", highlight=False, soft_wrap=True)
                elif r["exists"]:
                    out.print(f"      {n:<8} [dim]not here[/]", highlight=False)


def _verify_one(name: str, data_dir: Path | None) -> dict:
    try:
        if name == "mnist":
            directory = locate.find_dataset(name, data_dir)
            files = verify_mnist(directory)
        else:  # every complete version in the folder found (binary and/or python)
            found = find_cifar10(data_dir)
            directory = found[0][1] if len(found) == 1 else found[0][1].parent
            files = [f for v, d in found for f in verify_cifar10(d, v)]
    except DataError as exc:
        return {"dataset": name, "directory": None, "ok": False,
                "error": exc.message, "hint": exc.hint, "files": []}
    ok = all(f["ok"] for f in files)
    hint = None if ok else (
        f"Replace the failing files in {directory} with good copies, or run "
        f"`linclf data fetch {name}` on a machine with internet."
    )
    return {"dataset": name, "directory": str(directory), "ok": ok,
            "error": None if ok else "some files failed verification", "hint": hint,
            "files": files}


def _print_report(report: dict, console: Console) -> None:
    title = f"{report['dataset']}: {escape(report['directory'] or 'not found')}"
    table = Table(title=title)
    for col in ("file", "version", "check", "status", "rows", "detail"):
        table.add_column(col, overflow="fold")
    for f in report["files"]:
        check = f.get("algorithm", "structure")
        status = "[green]OK[/]" if f["ok"] else "[red]FAIL[/]"
        rows = f.get("rows")
        if rows is None and f.get("shape"):
            rows = f["shape"][0]
        if f["ok"]:
            detail = (f"{f['actual'][:16]}…" if f.get("actual") else "class names")
            if f.get("memo"):
                detail += " (remembered)"
        else:
            detail = f["error"] or ""
            if f.get("actual") and f.get("expected") and f["actual"] != f["expected"]:
                detail += f" (expected {f['expected']}, got {f['actual']})"
        table.add_row(escape(f["file"]), f.get("version", "idx"), check, status,
                      "-" if rows is None else str(rows), escape(detail))
    console.print(table)


@app.command()
def verify(
    dataset: VerifyTarget = typer.Argument(VerifyTarget.all, help="Which dataset to check."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=_DATA_DIR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON results to stdout."),
) -> None:
    """Check every file's checksum and structure; show its version, check and row count.

    Exits 1 if a dataset is missing or any file fails.

    Example: linclf data verify mnist --json
    """
    with _user_errors():
        names = list(DATASETS) if dataset is VerifyTarget.all else [dataset.value]
        reports = [_verify_one(n, data_dir) for n in names]
        failed = [r for r in reports if not r["ok"]]
        if as_json:
            typer.echo(json.dumps({"ok": not failed, "datasets": reports}, indent=2))
        else:
            out = _out()
            for r in reports:
                if r["files"]:
                    _print_report(r, out)
        err = _err()
        for r in failed:
            msg = f"{r['dataset']} in {r['directory']}: {r['error']}." if r["directory"] else r["error"]
            err.print(f"[bold red]Error:[/] {escape(msg)}", highlight=False)
            if r["hint"]:
                err.print(f"[yellow]Hint:[/] {escape(r['hint'])}", highlight=False)
        if failed:
            raise typer.Exit(1)
        if not as_json:
            _out().print("[green]All checked files are OK.[/]")


@app.command()
def fetch(
    name: DatasetName = typer.Argument(..., help="Dataset to download."),
    dest: Optional[Path] = typer.Option(
        None, "--dest", help="Parent folder to download into (default: the user cache)."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar."),
    binary: bool = typer.Option(
        False, "--binary", help="CIFAR-10: the binary version (cifar-10-binary.tar.gz) instead "
                                "of the python version."),
) -> None:
    """Download a dataset from its pinned mirrors and verify it (needs internet).

    MNIST goes to DEST/mnist; CIFAR-10 to DEST/cifar-10-batches-py (python version, the default) or with --binary to DEST/cifar-10-batches-bin. Only the archive's expected files are extracted.

    Example: linclf data fetch cifar10 --binary --dest ~/datasets
    """
    with _user_errors():
        root = dest if dest is not None else locate.cache_dir()
        if binary and name is not DatasetName.cifar10:
            raise UsageError("--binary applies to cifar10 only.", "Leave out --binary for mnist.")
        out = download.fetch_dataset(name.value, root, progress=progress, binary=binary)
        msg = f"[green]{name.value} is ready in[/] {escape(str(out))}"
        found = any(
            locate.dataset_dir_in(name.value, p) == out for _, p in locate.candidate_dirs()
        )
        if not found:
            msg += (f"\nIt is not on the search path: pass --data-dir {escape(str(root))} "
                    f"or set {locate.ENV_VAR}={escape(str(root))}.")
        _out().print(msg, highlight=False)
