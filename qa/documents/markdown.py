"""Markdown syntax (.md, .markdown; also the Markdown-like text that .html, .docx and PDF
tables are written as): headings, fences, list items, quotations, table rows and inline marks.
The blocks themselves are found in :mod:`.structure`."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..records import Span
from .decoding import _text_source
from .records import Source

if TYPE_CHECKING:
    from .layout import _Line

_MD_HEADING = re.compile(r"^(#{1,6})\s+")
_MD_FENCE = re.compile(r"^(`{3,}|~{3,})")
_MD_ITEM = re.compile(r"^(?:[-*+•]\s+|\d{1,3}[.)]\s+|\d{1,3}、\s*)")
_MD_QUOTE = re.compile(r"^(?:>\s?)+")
_MD_TABLE_RULE = re.compile(r"^\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?$")


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


def _markdown_source(data: bytes) -> Source:
    """A Markdown file's decoded text; its list, table and code syntax counts."""
    return _text_source(data, markdown=True)
