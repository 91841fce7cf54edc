"""Structure recovery, the same for every format: blocks from a text's lines (wrapped lines
rejoined, Markdown syntax read), each classified (headline, subtitle, byline, heading,
paragraph, item, code, caption), grouped into articles, and the date, source and author
that the text states."""

from __future__ import annotations

import bisect
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..records import Span, join_spans, sub_spans
from ..text import fold_numbers, has_cjk, to_simplified
from .layout import (
    _BYLINE_PREFIX,
    _SENT_INSIDE,
    _ends_complete,
    _is_heading_like,
    _is_label_or_note,
    _joins,
    _latin_break,
    _layout,
    _Line,
    _lines,
    _width,
    _without_text_furniture,
)
from .markdown import (
    _MD_FENCE,
    _MD_HEADING,
    _MD_ITEM,
    _MD_QUOTE,
    _MD_TABLE_RULE,
    _table_cells,
    _without_inline_markup,
)
from .records import MARKDOWN_SUFFIXES, Article, Block, Document, Source, TextLine

_DATE_RE = re.compile(r"(\d{4})\s*(?:年\s*(\d{1,2})\s*月(?:\s*(\d{1,2})\s*[日号])?|[-/.](\d{1,2})[-/.](\d{1,2}))")
_SOURCE_RE = re.compile(r"(?:来源|出处|稿源)\s*[:：]\s*([^\s，,。；;|]{1,30})")
_AUTHOR_RE = re.compile(r"(?:作者|撰稿|文)\s*[:：/／]\s*([^\s，,。；;|]{1,20})")


def _iso_date(text: str) -> str:
    """The first plausible date in ``text`` (any numeral notation) as YYYY-MM-DD or YYYY-MM."""
    for m in _DATE_RE.finditer(fold_numbers(text)):
        if _iso(m):
            return _iso(m)
    return ""


def _iso(m: re.Match) -> str:
    """A :data:`_DATE_RE` match as YYYY-MM-DD or YYYY-MM ("" when it is no calendar date)."""
    year = int(m.group(1))
    month = int(m.group(2) or m.group(4) or 0)
    day = int(m.group(3) or m.group(5) or 0)
    if 1900 <= year <= 2100 and 1 <= month <= 12 and 0 <= day <= 31:
        return f"{year:04d}-{month:02d}" + (f"-{day:02d}" if day else "")
    return ""


# A date in the text is the document's only where the text says so: in a date field
# ("发布时间：…", "date: …" of Markdown front matter), in a dateline (a line that is a date,
# perhaps after a signature, source or byline and before a weekday or time: "辽源市图书馆
# 2025年11月26日", "（2025年12月5日）"), or in a note that ends a block and says what the date is
# ("…，2025年3月更新。").  A date inside a sentence or another field (a deadline, an event:
# "请于2024年5月20日前报名", "报名截止：…") is not.  A bare "时间：" or "会议时间：" (minutes) is
# the document's date only when nothing else states one: in a notice it is the event's.
_FIELD_NAME = r"(?:发布|更新|发文|印发|成文|出版|刊发|发稿|修订)"
_FIELD_START = r"(?:^|[\s|｜/,，;；])"
_DATE_FIELD = re.compile(
    rf"{_FIELD_START}(?:{_FIELD_NAME}?日期|{_FIELD_NAME}(?:时间|于)|date|published|updated|posted|last[ _-]?modified)"
    r"\s*[:：]\s*$",
    re.IGNORECASE,
)
_WHEN_FIELD = re.compile(rf"{_FIELD_START}(?:会议)?(?:时间|日期)\s*[:：]\s*$")
_TIME = r"(?:\d{1,2}[:：]\d{2}(?:[:：]\d{2})?|(?:上午|下午|晚上|早上|中午|凌晨)?\s*\d{1,2}\s*[时点](?:\s*\d{1,2}\s*分|半)?)"
_DATE_TAIL = re.compile(
    r"\s*(?:[（(]?(?:星期|周|礼拜)[一二三四五六七日天1-7][）)]?)?"  # weekday
    rf"\s*(?:[T\s]?{_TIME}(?:\.\d+)?(?:Z|[+-]\d{{2}}:?\d{{2}})?(?:\s*[-—–~～至到]\s*{_TIME})?)?"  # time, ISO or a range
    r"\s*[）)\]】]?\s*$"
)
_DATE_NOTE = re.compile(rf"\s*{_FIELD_NAME}?(?:更新|修订|修改|发布|印发|编写|编制|制定|定稿)\s*[。.]?\s*$")
_CLAUSE_START = re.compile(r"(?:^|[\s，,；;])$")  # the date opens its clause ("…，2025年3月更新。", not "将于…发布。")
_SENTENCE = re.compile(r"[。！？；，,!?;]")
_FIELD = re.compile(r"([^\s:：|｜]+)\s*[:：]")
# Fields a dateline may carry beside the date ("来源：辽源日报 2025年11月26日").
_META_FIELD = re.compile(r"来源|出处|稿源|作者|撰稿|文|图|记者|编辑|责任编辑|责编|通讯员|摄影|发布单位|发布机构")
_OPENERS = ("", "（", "(", "【", "[")


