"""Cut structured documents into passages that fit the embedding model.

A body paragraph becomes one passage, or several when it is longer than
``max_chars``: the split is always on sentence boundaries.  Each article also yields
a header passage (headline, subtitle, byline: so "who wrote…" can be answered) and
one passage per photo caption.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .documents import Article, Block, Document
from .records import Passage, Span, join_spans, sub_spans
from .text import split_sentences


@dataclass(frozen=True)
class ChunkSettings:
    """Recorded in the index's meta.json; a change rebuilds the passages."""

    # 400 Chinese characters stay under e5's 512-token limit with the "passage: " prompt
    # (XLM-R pieces cover one or more characters each).
    max_chars: int = 400
    version: int = 2  # bump when sentence splitting or passage cutting changes

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
        section=section,
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
            if b is not None:
                pieces.append(b.spans)
        if pieces:
            spans = tuple(s for p in pieces for s in p)
            text = join_spans(doc.text, spans)
            sents, pos = [], 0
            for p in pieces:
                n = sum(e - s for s, e in p)
                sents.append((pos, pos + n))
                pos += n
            out.append(_passage(doc, art, "header", 0, 0, "", text, spans, sents, f"{prefix}.h.0"))
        section = ""
        n_par = n_cap = 0
        for b in art.blocks:
            if b.kind == "heading":
                section = b.text
            elif b.kind == "paragraph":
                n_par += 1
                out += _block_passages(doc, art, b, "body", n_par, section, settings, f"{prefix}.p{n_par}")
            elif b.kind == "caption":
                n_cap += 1
                out += _block_passages(doc, art, b, "caption", 0, section, settings, f"{prefix}.c{n_cap}")
    return out
