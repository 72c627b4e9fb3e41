from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

import pytest
from matplotlib.figure import Figure

from linclf_cli.report.html import markdown_to_html, slugify, write_html


def _png(path):
    fig = Figure(figsize=(1, 1))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1])
    fig.savefig(path, format="png", dpi=20)
    return path


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.attrs: list[tuple[str, str, str]] = []  # (tag, attr, value)
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            self.attrs.append((tag, k, v or ""))


def _parse(doc: str) -> _Collect:
    p = _Collect()
    p.feed(doc)
    return p


def _external_refs(doc: str) -> list[tuple[str, str, str]]:
    return [
        (t, k, v)
        for t, k, v in _parse(doc).attrs
        if k in ("src", "href", "srcset", "data", "poster") and re.match(r"\s*(https?:)?//", v, re.I)
    ]


MD = r"""# Report title

Logistic: $\sigma(z) = \frac{1}{1 + e^{-z}}$ inline.

## Results

| task | status | accuracy |
|---|---|---:|
| 1a | ✅ pass | 0.91 |
| 1b | ❌ fail | $x^2$ |

$$
\mathcal{L}(w) = -\frac{1}{N} \sum_{n=1}^N y^n \ln \hat y^n
$$

### Figures

![weights](figs/w.png)

![gone](figs/missing.png)
"""


@pytest.fixture()
def report_dir(tmp_path):
    (tmp_path / "figs").mkdir()
    _png(tmp_path / "figs" / "w.png")
    return tmp_path


def test_document_structure(report_dir):
    doc = markdown_to_html(MD, report_dir, "My <report>")
    assert doc.startswith("<!DOCTYPE html>")
    assert "<title>My &lt;report&gt;</title>" in doc
    assert '<meta charset="utf-8">' in doc
    assert "<style>" in doc and "60rem" in doc
    assert doc.rstrip().endswith("</html>")


def test_inline_and_display_math_become_mathml(report_dir):
    doc = markdown_to_html(MD, report_dir, "t")
    assert re.search(r'<math display="inline">', doc)
    assert re.search(r'<math display="block">', doc)
    assert doc.count("<math") == 3  # two inline (one in the table), one display
    assert "<mfrac>" in doc
    assert "$" not in re.sub(r"<style>.*?</style>", "", doc, flags=re.S)


def test_table_renders(report_dir):
    doc = markdown_to_html(MD, report_dir, "t")
    tags = _parse(doc).tags
    assert "table" in tags and "th" in tags and "td" in tags
    assert '<span class="pass">✅ pass</span>' in doc
    assert '<span class="fail">❌ fail</span>' in doc


def test_images_are_embedded_as_data_uris(report_dir):
    doc = markdown_to_html(MD, report_dir, "t")
    srcs = [v for t, k, v in _parse(doc).attrs if t == "img" and k == "src"]
    assert len(srcs) == 1
    assert srcs[0].startswith("data:image/png;base64,")
    raw = base64.b64decode(srcs[0].split(",", 1)[1])
    assert raw == (report_dir / "figs" / "w.png").read_bytes()
    assert "figs/w.png" not in doc


def test_svg_and_escaped_paths(tmp_path):
    (tmp_path / "a b.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>')
    doc = markdown_to_html("![x](<a b.svg>)\n\n![y](a%20b.svg)", tmp_path, "t")
    srcs = [v for t, k, v in _parse(doc).attrs if t == "img" and k == "src"]
    assert len(srcs) == 2 and all(s.startswith("data:image/svg+xml;base64,") for s in srcs)


def test_missing_image_note(report_dir):
    doc = markdown_to_html(MD, report_dir, "t")
    assert "missing figure: figs/missing.png" in doc
    assert 'class="missing-figure"' in doc


def test_no_external_resources(report_dir):
    md = MD + "\n![remote](https://example.com/x.png)\n\nSee [the course](https://example.com/course).\n"
    doc = markdown_to_html(md, report_dir, "t")
    # only the link the author wrote may point outside; nothing is loaded from the network
    assert _external_refs(doc) == [("a", "href", "https://example.com/course")]
    assert "external figure not embedded: https://example.com/x.png" in doc
    assert not re.search(r"<script\b", doc, re.I)
    assert not re.search(r"<link\b", doc, re.I)
    assert "@import" not in doc and "url(" not in doc
    # the document we generate ourselves (CSS, MathML, TOC) carries no URL at all
    plain = markdown_to_html(MD, report_dir, "t")
    assert "http://" not in plain and "https://" not in plain


def test_raw_html_is_shown_as_text(report_dir):
    """Raw HTML is text (markdown-it html=False): no <img> from it, nothing fetched."""
    doc = markdown_to_html('<img src="figs/w.png" alt="w">\n\n<img src="https://x.org/y.png">\n', report_dir, "t")
    assert [v for t, k, v in _parse(doc).attrs if t == "img"] == []
    assert '&lt;img src=&quot;figs/w.png&quot; alt=&quot;w&quot;&gt;' in doc
    assert _external_refs(doc) == []


@pytest.mark.parametrize("bad", [r"\frac{1}{", r"x^{", r"\begin{matrix} a", r"\left( x"])
def test_bad_latex_falls_back_to_code(tmp_path, bad):
    doc = markdown_to_html(f"Before ${bad}$ after.\n\n$$\n{bad}\n$$\n", tmp_path, "t")
    assert doc.count('<code class="math-error"') == 2
    assert "Before" in doc and "after." in doc


def test_toc_and_heading_ids(report_dir):
    md = MD + "\n## Results\n\n### Figures & λ = 0\n"
    doc = markdown_to_html(md, report_dir, "t")
    ids = [v for t, k, v in _parse(doc).attrs if k == "id"]
    assert len(ids) == len(set(ids))
    assert {"report-title", "results", "figures", "results-1", "figures-λ-0"} <= set(ids)
    nav = re.search(r'<nav class="toc".*?</nav>', doc, re.S).group(0)
    hrefs = re.findall(r'href="#([^"]+)"', nav)
    assert hrefs == ["results", "figures", "results-1", "figures-λ-0"]
    assert "report-title" not in hrefs  # h1 is not in the TOC
    # the TOC comes after the h1 title and before the first section
    assert doc.index('id="report-title"') < doc.index('<nav class="toc"') < doc.index('id="results"')


def test_no_toc_without_sections(tmp_path):
    assert "<nav" not in markdown_to_html("# Only\n\ntext\n", tmp_path, "t")


def test_slugify():
    assert slugify("Task 2b: Softmax (λ = 0.1)") == "task-2b-softmax-λ-01"
    assert slugify("  ") == "section"
    assert slugify("A -- B") == "a-b"


def test_write_html_atomic(report_dir):
    md_path = report_dir / "REPORT.md"
    md_path.write_text(MD, encoding="utf-8")
    out = report_dir / "report.html"
    out.write_text("old")
    assert write_html(md_path, out, "Report") == out
    doc = out.read_text(encoding="utf-8")
    assert "data:image/png;base64," in doc and "<math" in doc
    assert sorted(p.name for p in report_dir.iterdir()) == ["REPORT.md", "figs", "report.html"]
