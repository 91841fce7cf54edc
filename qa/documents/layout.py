"""A page's lines and what they say about its layout: hard-wrapped lines (a common width),
indented or blank-separated paragraphs, which line continues which (:func:`_joins`), and
page furniture (running headers, footers and page numbers) left out of every block."""

from __future__ import annotations

import bisect
import re
import statistics
import unicodedata
from dataclasses import dataclass, replace

from ..text import PARAGRAPH_END, has_cjk

_BYLINE_PREFIX = re.compile(r"^(本报讯|本报[^\s，。]{1,6}电|[^\s，。]{1,8}讯)\s*[（(][^）)\n]{1,40}[）)]")
_SENT_INSIDE = re.compile(r"[。！？!?；;]")
_CLAUSE = re.compile(r"[，,、]")
_LABEL = re.compile(r"^[^\s，。、；：:,]{1,8}[：:]")
# A numbered line starts a new item: 1. / 1、 / （1） / 一、 / （一）
_ENUMERATION = re.compile(r"^(?:\d{1,3}[.)]\s+|\d{1,3}、|[（(][一二三四五六七八九十\d]{1,3}[）)]|[一二三四五六七八九十]{1,3}、)")
_SENTENCE_END = re.compile(r"[。！？!?…；;][”’」』）)]*$")  # stricter than PARAGRAPH_END: not a bare ）
_ITEM_START = re.compile(_ENUMERATION.pattern + r"|^[●•·▪■◆○◇★※*-]")
_CONTINUES = ("，", "、", ",", "：", ":", "—", "（", "(", "“", "《")
MAX_HEADING = 40


@dataclass
class _Line:
    start: int  # of the stripped line
    end: int
    blank: int  # blank lines before it
    indent: int  # leading whitespace characters
    width: int  # display width (a CJK character counts 2)


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
