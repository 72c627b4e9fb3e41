"""Paths of written files as clickable ``file://`` links on a terminal, plain when piped."""

from __future__ import annotations

import webbrowser
from pathlib import Path

from rich.console import Console
from rich.markup import escape

__all__ = ["file_link", "open_in_browser"]


def file_link(path: Path, console: Console) -> str:
    """Rich markup for ``path``: a hyperlink to its ``file://`` URI when ``console`` is a
    terminal (OSC 8, which most terminals make clickable), else the plain path."""
    text = escape(str(path))
    if not console.is_terminal:
        return text
    uri = Path(path).resolve().as_uri()
    return f"[link={uri}]{text}[/link]"


def open_in_browser(path: Path) -> bool:
    """Open ``path`` in the default browser; False when no browser could be started."""
    try:
        return bool(webbrowser.open(Path(path).resolve().as_uri()))
    except webbrowser.Error:
        return False


def echo_path(path: Path) -> None:
    """Print ``path`` on stdout: a clickable link on a terminal, the bare path when piped
    (so ``$(linclf plot-weights ...)`` still captures just the path)."""
    out = Console(soft_wrap=True, highlight=False)
    if out.is_terminal:
        out.print(file_link(path, out))
    else:
        import typer

        typer.echo(str(path))