def _stated_date(text: str, *, when: bool = False) -> str:
    """The document's date as ``text`` states it (see above), as YYYY-MM-DD or YYYY-MM; "" when it
    states none.  ``when``: a "时间：" field counts too (when no line states the document's date)."""
    t = fold_numbers(text)
    for m in _DATE_RE.finditer(t):
        before, after = t[: m.start()], t[m.end() :]
        said = (
            _DATE_NOTE.match(after) and _CLAUSE_START.search(before)
            or _DATE_TAIL.fullmatch(after) and _is_dateline_head(before, when)
            or after[:1].isspace() and not _SENTENCE.search(after) and _is_dateline_head(before, when)
        )
        if said and _iso(m):
            return _iso(m)
    return ""


def _is_dateline_head(before: str, when: bool = False) -> bool:
    """Whether the text before a date leaves it a dateline: nothing or a bracket, a date field's
    name, or a signature, source or byline set apart by a space (no sentence, no other field)."""
    if before.strip() in _OPENERS or _DATE_FIELD.search(before) or when and _WHEN_FIELD.search(before):
        return True
    if not before[-1:].isspace() or _SENTENCE.search(before):
        return False
    return all(_META_FIELD.fullmatch(name) for name in _FIELD.findall(before))


_BYLINE_LINE = re.compile(r"^(本报记者|本报通讯员|记者|通讯员|特约记者|文[/／:：]|图[/／:：]|作者[:：]|来源[:：])")
_CAPTION_END = re.compile(r"(摄|摄影|供图|图源[^。]{0,20})\s*[）)]?$")
MAX_CAPTION = 160


def _simplified(text: str) -> str:
    """``text`` in simplified characters, for matching patterns (same length, or ``text``)."""
    simple = to_simplified(text)
    return simple if len(simple) == len(text) else text


@dataclass
class _Raw:
    text: str
    spans: tuple[Span, ...]
    gap_before: int  # blank lines before this block
    md_level: int = 0
    kind: str = ""  # preset for list items, table rows and code blocks
    wrapped: bool = False  # on a scanned page, it filled a line and ran on: body text
    closed: bool = False  # on a scanned page, the layout ended it (its last line stopped short)


@dataclass(frozen=True)
class _PageBreaks:
    """What a scanned page's layout says about the lines of its text (:func:`_page_breaks`)."""

    # where a line of text ends its paragraph -> where the next recognised line on its page starts
    ends: dict[int, int] = field(default_factory=dict)
    runs: tuple[int, ...] = ()  # sorted starts of recognised lines that continue the line above

    def wrapped(self, start: int, end: int) -> bool:
        """Does the line of text at ``start:end`` run over more than one line of the page?"""
        i = bisect.bisect_right(self.runs, start)
        return i < len(self.runs) and self.runs[i] < end


def _page_breaks(text: str, lines: Sequence[TextLine]) -> _PageBreaks:
    """Where a scanned page's layout ends paragraphs, and which of its paragraphs are wrapped.

    The page's text writes each paragraph on one line (``reading_order.page_text`` joins
    a line that reaches its column's edge to the next), so a line break between two
    recognised lines of one page means the first stopped short or the next is indented.
    That ends the paragraph whatever punctuation OCR read at its end: a lost or misread
    。 would otherwise join it to the next.  Lines with CJK characters only, whose text
    is justified (a ragged-right Latin line stops short anywhere), and not inside a quotation
    or brackets (:func:`_inside_pair`).  A paragraph that filled a line and ran on is body
    text, not a heading, however short and unpunctuated.
    """
    ends: dict[int, int] = {}
    runs: list[int] = []
    ordered = sorted(lines, key=lambda ln: ln.start)
    for a, b in zip(ordered, ordered[1:]):
        gap = text[a.end : b.start]
        if a.page != b.page or "\f" in gap or gap.startswith("\n\n"):
            continue
        if "\n" not in gap:
            runs.append(b.start)
        elif gap.startswith("\n") and has_cjk(text[a.start : a.end]) and not _inside_pair(text, a.end, b.start):
            end = a.end
            while end > a.start and text[end - 1].isspace():
                end -= 1
            ends[end] = b.start
    return _PageBreaks(ends, tuple(runs))


_PAIRS = ("“”", "「」", "『』", "《》", "（）", "()", "【】", "〈〉")


def _inside_pair(text: str, end: int, start: int) -> bool:
    """Does the line of text ending at ``end`` leave a quotation or bracket open, or the line
    starting at ``start`` close one it did not open?  A paragraph does not end there: the
    line only looks short because OCR lost what stood at its end (a 」, a word)."""
    before = text[text.rfind("\n", 0, end) + 1 : end]
    stop = text.find("\n", start)
    after = text[start : stop if stop >= 0 else len(text)]
    return any(before.count(o) > before.count(c) or after.count(c) > after.count(o) for o, c in _PAIRS)


