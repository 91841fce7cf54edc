"""Presenting answers: HTML for the web chat (the plain dict for the API is :mod:`qa.api`,
the document library's panels :mod:`qa.library_html`).

Every piece of document text and every question goes through :func:`esc`, so it is
shown as text and never interpreted as HTML, script or Markdown.  The HTML is one
line per block with no blank lines, so a Markdown renderer passes it through whole.

The display follows the answer's band (:mod:`qa.bands`: edges on the calibrated confidence,
measured on dev so that 高 answers are right ≥ 90% of the time and 中 ≥ 60%): 高 shows the
span big; 中 shows the sentence with the span marked and a line asking the reader to check
the source; below 中, and when not found, the reply says no answer was found and lists the
closest passages.  Each citation expands into a viewer of its whole article, with the quoted
sentence and the answer span marked.  A reply is in the question's language
(:func:`qa.messages.language`); everything else the app shows is Chinese.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path

from . import bands
from .documents.reading import page_image
from .messages import Lang, Message, language
from .records import Answer, Citation, Passage

VIEWER_CHARS = 12_000  # an article longer than this is shown around the quote only

# A reply's own words, in the question's language (the documents' text is shown as it is).
NOT_FOUND_TITLE = Message("未找到答案", "No answer found")
NOT_SURE = Message("文档中没有找到有把握的答案，以下是最接近的段落。",
                   "No answer in the documents is sure enough to show; the closest passages are listed.")
RELATED_TITLE = Message("最接近的段落（仅供参考，并非答案）", "Closest passages (for reference, not an answer)")
CITES_TITLE = Message("出处（点击查看原文）", "Sources (click to read the original)")
MAYBE_TITLE = Message("可能的答案", "Possible answer")
CHECK = Message("这个答案把握中等，请展开下面的出处，核对原文。", "Likely, but not sure: open the source below to check it.")
BADGE = Message("把握 {word}", "Confidence: {word}")
BAND_WORDS = {bands.HIGH: Message("高", "high"), bands.MID: Message("中", "medium")}
QUOTE_AT = Message("引文在原文第 {start}–{end} 字", "Quoted from characters {start}–{end} of the source")
GAP_BEFORE = Message("（前略 {n} 段）", "({n} paragraphs before)")
GAP_AFTER = Message("（后略 {n} 段）", "({n} paragraphs after)")
PLACE_CAPTION = Message("图片说明", "photo caption")
PLACE_HEADER = Message("标题/署名", "headline / byline")
PLACE_PARAGRAPH = Message("第{n}段", "paragraph {n}")
PLACE_PAGE = Message("扫描件第{n}页", "scanned page {n}")
OCR_UNSURE = Message("识别把握不高", "OCR unsure")
PAGE_ALT = Message("扫描件第{n}页，引文所在的行已框出", "Scanned page {n}, the quoted lines outlined")
PAGE_FIGURE_WIDTH = 560  # pixels: the crop of a scanned page shown beside the recognised text
OCR_UNSURE_TIP = Message("这段引文是从扫描页面识别出来的，有的行识别把握不高，请对照原页核实。",
                         "This quote was read from a scanned page by OCR, some of its lines with low confidence: check it on the page.")

# HTML specials, and characters that Markdown, autolinks or LaTeX would act on, as decimal
# entities (the chat's Markdown renderer shows hexadecimal ones literally).
_ENTITIES = {ord(c): f"&#{ord(c)};" for c in "&<>\"'\\`*_{}[]()#|~$!:@"}


def esc(text: object) -> str:
    """``text`` as literal HTML text: tags, quotes and Markdown characters escaped, newlines kept."""
    out = str(text).translate(_ENTITIES)
    return out.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br>")


def highlight(text: str, start: int, end: int, tag: str = "mark") -> str:
    """``text`` escaped, with ``text[start:end]`` wrapped in ``<tag>`` (no highlight if out of range)."""
    if not 0 <= start < end <= len(text):
        return esc(text)
    return f"{esc(text[:start])}<{tag}>{esc(text[start:end])}</{tag}>{esc(text[end:])}"


class Paragraphs:
    """Whole paragraphs of an index, joined from their parts, to show a citation in context,
    and whole articles in reading order, for the document viewer."""

    def __init__(self, passages: Iterable[Passage]) -> None:
        self._group: dict[str, tuple] = {}
        self._parts: dict[tuple, list[Passage]] = {}
        self._articles: dict[tuple[str, int], list[tuple]] = {}
        for p in passages:
            # Captions and headers all have paragraph 0: the id (…#a1.c2.0) tells them apart.
            key = (p.doc, p.article, p.kind, p.paragraph if p.kind == "body" else p.id.rsplit(".", 1)[0])
            self._group[p.id] = key
            if key not in self._parts:
                self._articles.setdefault((p.doc, p.article), []).append(key)
            self._parts.setdefault(key, []).append(p)
        for parts in self._parts.values():
            parts.sort(key=lambda p: p.part)
        for keys in self._articles.values():
            keys.sort(key=lambda k: self._parts[k][0].start)

    def article_html(self, c: Citation, span: tuple[int, int] | None = None, lang: Lang = "zh") -> str | None:
        """The cited article in reading order (headline, byline, sections, paragraphs, captions),
        the quote marked as ``.qa-quote`` and ``quote[span[0]:span[1]]`` inside it as ``<mark>``.

        None when the citation's passage is not in this index.
        """
        key = self._group.get(c.passage_id)
        if key is None:
            return None
        keys = self._articles[key[:2]]
        at = keys.index(key)
        lo, hi, size = at, at + 1, len(self._text(key))
        while size < VIEWER_CHARS and (lo > 0 or hi < len(keys)):  # grow around the quote
            if lo > 0:
                lo -= 1
                size += len(self._text(keys[lo]))
            if hi < len(keys) and size < VIEWER_CHARS:
                size += len(self._text(keys[hi]))
                hi += 1
        out = []
        if lo > 0:
            out.append(f'<div class="qa-v-gap">{esc(GAP_BEFORE(lang, n=lo))}</div>')
        section, first_header = "", True
        for k in keys[lo:hi]:
            head = self._parts[k][0]
            text = self._text(k)
            if k == key:
                body = _quote_html(text, self.context(c), span)
            else:
                body = esc(text)
            if head.kind == "header" and k != key:  # one line per source line: headline, subtitle, byline
                for piece in self._lines(k):
                    out.append(f'<div class="{"qa-v-headline" if first_header else "qa-v-byline"}">{esc(piece)}</div>')
                    first_header = False
                continue
            if head.kind == "header":
                cls = "qa-v-headline" if first_header else "qa-v-byline"
                first_header = False
            elif head.kind == "caption":
                cls = "qa-v-caption"
            else:
                if head.section and head.section != section:
                    out.append(f'<div class="qa-v-section">{esc(head.section)}</div>')
                section = head.section or section
                cls = "qa-v-p"
            out.append(f'<div class="{cls}">{body}</div>')
        if hi < len(keys):
            out.append(f'<div class="qa-v-gap">{esc(GAP_AFTER(lang, n=len(keys) - hi))}</div>')
        return "".join(out)

    def _text(self, key: tuple) -> str:
        return "".join(p.text for p in self._parts[key])

    def _lines(self, key: tuple) -> list[str]:
        """A group's text cut at its source spans (a header's lines); the text whole if they don't add up."""
        out = []
        for p in self._parts[key]:
            pos, pieces = 0, []
            for s, e in p.spans:
                pieces.append(p.text[pos : pos + e - s])
                pos += e - s
            out += pieces if pos == len(p.text) else [p.text]
        return [x for x in out if x.strip()]

    def context(self, c: Citation) -> tuple[str, int, int] | None:
        """``(paragraph, start, end)``: the whole paragraph and where the quote is in it."""
        key = self._group.get(c.passage_id)
        if key is None:
            return None
        parts = self._parts[key]
        text = "".join(p.text for p in parts)
        source = c.spans[0][0] if c.spans else c.start
        pos = 0
        for p in parts:
            if p.id == c.passage_id:
                local = 0
                for s, e in p.spans:  # map the source offset to an offset in the passage text
                    if s <= source < e:
                        start = pos + local + source - s
                        if text[start : start + len(c.quote)] == c.quote:
                            return text, start, start + len(c.quote)
                    local += e - s
            pos += len(p.text)
        start = text.find(c.quote) if c.quote else -1
        return (text, start, start + len(c.quote)) if start >= 0 else (text, -1, -1)


