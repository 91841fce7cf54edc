"""Reading documents and recovering their structure.

``read_document(path)`` decodes a file and recovers its articles.  Text encodings are
detected (UTF-8/16/32, GB18030, Big5); .html goes through trafilatura (main content
only, with the page's title, author and date; BeautifulSoup as a fallback), .docx
through python-docx (tables one row per line, header cells attached) and .pdf through
pypdf (metadata kept; a PDF without a text layer is refused by name).  HTML and docx
are written out as Markdown-like text, and that text is the source that offsets refer
to.

Structure: a newspaper page has articles with a headline (joined when split over
lines), subtitle, byline, section headings, body paragraphs (repaired when the layout
cut them in two) and photo captions; other documents (encyclopedia entries, guides,
reports, notices) have a title, optional sections and paragraphs.  Hard-wrapped lines
(pypdf, OCR, fixed-width text) are rejoined; Markdown headings, list items, table rows
and code blocks are recognised and their markers left out.  Every piece keeps exact
``spans`` into the decoded text, so citations can be checked against the source.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import re
import statistics
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path

from .records import Span, join_spans, sub_spans
from .text import PARAGRAPH_END, fold_numbers, has_cjk, to_simplified

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".docx", ".pdf")
MARKDOWN_SUFFIXES = (".md", ".markdown")
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
BODY_KINDS = ("paragraph", "item", "code")


class DocumentError(ValueError):
    """A document that can't be read; the message names the file and the reason."""


@dataclass(frozen=True)
class Block:
    """A piece of an article.

    ``kind`` is subtitle, byline, heading, paragraph, item (a list item or table row,
    without its marker), code or caption; ``level`` is a Markdown heading's level.
    """

    kind: str
    text: str
    spans: tuple[Span, ...]
    level: int = 0


@dataclass(frozen=True)
class Article:
    number: int  # 1-based within the document
    title: str
    title_spans: tuple[Span, ...]
    subtitle: Block | None
    byline: Block | None
    blocks: tuple[Block, ...]  # headings, body blocks and captions in reading order

    @property
    def paragraphs(self) -> list[Block]:
        """Body blocks: paragraphs, list items and table rows, code blocks."""
        return [b for b in self.blocks if b.kind in BODY_KINDS]

    @property
    def captions(self) -> list[Block]:
        return [b for b in self.blocks if b.kind == "caption"]

    @property
    def headings(self) -> list[Block]:
        return [b for b in self.blocks if b.kind == "heading"]


@dataclass(frozen=True)
class Document:
    """A structured document.  ``title``, ``date`` (ISO, as precise as known), ``source``
    (publisher or site) and ``author`` are for citations; any of them may be empty."""

    name: str  # file name relative to the seeds folder
    text: str  # the decoded source text that all offsets refer to
    sha256: str  # of the raw file bytes
    articles: tuple[Article, ...]
    encoding: str = "utf-8"
    warnings: tuple[str, ...] = field(default=())
    title: str = ""
    date: str = ""
    source: str = ""
    author: str = ""


@dataclass(frozen=True)
class Source:
    """A file's decoded text and what its format says about it."""

    text: str
    encoding: str
    markdown: bool = False  # list items, tables and code fences are syntax
    title: str = ""
    date: str = ""
    source: str = ""
    author: str = ""


# ---------------------------------------------------------------- decoding


def _looks_like_text(text: str) -> bool:
    """Few control characters, replacement characters or private-use code points
    (Big5 bytes read as GB18030 decode to private-use characters)."""
    if not text:
        return True
    bad = sum(
        1
        for ch in text
        if (ord(ch) < 32 and ch not in "\t\n\r\f\v") or ch == "\ufffd" or 0xE000 <= ord(ch) < 0xF900
    )
    return bad / len(text) < 0.01


def _mostly_chinese(text: str) -> bool:
    """Latin-1, CJK ideographs, kana and CJK/general/full-width punctuation: >= 90% of ``text``."""
    ok = sum(
        1
        for ch in text
        if ord(ch) < 0x100 or 0x2000 <= ord(ch) < 0x2070 or 0x3000 <= ord(ch) < 0x3100
        or 0x3400 <= ord(ch) < 0xA000 or 0xFF00 <= ord(ch) < 0xFFF0
    )
    return ok >= 0.9 * len(text)


def _common_share(text: str) -> float:
    """Share of the ideographs that are, once simplified, among GB2312's 3,755 most
    common characters: high for real Chinese in either script, low for mojibake."""
    chars = [ch for ch in text if 0x3400 <= ord(ch) < 0xA000]
    if not chars:
        return 0.0
    common = 0
    for ch in to_simplified("".join(chars)):
        try:
            common += 0xB0 <= ch.encode("gb2312")[0] <= 0xD7
        except UnicodeEncodeError:
            pass
    return common / len(chars)