def _raw_blocks(text: str, markdown: bool = False, breaks: _PageBreaks = _PageBreaks()) -> list[_Raw]:
    """The text's blocks; ``breaks``: what a scanned page's layout says (:func:`_page_breaks`)."""
    lines = _lines(text)
    if "\f" in text:
        lines = _without_text_furniture(text, lines)
    if not lines:
        return []
    starts = [ln.start for ln in lines]

    def ended(line: _Line) -> bool:
        """The layout ended the paragraph at ``line``: the next recognised line of its page
        is kept (not a page number or running footer left out, after which the paragraph
        may go on over the page break)."""
        nxt = breaks.ends.get(line.end)
        if nxt is None:
            return False
        i = bisect.bisect_right(starts, nxt) - 1
        return i >= 0 and nxt < lines[i].end
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
        if cur is not None and last is not None and ln.blank == 0 and not ended(last) and (
            cur.kind == "item" or _joins(cur.text, last, ln, after, text, lay)
        ):
            if _latin_break(text, last, ln):
                cur.spans = cur.spans[:-1] + ((cur.spans[-1][0], last.end + 1),)
            cur.spans = cur.spans + ((ln.start, ln.end),)
            cur.text = join_spans(text, cur.spans)
        else:
            cur = _Raw(t, ((ln.start, ln.end),), ln.blank, wrapped=breaks.wrapped(ln.start, ln.end))
            raws.append(cur)
        cur.closed = ended(ln)
        last = ln
    if header and not header_rows:
        raws.append(_header_only(text, header))
    return [r for r in raws if r.text.strip()]


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
        elif _is_heading_like(t) and not _is_label_or_note(t) and not r.wrapped:
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
            and not prev.closed
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
    ended = frozenset(r.spans[-1][1] for r in raws if r.closed)  # where a scan's layout ended a paragraph
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
        for j, r in enumerate(rest):
            nxt = rest[j + 1] if j + 1 < len(rest) else None
            # A subtitle opens with a dash; a short line between the headline and the byline is
            # one too whatever it opens with (OCR reads the dash —— as 一 now and then).
            kicker = r.kind == "heading" and not r.md_level and nxt is not None and (
                nxt.kind == "byline" or bool(_BYLINE_PREFIX.match(_simplified(nxt.text))))
            if (r.kind == "subtitle" or kicker) and subtitle is None and not body and head:
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
            Article(a + 1, title, title_spans, subtitle, byline, tuple(_repair(body, source, ended)))
        )
    return [a for a in articles if a.blocks or a.title_spans or a.byline]


def _repair(blocks: list[Block], source: str, ends: frozenset[int] = frozenset()) -> list[Block]:
    """Join paragraphs that the layout cut mid-sentence (skipping captions in between);
    not one that a scanned page's layout ended (``ends``: where such paragraphs end)."""
    out: list[Block] = []
    pending: int | None = None  # index in out of a paragraph waiting for its continuation
    for b in blocks:
        if b.kind == "paragraph" and pending is not None:
            prev = out[pending]
            spans = prev.spans + b.spans
            out[pending] = Block("paragraph", join_spans(source, spans), spans)
            pending = pending if not _ends_complete(b.text) and b.spans[-1][1] not in ends else None
            continue
        if b.kind in ("heading", "item", "code"):
            pending = None
        out.append(b)
        # A short line without punctuation ("联系人：张三") is not a sentence cut in two.
        if b.kind == "paragraph" and not _ends_complete(b.text) and not _is_heading_like(b.text):
            pending = None if b.spans[-1][1] in ends else len(out) - 1
    return out


def _text_metadata(raws: list[_Raw], articles: list[Article]) -> dict[str, str]:
    """Date, source and author stated in the text: near the title or at the end (a notice's
    signature), in short lines and bylines.  A date counts only in a date field or dateline
    (:func:`_stated_date`): a deadline in the text is not the document's date."""
    near = [r.text for r in raws[:6] if len(r.text) <= 80] + [r.text for r in raws[-3:] if len(r.text) <= 40]
    near += [a.byline.text for a in articles if a.byline is not None]
    found = {"date": "", "source": "", "author": ""}
    for text in near:
        t = _simplified(text)  # same length: a match's offsets hold in ``text``
        found["date"] = found["date"] or _stated_date(t)
        for key, pattern in (("source", _SOURCE_RE), ("author", _AUTHOR_RE)):
            m = pattern.search(t)
            if m and not found[key]:
                found[key] = text[m.start(1) : m.end(1)]
    if not found["date"]:  # minutes: the meeting's "时间：" line
        found["date"] = next(filter(None, (_stated_date(_simplified(t), when=True) for t in near)), "")
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
    breaks = _page_breaks(text, meta.lines) if meta is not None else _PageBreaks()
    raws = _raw_blocks(text, markdown, breaks)
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
        lines=meta.lines if meta is not None else (),
    )