def _quote_html(text: str, ctx: tuple[str, int, int] | None, span: tuple[int, int] | None) -> str:
    """``text`` with the quote (located by ``ctx``) wrapped in ``.qa-quote`` and the span marked in it."""
    if not ctx or ctx[1] < 0:
        return esc(text)
    _, qs, qe = ctx
    quote = text[qs:qe]
    inner = highlight(quote, *span) if span else esc(quote)
    return f'{esc(text[:qs])}<span class="qa-quote">{inner}</span>{esc(text[qe:])}'


class IndexParagraphs:
    """:class:`Paragraphs` of an index, built per document when one of its passages is cited.

    A document's passages are consecutive rows (``first_row`` in meta.json), so showing a
    citation reads one document, not the whole index: the cost stays flat as the archive grows.
    The last ``keep`` documents are kept.
    """

    def __init__(self, index, keep: int = 32) -> None:
        self.index, self.keep = index, keep
        self._docs: OrderedDict[str, Paragraphs] = OrderedDict()
        self._pages: OrderedDict[tuple[str, int], object] = OrderedDict()  # the last scanned pages shown
        self._lock = threading.Lock()

    def _for(self, doc: str) -> Paragraphs | None:
        with self._lock:
            got = self._docs.get(doc)
            if got is not None:
                self._docs.move_to_end(doc)
                return got
        info = self.index.meta["documents"].get(doc)
        if info is None:
            return None
        first, n = int(info["first_row"]), int(info["passages"])
        got = Paragraphs(self.index.passages[i] for i in range(first, first + n))
        with self._lock:
            self._docs[doc] = got
            while len(self._docs) > self.keep:
                self._docs.popitem(last=False)
        return got

    def article_html(self, c: Citation, span: tuple[int, int] | None = None, lang: Lang = "zh") -> str | None:
        p = self._for(c.doc)
        return p.article_html(c, span, lang) if p is not None else None

    def context(self, c: Citation) -> tuple[str, int, int] | None:
        p = self._for(c.doc)
        return p.context(c) if p is not None else None

    def page_html(self, c: Citation, lang: Lang = "zh") -> str:
        """A scanned page's part that ``c`` stands on, its lines outlined (:func:`page_figure_html`);
        ``""`` for a text document, or when the file is gone or no longer the one indexed."""
        if not c.boxes:
            return ""
        info = self.index.meta["documents"].get(c.doc)
        path = Path(self.index.meta.get("seeds_dir", "")) / c.doc
        key = (c.doc, c.page)
        with self._lock:
            image = self._pages.get(key)
        if image is None:
            try:
                data = path.read_bytes()
            except OSError:
                return ""
            if info is None or hashlib.sha256(data).hexdigest() != info.get("sha256"):
                return ""  # changed since it was indexed: its boxes would point elsewhere
            image = page_image(path, c.page)
            if image is None:
                return ""
            with self._lock:
                self._pages[key] = image
                while len(self._pages) > 4:
                    self._pages.popitem(last=False)
        return page_figure_html(image, c.boxes, c.page, lang)


