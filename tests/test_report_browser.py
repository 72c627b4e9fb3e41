"""report.html in a real headless Chromium: no formula left as raw LaTeX, every image a PNG
that decodes, figures with numbered captions; and ``linclf report --pdf`` with the real browser.

Skipped (with the reason) when no Chromium is installed; CI installs one and sets
LINCLF_REQUIRE_CHROMIUM=1, so there a missing browser fails instead of skipping."""

from __future__ import annotations

import base64
import io
import os
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from linclf_cli.cli.app import app
from linclf_cli.report.pdf import find_chromium

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = find_chromium()
if CHROMIUM is None and os.environ.get("LINCLF_REQUIRE_CHROMIUM") == "1":
    raise RuntimeError("LINCLF_REQUIRE_CHROMIUM=1 but no Chromium/Chrome was found "
                       "(apt-get install chromium, or set LINCLF_CHROMIUM)")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium/Chrome installed "
                                "(apt-get install chromium, or set LINCLF_CHROMIUM)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def toy_report(tmp_path_factory):
    """The AML toy tasks (q1, q2 with display math, q3a with a figure): no dataset needed."""
    tmp = tmp_path_factory.mktemp("browser")
    doc = yaml.safe_load((ROOT / "tasks.yaml").read_text(encoding="utf-8"))
    aml = next(a for a in doc["assignments"] if a["id"] == "aml-a2")
    aml["tasks"] = [t for t in aml["tasks"] if t["id"] in ("q1", "q2", "q3a")]
    doc["assignments"] = [aml]
    tasks = tmp / "tasks.yaml"
    tasks.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    (tmp / "empty").mkdir()
    res = tmp / "res"
    r = CliRunner().invoke(app, ["report", "--tasks-file", str(tasks), "--results-dir", str(res),
                                 "--data-dir", str(tmp / "empty"), "--pdf"])
    assert r.exit_code == 0, r.output
    return tmp, res


def _chromium(tmp: Path, *args: str) -> str:
    out = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'profile'}", *args],
                         capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


class _Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.text: list[str] = []
        self.imgs: list[dict] = []
        self.tags: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag in ("style", "script"):
            self._skip += 1
        if tag == "img":
            self.imgs.append(dict(attrs))

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


def test_rendered_report_has_no_raw_latex_and_every_image_loads(toy_report):
    tmp, res = toy_report
    md = (res / "REPORT.md").read_text(encoding="utf-8")
    assert "$$" in md and "\\frac" in md and "![" in md  # the test would catch a regression
    dom = _Dom()
    dom.feed(_chromium(tmp, "--dump-dom", (res / "report.html").resolve().as_uri()))
    text = "".join(dom.text)
    assert "Q2: backpropagation" in text  # the page did render
    assert not re.search(r"\$[^$\n]+\$", text), re.findall(r"\$[^$\n]+\$", text)[:5]
    for raw in ("\\frac", "\\lambda", "\\partial", "\\tilde", "\\sum", "\\lvert"):
        assert raw not in text, raw
    assert dom.tags.count("math") >= 5
    assert dom.imgs, "no images"
    from PIL import Image

    for img in dom.imgs:
        src = img.get("src", "")
        assert src.startswith("data:image/png;base64,"), src[:80]
        png = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
        png.verify()
        assert int(img["width"]) * 2 in range(png.size[0] - 1, png.size[0] + 2)  # shown at 2x
    assert dom.tags.count("figure") == dom.tags.count("figcaption") == len(dom.imgs)
    assert "Figure 1:" in text and "missing figure" not in text


def test_report_pdf_printed_by_chromium(toy_report):
    tmp, res = toy_report
    pdf = (res / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and len(pdf) > 10_000
    try:
        text = subprocess.run(["pdftotext", str(res / "report.pdf"), "-"], capture_output=True,
                              text=True, timeout=60).stdout
    except FileNotFoundError:
        if os.environ.get("LINCLF_REQUIRE_CHROMIUM") == "1":
            raise
        pytest.skip("pdftotext (poppler-utils) not installed")
    assert "Q2: backpropagation" in text and "\\frac" not in text