def _decode_gb_or_big5(data: bytes) -> tuple[str, str] | None:
    """Decode two-byte Chinese: GB18030 (GBK, GB2312) or Big5 (read as cp950), whichever
    reads as common Chinese; GB18030 when both do equally well."""
    found: list[tuple[str, str]] = []
    for enc, label in (("gb18030", "gb18030"), ("cp950", "big5")):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        if _looks_like_text(text):
            found.append((text, label))
    if len(found) == 2 and _common_share(found[1][0]) > _common_share(found[0][0]) + 0.1:
        return found[1]
    return found[0] if found else None


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode text bytes, detecting the encoding; returns ``(text, encoding)``.

    Order: byte-order marks (UTF-8/16/32), UTF-16 without BOM (many NULs), strict UTF-8,
    UTF-16 without BOM (a few NULs, decoding to Chinese), strict GB18030 (covers
    GBK/GB2312) or Big5, then charset-normalizer's best guess.  Raises
    :class:`DocumentError` when nothing yields plausible text (binary junk).
    """
    boms = [
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\xff\xfe\x00\x00", "utf-32"),
        (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ]
    candidates: list[str] = [enc for bom, enc in boms if data.startswith(bom)][:1]
    guarded = ""  # a guess that must also decode to mostly Chinese text
    if not candidates:
        head = data[:2000]
        even, odd = head[0::2].count(0), head[1::2].count(0)
        utf16 = "utf-16-be" if even > odd else "utf-16-le"
        if even + odd > len(head) // 4:
            candidates.append(utf16)
        candidates.append("utf-8")
        if 0 < even + odd <= len(head) // 4:
            # Chinese UTF-16 has NULs only where it has ASCII (a headline and a newline: 1-2);
            # UTF-8 and GB text have none.  Too few for charset-normalizer to be sure.
            guarded = utf16
            candidates.append(utf16)
        candidates.append("gb18030|big5")
    for enc in candidates:
        if enc == "gb18030|big5":
            found = _decode_gb_or_big5(data)
            if found is not None:
                return found
            continue
        try:
            text = data.decode(enc)
        except (UnicodeDecodeError, LookupError):
            continue
        if _looks_like_text(text) and (enc != guarded or _mostly_chinese(text)):
            return text, enc
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
    except Exception:  # pragma: no cover - detector failure is treated as undecodable
        best = None
    if best is not None:
        text = str(best)
        if _looks_like_text(text):
            return text, best.encoding
    raise DocumentError("cannot detect a text encoding (binary file, or an unsupported encoding)")


# ---------------------------------------------------------------- formats



def _squash(text: str) -> str:
    return " ".join(text.split())


def _row_text(cells: list[str], header: list[str] | None) -> str:
    """A table row as one line: ``姓名：张三；职务：经理`` with a header, else ``张三；经理``."""
    if header and len(header) == len(cells):
        return "；".join(f"{h}：{c}" if h else c for h, c in zip(header, cells) if c)
    return "；".join(c for c in cells if c)


def _table_lines(rows: list[list[str]], header: bool) -> list[str]:
    """Markdown-like item lines for a table: one per row, the header row attached to each."""
    rows = [r for r in rows if any(r)]
    if not rows:
        return []
    if header and len(rows) > 1:
        head, body = rows[0], rows[1:]
        return ["- " + _row_text(r, head) for r in body if _row_text(r, head)]
    if not header and all(len(r) == 2 for r in rows):  # a two-column key-value table
        return ["- " + (f"{k}：{v}" if k and v else k or v) for k, v in rows]
    return ["- " + _row_text(r, None) for r in rows]


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


def _simplified(text: str) -> str:
    """``text`` in simplified characters, for matching patterns (same length, or ``text``)."""
    simple = to_simplified(text)
    return simple if len(simple) == len(text) else text


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


def _docx_source(data: bytes) -> Source:
    import io

    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    d = docx.Document(io.BytesIO(data))
    lines: list[str] = []
    for child in d.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            p = Paragraph(child, d)
            t = p.text.strip()
            if not t:
                continue
            style = (p.style.name or "").lower() if p.style is not None else ""
            if style.startswith("title"):
                t = "# " + t
            elif style.startswith("heading") and style[-1:].isdigit():
                t = "#" * min(int(style[-1]), 6) + " " + t
            elif style.startswith("list"):
                t = "- " + _squash(t)
            lines.append(t)
        elif tag == "tbl":
            table = Table(child, d)
            rows = []
            for row in table.rows:
                cells, seen = [], set()
                for cell in row.cells:  # a merged cell is repeated: keep it once
                    if id(cell._tc) not in seen:
                        seen.add(id(cell._tc))
                        cells.append(_squash(cell.text))
                rows.append(cells)
            first = table.rows[0] if table.rows else None
            marked = first is not None and (
                first._tr.trPr is not None and first._tr.trPr.find(docx.oxml.ns.qn("w:tblHeader")) is not None
                or all(r.bold for c in first.cells for p in c.paragraphs for r in p.runs if r.text.strip())
                and any(r.text.strip() for c in first.cells for p in c.paragraphs for r in p.runs)
            )
            lines.extend(_table_lines(rows, marked or bool(rows and len(rows[0]) > 2)))
    props = d.core_properties
    # ``created`` is when the file was made; a generator's template keeps its own
    # (created == modified, nobody named as the last editor): not the document's date.
    saved = props.created is not None and (props.modified != props.created or bool(props.last_modified_by))
    date = props.created.date().isoformat() if saved else ""
    return Source(_join_lines(lines), "docx", True, _squash(props.title or ""), date, "", _squash(props.author or ""))


# A page number on a line of its own: 第 3 页 / 第3页 共5页 / - 3 - / 3/5 / Page 3 of 5 / 3
_PAGE_NUMBER = re.compile(
    r"(?:第\s*\d+\s*页(?:\s*[，,/]?\s*共\s*\d+\s*页)?|共\s*\d+\s*页\s*第\s*\d+\s*页"
    r"|[-—–]\s*\d+\s*[-—–]|\d+\s*/\s*\d+|(?:page|p\.)\s*\d+(?:\s*(?:of|/)\s*\d+)?|\d{1,4})",
    re.IGNORECASE,
)
_EDGE_LINES = 3  # running headers and footers are among a page's first or last lines


def _furniture_key(line: str) -> str:
    return re.sub(r"\d+", "#", re.sub(r"\s+", "", line))


def _furniture_like(line: str) -> bool:
    """Short, and not the end of a sentence (a body line that happens to recur is not furniture)."""
    t = line.strip()
    return bool(t) and len(t) <= MAX_HEADING and not _ends_complete(t)


def _furniture(pages: list[list[str]]) -> list[set[int]]:
    """For each page (its lines), the positions of its running headers, footers and page numbers.

    Text extraction gives each page's header and footer lines among its first or last
    lines (in drawing order, not always on top), and a paragraph that runs over a page
    break is cut by them.  A line near a page's edge is furniture when it is a page number
    of a known shape, or when the same line (its digits aside) stands at the same place
    (n-th from the top, or from the bottom) on at least two pages and half of them, and
    is short and does not end a sentence.
    """

    def places(lines: list[str]) -> list[tuple[int, str]]:
        n = len(lines)
        at = [(i, i) for i in range(min(_EDGE_LINES, n))]
        at += [(i, i - n) for i in range(max(0, n - _EDGE_LINES), n)]
        return [(i, f"{place}|{_furniture_key(lines[i])}") for i, place in at]

    seen: dict[str, int] = {}
    for lines in pages:
        for k in {k for i, k in places(lines) if _furniture_like(lines[i])}:
            seen[k] = seen.get(k, 0) + 1
    repeated = {k for k, n in seen.items() if n >= 2 and n * 2 >= len(pages)}
    return [{i for i, k in places(lines) if k in repeated or _PAGE_NUMBER.fullmatch(lines[i].strip())}
            for lines in pages]


def _without_page_furniture(pages: list[str]) -> list[str]:
    """Pages' text without running headers, footers and page numbers (see :func:`_furniture`)."""
    split = [p.split("\n") for p in pages]
    return ["\n".join(line for i, line in enumerate(lines) if i not in drop)
            for lines, drop in zip(split, _furniture(split))]


