"""Web pages (.html, .htm): the main content through trafilatura (BeautifulSoup as a
fallback) with the page's title, author and date, written out as Markdown-like text."""

from __future__ import annotations

import logging
import re

from .decoding import decode_bytes
from .records import Source
from .structure import _BYLINE_LINE, _CAPTION_END, MAX_CAPTION, _iso_date, _simplified
from .tables import _squash, _table_lines

log = logging.getLogger(__name__)


def _html_meta(soup) -> dict[str, str]:
    """Title, author, date and site name from a page's <title> and <meta> tags."""
    names = {
        "title": ("og:title", "twitter:title", "title"),
        "author": ("author", "article:author", "byl", "dc.creator"),
        "date": ("article:published_time", "pubdate", "publishdate", "date", "dc.date", "og:pubdate"),
        "source": ("og:site_name", "application-name", "source"),
    }
    found: dict[str, str] = {}
    for tag in soup.find_all("meta"):
        key = (tag.get("property") or tag.get("name") or tag.get("itemprop") or "").lower()
        value = _squash(tag.get("content") or "")
        for field_, keys in names.items():
            if key in keys and value and field_ not in found:
                found[field_] = value
    if "title" not in found and soup.title and soup.title.string:
        found["title"] = _squash(soup.title.string)
    return found


def _xml_text(el) -> str:
    """Text of a trafilatura element, without the text of nested lists."""
    parts = [el.text or ""]
    for child in el:
        if child.tag != "list":
            parts.append("".join(child.itertext()))
        parts.append(child.tail or "")
    return _squash("".join(parts))


def _trafilatura_lines(html: str) -> tuple[list[str], dict[str, str]] | None:
    """Main-content lines (Markdown-like) and metadata, or None when nothing was found."""
    import trafilatura
    from lxml import etree

    xml = trafilatura.extract(
        html, output_format="xml", include_formatting=True, include_tables=True,
        include_comments=False, include_images=False, with_metadata=True,
    )
    if not xml:
        return None
    root = etree.fromstring(xml.encode("utf-8"))
    meta = {k: _squash(root.get(k) or "") for k in ("title", "author", "date", "sitename")}
    meta["source"] = meta.pop("sitename")
    main = root.find("main")
    if main is None:
        return None
    lines: list[str] = []

    def walk(el) -> None:
        tag = el.tag
        if tag == "head":
            rend = el.get("rend") or "h2"
            level = int(rend[1]) if rend[:1] == "h" and rend[1:].isdigit() else 2
            if _xml_text(el):
                lines.append("#" * min(max(level, 1), 6) + " " + _xml_text(el))
        elif tag == "list":
            for item in el.findall("item"):
                if _xml_text(item):
                    lines.append("- " + _xml_text(item))
                for sub in item.findall("list"):
                    walk(sub)
        elif tag == "table":
            rows = [[_squash("".join(c.itertext())) for c in row.findall("cell")] for row in el.iter("row")]
            first = el.find("row")
            head = first is not None and any(c.get("role") == "head" for c in first.findall("cell"))
            lines.extend(_table_lines(rows, head))
        elif tag == "code":
            code = "".join(el.itertext()).strip("\n")
            if code.strip():
                lines.append("```\n" + code + "\n```")
        elif tag in ("graphic", "comments"):
            return
        else:
            text = _squash("".join(el.itertext()))
            if text:
                lines.append(text)

    for el in main:
        walk(el)
    return (lines, meta) if lines else None


_NAV_SEP = re.compile(r"[\s|｜·•/>»›\-—]")  # what separates a menu's or breadcrumb's links


