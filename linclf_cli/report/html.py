"""REPORT.md -> one self-contained, offline ``report.html``.

* Markdown: markdown-it-py (CommonMark + tables) with mdit-py-plugins' ``dollarmath``.
* Math: ``$...$`` / ``$$...$$`` converted to MathML with latex2mathml (rendered natively by
  browsers: no JavaScript, no fonts, no network). A formula that fails to convert is shown as
  its LaTeX source in ``<code class="math-error">``.
* Text is text: raw HTML in the markdown is shown as text (markdown-it ``html: False``); the
  report's own markup (figures, badges, table of contents) is made here.  MathML from
  latex2mathml is kept only when every element and attribute is on a MathML allow-list.
* Images: only PNG, SVG and JPEG files inside ``base_dir`` (after resolving links: no absolute
  paths, no ``file:`` or ``data:`` URLs, no ``..`` out, no symbolic links) whose bytes match
  their type are inlined as ``data:`` URIs.  Anything else becomes a visible "figure not
  embedded" note; a remote image is never fetched.
* ``report.html`` carries a Content-Security-Policy that allows nothing but inline styles and
  ``data:`` images (no scripts, no network).
* A table of contents from the h2/h3 headings (ids are slugs of the heading text).

The only ``http(s)://`` strings in the output are those the markdown author wrote as link
targets or text (the MathML namespace attribute is dropped: HTML5 does not need it).
"""

from __future__ import annotations

import base64
import os
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token
from mdit_py_plugins.dollarmath import dollarmath_plugin

from linclf_cli.runs.io import atomic_write_text

__all__ = ["markdown_to_html", "write_html", "slugify", "latex_to_mathml", "CSS"]

CSS = """
:root { --fg: #1f2328; --muted: #59636e; --border: #d1d9e0; --bg-alt: #f6f8fa; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--fg); background: #fff;
  font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 60rem; margin: 0 auto; padding: 1.5rem 1.25rem 4rem; }
h1, h2, h3, h4 { line-height: 1.25; margin: 1.6em 0 .6em; }
h1 { font-size: 1.9rem; border-bottom: 1px solid var(--border); padding-bottom: .3em; }
h2 { font-size: 1.45rem; border-bottom: 1px solid var(--border); padding-bottom: .25em; }
h3 { font-size: 1.2rem; }
a { color: #0969da; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
  font-size: .9em; }
code { background: var(--bg-alt); padding: .1em .3em; border-radius: 4px; }
pre { background: var(--bg-alt); padding: .8em 1em; overflow-x: auto; border-radius: 6px; }
pre code { background: none; padding: 0; }
blockquote { margin: 1em 0; padding: 0 1em; color: var(--muted); border-left: 4px solid var(--border); }
.table-wrap { overflow-x: auto; margin: 1em 0; }
table { border-collapse: collapse; font-size: .92em; }
th, td { border: 1px solid var(--border); padding: .35em .65em; vertical-align: top; }
th { background: var(--bg-alt); }
tbody tr:nth-child(even) { background: #fbfcfd; }
img { max-width: 100%; height: auto; }
figure { max-width: 100%; margin: 1.2em 0; }
figure img { display: block; }
figcaption { color: var(--muted); font-size: .92em; margin-top: .35em; }
figcaption .fig-num { font-weight: 600; color: var(--fg); }
.missing-figure { display: inline-block; padding: .4em .7em; border: 1px dashed #cf222e;
  color: #cf222e; background: #fff5f5; border-radius: 4px; font-size: .9em; }
math { font-family: "Latin Modern Math", "STIX Two Math", "STIX Math", "Cambria Math",
  "DejaVu Math TeX Gyre", math; }
.math.block { overflow-x: auto; overflow-y: hidden; padding: .3em 0; margin: 1em 0; }
math[display="block"] { font-size: 1.1em; }
code.math-error { color: #9a6700; }
.pass { color: #1a7f37; font-weight: 600; white-space: nowrap; }
.fail { color: #cf222e; font-weight: 600; white-space: nowrap; }
.skip { color: #6e7781; white-space: nowrap; }
footer.provenance { margin-top: 3em; padding-top: .8em; border-top: 1px solid var(--border);
  color: var(--muted); font-size: .88em; }
footer.provenance code { font-size: .95em; word-break: break-all; }
nav.toc { background: var(--bg-alt); border: 1px solid var(--border); border-radius: 6px;
  padding: .6em 1.2em; margin: 1em 0 2em; }
nav.toc h2 { font-size: 1.05rem; border: 0; margin: .3em 0; padding: 0; }
nav.toc ul { margin: .2em 0; padding-left: 1.2em; }
nav.toc li { margin: .1em 0; }
@media print {
  @page { margin: 16mm 14mm; }
  body { font-size: 11pt; }
  main { max-width: none; padding: 0; }
  nav.toc { display: none; }
  a { color: inherit; text-decoration: none; }
  h1, h2, h3, h4 { break-after: avoid; page-break-after: avoid; }
  p:has(+ .table-wrap), p:has(+ figure) { break-after: avoid; page-break-after: avoid; }
  figure, table, tr, pre, blockquote, .math.block { break-inside: avoid; page-break-inside: avoid; }
  figure img { max-height: 45vh; width: auto; }
  .table-wrap, pre, .math.block { overflow: visible; }
  pre, code { white-space: pre-wrap; word-break: break-word; }
  .math.block { max-width: 100%; }
  math[display="block"] { font-size: 1em; max-width: 100%; overflow-wrap: anywhere; }
  tbody tr:nth-child(even) { background: none; }
}
""".strip()