def _without_text_furniture(text: str, lines: list[_Line]) -> list[_Line]:
    """``lines`` of a text with form feeds between its pages (as ``pdftotext`` writes), minus
    each page's running header, footer and page number (see :func:`_furniture`).

    The first line after a page break gets no blank lines before it: the blank lines around
    the dropped furniture are the page's layout, not a paragraph break, so a paragraph cut
    by the break is rejoined (or not) by the same rules as any wrapped line.  Offsets stay
    those of the source; the furniture is only left out of every block.
    """
    breaks = [i for i, ch in enumerate(text) if ch == "\f"]
    pages: list[list[_Line]] = [[] for _ in range(len(breaks) + 1)]
    for ln in lines:
        pages[bisect.bisect_right(breaks, ln.start)].append(ln)
    pages = [p for p in pages if p]
    if len(pages) < 2:
        return lines
    drops = _furniture([[text[ln.start : ln.end] for ln in p] for p in pages])
    out: list[_Line] = []
    for page, drop in zip(pages, drops):
        kept = [ln for i, ln in enumerate(page) if i not in drop]
        if out and kept:
            kept[0] = replace(kept[0], blank=0)
        out += kept
    return out


def _join_wrapped(lines: list[str]) -> str:
    """A wrapped table cell's lines as one: joined directly, with a space between Latin words."""
    out = lines[0].strip()
    for line in lines[1:]:
        t = line.strip()
        gap = " " if out and t and out[-1].isascii() and out[-1].isalnum() and t[0].isascii() and t[0].isalnum() else ""
        out += gap + t
    return out


def _pdf_page_text(page) -> tuple[str, bool]:
    """A page's text, with its tables' rows as ``- 表头：格；…`` item lines, and whether it has any.

    pypdf writes each table cell on lines of its own (a wrapped cell: lines that start at
    one x, one under the other); the cells of one row are those whose first lines share a
    baseline, left to right.  Two or more such rows of as many cells, one after
    the other, make a table.
    """
    chunks: list[tuple[str, float, float]] = []

    def visit(text, cm, tm, font, size) -> None:
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        chunks.append((text, x, y))

    plain = page.extract_text(visitor_text=visit) or ""
    if "".join(c[0] for c in chunks) != plain:  # positions don't line up with the text
        return plain, False
    lines: list[tuple[str, tuple[float, float] | None]] = []
    buf, at = "", None
    for text, x, y in chunks:
        for part in re.split(r"(\n)", text):
            if part == "\n":
                lines.append((buf, at))
                buf, at = "", None
            elif part:
                at = at if at is not None or not part.strip() else (x, y)
                buf += part
    if buf:
        lines.append((buf, at))
    # A cell: a line and the lines under it that start at the same x (a wrapped cell).
    cells: list[list[int]] = []
    for i, (_, pos) in enumerate(lines):
        last = lines[i - 1][1] if i else None
        if cells and pos is not None and last is not None and lines[i - 1][0].strip():
            if abs(last[0] - pos[0]) < 1 and 0 < last[1] - pos[1] < 40:
                cells[-1].append(i)
                continue
        cells.append([i])
    rows: list[list[int]] = []  # runs of cells whose first lines share a baseline, left to right
    for c, cell in enumerate(cells):
        pos = lines[cell[0]][1]
        ppos = lines[cells[c - 1][0]][1] if c else None
        if rows and pos is not None and ppos is not None and abs(ppos[1] - pos[1]) < 2 and pos[0] > ppos[0]:
            rows[-1].append(c)
        else:
            rows.append([c])
    out: list[str] = []
    found = False
    k = 0
    while k < len(rows):
        j = k
        while j < len(rows) and len(rows[j]) >= 2 and len(rows[j]) == len(rows[k]):
            j += 1
        if j - k >= 2:  # a table
            table = [[_squash(_join_wrapped([lines[n][0] for n in cells[c]])) for c in row] for row in rows[k:j]]
            out.extend(["", *_table_lines(table, len(table[0]) > 2), ""])
            found, k = True, j
            continue
        out.extend(lines[n][0] for c in rows[k] for n in cells[c])
        k += 1
    return ("\n".join(out) if found else plain), found


