"""Hybrid retrieval: FAISS (dense) and BM25 (jieba) rankings fused, then sentences scored.

Fusion is reciprocal-rank fusion (RRF): robust to the very different score scales of
cosine similarity and BM25, and it needs no per-corpus calibration.  Inside the top
passages each sentence is scored by its own vector, its word overlap with the
question and its passage's rank, because the sentence is what gets cited.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .index import Index
from .records import Hit, Passage
from .text import normalize

MODES = ("hybrid", "dense", "keyword")
RRF_K = 60
DENSE_WEIGHT = 1.0  # weight of the dense ranking in the fusion (BM25 has 1)
DEPTH = 50  # candidates taken from each ranking before fusion


@dataclass(frozen=True)
class SentenceHit:
    """One sentence of a retrieved passage, with the scores that rank it."""

    hit: Hit
    index: int  # sentence number within the passage
    start: int  # offsets into passage.text
    end: int
    score: float
    dense: float
    lexical: float

    @property
    def passage(self) -> Passage:
        return self.hit.passage

    @property
    def text(self) -> str:
        return self.hit.passage.text[self.start : self.end]


def query_terms(index: Index, text: str) -> dict[str, float]:
    """The question's content words with their IDF in this corpus."""
    return {t: index.keyword.term_idf(t) for t in dict.fromkeys(index.tokenizer.words(text))}


def coverage(terms: dict[str, float], text: str) -> float:
    """IDF-weighted share of the terms that occur in ``text`` (normalised)."""
    total = sum(terms.values())
    if not total:
        return 0.0
    norm = normalize(text)
    return sum(w for t, w in terms.items() if t in norm) / total


def retrieve(
    index: Index,
    query: str,
    *,
    qvec: np.ndarray | None = None,
    k: int = 10,
    mode: str = "hybrid",
    boost_article: tuple[str, int] | None = None,
) -> list[Hit]:
    """The top ``k`` passages for ``query`` (``mode``: hybrid, dense or keyword)."""
    if mode not in MODES:
        raise ValueError(f"unknown retrieval mode {mode!r}; valid modes are: {', '.join(MODES)}")
    if not index.passages or k <= 0:
        return []
    depth = max(DEPTH, k)
    dense: list[tuple[int, float]] = []
    keyword: list[tuple[int, float]] = []
    if mode in ("hybrid", "dense"):
        if qvec is None:
            qvec = index.embedder.embed([query], kind="query")[0]
        dense = index.dense_search(qvec, depth)
    if mode in ("hybrid", "keyword"):
        keyword = index.keyword_search(index.tokenizer.words(query), depth)
    fused: dict[int, float] = {}
    info: dict[int, dict] = {}
    for rank, (i, s) in enumerate(dense):
        fused[i] = fused.get(i, 0.0) + DENSE_WEIGHT / (RRF_K + rank + 1)
        info.setdefault(i, {})
        info[i].update(dense=s, dense_rank=rank + 1)
    for rank, (i, s) in enumerate(keyword):
        fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + rank + 1)
        info.setdefault(i, {})
        info[i].update(keyword=s, keyword_rank=rank + 1)
    if boost_article is not None:
        for i in fused:
            p = index.passages[i]
            if (p.doc, p.article) == boost_article:
                fused[i] += 0.5 / (RRF_K + 1)
    order = sorted(fused, key=lambda i: (-fused[i], i))[:k]
    return [Hit(index.passages[i], fused[i], **info[i]) for i in order]


def rank_sentences(
    index: Index,
    hits: list[Hit],
    qvec: np.ndarray | None,
    terms: dict[str, float],
) -> list[SentenceHit]:
    """Every sentence of the hits, best first."""
    if not hits:
        return []
    top = max(h.score for h in hits) or 1.0
    out: list[SentenceHit] = []
    lexical_weight = 0.35 if terms else 0.0
    for h in hits:
        p = h.passage
        vecs = index.passage_sentence_vectors(index.row(p.id))
        dense = vecs @ qvec if qvec is not None and len(vecs) else np.zeros(len(p.sentences))
        for j, (s, e) in enumerate(p.sentences):
            lex = coverage(terms, p.text[s:e]) if terms else 0.0
            score = 0.5 * float(dense[j]) + lexical_weight * lex + 0.25 * (h.score / top)
            out.append(SentenceHit(h, j, s, e, score, float(dense[j]), lex))
    out.sort(key=lambda x: -x.score)
    return out