_MATHML_XMLNS = re.compile(r'\s+xmlns="http://www\.w3\.org/1998/Math/MathML"')
_EXTERNAL = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//)")  # any scheme, or protocol-relative
_BADGE = re.compile(
    r"((?:✅|✔️?|☑️?)\s*(?:pass(?:ed)?|ok)\b"
    r"|(?:❌|✖️?|✗)\s*(?:fail(?:ed)?)\b"
    r"|(?:⏭️?|➖|⚪|⏸️?|–)\s*(?:skip(?:ped)?|not run)\b)",
    re.IGNORECASE,
)
_MIME = {
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
}
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
MAX_FIGURE_BYTES = 32 << 20
_SVG_START = re.compile(rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*|<!DOCTYPE[^>]*>\s*)*<svg[\s>]",
                        re.DOTALL | re.IGNORECASE)
_MATHML_TAGS = frozenset(
    "math mrow mi mn mo mtext mspace ms mfrac msqrt mroot mstyle merror mpadded mphantom mfenced "
    "menclose msub msup msubsup munder mover munderover mmultiscripts mprescripts none mtable "
    "mtr mtd mlabeledtr maligngroup malignmark semantics annotation".split())
_MATHML_ATTRS = frozenset(
    "display mathvariant stretchy fence separator separators lspace rspace columnalign rowalign "
    "rowspacing columnspacing columnlines rowlines frame width height depth minsize maxsize "
    "movablelimits accent accentunder linethickness symmetric largeop form notation scriptlevel "
    "displaystyle mathsize open close align equalrows equalcolumns columnwidth class voffset "
    "numalign denomalign bevelled encoding".split())
_TAG = re.compile(r"<(/?)([A-Za-z][\w.-]*)((?:\s+[\w:.-]+=\"[^\"<>]*\")*)\s*(/?)>")
_ATTR = re.compile(r"\s+([\w:.-]+)=\"[^\"<>]*\"")


# --------------------------------------------------------------------------- helpers


