"""Cut structured documents into passages that fit the embedding model.

A body block (paragraph, list item or table row, code block) becomes one passage, or
several when it is longer than ``max_chars``: the split is always on sentence
boundaries.  Each article also yields a header passage (headline, subtitle, byline: so
"who wrote…" can be answered) and one passage per photo caption.  Passages carry the
heading path above them (``section``) and the document's citation metadata (title,
date, source, author).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from .documents import BODY_KINDS, Article, Block, Document, article_author
from .records import Passage, Span, join_spans, sub_spans
from .text import split_sentences


@dataclass(frozen=True)
class ChunkSettings:
    """Recorded in the index's meta.json; a change rebuilds the passages."""

    # 400 Chinese characters stay under e5's 512-token limit with the "passage: " prompt
    # (XLM-R pieces cover one or more characters each).
    max_chars: int = 400
    # bump when sentence splitting, passage cutting or document structure changes
    # (3: wrapped lines, Markdown lists/tables/code, section paths, citation metadata;
    # 4: Markdown table rows carry their header row; 5: a scanned page's paragraphs end
    # where its layout ends them)
    version: int = 5

    def to_json(self) -> dict:
        return asdict(self)


def _group_sentences(sentences: list[Span], max_chars: int) -> list[list[Span]]:
    """Greedy groups of consecutive sentences of at most ``max_chars`` (a longer sentence stays whole)."""
    groups: list[list[Span]] = []
    cur: list[Span] = []
    for s in sentences:
        if cur and s[1] - cur[0][0] > max_chars:
            groups.append(cur)
            cur = []
        cur.append(s)
    if cur:
        groups.append(cur)
    return groups


def _passage(
    doc: Document, article: Article, kind: str, paragraph: int, part: int, section: str,
    text: str, spans: tuple[Span, ...], sentences: list[Span], pid: str,
) -> Passage:
    return Passage(
        id=pid, doc=doc.name, article=article.number, title=article.title, kind=kind,
        paragraph=paragraph, part=part, text=text, spans=spans, sentences=tuple(sentences),
        section=section, doc_title=doc.title, date=doc.date, source=doc.source,
        author=article_author(article, doc),
    )


def _block_passages(
    doc: Document, article: Article, block: Block, kind: str, paragraph: int, section: str,
    settings: ChunkSettings, pid: str,
) -> list[Passage]:
    sentences = split_sentences(block.text)
    out = []
    for part, group in enumerate(_group_sentences(sentences, settings.max_chars)):
        start, end = group[0][0], group[-1][1]
        spans = sub_spans(block.spans, start, end)
        text = block.text[start:end]
        sents = [(s - start, e - start) for s, e in group]
        out.append(_passage(doc, article, kind, paragraph, part, section, text, spans, sents, f"{pid}.{part}"))
    return out


class _Sections:
    """The heading path above the current block.

    Markdown headings nest by level; other headings replace the innermost one.  A
    heading that no passage has carried yet (one directly followed by a heading of its
    level or higher) stays in the path of the next passage, so no heading is lost.
    """

    def __init__(self) -> None:
        self.stack: list[Block] = []
        self.uncarried: list[Block] = []  # in reading order

    def push(self, heading: Block) -> None:
        level = heading.level or 7
        while self.stack and (self.stack[-1].level or 7) >= level:
            self.stack.pop()
        self.stack.append(heading)
        self.uncarried.append(heading)

    def take(self) -> str:
        """The section of the next passage; every heading in it counts as carried."""
        path = [h for h in self.uncarried if h not in self.stack] + self.stack
        self.uncarried = []
        return " / ".join(h.text for h in path)


def chunk_document(doc: Document, settings: ChunkSettings | None = None) -> list[Passage]:
    """All passages of a document, in reading order."""
    settings = settings or ChunkSettings()
    out: list[Passage] = []
    for art in doc.articles:
        prefix = f"{doc.name}#a{art.number}"
        # Header: headline (+ subtitle) + byline, each its own "sentence".
        pieces = []
        if art.title_spans:
            pieces.append(art.title_spans)
        for b in (art.subtitle, art.byline):
            if b is not None and b.spans:
                pieces.append(b.spans)
        pieces.sort(key=lambda sp: sp[0][0])  # source order: a byline may come before a subtitle
        if pieces:
            spans = tuple(s for p in pieces for s in p)
            text = join_spans(doc.text, spans)
            sents, pos = [], 0
            for p in pieces:
                n = sum(e - s for s, e in p)
                sents.append((pos, pos + n))
                pos += n
            out.append(_passage(doc, art, "header", 0, 0, "", text, spans, sents, f"{prefix}.h.0"))
        sections = _Sections()
        n_par = n_cap = 0
        for b in art.blocks:
            if b.kind == "heading":
                sections.push(b)
            elif b.kind in BODY_KINDS:
                n_par += 1
                out += _block_passages(doc, art, b, "body", n_par, sections.take(), settings, f"{prefix}.p{n_par}")
            elif b.kind == "caption":
                n_cap += 1
                out += _block_passages(doc, art, b, "caption", 0, sections.take(), settings, f"{prefix}.c{n_cap}")
        # Headings that end an article with nothing under them are indexed as text, each whole
        # (a heading is a name: cut in two, neither half names the section).
        for h in sections.uncarried:
            n_par += 1
            whole = replace(settings, max_chars=max(settings.max_chars, len(h.text)))
            out += _block_passages(doc, art, h, "body", n_par, "", whole, f"{prefix}.p{n_par}")
    return out
