"""report.html -> report.pdf by printing it with a headless Chromium (the page's print CSS).

No Python PDF library: a browser already lays out MathML, the embedded figures and the
``@media print`` rules exactly as the user sees them.  The browser runs with a throw-away
profile, no network services and no sandbox (it must work as root in a container); the PDF
is written to a temporary file next to the target and renamed into place, so a failed print
never leaves a half-written ``report.pdf``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from linclf_cli.errors import LinclfError, OutputError

__all__ = ["BROWSERS", "find_chromium", "require_chromium", "chromium_command", "print_pdf", "NoBrowser"]

#: executables tried in order on PATH (``LINCLF_CHROMIUM`` overrides them)
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome",
            "headless_shell")


class NoBrowser(LinclfError):
    """No Chromium to print with: exit 1."""


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable: ``$LINCLF_CHROMIUM``, else the first of
    :data:`BROWSERS` on PATH, else None."""
    env = os.environ.get("LINCLF_CHROMIUM")
    if env:
        return shutil.which(env) or (env if Path(env).is_file() and os.access(env, os.X_OK) else None)
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def require_chromium() -> str:
    """:func:`find_chromium` or :class:`NoBrowser` saying how to install one."""
    browser = find_chromium()
    if browser is None:
        raise NoBrowser(
            "Cannot write the PDF: no Chromium or Chrome found (looked for $LINCLF_CHROMIUM, then "
            + ", ".join(BROWSERS) + " on PATH).",
            "Install one (Debian/Ubuntu: `sudo apt-get install chromium`; macOS: `brew install "
            "--cask chromium`) or set LINCLF_CHROMIUM to a Chrome/Chromium executable; or open "
            "report.html in a browser and print it to PDF.")
    return browser


def chromium_command(browser: str, url: str, out: Path, profile: Path) -> list[str]:
    return [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--mute-audio", f"--user-data-dir={profile}",
            f"--print-to-pdf={out}", "--no-pdf-header-footer", url]


def print_pdf(html_path: Path, pdf_path: Path, timeout: float = 180.0) -> Path:
    """Print ``html_path`` to ``pdf_path`` (atomically); returns ``pdf_path``.

    Raises :class:`NoBrowser` when no Chromium is installed and :class:`OutputError` when the
    browser fails or writes no PDF."""
    html_path, pdf_path = Path(html_path).resolve(), Path(pdf_path)
    browser = require_chromium()
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{pdf_path.name}.", suffix=".tmp.pdf", dir=pdf_path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        tmp.unlink()  # Chromium writes the file itself; an empty leftover would look like success
        with tempfile.TemporaryDirectory(prefix="linclf-chromium-") as profile:
            try:
                proc = subprocess.run(chromium_command(browser, html_path.as_uri(), tmp, Path(profile)),
                                      capture_output=True, text=True, timeout=timeout,
                                      stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                raise OutputError(f"{browser} did not finish printing {html_path} within {timeout:.0f} s.",
                                  "Run `linclf report --pdf` again, or print report.html from a browser.") from None
            except OSError as exc:
                raise OutputError(f"Could not start {browser}: {exc}.",
                                  "Check the LINCLF_CHROMIUM setting or the browser installation.") from None
        ok = tmp.is_file() and tmp.stat().st_size > 0 and tmp.read_bytes()[:5] == b"%PDF-"
        if proc.returncode != 0 or not ok:
            tail = " ".join((proc.stderr or proc.stdout or "").strip().splitlines()[-3:])
            raise OutputError(f"{browser} could not print {html_path} to PDF (exit code {proc.returncode})"
                              + (f": {tail}" if tail else "") + ".",
                              "Open report.html in a browser and print it to PDF instead.")
        os.replace(tmp, pdf_path)
    finally:
        tmp.unlink(missing_ok=True)
    return pdf_path