def slugify(text: str) -> str:
    """Heading text -> anchor id: lower-case, punctuation dropped, spaces to ``-``."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"[^\w\s-]", "", text)
    text = re.sub(r"[\s_-]+", "-", text).strip("-")
    return text or "section"


def latex_to_mathml(latex: str, display: bool) -> str:
    """LaTeX -> MathML (no namespace URL); on failure the escaped source in ``<code>``."""
    try:
        from latex2mathml.converter import convert

        out = _MATHML_XMLNS.sub("", convert(latex, display="block" if display else "inline"))
    except Exception:  # latex2mathml raises many exception types on malformed input
        out = None
    if out is None or not _safe_mathml(out):
        return f'<code class="math-error" title="could not convert formula">{escapeHtml(latex)}</code>'
    return out


def _safe_mathml(markup: str) -> bool:
    """True when ``markup`` is MathML elements and attributes from the allow-list only, with
    no ``<`` or ``>`` outside tags (latex2mathml copies ``\\text{...}`` unescaped)."""
    pos = 0
    for m in _TAG.finditer(markup):
        if "<" in markup[pos:m.start()] or ">" in markup[pos:m.start()]:
            return False
        if m.group(2) not in _MATHML_TAGS:
            return False
        if any(a not in _MATHML_ATTRS for a in _ATTR.findall(m.group(3))):
            return False
        pos = m.end()
    rest = markup[pos:]
    return "<" not in rest and ">" not in rest


def _type_matches(mime: str, data: bytes) -> bool:
    if mime == "image/png":
        return data.startswith(b"\x89PNG\r\n\x1a\n")
    if mime == "image/jpeg":
        return data.startswith(b"\xff\xd8\xff")
    if mime == "image/svg+xml":
        return _SVG_START.match(data[:4096].removeprefix(b"\xef\xbb\xbf")) is not None
    return False


def _figure_file(src: str, base_dir: Path) -> tuple[Path | None, str]:
    """The figure file ``src`` names inside ``base_dir``, or (None, why not)."""
    rel = unquote(urlsplit(src).path)
    if not rel or src.startswith(("/", "\\")) or rel.startswith("/") or _EXTERNAL.match(src):
        return None, "not a relative path inside the results folder"
    parts = Path(rel).parts
    if any(part in ("..", "") for part in parts):
        return None, "not a relative path inside the results folder"
    path = base_dir
    for part in parts:
        path = path / part
        if path.is_symlink():
            return None, "a symbolic link"
    try:
        real, root = path.resolve(strict=True), base_dir.resolve()
    except OSError:
        return None, "missing"
    if root not in real.parents:
        return None, "outside the results folder"
    if not real.is_file():
        return None, "not a file"
    return real, ""


def _data_uri(path: Path) -> str | None:
    """``data:`` URI of a PNG/SVG/JPEG whose bytes match its type, else None."""
    mime = _MIME.get(path.suffix.lower())
    if mime is None or path.stat().st_size > MAX_FIGURE_BYTES:
        return None
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(MAX_FIGURE_BYTES + 1)
    if not _type_matches(mime, data):
        return None
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _missing(kind: str, src: str) -> str:
    return f'<span class="missing-figure">{kind}: {escapeHtml(src)}</span>'


def _embed_src(src: str, base_dir: Path) -> tuple[str | None, str | None]:
    """(data_uri, None) for a PNG/SVG/JPEG inside ``base_dir``, else (None, note_html)."""
    if re.match(r"^(?:https?:)?//", src, re.IGNORECASE):
        return None, _missing("external figure not embedded", src)
    path, why = _figure_file(src, base_dir)
    if path is None:
        kind = "missing figure" if why == "missing" else f"figure not embedded ({why})"
        return None, _missing(kind, unquote(src))
    try:
        uri = _data_uri(path)
    except OSError:
        return None, _missing("missing figure", unquote(src))
    if uri is None:
        return None, _missing("figure not embedded (not a PNG, SVG or JPEG file)", unquote(src))
    return uri, None


def _plain_text(inline: Token) -> str:
    out: list[str] = []
    for child in inline.children or []:
        if child.type in ("text", "code_inline", "math_inline", "html_inline"):
            out.append(child.content if child.type != "html_inline" else "")
        elif child.type == "image":
            out.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            out.append(" ")
    return "".join(out).strip()


# --------------------------------------------------------------------------- figures


def _png_width(data_uri: str) -> int | None:
    """Pixel width of a PNG ``data:`` URI, read from its IHDR chunk (None if not a PNG)."""
    prefix = "data:image/png;base64,"
    if not data_uri.startswith(prefix):
        return None
    try:
        head = base64.b64decode(data_uri[len(prefix):len(prefix) + 32])
    except ValueError:
        return None
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return int.from_bytes(head[16:20], "big")


def _figures_rule(state: Any) -> None:
    """A paragraph that is one image followed (after a line break) by an emphasised caption,
    as ``Ctx.fig`` writes it, becomes ``<figure><img><figcaption>caption</figcaption></figure>``.
    The image is marked HiDPI: linclf's PNGs are saved at 2x and shown at half their pixel width."""
    tokens = state.tokens
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        kids = tokens[i + 1].children or [] if i + 2 < len(tokens) and tok.type == "paragraph_open" else []
        if (len(kids) >= 4 and kids[0].type == "image" and kids[1].type == "softbreak"
                and kids[2].type == "em_open" and kids[-1].type == "em_close"):
            image, caption = kids[0], kids[3:-1]
            image.meta["hidpi"] = True
            fig_open = Token("figure_open", "figure", 1, block=True)
            img_inline = Token("inline", "", 0, children=[image], content=image.content)
            cap_open = Token("figcaption_open", "figcaption", 1, block=True)
            cap_inline = Token("inline", "", 0, children=caption)
            cap_close = Token("figcaption_close", "figcaption", -1, block=True)
            fig_close = Token("figure_close", "figure", -1, block=True)
            out += [fig_open, img_inline, cap_open, cap_inline, cap_close, fig_close]
            i += 3
            continue
        out.append(tok)
        i += 1
    state.tokens = out


# --------------------------------------------------------------------------- renderer


