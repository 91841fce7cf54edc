"""Hybrid retrieval: FAISS (dense) and BM25 (jieba) rankings fused.

Fusion is reciprocal-rank fusion (RRF): robust to the very different score scales of
cosine similarity and BM25, and it needs no per-corpus calibration.  The reader, not
retrieval, picks the sentence and span inside the passages returned.
"""

from __future__ import annotations

import numpy as np

from .index import Index
from .query import Query
from .records import Hit

MODES = ("hybrid", "dense", "keyword")
RRF_K = 60
DENSE_WEIGHT = 1.0  # weight of the dense ranking in the fusion (BM25 has 1)
DEPTH = 50  # candidates taken from each ranking before fusion


def retrieve(
    index: Index,
    query: str | Query,
    *,
    qvec: np.ndarray | None = None,
    k: int = 10,
    mode: str = "hybrid",
    boost_article: tuple[str, int] | None = None,
) -> list[Hit]:
    """The top ``k`` passages for ``query`` (``mode``: hybrid, dense or keyword).

    A :class:`~qa.query.Query` brings its own text, tokens, vector and follow-up article.
    """
    tokens = None
    if isinstance(query, Query):
        qvec = query.vector if qvec is None else qvec
        boost_article = boost_article or query.boost_article
        tokens = query.tokens
        query = query.retrieval_text
    if mode not in MODES:
        raise ValueError(f"unknown retrieval mode {mode!r}; valid modes are: {', '.join(MODES)}")
    if not index.passages or k <= 0:
        return []
    depth = max(DEPTH, k)
    dense: list[tuple[int, float]] = []
    keyword: list[tuple[int, float]] = []
    if mode in ("hybrid", "dense"):
        if qvec is None:
            qvec = index.query_vector(query)
        dense = index.dense_search(qvec, depth)
    if mode in ("hybrid", "keyword"):
        keyword = index.keyword_search(tokens if tokens is not None else index.tokenizer.words(query), depth)
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