def _pdf_source(data: bytes) -> Source:
    import io

    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:  # many PDFs only restrict editing: their user password is empty
        try:
            opened = reader.decrypt("")
        except Exception as exc:  # e.g. AES without a crypto library
            raise DocumentError(f"the PDF is encrypted and cannot be opened here ({exc}); it is skipped") from exc
        if not opened:
            raise DocumentError("the PDF is protected by a password; it is skipped")
    pages, tables = [], False
    for page in reader.pages:
        page_text, found = _pdf_page_text(page)
        pages.append(page_text.strip("\n"))
        tables = tables or found
    text = "\n".join(p for p in _without_page_furniture(pages) if p.strip())
    if not text.strip():
        raise DocumentError("the PDF has no text layer (a scanned document?); it is skipped")
    meta = reader.metadata
    title = author = date = ""
    if meta is not None:
        title, author = _squash(meta.title or ""), _squash(meta.author or "")
        try:
            created = meta.creation_date
        except Exception:  # an unparsable date string
            created = None
        date = created.date().isoformat() if created else ""
    # Table rows are written as list items (as .docx tables are), which only Markdown reads.
    return Source(text + "\n", "pdf", tables, title, date, "", author)


def load_source(path: Path, data: bytes | None = None) -> Source:
    """The decoded text of a file (that all offsets refer to) and its format's metadata."""
    suffix = path.suffix.lower()
    if data is None:
        data = path.read_bytes()
    try:
        if suffix in (".html", ".htm"):
            return _html_source(data)
        if suffix == ".docx":
            return _docx_source(data)
        if suffix == ".pdf":
            return _pdf_source(data)
    except DocumentError:
        raise
    except Exception as exc:  # library-specific parse errors
        raise DocumentError(f"cannot parse {suffix} file: {type(exc).__name__}: {exc}") from exc
    text, enc = decode_bytes(data)
    text = text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text
    return Source(text, enc, suffix in MARKDOWN_SUFFIXES)


def read_text(path: Path, data: bytes | None = None) -> tuple[str, str]:
    """The decoded text of a file that all offsets refer to, and how it was decoded."""
    src = load_source(path, data)
    return src.text, src.encoding


# ---------------------------------------------------------------- metadata found in the text

_DATE_RE = re.compile(r"(\d{4})\s*(?:年\s*(\d{1,2})\s*月(?:\s*(\d{1,2})\s*[日号])?|[-/.](\d{1,2})[-/.](\d{1,2}))")
_SOURCE_RE = re.compile(r"(?:来源|出处|稿源)\s*[:：]\s*([^\s，,。；;|]{1,30})")
_AUTHOR_RE = re.compile(r"(?:作者|撰稿|文)\s*[:：/／]\s*([^\s，,。；;|]{1,20})")


def _iso_date(text: str) -> str:
    """The first plausible date in ``text`` (any numeral notation) as YYYY-MM-DD or YYYY-MM."""
    for m in _DATE_RE.finditer(fold_numbers(text)):
        year = int(m.group(1))
        month = int(m.group(2) or m.group(4) or 0)
        day = int(m.group(3) or m.group(5) or 0)
        if 1900 <= year <= 2100 and 1 <= month <= 12 and 0 <= day <= 31:
            return f"{year:04d}-{month:02d}" + (f"-{day:02d}" if day else "")
    return ""


# ---------------------------------------------------------------- lines and blocks

_BYLINE_LINE = re.compile(r"^(本报记者|本报通讯员|记者|通讯员|特约记者|文[/／:：]|图[/／:：]|作者[:：]|来源[:：])")
_BYLINE_PREFIX = re.compile(r"^(本报讯|本报[^\s，。]{1,6}电|[^\s，。]{1,8}讯)\s*[（(][^）)\n]{1,40}[）)]")
_CAPTION_END = re.compile(r"(摄|摄影|供图|图源[^。]{0,20})\s*[）)]?$")
_MD_HEADING = re.compile(r"^(#{1,6})\s+")
_MD_FENCE = re.compile(r"^(`{3,}|~{3,})")
_MD_ITEM = re.compile(r"^(?:[-*+•]\s+|\d{1,3}[.)]\s+|\d{1,3}、\s*)")
_MD_QUOTE = re.compile(r"^(?:>\s?)+")
_MD_TABLE_RULE = re.compile(r"^\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?$")
_SENT_INSIDE = re.compile(r"[。！？!?；;]")
_CLAUSE = re.compile(r"[，,、]")
_LABEL = re.compile(r"^[^\s，。、；：:,]{1,8}[：:]")
# A numbered line starts a new item: 1. / 1、 / （1） / 一、 / （一）
_ENUMERATION = re.compile(r"^(?:\d{1,3}[.)]\s+|\d{1,3}、|[（(][一二三四五六七八九十\d]{1,3}[）)]|[一二三四五六七八九十]{1,3}、)")
_SENTENCE_END = re.compile(r"[。！？!?…；;][”’」』）)]*$")  # stricter than PARAGRAPH_END: not a bare ）
_ITEM_START = re.compile(_ENUMERATION.pattern + r"|^[●•·▪■◆○◇★※*-]")
_CONTINUES = ("，", "、", ",", "：", ":", "—", "（", "(", "“", "《")
MAX_HEADING = 40
MAX_CAPTION = 160


@dataclass
class _Line:
    start: int  # of the stripped line
    end: int
    blank: int  # blank lines before it
    indent: int  # leading whitespace characters
    width: int  # display width (a CJK character counts 2)