def _make_md(base_dir: Path) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable("table")  # raw HTML is shown as text
    dollarmath_plugin(
        md,
        renderer=lambda content, cfg: latex_to_mathml(content, bool(cfg.get("display_mode"))),
    )
    def render_image(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
        token = tokens[idx]
        src = str(token.attrGet("src") or "")
        alt = self.renderInlineAsText(token.children or [], options, env)
        uri, note = _embed_src(src, base_dir)
        if uri is None:
            return note or ""
        title = token.attrGet("title")
        title_attr = f' title="{escapeHtml(str(title))}"' if title else ""
        px = _png_width(uri) if token.meta.get("hidpi") else None
        if px:  # a 2x figure: shown at half its pixel width, so it is sharp on HiDPI screens
            title_attr += f' width="{px // 2}"'
        return f'<img src="{escapeHtml(uri)}" alt="{escapeHtml(alt)}"{title_attr} loading="lazy">'

    def render_text(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
        text = escapeHtml(tokens[idx].content)
        return _BADGE.sub(lambda m: f'<span class="{_badge_class(m.group(1))}">{m.group(1)}</span>', text)

    def table_open(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
        return '<div class="table-wrap">\n' + self.renderToken(tokens, idx, options, env)

    def table_close(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
        return self.renderToken(tokens, idx, options, env) + "</div>\n"

    md.core.ruler.push("linclf_figures", _figures_rule)
    md.add_render_rule("image", render_image)
    md.add_render_rule("text", render_text)
    md.add_render_rule("table_open", table_open)
    md.add_render_rule("table_close", table_close)
    return md


def _badge_class(text: str) -> str:
    low = text.lower()
    if "pass" in low or "ok" in low:
        return "pass"
    if "fail" in low:
        return "fail"
    return "skip"


def _assign_ids(tokens: list[Token]) -> list[tuple[int, str, str]]:
    """Give every heading an ``id``; return (level, id, text) for h2/h3."""
    used: set[str] = set()
    toc: list[tuple[int, str, str]] = []
    for i, tok in enumerate(tokens):
        if tok.type != "heading_open":
            continue
        text = _plain_text(tokens[i + 1]) if i + 1 < len(tokens) else ""
        base = slug = slugify(text)
        n = 1
        while slug in used:
            slug = f"{base}-{n}"
            n += 1
        used.add(slug)
        tok.attrSet("id", slug)
        level = int(tok.tag[1])
        if level in (2, 3):
            toc.append((level, slug, text))
    return toc


def _toc_html(entries: list[tuple[int, str, str]]) -> str:
    if not entries:
        return ""
    out = ['<nav class="toc" aria-label="Contents">', "<h2>Contents</h2>", "<ul>"]
    open_sub = False
    for level, slug, text in entries:
        item = f'<li><a href="#{escapeHtml(slug)}">{escapeHtml(text)}</a>'
        if level == 3:
            if not open_sub:
                # nest under the previous h2 item (or a bare item if the report starts at h3)
                if out[-1].startswith("<li>") and out[-1].endswith("</li>"):
                    out[-1] = out[-1][: -len("</li>")]
                else:
                    out.append("<li>")
                out.append("<ul>")
                open_sub = True
            out.append(item + "</li>")
        else:
            if open_sub:
                out.append("</ul></li>")
                open_sub = False
            out.append(item + "</li>")
    if open_sub:
        out.append("</ul></li>")
    out += ["</ul>", "</nav>"]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- public API


def markdown_to_html(md_text: str, base_dir: Path, title: str) -> str:
    """Render ``md_text`` to one self-contained HTML document (images and math inlined)."""
    base_dir = Path(base_dir)
    md = _make_md(base_dir)
    env: dict[str, Any] = {}
    tokens = md.parse(md_text, env)
    toc = _toc_html(_assign_ids(tokens))

    # The TOC goes after a leading h1 (the report's own title), else at the top.
    head: list[Token] = []
    if len(tokens) >= 3 and tokens[0].type == "heading_open" and tokens[0].tag == "h1":
        head, tokens = tokens[:3], tokens[3:]
    body = (md.renderer.render(head, md.options, env) if head else "") + toc
    body += md.renderer.render(tokens, md.options, env)

    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escapeHtml(title)}</title>\n"
        f"<style>\n{CSS}\n</style>\n"
        "</head>\n<body>\n<main>\n"
        f"{body}"
        "</main>\n</body>\n</html>\n"
    )


def write_report(text: str, md_path: Path, html_path: Path, title: str) -> Path:
    """Write REPORT.md (``text``) and render ``report.html`` from ``text`` itself, both
    atomically and every time: a report.html that linclf did not just write (a hand-edited
    or committed one) is never kept, whatever REPORT.md holds."""
    md_path, html_path = Path(md_path), Path(html_path)
    atomic_write_text(md_path, text)
    atomic_write_text(html_path, markdown_to_html(text, md_path.parent, title))
    return html_path


def write_html(md_path: Path, html_path: Path, title: str) -> Path:
    """Read ``md_path``, render it (images relative to its folder), write ``html_path`` atomically."""
    md_path, html_path = Path(md_path), Path(html_path)
    text = md_path.read_text(encoding="utf-8")
    atomic_write_text(html_path, markdown_to_html(text, md_path.parent, title))
    return html_path
