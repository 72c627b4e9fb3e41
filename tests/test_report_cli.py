"""``linclf report --open`` / ``--pdf`` and clickable links, on a tiny report (the AML toy
task: no dataset, about a second).  ``--pdf`` runs against a fake ``chromium`` on PATH; the
real browser is exercised in test_report_browser.py."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

from linclf_cli.cli.app import app
from linclf_cli.cli.links import file_link

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def toy_tasks(path: Path) -> Path:
    doc = yaml.safe_load((ROOT / "tasks.yaml").read_text(encoding="utf-8"))
    aml = next(a for a in doc["assignments"] if a["id"] == "aml-a2")
    aml["tasks"] = [t for t in aml["tasks"] if t["id"] == "q1"]
    doc["assignments"] = [aml]
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture()
def toy(tmp_path):
    (tmp_path / "empty").mkdir()
    args = ["--tasks-file", str(toy_tasks(tmp_path / "tasks.yaml")), "--results-dir", str(tmp_path / "res"),
            "--data-dir", str(tmp_path / "empty")]
    return tmp_path, args


def fake_chromium(bin_dir: Path, body: str) -> Path:
    bin_dir.mkdir(exist_ok=True)
    exe = bin_dir / "chromium"
    exe.write_text(f"#!{sys.executable}\n{body}", encoding="utf-8")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe


WRITES_PDF = """import sys, pathlib
args = sys.argv[1:]
out = next(a.split("=", 1)[1] for a in args if a.startswith("--print-to-pdf="))
assert "--headless" in args and "--no-sandbox" in args and args[-1].startswith("file://")
assert any(a.startswith("--user-data-dir=") for a in args) and "--no-pdf-header-footer" in args
pathlib.Path(out).write_bytes(b"%PDF-1.4 fake " + args[-1].encode())
"""


def test_open_opens_the_report_in_the_browser(toy, monkeypatch):
    tmp, args = toy
    opened = []
    monkeypatch.setattr("webbrowser.open", lambda url, *a, **k: opened.append(url) or True)
    r = runner.invoke(app, ["report", *args, "--open"])
    assert r.exit_code == 0, r.output
    assert opened == [(tmp / "res" / "report.html").resolve().as_uri()]


def test_open_without_a_browser_says_where_the_file_is(toy, monkeypatch):
    tmp, args = toy
    monkeypatch.setattr("webbrowser.open", lambda url, *a, **k: False)
    r = runner.invoke(app, ["report", *args, "--open"])
    assert r.exit_code == 0, r.output
    assert "Could not start a web browser" in r.output and "report.html" in r.output


def test_pdf_prints_with_chromium_atomically(toy, monkeypatch):
    tmp, args = toy
    fake_chromium(tmp / "bin", WRITES_PDF)
    monkeypatch.setenv("PATH", f"{tmp / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("LINCLF_CHROMIUM", raising=False)
    r = runner.invoke(app, ["report", *args, "--pdf"])
    assert r.exit_code == 0, r.output
    pdf = tmp / "res" / "report.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-") and (tmp / "res" / "report.html").resolve().as_uri().encode() in pdf.read_bytes()
    assert "report.pdf" in r.output
    assert not [p for p in (tmp / "res").iterdir() if p.name.startswith(".report.pdf")]  # no temp left


def test_pdf_failure_keeps_the_previous_pdf(toy, monkeypatch):
    tmp, args = toy
    fake_chromium(tmp / "bin", "import sys\nsys.stderr.write('boom: cannot print\\n')\nsys.exit(3)\n")
    monkeypatch.setenv("PATH", f"{tmp / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("LINCLF_CHROMIUM", raising=False)
    (tmp / "res").mkdir()
    (tmp / "res" / "report.pdf").write_bytes(b"%PDF- old")
    r = runner.invoke(app, ["report", *args, "--pdf"])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "boom: cannot print" in r.output
    assert (tmp / "res" / "report.pdf").read_bytes() == b"%PDF- old"
    assert not [p for p in (tmp / "res").iterdir() if p.name.startswith(".report.pdf")]


def test_pdf_without_chromium_says_how_to_install_one(toy, monkeypatch):
    tmp, args = toy
    (tmp / "nobin").mkdir()
    monkeypatch.setenv("PATH", str(tmp / "nobin"))
    monkeypatch.delenv("LINCLF_CHROMIUM", raising=False)
    r = runner.invoke(app, ["report", *args, "--pdf"])
    assert r.exit_code == 1 and "Traceback" not in r.output
    out = " ".join(r.output.split())
    assert "no Chromium" in out and "apt-get install chromium" in out
    assert not (tmp / "res" / "task.json").exists() and not (tmp / "res" / "aml-a2").exists()  # nothing ran


def test_file_link_is_clickable_on_a_terminal_and_plain_when_piped(tmp_path):
    target = tmp_path / "report.html"
    tty = Console(force_terminal=True, width=200)
    piped = Console(force_terminal=False, width=200)
    assert file_link(target, tty) == f"[link={target.resolve().as_uri()}]{target}[/link]"
    assert file_link(target, piped) == str(target)
    with tty.capture() as cap:
        tty.print("Wrote " + file_link(target, tty))
    assert "\x1b]8;" in cap.get() and target.resolve().as_uri() in cap.get()  # OSC 8 hyperlink