def page_figure_html(image, boxes: Sequence[tuple[int, int, int, int, int]], page: int, lang: Lang = "zh") -> str:
    """The parts of a page image that a quote's lines (``(page, x0, y0, x1, y1)``, in reading
    order) stand on, each line outlined in red, as inline PNGs at most :data:`PAGE_FIGURE_WIDTH`
    pixels wide: one crop per run of lines down a column (a quote that goes on at the top of
    the next column is two crops), with a margin of two lines."""
    mine = [b[1:] for b in boxes if b[0] == page]
    if not mine:
        return ""
    runs: list[list[tuple[int, int, int, int]]] = [[mine[0]]]
    for b in mine[1:]:
        a = runs[-1][-1]
        height = a[3] - a[1]
        if b[0] < a[2] and a[0] < b[2] and a[1] <= b[1] <= a[3] + 3 * height:  # under it, in its column
            runs[-1].append(b)
        else:
            runs.append([b])
    alt = esc(PAGE_ALT(lang, n=page))
    imgs = "".join(f'<img src="data:image/png;base64,{_crop_png(image, run)}" alt="{alt}">' for run in runs)
    return f'<figure class="qa-page">{imgs}<figcaption>{alt}</figcaption></figure>'


def _crop_png(image, lines: list[tuple[int, int, int, int]]) -> str:
    """The crop of ``image`` around ``lines``, each outlined, as base64 PNG."""
    from PIL import Image, ImageDraw

    w, h = image.size
    pad = 2 * sorted(b[3] - b[1] for b in lines)[len(lines) // 2]
    left, top = max(0, min(b[0] for b in lines) - pad), max(0, min(b[1] for b in lines) - pad)
    right, bottom = min(w, max(b[2] for b in lines) + pad), min(h, max(b[3] for b in lines) + pad)
    crop = image.convert("RGB").crop((left, top, right, bottom))
    draw = ImageDraw.Draw(crop)
    for x0, y0, x1, y1 in lines:
        draw.rectangle((x0 - left - 3, y0 - top - 3, x1 - left + 3, y1 - top + 3), outline=(220, 38, 38), width=3)
    if crop.width > PAGE_FIGURE_WIDTH:
        crop = crop.resize((PAGE_FIGURE_WIDTH, max(1, round(crop.height * PAGE_FIGURE_WIDTH / crop.width))),
                           Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    crop.convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(buf, "PNG", optimize=True)
    return base64.b64encode(buf.getvalue()).decode()


_last: tuple[object, IndexParagraphs] | None = None
_last_lock = threading.Lock()


def paragraphs_for(index) -> IndexParagraphs:
    """The paragraphs of an index, read per cited document (the last index's are cached)."""
    global _last
    with _last_lock:
        if _last is None or _last[0] is not index:
            _last = (index, IndexParagraphs(index))
        return _last[1]


def shown_band(a: Answer) -> str:
    """How an answer is shown: :data:`qa.bands.HIGH` (the span big, 高), :data:`~qa.bands.MID`
    (the sentence with the span marked, 中) or :data:`~qa.bands.LOW` (not found, the closest
    passages).  A found answer's band is the one answer() gave it; an answer made elsewhere
    without one is banded by :data:`qa.bands.DEFAULT`."""
    if not a.found:
        return bands.LOW
    return a.band or bands.DEFAULT.band(a.confidence)


def badge_html(band: str, confidence: float, lang: Lang = "zh") -> str:
    """The band's word (高 / 中) as a badge; the calibrated confidence only in its tooltip, since
    the band, measured on dev, is what the word promises."""
    cls = "qa-conf-high" if band == bands.HIGH else "qa-conf-mid"
    return (f'<span class="qa-conf {cls}" title="{confidence:.2f}">'
            f"{esc(BADGE(lang, word=BAND_WORDS[band](lang)))}</span>")


# ------------------------------------------------------------------ units with numbers

# A span that is only a number: digits (with separators) or Chinese numerals, then maybe 万/亿 and 余/多.
_BARE_NUMBER = re.compile(r"(?:[0-9０-９][0-9０-９.,，．]*|[〇零一二两三四五六七八九十百千万亿]+)[万亿]?[余多]?")
_SYMBOL_UNIT = re.compile(r"[%‰℃°]|[A-Za-z]{1,3}(?![A-Za-z])")
_NOT_UNIT_TAGS = ("v", "p", "c", "u", "d", "r", "f", "y", "e", "o", "a")
_CJK = re.compile(r"^[\u3400-\u9fff]+$")
_tagger = None
_tagger_lock = threading.Lock()


def _pos(text: str) -> list[tuple[str, str]]:
    global _tagger
    with _tagger_lock:
        if _tagger is None:
            from .text import Tokenizer

            _tagger = Tokenizer()
    return _tagger.pos(text)


def unit_after(sentence: str, end: int) -> str:
    """The measure word or unit that follows a number ending at ``sentence[end]`` ("" if none).

    Read from the sentence's own words (jieba parts of speech), no word lists: number-like
    words (``余场次``, ``万余``) and one measure word (``件``, ``公里``), or a short word
    that closes the clause (``…3500人次。``).  Never more than 4 characters.
    """
    rest = sentence[end : end + 12]
    sym = _SYMBOL_UNIT.match(rest)
    if sym:
        return sym.group(0)
    tags = _pos(rest)
    out = ""
    for i, (word, tag) in enumerate(tags):
        if not _CJK.match(word) or len(out) + len(word) > 4:
            break
        nxt = tags[i + 1][0] if i + 1 < len(tags) else ""
        closes = not nxt or not _CJK.match(nxt[0])
        if tag == "m":  # number-like: 余, 万余, 余场次, 多户, 亿元; more may follow
            out += word
            continue
        if tag in ("q", "mq") or (len(word) == 1 and not tag.startswith(_NOT_UNIT_TAGS)) or (
            len(word) == 2 and closes and not tag.startswith(_NOT_UNIT_TAGS)
        ):
            out += word
        break
    return out


def display_text(a: Answer) -> str:
    """The answer as shown: a bare number (a span that is only a number: ``186``, ``2.3万``,
    ``三``) gets the unit that follows it in the cited sentence; any other span is shown as it
    is (``14个乡镇的86`` gets nothing appended).

    ``a.text`` itself is never changed (this is display only).
    """
    text = a.text
    if not text or not _BARE_NUMBER.fullmatch(text) or not a.sentence:
        return text
    start = a.text_start if a.sentence[a.text_start : a.text_start + len(text)] == text else a.sentence.find(text)
    if start < 0:
        return text
    return text + unit_after(a.sentence, start + len(text))


# ------------------------------------------------------------------ citations


def citation_place(c: Citation, lang: Lang = "zh") -> str:
    """Where in the article a citation is: 第3段, 图片说明, 标题/署名 (in English for ``lang="en"``)."""
    if c.kind == "caption":
        return PLACE_CAPTION(lang)
    if c.kind == "header" or c.paragraph == 0:
        return PLACE_HEADER(lang)
    return PLACE_PARAGRAPH(lang, n=c.paragraph)


def citation_where(c: Citation, lang: Lang = "zh") -> tuple[str, str, str]:
    """``(title, meta, place)`` for a citation's label: the document's human title (else the
    article's headline; the file name only when nothing else exists), its date and source,
    and the place in it (article · paragraph)."""
    place = f"{c.title} · {citation_place(c, lang)}" if c.title else citation_place(c, lang)
    if c.page:
        place += f" · {PLACE_PAGE(lang, n=c.page)}"
    title = c.doc_title or c.title or c.doc
    if title == c.title:  # the headline is the title: say it once
        title = ""
    meta = " · ".join(x for x in (c.date, c.source) if x)
    return title, meta, place


def citation_html(
    number: int, c: Citation, paragraphs: Paragraphs | IndexParagraphs | None, *, snippet: bool = False,
    span: tuple[int, int] | None = None, lang: Lang = "zh",
) -> str:
    """One numbered citation, labelled by title, date and source, that expands into a viewer of
    the whole article scrolled to the quote (``span``: the answer's place in the quote)."""
    title, meta, place = citation_where(c, lang)
    page_html = getattr(paragraphs, "page_html", None)
    figure = page_html(c, lang) if page_html is not None and c.boxes else ""
    article = paragraphs.article_html(c, span, lang) if paragraphs is not None else None
    if article is None:
        body = highlight(c.quote, *span) if span else esc(c.quote)
        article = f'<div class="qa-v-p"><span class="qa-quote">{body}</span></div>'
    preview = f'<span class="qa-snippet">{esc(c.quote[:48])}{"…" if len(c.quote) > 48 else ""}</span>' if snippet else ""
    label = "".join([
        f'<span class="qa-label">{esc(title)}</span> ' if title else "",
        f'<span class="qa-place">{esc(place)}</span>',
        f' <span class="qa-meta">{esc(meta)}</span>' if meta else "",
        f' <span class="qa-ocr-low" title="{esc(OCR_UNSURE_TIP(lang))}">{esc(OCR_UNSURE(lang))}</span>'
        if c.low_confidence else "",
    ])
    return (
        f'<details class="qa-cite"><summary><span class="qa-num">[{number}]</span> {label}{preview}</summary>'
        f'{figure}<div class="qa-viewer">{article}</div>'
        f'<div class="qa-where">{esc(QUOTE_AT(lang, start=c.start, end=c.end))}</div></details>'
    )


def _span_in(quote: str, a: Answer, first: bool) -> tuple[int, int] | None:
    """Where the answer span is in a citation's quote (the first citation's quote is the sentence)."""
    if first and a.sentence == quote and quote[a.text_start : a.text_start + len(a.text)] == a.text:
        return a.text_start, a.text_start + len(a.text)
    i = quote.find(a.text) if a.text else -1
    return (i, i + len(a.text)) if i >= 0 else None


def _not_found_html(a: Answer, paragraphs: Paragraphs | IndexParagraphs | None, lang: Lang) -> str:
    """No answer: the message (answer()'s, or that no answer is sure enough) and the closest passages."""
    message = a.message if not a.found else " ".join(x for x in (NOT_SURE(lang), a.message) if x)
    out = [
        '<div class="qa-reply qa-notfound">',
        f'<div class="qa-nf-title">{esc(NOT_FOUND_TITLE(lang))}</div>',
        f'<div class="qa-message">{esc(message or NOT_SURE(lang))}</div>',
    ]
    if a.related:
        out.append(f'<div class="qa-related-title">{esc(RELATED_TITLE(lang))}</div>')
        out += [citation_html(i, c, paragraphs, snippet=True, lang=lang) for i, c in enumerate(a.related, 1)]
    out.append("</div>")
    return "".join(out)


def answer_html(a: Answer, paragraphs: Paragraphs | IndexParagraphs | None = None) -> str:
    """The chat reply, by the answer's band (:func:`shown_band`): 高, the span big; 中, the sentence
    with the span marked and a line asking to check the source; else a clear "not found" with the
    closest passages.  In the question's language."""
    lang = language(a.question)
    band = shown_band(a)
    if band == bands.LOW:
        return _not_found_html(a, paragraphs, lang)
    start = a.text_start
    if not (0 <= start and a.sentence[start : start + len(a.text)] == a.text):
        start = a.sentence.find(a.text)
    badge = badge_html(band, a.confidence, lang)
    sentence = highlight(a.sentence, start, start + len(a.text))
    if band == bands.HIGH:
        out = [
            '<div class="qa-reply qa-found">',
            f'<div class="qa-answer">{esc(display_text(a))}</div>',
            badge,
        ]
        if a.text != a.sentence:
            out.append(f'<div class="qa-sentence">{sentence}</div>')
    else:
        out = [
            '<div class="qa-reply qa-unsure">',
            f'<div class="qa-maybe-title">{esc(MAYBE_TITLE(lang))} {badge}</div>',
            f'<div class="qa-sentence qa-maybe">{sentence}</div>',
            f'<div class="qa-check">{esc(CHECK(lang))}</div>',
        ]
    if a.message:
        out.append(f'<div class="qa-message">{esc(a.message)}</div>')
    if a.citations:
        out.append(f'<div class="qa-cites-title">{esc(CITES_TITLE(lang))}</div>')
        out += [citation_html(i, c, paragraphs, span=_span_in(c.quote, a, i == 1), lang=lang)
                for i, c in enumerate(a.citations, 1)]
    out.append("</div>")
    return "".join(out)


def notice_html(text: str) -> str:
    """A short line from the app itself in the chat (indexing new documents…)."""
    return f'<div class="qa-notice">{esc(text)}</div>'


def question_html(question: str) -> str:
    """The user's question as literal text."""
    return f'<div class="qa-question">{esc(question)}</div>'


# Scrolls a citation's viewer to its quote when the citation is opened (event delegation: the
# chat's HTML itself carries no script).
HEAD_JS = """<script>
document.addEventListener('toggle', function (e) {
  var d = e.target;
  if (!d.classList || !d.classList.contains('qa-cite') || !d.open) return;
  var v = d.querySelector('.qa-viewer'), q = d.querySelector('.qa-quote');
  if (v && q) v.scrollTop += q.getBoundingClientRect().top - v.getBoundingClientRect().top - 40;
}, true);
window.__qaViewer = true;
</script>"""


CSS = """
.qa-reply { line-height: 1.7; word-break: break-word; }
.qa-answer { font-size: 1.35em; font-weight: 700; color: var(--color-accent); margin-bottom: .2em; }
.qa-conf { display: inline-block; font-size: .8em; font-weight: 400; padding: 0 .6em; border-radius: 999px;
  margin-bottom: .4em; }
.qa-conf-high { background: #dcfce7; color: #166534; }
.qa-conf-mid { background: #fef9c3; color: #854d0e; }
.qa-sentence { border-left: 3px solid var(--color-accent); padding: .3em .8em; margin: .4em 0 .6em;
  background: var(--background-fill-secondary); border-radius: 4px; }
.qa-unsure { border-left: 4px dashed #d97706; padding-left: .7em; }
.qa-maybe-title { font-weight: 700; color: #b45309; }
.qa-sentence.qa-maybe { border-left-color: #d97706; }
.qa-check { font-size: .9em; color: #92400e; }
.qa-reply mark { background: #fde68a; color: #1f2937; padding: 0 .1em; border-radius: 2px; font-weight: 700; }
.qa-cites-title, .qa-related-title { font-size: .85em; opacity: .75; margin: .5em 0 .2em; }
.qa-cite { border: 1px solid var(--border-color-primary); border-radius: 6px; padding: .2em .6em; margin: .3em 0; }
.qa-cite summary { cursor: pointer; }
.qa-num { font-weight: 700; color: var(--color-accent); }
.qa-label { font-weight: 600; }
.qa-meta, .qa-where { font-size: .8em; opacity: .7; }
.qa-page { margin: .4em 0; }
.qa-page img { display: block; max-width: 100%; margin-bottom: .3em; border: 1px solid var(--border-color-primary);
  border-radius: 4px; }
.qa-page figcaption { font-size: .75em; opacity: .7; }
.qa-ocr-low { font-size: .75em; padding: 0 .5em; border-radius: 999px; background: #ffedd5; color: #9a3412; }
.qa-snippet { display: block; font-size: .85em; opacity: .8; }
.qa-viewer { position: relative; max-height: 45vh; overflow-y: auto; margin: .4em 0; padding: .4em .7em;
  background: var(--background-fill-secondary); border-radius: 4px; }
.qa-viewer > div { margin: .35em 0; white-space: pre-wrap; }
.qa-v-headline { font-size: 1.15em; font-weight: 700; }
.qa-v-byline { font-size: .85em; opacity: .75; }
.qa-v-section { font-weight: 700; margin-top: .7em !important; }
.qa-v-p { text-indent: 2em; }
.qa-v-caption { font-size: .85em; font-style: italic; opacity: .8; border-left: 2px solid var(--border-color-primary);
  padding-left: .5em; }
.qa-v-gap { font-size: .8em; opacity: .6; text-align: center; }
.qa-quote { background: #fef3c7; color: #1f2937; box-shadow: inset 0 -2px #f59e0b; }
.qa-notfound { border-left: 4px solid #f59e0b; padding-left: .7em; }
.qa-nf-title { font-weight: 700; color: #b45309; font-size: 1.1em; }
.qa-message { font-size: .9em; opacity: .85; margin: .2em 0; }
.qa-notice { color: #1d4ed8; font-size: .95em; }
.qa-progress { color: #1d4ed8; }
.qa-bar { height: 6px; background: var(--border-color-primary); border-radius: 3px; overflow: hidden; margin: .2em 0; }
.qa-bar > div { height: 100%; background: var(--color-accent); }
.qa-docs details { border-bottom: 1px solid var(--border-color-primary); padding: .4em 0; }
.qa-docs summary { cursor: pointer; }
.qa-doctitle { font-weight: 600; }
.qa-docname { word-break: break-all; font-size: .85em; opacity: .8; }
.qa-doctitle + .qa-docname::before { content: "文件 "; }
.qa-count { font-size: .85em; opacity: .7; }
.qa-status { line-height: 1.8; }
.qa-busy, .qa-pending { color: #b45309; }
.qa-error { color: #b91c1c; }
.qa-question { white-space: pre-wrap; }
.qa-intro { font-size: .95em; opacity: .85; margin: 0; }
.qa-intro small, .qa-en { font-size: .8em; opacity: .7; }
#examples { margin: 0 !important; }
#examples button { text-align: left; }
.progress-text, .eta-bar, .progress-level { display: none !important; }
footer .divider:last-child, footer .divider + .divider { display: none !important; }
@media (max-width: 640px) {
  #intro h2 { font-size: 1.2em !important; margin: 0 !important; }
  .qa-en { display: none; }
  #chat { height: 50vh !important; }
}
"""