def _bs4_lines(soup) -> list[str]:
    """The fallback: leaf-level blocks of the page, without scripts and page furniture."""
    for tag in soup(["script", "style", "noscript", "template", "head", "nav", "footer", "aside", "form"]):
        tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    lines: list[str] = []
    block_tags = ["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "figcaption", "blockquote", "pre", "div"]
    for el in soup.find_all(block_tags + ["table"]):
        if el.find_parent("table") is not None:
            continue
        if el.name == "table":
            rows = [[_squash(c.get_text()) for c in tr.find_all(["th", "td"])] for tr in el.find_all("tr")]
            first = el.find("tr")
            lines.extend(_table_lines(rows, first is not None and first.find("th") is not None))
            continue
        if el.find(block_tags + ["table"]):  # only leaf-level blocks, so text is not repeated
            continue
        t = _squash(el.get_text())  # inline tags (links, bold) add no space between words
        links = el.find_all("a")
        if len(links) >= 2 and sum(len(_NAV_SEP.sub("", a.get_text())) for a in links) >= 0.8 * len(_NAV_SEP.sub("", t)):
            continue  # a menu or breadcrumb: links and separators only
        if t:
            prefix = "#" * int(el.name[1]) + " " if el.name[0] == "h" and el.name[1:].isdigit() else ""
            lines.append(prefix + ("- " if el.name == "li" else "") + t)
    if not lines:
        lines = [line.strip() for line in soup.get_text("\n").splitlines() if line.strip()]
    return lines


_MD_MARKS = re.compile(r"^(?:#{1,6} |- )")


def _found_in(line: str, text: str) -> bool:
    """Whether a block of the page is in ``text`` (without whitespace; a table row: each of its cells is)."""
    bare = "".join(_MD_MARKS.sub("", line).split())
    if bare in text:
        return True
    cells = [c for c in re.split(r"[：；]", bare) if c]
    return line.startswith("- ") and len(cells) > 1 and all(c in text for c in cells)


def _restore_bylines(kept: list[str], plain: list[str]) -> list[str]:
    """Put back the bylines and photo captions that trafilatura moved to its metadata or
    dropped, where they stand between two blocks of the main content."""
    bare = [_MD_MARKS.sub("", x) for x in plain]
    out: list[str] = []
    j = -1  # position in ``plain`` of the last kept block found there
    for line in kept:
        k = next((i for i in range(j + 1, len(bare)) if bare[i] == _MD_MARKS.sub("", line)), None)
        if k is not None:
            if j >= 0:
                for x in plain[j + 1 : k]:
                    simple = _simplified(x)
                    if (_BYLINE_LINE.match(simple) or _CAPTION_END.search(simple)) and len(x) <= MAX_CAPTION:
                        out.append(x)
            j = k
        out.append(line)
    return out


def _join_lines(lines: list[str]) -> str:
    """Blocks separated by blank lines; consecutive list items by one line break."""
    out: list[str] = []
    for i, line in enumerate(lines):
        if i:
            both_items = line.startswith("- ") and lines[i - 1].startswith("- ")
            out.append("\n" if both_items else "\n\n")
        out.append(line)
    return "".join(out) + "\n" if out else ""


def _html_source(data: bytes) -> Source:
    from bs4 import BeautifulSoup

    html, _ = decode_bytes(data)
    meta = _html_meta(BeautifulSoup(html, "html.parser"))
    try:
        found = _trafilatura_lines(html)
    except Exception as exc:  # a parser failure falls back to BeautifulSoup
        log.warning("trafilatura failed (%s: %s), using the plain HTML reader", type(exc).__name__, exc)
        found = None
    plain = _bs4_lines(BeautifulSoup(html, "html.parser"))
    if found is not None:
        lines, tmeta = found
        meta = {k: v for k, v in meta.items() if v} | {k: v for k, v in tmeta.items() if v}
        if len(lines) == 1 and len(plain) > 1:
            # On a small page trafilatura falls back to the body's text in one piece: keep
            # the page's own blocks, those that it found to be content.
            flat = "".join(lines[0].split())  # the page's whitespace, not its words, differs between the two
            kept = [x for x in plain if _found_in(x, flat)]
            lines = kept or lines
        else:
            lines = _restore_bylines(lines, plain)
    else:
        lines = plain
    title = meta.get("title", "")
    if title and not any(line.startswith("# ") for line in lines):
        lines.insert(0, "# " + title)  # the page's title heads its text (so it is indexed)
    return Source(
        _join_lines(lines), "html", True, title, _iso_date(meta.get("date", "")),
        meta.get("source", ""), meta.get("author", ""),
    )