@dataclass
class _Raw:
    text: str
    spans: tuple[Span, ...]
    gap_before: int  # blank lines before this block
    md_level: int = 0
    kind: str = ""  # preset for list items, table rows and code blocks


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _lines(text: str) -> list[_Line]:
    out: list[_Line] = []
    pos, blank = 0, 0
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped:
            indent = len(line) - len(line.lstrip())
            s = pos + indent
            out.append(_Line(s, s + len(stripped), blank, indent, _width(stripped)))
            blank = 0
        else:
            blank += 1
        pos += len(line) + 1
    return out


def _is_heading_like(t: str) -> bool:
    return (
        len(t) <= MAX_HEADING
        and not t.endswith(("。", "！", "？", "!", "?", "；", ";", "…", "，", ",", "、", "."))
        and not _SENT_INSIDE.search(t)
    )


def _is_label_or_note(t: str) -> bool:
    """``电话：123``-style lines (a label and its value) and lines wholly in brackets
    (``（根据录音整理）``) look like headings but are text."""
    m = _LABEL.match(t)
    return bool(m and t[m.end() :].strip()) or bool(re.fullmatch(r"[（(][^（）()]*[）)]", t))


def _ends_complete(t: str) -> bool:
    return t.rstrip().endswith(PARAGRAPH_END)


