"""Text is text, nothing leaves the folder, the report is always rebuilt (issue 10.1-10.2,
10.5 figures, 10.6, 10.8)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
import yaml
from matplotlib.figure import Figure
from typer.testing import CliRunner

from linclf_cli.cli.app import app
from linclf_cli.report.builder import md_escape
from linclf_cli.report.html import CSP, latex_to_mathml, markdown_to_html

runner = CliRunner()
SECRET = b"root:x:0:0:SECRET-MARKER:/root:/bin/bash\n"
HOSTILE = ["![k](/etc/passwd)", '<img src="/etc/hostname">', "<script>alert(1)</script>"]


def _png(path: Path) -> Path:
    fig = Figure(figsize=(1, 1))
    fig.subplots().plot([0, 1], [0, 1])
    fig.savefig(path, format="png", dpi=20)
    return path


@pytest.fixture
def tree(tmp_path):
    """results/ with a good figure and every kind of figure that must not be embedded."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd").write_bytes(SECRET)
    _png(outside / "real.png")
    res = tmp_path / "results"
    (res / "a").mkdir(parents=True)
    _png(res / "a" / "good.png")
    (res / "a" / "loss.png").symlink_to(outside / "passwd")
    (res / "a" / "link.png").symlink_to(outside / "real.png")
    (res / "a" / "fake.png").write_bytes(SECRET)
    (res / "a" / "notes.txt").write_bytes(SECRET)
    (res / "lnk").symlink_to(outside, target_is_directory=True)
    return res, outside


def _embedded(doc: str) -> list[bytes]:
    """The bytes of every image the document embeds (img src data: URIs)."""
    return [base64.b64decode(m) for m in re.findall(r'<img src="data:[\w/+.-]+;base64,([A-Za-z0-9+/=]+)"', doc)]


def test_only_real_images_inside_the_folder_are_embedded(tree):
    res, outside = tree
    srcs = ["a/loss.png", "a/link.png", "a/fake.png", "a/notes.txt", "lnk/real.png", "lnk/passwd",
            "../outside/real.png", "a/../../outside/real.png", str(outside / "real.png"),
            f"file://{outside / 'real.png'}", "file:///etc/passwd", "/etc/passwd",
            "data:image/svg+xml;base64," + base64.b64encode(b"<svg onload='alert(1)'/>").decode(),
            "https://example.org/x.png"]
    md = "# t\n\n" + "\n\n".join(f"![x]({s})" for s in srcs) + "\n\n![ok](a/good.png)\n"
    doc = markdown_to_html(md, res, "t")
    blobs = _embedded(doc)
    assert len(blobs) == 1 and blobs[0] == (res / "a" / "good.png").read_bytes()
    assert "SECRET-MARKER" not in doc and base64.b64encode(SECRET).decode() not in doc
    notes = doc.count("figure not embedded") + doc.count("missing figure") + doc.count("external figure")
    assert notes == len(srcs) - 2  # the file: URLs are not even images to markdown-it (shown as text)


def test_csp_and_raw_html_is_text(tree):
    res, _ = tree
    doc = markdown_to_html("# t\n\n" + "\n\n".join(HOSTILE) + "\n", res, "t")
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in doc
    assert CSP == "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    body = doc.split("<main>", 1)[1]
    assert "<script" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<img" not in body and "&lt;img src=&quot;/etc/hostname&quot;&gt;" in body
    assert not _embedded(doc)


def test_math_cannot_smuggle_markup():
    for latex in (r"\text{<script>alert(1)</script>}", r"\href{javascript:alert(1)}{x}"):
        out = latex_to_mathml(latex, display=False)
        assert "<script" not in out and "href=" not in out and "math-error" in out
    assert "<mfrac>" in latex_to_mathml(r"\frac{1}{2}", display=False)


def test_md_escape_makes_markup_literal(tmp_path):
    for s in HOSTILE + ["*x* _y_ `z` [l](http://e.org) $x$ &amp; | ~"]:
        doc = markdown_to_html(md_escape(s) + "\n", tmp_path, "t").split("<main>", 1)[1]
        assert "<img" not in doc and "<script" not in doc and "<a " not in doc and "<em>" not in doc
        assert "<math" not in doc and "<code>" not in doc
    doc = markdown_to_html(md_escape("![k](/etc/passwd)") + "\n", tmp_path, "t")
    assert "![k](/etc/passwd)" in doc


# --------------------------------------------------------------------------- through `linclf report`


def _tasks(tmp_path, title="toy", description="d", note="n") -> Path:
    doc = {"version": 1, "assignments": [{"id": "t", "title": title, "description": description, "tasks": [
        {"id": "g", "title": title, "command": "toy",
         "expect": [{"metric": "toy_final_loss", "not_null": True, "description": note}]}]}]}
    p = tmp_path / "tasks.yaml"
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    return p


def _report(tf, res):
    return runner.invoke(app, ["report", "t", "--tasks-file", str(tf), "--results-dir", str(res)])


def test_hostile_tasks_file_strings_appear_literally(tmp_path):
    hostile = " ".join(HOSTILE)
    tf = _tasks(tmp_path, title=hostile, description=hostile, note=hostile)
    res = tmp_path / "results"
    r = _report(tf, res)
    assert r.exit_code == 0, r.output
    md = (res / "REPORT.md").read_text()
    html = (res / "report.html").read_text()
    body = html.split("<main>", 1)[1]
    assert "<script" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "![k](/etc/passwd)" in body  # shown, not embedded
    assert "<img src=\"data:" in body  # the toy's own figure is embedded ...
    for blob in _embedded(html):  # ... and nothing but PNGs from the results folder
        assert blob.startswith(b"\x89PNG")
    assert Path("/etc/hostname").exists() is False or Path("/etc/hostname").read_bytes() not in _embedded(html)
    assert "\\!\\[k\\]" in md  # escaped in REPORT.md too


def test_hostile_strings_in_task_json_are_text_and_report_is_rebuilt(tmp_path):
    tf = _tasks(tmp_path)
    res = tmp_path / "results"
    assert _report(tf, res).exit_code == 0
    html = res / "report.html"
    first = html.read_text()
    # a hand-edited report.html is never kept, though REPORT.md is unchanged
    html.write_text("<script>alert(1)</script> ALL TESTS PASSED")
    assert _report(tf, res).exit_code == 0
    assert html.read_text() == first
    # strings in task.json's metrics are text
    tj = res / "t" / "g" / "task.json"
    task = json.loads(tj.read_text())
    task["metrics"]["evil"] = '<img src="/etc/passwd"> <script>alert(2)</script>'
    tj.write_text(json.dumps(task))
    r = _report(tf, res)
    body = html.read_text().split("<main>", 1)[1]
    assert "<script" not in body and "alert(2)" in body
    assert all(b.startswith(b"\x89PNG") for b in _embedded(html.read_text()))
