"""The record types that flow through the pipeline.

A ``Passage`` is the unit that is indexed and retrieved; a ``Hit`` is a passage with
its retrieval scores; an ``Answer`` carries ``Citation``s back to source offsets.

Offsets: every piece of text keeps ``spans``, the half-open ``(start, end)`` ranges of
the decoded source document it was cut from.  Joining ``source[s:e]`` over the spans
gives the text exactly.  A paragraph repaired across a page-layout break (or around a
photo caption) simply has two spans.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Span = tuple[int, int]


def join_spans(source: str, spans: tuple[Span, ...]) -> str:
    """The text that ``spans`` select from ``source``, gaps left out."""
    return "".join(source[s:e] for s, e in spans)


def sub_spans(spans: tuple[Span, ...], start: int, end: int) -> tuple[Span, ...]:
    """Map the text range ``[start, end)`` of a spanned text back to source spans."""
    out: list[Span] = []
    pos = 0
    for s, e in spans:
        n = e - s
        lo, hi = max(start, pos), min(end, pos + n)
        if lo < hi:
            out.append((s + lo - pos, s + hi - pos))
        pos += n
        if pos >= end:
            break
    return tuple(out)


@dataclass(frozen=True)
class Passage:
    """An indexed piece of an article: a body paragraph (or part of one), a header, or a caption.

    ``paragraph`` is the 1-based body-paragraph number within the article; header
    passages (headline, subtitle, byline) and photo captions have ``paragraph == 0``.
    ``sentences`` are ``(start, end)`` offsets into ``text``.  ``section`` is the
    heading path above the passage (``"活动安排 / 第一场"``).  For citations:
    ``doc_title`` is the document's human title, ``date`` (ISO, as precise as known),
    ``source`` (publisher or site) and ``author`` (the article's byline, or the
    document's author) are ``""`` when unknown.
    """

    id: str
    doc: str
    article: int
    title: str
    kind: str  # "body" | "header" | "caption"
    paragraph: int
    part: int
    text: str
    spans: tuple[Span, ...]
    sentences: tuple[Span, ...]
    section: str = ""
    doc_title: str = ""
    date: str = ""
    source: str = ""
    author: str = ""

    @property
    def start(self) -> int:
        return self.spans[0][0]

    @property
    def end(self) -> int:
        return self.spans[-1][1]

    def sentence_texts(self) -> list[str]:
        return [self.text[s:e] for s, e in self.sentences]

    def source_spans(self, start: int, end: int) -> tuple[Span, ...]:
        """Source spans of ``text[start:end]``."""
        return sub_spans(self.spans, start, end)

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "doc": self.doc,
            "article": self.article,
            "title": self.title,
            "section": self.section,
            "kind": self.kind,
            "paragraph": self.paragraph,
            "part": self.part,
            "text": self.text,
            "spans": [list(s) for s in self.spans],
            "sentences": [list(s) for s in self.sentences],
            "doc_title": self.doc_title,
            "date": self.date,
            "source": self.source,
            "author": self.author,
        }

    @classmethod
    def from_json(cls, d: dict) -> Passage:
        return cls(
            id=d["id"],
            doc=d["doc"],
            article=int(d["article"]),
            title=d["title"],
            section=d.get("section", ""),
            kind=d["kind"],
            paragraph=int(d["paragraph"]),
            part=int(d["part"]),
            text=d["text"],
            spans=tuple((int(s), int(e)) for s, e in d["spans"]),
            sentences=tuple((int(s), int(e)) for s, e in d["sentences"]),
            doc_title=d.get("doc_title", ""),
            date=d.get("date", ""),
            source=d.get("source", ""),
            author=d.get("author", ""),
        )


@dataclass(frozen=True)
class Hit:
    """A retrieved passage with the scores that ranked it."""

    passage: Passage
    score: float
    dense: float | None = None
    keyword: float | None = None
    dense_rank: int | None = None
    keyword_rank: int | None = None


@dataclass(frozen=True)
class Citation:
    """Where an answer comes from, checkable by a reader.

    ``start``/``end`` are offsets into the decoded source document.  When the quote
    crosses a repaired break, ``source[start:end]`` contains the break (or photo
    caption) and ``quote`` leaves it out; ``spans`` lists the exact pieces.

    A quote from a scanned page (read through OCR) says where it stands on the page:
    ``page`` (1-based; 0 for a text document) and ``boxes``, one ``(page, x0, y0, x1, y1)``
    per printed line it stands on, in the pixels of the page image.  ``low_confidence``:
    OCR read one of those lines with less confidence than ``qa.documents.LOW_CONFIDENCE``.
    """

    doc: str
    title: str
    paragraph: int
    quote: str
    start: int
    end: int
    score: float
    spans: tuple[Span, ...] = ()
    passage_id: str = ""
    kind: str = "body"
    doc_title: str = ""  # the document's human title, date and source, when known
    date: str = ""
    source: str = ""
    page: int = 0
    boxes: tuple[tuple[int, int, int, int, int], ...] = ()
    low_confidence: bool = False

    @property
    def label(self) -> str:
        if self.kind == "caption":
            return f"{self.title} · 图片说明"
        if self.kind == "header" or self.paragraph == 0:
            return f"{self.title} · 标题/署名"
        return f"{self.title} · 第{self.paragraph}段"


@dataclass(frozen=True)
class Answer:
    """The result of :func:`qa.answer`.

    ``text`` is a literal substring of ``sentence``, which is a literal (gap-joined)
    substring of the cited source; both are ``""`` when ``found`` is False.
    ``message`` explains refusals and input problems in plain words, in the question's language.
    ``band`` is how sure a found answer is shown, from its confidence (:mod:`qa.bands`):
    ``"high"`` (高), ``"mid"`` (中) or ``"low"`` (shown as not found); ``""`` when not set.
    ``low_confidence``: the answer's own text stands on a line of a scanned page that OCR
    read with low confidence (``message`` says so too).
    """

    question: str
    found: bool
    text: str = ""
    sentence: str = ""
    confidence: float = 0.0
    citations: list[Citation] = field(default_factory=list)
    answer_type: str = ""
    message: str = ""
    related: list[Citation] = field(default_factory=list)
    text_start: int = -1  # offset of ``text`` within ``sentence``
    band: str = ""
    low_confidence: bool = False