@dataclass
class _Layout:
    """What the page's lines say about its layout."""

    blank_separated: bool  # paragraphs are separated by blank lines
    wrap: int  # the display width of hard-wrapped lines, 0 when the text is not wrapped that way
    indented: bool  # paragraphs start with an indented line, continuation lines don't
    wrap_chars: int = 0  # the same in characters (a wrap at a fixed character count)

    def full(self, line: _Line) -> bool:
        """A line as wide as the wrapped lines (by display width or by character count)."""
        by_width = bool(self.wrap) and line.width >= self.wrap - max(2, self.wrap // 10)
        n = line.end - line.start
        return by_width or bool(self.wrap_chars) and n >= self.wrap_chars - max(1, self.wrap_chars // 20)


def _layout(text: str, lines: list[_Line]) -> _Layout:
    gaps = [ln.blank for ln in lines[1:]]
    blank_separated = bool(gaps) and statistics.median(gaps) >= 1
    # Hard wrapping: lines that break mid-sentence share one width (two such lines of
    # 15+ characters, or three of 8+, are hardly a coincidence).
    cut = [a for a, b in zip(lines, lines[1:]) if b.blank == 0 and not _ends_complete(text[a.start : a.end])]
    wrap = _common_width([a.width for a in cut], 2)
    wrap_chars = _common_width([a.end - a.start for a in cut], 1)
    indents = [ln.indent > 0 for ln in lines]
    indented = 2 <= sum(indents) < len(indents) - 1
    return _Layout(blank_separated, wrap, indented, wrap_chars)


def _common_width(widths: list[int], unit: int) -> int:
    """The width that most of ``widths`` reach and hardly any exceed (the wrap width), or 0
    when too few lines share one: two of 15+ characters, or three of 8+."""
    wrap, best = 0, 0
    for w in set(widths):
        tol = max(unit, w // 10)
        n = sum(1 for x in widths if w - tol <= x <= w)
        if sum(1 for x in widths if x > w + tol) > n // 4:
            continue  # lines wider than the "wrap": it is not one
        if n > best or (n == best and w > wrap):
            wrap, best = w, n
    if not (best >= 3 and wrap >= 8 * unit or best >= 2 and wrap >= 15 * unit):
        return 0
    return wrap


def _joins(block: str, a: _Line, b: _Line, c: _Line | None, text: str, lay: _Layout) -> bool:
    """Does line ``b`` continue the paragraph ``block`` whose last line is ``a`` (``c`` follows ``b``)?

    A line is a heading by shape and context: short, without sentence punctuation, the
    first of its block, and not as wide as the wrapped lines (or, in unwrapped text,
    followed by a longer line); on an indented page, a short line after a finished
    paragraph and before an indented one.  An indented line starts a paragraph on a page
    whose paragraphs are indented; ``标签：…`` lines after one another and numbered lines
    (``1.``, ``（一）``) are items.  A
    line cut mid-sentence continues (a short label line such as ``电话：123`` is not cut);
    so does any line of a blank-separated page (its paragraphs are hard-wrapped), and a
    full-width line of an indented page.
    """
    a_text, b_text = text[a.start : a.end], text[b.start : b.end]
    first = len(block) == len(a_text)
    heading = _is_heading_like(a_text) and not _BYLINE_PREFIX.match(a_text) and not a_text.endswith(_CONTINUES)
    if first and heading and not lay.full(a) and (lay.wrap or a.width < b.width):
        return False
    if lay.indented and b.indent > 0:
        # A hanging indent: the line before is full and cut mid-sentence (a list item's
        # continuation in a PDF), and this one starts no item of its own.
        return lay.full(a) and not _SENTENCE_END.search(a_text) and not _ITEM_START.match(b_text)
    if _LABEL.match(block) and _LABEL.match(b_text) or _ENUMERATION.match(b_text):
        return False
    if not _ends_complete(a_text):  # cut mid-sentence, unless it is a short label line ("电话：123")
        return not first or not heading or lay.full(a) or bool(_CLAUSE.search(a_text))
    if lay.indented and lay.full(a):
        b_heading = _is_heading_like(b_text) and not lay.full(b) and (c is None or c.indent > 0)
        return not b_heading
    return lay.blank_separated


def _latin_break(text: str, a: _Line, b: _Line) -> bool:
    """Two words of Latin text meet at the break: keep the line break between them.

    Only in Latin text (the end of the line has spaces and no CJK): an abbreviation or a
    number cut by a fixed-width wrap in Chinese text (``AP`` + ``P``, ``3`` + ``1.6万``)
    is joined as it was.
    """
    x, y = text[a.end - 1], text[b.start]
    tail = text[max(a.start, a.end - 16) : a.end]
    return (
        a.end < len(text) and x.isascii() and y.isascii() and x.isalnum() and y.isalnum()
        and not (x.isdigit() and y.isdigit()) and " " in tail and not has_cjk(tail)
    )


def _table_cells(text: str, line: _Line) -> tuple[Span, ...]:
    """Spans of a Markdown table row's cells, each with one following space when there is one."""
    s, e = line.start, line.end
    bars = [i for i in range(s, e) if text[i] == "|" and (i == s or text[i - 1] != "\\")]
    spans: list[Span] = []
    for lo, hi in zip([s - 1] + bars, bars + [e]):  # the text between two bars
        cs, ce = lo + 1, hi
        while cs < ce and text[cs].isspace():
            cs += 1
        while ce > cs and text[ce - 1].isspace():
            ce -= 1
        if cs < ce:
            spans.append((cs, ce + 1 if ce < hi and text[ce] == " " else ce))
    if spans:  # no trailing space after the last cell
        s0, e0 = spans[-1]
        spans[-1] = (s0, e0 - 1) if text[e0 - 1] == " " else (s0, e0)
    return tuple(spans)


def _raw_blocks(text: str, markdown: bool = False) -> list[_Raw]:
    lines = _lines(text)
    if "\f" in text:
        lines = _without_text_furniture(text, lines)
    if not lines:
        return []
    lay = _layout(text, lines)
    raws: list[_Raw] = []
    cur: _Raw | None = None  # the paragraph or list item that the next line may continue
    last: _Line | None = None
    header: tuple[Span, ...] = ()  # the Markdown table header's cells, while inside its table
    header_rows = 0
    i = 0
    while i < len(lines):
        ln = lines[i]
        t = text[ln.start : ln.end]
        i += 1
        if header and not t.startswith("|"):  # the table ended
            if not header_rows:  # a header with no rows under it: still indexed
                raws.append(_header_only(text, header))
            header = ()
        m = _MD_HEADING.match(t)
        if m:
            raws.append(_Raw(t[m.end() :], ((ln.start + m.end(), ln.end),), ln.blank, len(m.group(1))))
            cur = None
            continue
        if markdown:
            fence = _MD_FENCE.match(t)
            if fence:
                j = i
                while j < len(lines) and not text[lines[j].start : lines[j].end].startswith(fence.group(1)):
                    j += 1
                if j > i:  # the code between the fences, exactly as written
                    s, e = lines[i].start - lines[i].indent, lines[j - 1].end
                    raws.append(_Raw(text[s:e], ((s, e),), ln.blank, kind="code"))
                i, cur = j + 1, None
                continue
            if t.startswith("|"):
                cur = None
                if not _MD_TABLE_RULE.match(t):
                    spans = _table_cells(text, ln)
                    nxt = text[lines[i].start : lines[i].end] if i < len(lines) else ""
                    if spans and _MD_TABLE_RULE.match(nxt):  # the header row: attached to every row below
                        s0, e0 = spans[-1]
                        header = spans[:-1] + ((s0, e0 + 1),) if e0 < ln.end and text[e0] == " " else spans
                        header_rows = 0
                        continue
                    if spans and header:
                        spans = header + spans
                        header_rows += 1
                    if spans:
                        raws.append(_Raw(join_spans(text, spans), spans, ln.blank, kind="item"))
                continue
            quote = _MD_QUOTE.match(t)
            if quote and quote.end() < len(t):  # a quotation: its text, without the marker
                ln = _Line(ln.start + quote.end(), ln.end, ln.blank, ln.indent, _width(t[quote.end() :]))
                t = t[quote.end() :]
            item = _MD_ITEM.match(t)
            if item:
                s = ln.start + item.end()
                if s < ln.end:
                    cur = _Raw(text[s : ln.end], ((s, ln.end),), ln.blank, kind="item")
                    raws.append(cur)
                    last = ln
                else:
                    cur = None
                continue
        after = lines[i] if i < len(lines) else None
        if cur is not None and last is not None and ln.blank == 0 and (
            cur.kind == "item" or _joins(cur.text, last, ln, after, text, lay)
        ):
            if _latin_break(text, last, ln):
                cur.spans = cur.spans[:-1] + ((cur.spans[-1][0], last.end + 1),)
            cur.spans = cur.spans + ((ln.start, ln.end),)
            cur.text = join_spans(text, cur.spans)
        else:
            cur = _Raw(t, ((ln.start, ln.end),), ln.blank)
            raws.append(cur)
        last = ln
    if header and not header_rows:
        raws.append(_header_only(text, header))
    return [r for r in raws if r.text.strip()]


# Inline Markdown whose marks are left out of a block's spans (the text between them kept):
# images and links (their text, not the address), **strong**, __strong__, *em*, ~~struck~~
# and `code`.
_MD_INLINE = re.compile(
    r"!?\[(?P<link>[^\]\n]*)\]\([^)\s]*(?:\s+\"[^\"]*\")?\)"
    r"|\*\*(?P<strong>\S(?:.*?\S)?)\*\*|__(?P<ustrong>\S(?:.*?\S)?)__|~~(?P<struck>\S(?:.*?\S)?)~~"
    r"|(?<![*\w])\*(?P<em>[^*\s](?:[^*]*?[^*\s])?)\*(?![*\w])|`(?P<code>[^`\n]+)`"
)


def _without_inline_markup(text: str, spans: tuple[Span, ...]) -> tuple[Span, ...]:
    """``spans`` minus inline Markdown marks, so that passages and answers quote the words only."""
    out: list[Span] = []
    for s, e in spans:
        pos = s
        for m in _MD_INLINE.finditer(text, s, e):
            group = next(g for g in ("link", "strong", "ustrong", "struck", "em", "code") if m.group(g) is not None)
            if pos < m.start():
                out.append((pos, m.start()))
            if m.start(group) < m.end(group):
                out.append((m.start(group), m.end(group)))
            pos = m.end()
        if pos < e:
            out.append((pos, e))
    return tuple(out)


def _header_only(text: str, header: tuple[Span, ...]) -> _Raw:
    s0, e0 = header[-1]
    spans = header[:-1] + ((s0, e0 - 1),) if text[e0 - 1] == " " and e0 - 1 > s0 else header
    return _Raw(join_spans(text, spans), spans, 0, kind="item")


def _classify(raws: list[_Raw]) -> None:
    gaps = [r.gap_before for r in raws[1:]]
    typical = statistics.median(gaps) if gaps else 0
    for i, r in enumerate(raws):
        t = _simplified(r.text)  # 本報記者 is a byline too
        nxt = raws[i + 1] if i + 1 < len(raws) else None
        if r.kind:  # list items, table rows and code blocks
            continue
        if r.md_level:
            r.kind = "heading"
        elif _BYLINE_LINE.match(t) and len(t) <= 60 and not _SENT_INSIDE.search(t):
            r.kind = "byline"
        elif t.startswith(("——", "—", "--")) and len(t) <= 80:
            r.kind = "subtitle"
        elif len(t) <= MAX_CAPTION and _CAPTION_END.search(t) and not _BYLINE_PREFIX.match(t):
            r.kind = "caption"
        elif _is_heading_like(t) and not _is_label_or_note(t):
            r.kind = "heading"
        elif (
            i > 0
            and r.gap_before > typical >= 1
            and len(t) <= MAX_CAPTION
            and nxt is not None
            and nxt.gap_before <= r.gap_before
        ):
            # Set apart by a wider gap than the page's paragraphs: a photo caption.
            r.kind = "caption"
        else:
            r.kind = "paragraph"
    # A heading is followed by something: short lines that end the page (a signature,
    # a date, an address) are paragraphs.
    for r in reversed(raws):
        if r.kind != "heading" or r.md_level:
            break
        r.kind = "paragraph"
    # A short line between the two halves of a cut paragraph is a caption too.
    for i in range(1, len(raws) - 1):
        prev, mid, nxt = raws[i - 1], raws[i], raws[i + 1]
        if (
            mid.kind == "paragraph"
            and prev.kind == "paragraph"
            and nxt.kind == "paragraph"
            and not _ends_complete(prev.text)
            and not _is_heading_like(prev.text)
            and len(mid.text) <= MAX_CAPTION // 2
            and len(mid.text) < len(prev.text)
        ):
            mid.kind = "caption"


def _starts_article(raws: list[_Raw], i: int) -> int:
    """If an article header starts at ``i``, return how many heading lines form its headline."""
    j = i
    while j < len(raws) and raws[j].kind == "heading" and not raws[j].md_level:
        j += 1
    n = j - i
    if n == 0 or n > 3:
        return 0
    k = j
    if k < len(raws) and raws[k].kind == "subtitle":
        k += 1
    if k < len(raws) and (raws[k].kind == "byline" or _BYLINE_PREFIX.match(_simplified(raws[k].text))):
        return n
    return 0


def _blocks_to_articles(raws: list[_Raw], fallback_title: str, source: str) -> list[Article]:
    # Article starts: markdown level-1 headings if present, else headline + byline pattern.
    starts: dict[int, int] = {}
    if any(r.md_level == 1 for r in raws):
        for i, r in enumerate(raws):
            if r.md_level == 1:
                starts[i] = 1
    else:
        i = 0
        while i < len(raws):
            n = _starts_article(raws, i)
            if n:
                starts[i] = n
                i += n
            else:
                i += 1
        if 0 not in starts and raws and raws[0].kind == "heading":
            n = 1
            while n < len(raws) and n < 3 and raws[n].kind == "heading" and not raws[n].md_level:
                n += 1
            # Only the first line is the headline unless the next ones lead to a byline.
            starts[0] = n if n > 1 and _starts_article(raws, 0) else 1
    if not starts:
        starts[0] = 0
    order = sorted(starts)
    if order[0] != 0:  # text before the first headline becomes an untitled article
        starts[0] = 0
        order.insert(0, 0)
    articles: list[Article] = []
    for a, start in enumerate(order):
        end = order[a + 1] if a + 1 < len(order) else len(raws)
        n_head = starts[start]
        head = raws[start : start + n_head]
        rest = raws[start + n_head : end]
        title_spans = tuple(s for r in head for s in r.spans)
        title = join_spans(source, title_spans) if head else fallback_title
        subtitle = byline = None
        body: list[Block] = []
        for r in rest:
            if r.kind == "subtitle" and subtitle is None and not body and head:
                subtitle = Block("subtitle", r.text, r.spans)
                continue
            if r.kind == "byline" and byline is None and not body:
                byline = Block("byline", r.text, r.spans)
                continue
            m = _BYLINE_PREFIX.match(_simplified(r.text)) if r.kind == "paragraph" and not body else None
            if m and byline is None:
                cut = m.end()
                byline = Block("byline", r.text[:cut], sub_spans(r.spans, 0, cut))
                rest_spans = sub_spans(r.spans, cut, len(r.text))
                rest_text = join_spans(source, rest_spans)
                if rest_text.strip():
                    body.append(Block("paragraph", rest_text, rest_spans))
                continue
            kind = r.kind if r.kind in ("heading", "caption", "item", "code") else "paragraph"
            body.append(Block(kind, r.text, r.spans, r.md_level))
        articles.append(
            Article(a + 1, title, title_spans, subtitle, byline, tuple(_repair(body, source)))
        )
    return [a for a in articles if a.blocks or a.title_spans or a.byline]


def _repair(blocks: list[Block], source: str) -> list[Block]:
    """Join paragraphs that the layout cut mid-sentence (skipping captions in between)."""
    out: list[Block] = []
    pending: int | None = None  # index in out of a paragraph waiting for its continuation
    for b in blocks:
        if b.kind == "paragraph" and pending is not None:
            prev = out[pending]
            spans = prev.spans + b.spans
            out[pending] = Block("paragraph", join_spans(source, spans), spans)
            pending = pending if not _ends_complete(b.text) else None
            continue
        if b.kind in ("heading", "item", "code"):
            pending = None
        out.append(b)
        # A short line without punctuation ("联系人：张三") is not a sentence cut in two.
        if b.kind == "paragraph" and not _ends_complete(b.text) and not _is_heading_like(b.text):
            pending = len(out) - 1
    return out


def _text_metadata(raws: list[_Raw], articles: list[Article]) -> dict[str, str]:
    """Date, source and author stated in the text: near the title or at the end (a notice's
    signature), in short lines and bylines."""
    near = [r.text for r in raws[:6] if len(r.text) <= 80] + [r.text for r in raws[-3:] if len(r.text) <= 40]
    near += [a.byline.text for a in articles if a.byline is not None]
    found = {"date": "", "source": "", "author": ""}
    for text in near:
        t = _simplified(text)  # same length: a match's offsets hold in ``text``
        found["date"] = found["date"] or _iso_date(t)
        for key, pattern in (("source", _SOURCE_RE), ("author", _AUTHOR_RE)):
            m = pattern.search(t)
            if m and not found[key]:
                found[key] = text[m.start(1) : m.end(1)]
    return found


def article_author(article: Article, doc: Document) -> str:
    """Who wrote an article: its byline (``本报记者 董博``, or the name after ``作者：``),
    else the document's author."""
    if article.byline is None:
        return doc.author
    m = _AUTHOR_RE.search(_simplified(article.byline.text))
    if m:
        return article.byline.text[m.start(1) : m.end(1)]
    if _SOURCE_RE.match(_simplified(article.byline.text)):  # a source line, not a byline
        return doc.author
    return article.byline.text


def parse_text(
    text: str, name: str, sha256: str = "", encoding: str = "utf-8", *,
    markdown: bool | None = None, meta: Source | None = None,
) -> Document:
    """Recover articles from decoded text (the structure step, separate from I/O).

    ``markdown`` (default: from the file name) makes list, table and code syntax count;
    ``meta`` is what the file format said (title, date, source, author), which wins
    over what the text says.
    """
    if markdown is None:
        markdown = meta.markdown if meta is not None else Path(name).suffix.lower() in MARKDOWN_SUFFIXES
    raws = _raw_blocks(text, markdown)
    if Path(name).suffix.lower() in MARKDOWN_SUFFIXES:  # written Markdown, not a docx or web page
        for r in raws:
            if r.kind != "code":
                r.spans = _without_inline_markup(text, r.spans)
                r.text = join_spans(text, r.spans)
        raws = [r for r in raws if r.text.strip()]
    _classify(raws)
    stem = Path(name).stem
    fallback = (meta.title if meta is not None and meta.title else "") or stem
    articles = _blocks_to_articles(raws, fallback, text)
    found = _text_metadata(raws, articles)
    title = (meta.title if meta is not None else "") or next(
        (a.title for a in articles[:1] if a.title_spans), fallback
    )
    # A web page's published date is the document's; a docx or PDF file's creation date
    # only when the text states none.
    file_date = meta.date if meta is not None else ""
    date = found["date"] or file_date if encoding in ("docx", "pdf") else file_date or found["date"]
    return Document(
        name, text, sha256, tuple(articles), encoding, title=title,
        date=date,
        source=(meta.source if meta is not None else "") or found["source"],
        author=(meta.author if meta is not None else "") or found["author"],
    )


def read_document(path: Path, name: str | None = None) -> Document:
    """Read and structure one file; raises :class:`DocumentError` with a clear reason."""
    path = Path(path)
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise DocumentError(
            f"{path.name}: unsupported file type {path.suffix or '(none)'}; "
            f"supported: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    try:
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise DocumentError(
                f"{path.name}: {size / 1e6:.1f} MB is over the {MAX_DOCUMENT_BYTES // 2**20} MiB limit per document"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"{path.name}: cannot read: {exc.strerror or exc}") from exc
    try:
        src = load_source(path, data)
    except DocumentError as exc:
        raise DocumentError(f"{path.name}: {exc}") from exc
    return parse_text(src.text, name or path.name, hashlib.sha256(data).hexdigest(), src.encoding, meta=src)


def list_documents(seeds_dir: Path) -> list[Path]:
    """Supported files under ``seeds_dir`` (recursive, sorted, hidden files skipped)."""
    seeds_dir = Path(seeds_dir)
    if not seeds_dir.is_dir():
        raise DocumentError(f"seeds folder not found: {seeds_dir}")
    out = []
    for p in sorted(seeds_dir.rglob("*")):
        rel = p.relative_to(seeds_dir)
        if any(part.startswith(".") for part in rel.parts) or not p.is_file():
            continue
        if p.suffix.lower() in SUPPORTED_SUFFIXES:
            out.append(p)
    return out
