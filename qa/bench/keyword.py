"""The keyword side: qa.keyword vs bm25s (``python -m qa.bench keyword SIZES``), one subprocess per
implementation and size, and :func:`_same_ranking`, which compares two rankings up to ties.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..index import BM25_B, BM25_K1
from ..keyword import KeywordIndex
from ..retrieval import DEPTH
from ..text import Tokenizer, corpus_terms
from .common import (
    QUESTIONS,
    SEED,
    VOCAB_SOURCES,
    _dir_mb,
    _ms,
    _questions,
    _reset_peak,
    _run_child,
    _status_mb,
    _timed,
)
from .scale import source_sentences


def _keyword_pool(seeds: Path) -> tuple[list[list[str]], list[list[str]]]:
    """Token lists of the pool sentences (seed, data/wild/docs, ../shared/mrc) and of the questions."""
    sentences = source_sentences([seeds, *VOCAB_SOURCES])
    tokenizer = Tokenizer(corpus_terms(sentences))
    questions = _questions(QUESTIONS / "dev.jsonl") + _questions(QUESTIONS / "test.jsonl")
    return [tokenizer.words(t) for t in sentences], [tokenizer.words(q) for q in questions]


def _keyword_docs(pool: list[list[str]], n: int, rng: np.random.Generator) -> Iterable[list[str]]:
    """``n`` passages of 1-4 pool sentences (the seed's body passages have 1.9 on average), as tokens."""
    k = rng.choice(np.array([1, 2, 2, 2, 3, 3, 4]), size=n)
    picks = rng.integers(0, len(pool), size=int(k.sum()))
    pos = 0
    for i in range(n):
        yield [t for s in picks[pos : pos + k[i]] for t in pool[s]]
        pos += int(k[i])


def _child_keyword(params: dict) -> dict:
    """Fit, save, load and query one BM25 implementation (``impl``: "qa" or "bm25s") on ``n`` passages."""
    import gc

    impl, n, folder = params["impl"], int(params["n"]), Path(params["folder"])
    pool, queries = _keyword_pool(Path(params["seeds"]))
    queries = [list(dict.fromkeys(q)) for q in queries if q]
    folder.mkdir(parents=True, exist_ok=True)
    docs = _keyword_docs(pool, n, np.random.default_rng(SEED + n))
    _reset_peak()
    rss0 = _status_mb("VmRSS")
    t0 = time.perf_counter()
    if impl == "qa":
        kw = KeywordIndex(BM25_K1, BM25_B).fit(docs)
        kw.save(folder)
        postings, vocab = len(kw.doc_ids), len(kw.vocab)
    else:
        import bm25s

        kw = bm25s.BM25(k1=BM25_K1, b=BM25_B, method="lucene")
        kw.index(list(docs), show_progress=False)
        kw.save(folder)
        postings, vocab = len(kw.scores["data"]), len(kw.vocab_dict)
    fit_s = time.perf_counter() - t0
    fit_mb = _status_mb("VmHWM") - rss0
    del kw, docs
    gc.collect()
    _reset_peak()
    rss1, anon1, file1 = _status_mb("VmRSS"), _status_mb("RssAnon"), _status_mb("RssFile")
    t0 = time.perf_counter()
    if impl == "qa":
        kw = KeywordIndex.load(folder, BM25_K1, BM25_B)

        def search(q: list[str]) -> list[tuple[int, float]]:
            return kw.search(q, DEPTH)
    else:
        import bm25s

        kw = bm25s.BM25.load(folder, mmap=True, show_progress=False)

        def search(q: list[str]) -> list[tuple[int, float]]:
            ids = kw.get_tokens_ids(q)
            if not ids:
                return []
            s = kw.get_scores_from_ids(ids)
            nz = np.flatnonzero(s > 0)
            top = nz[np.argsort(-s[nz], kind="stable")[:DEPTH]] if len(nz) else nz
            return [(int(i), float(s[i]) * (BM25_K1 + 1.0)) for i in top]  # lucene leaves out (k1 + 1)
    load_s = time.perf_counter() - t0
    for q in queries[:5]:
        search(q)
    times, tops = [], []
    for r in range(int(params.get("repeats", 3))):
        for q in queries:
            s, top = _timed(lambda q=q: search(q))
            times.append(s)
            if r == 0:
                tops.append(top)
    return {"impl": impl, "n": n, "vocab": vocab, "postings": int(postings), "fit_s": fit_s, "fit_peak_mb": fit_mb,
            "load_s": load_s, "search": _ms(times), "disk_mb": _dir_mb(folder),
            "serve_peak_mb": _status_mb("VmHWM") - rss1, "serve_anon_mb": _status_mb("RssAnon") - anon1,
            "serve_file_mb": _status_mb("RssFile") - file1,
            "tops": tops if params.get("tops") else None}


def _same_ranking(a: list[tuple[int, float]], b: list[tuple[int, float]], tol: float = 1e-4) -> bool:
    """The same passages with the same scores (to ``tol``), hence the same order up to ties.

    Passages tied with the last one are left out: which of them make the cut depends on
    float rounding (the two implementations multiply by ``k1 + 1`` at different steps).
    """
    if not a or not b:
        return not a and not b
    sa, sb = dict(a), dict(b)
    cut = max(min(sa.values()), min(sb.values())) + tol
    above_a = {i for i, s in sa.items() if s > cut}
    above_b = {i for i, s in sb.items() if s > cut}
    return above_a == above_b and all(abs(sa[i] - sb[i]) <= tol * max(1.0, sa[i]) for i in above_a)


def compare_keyword(sizes: list[int], seeds: Path, work: Path, repeats: int = 3) -> dict:
    """qa.keyword vs bm25s, one subprocess per implementation and size; rankings compared at the first size."""
    out: dict = {"runs": []}
    for n in sizes:
        for impl in ("qa", "bm25s"):
            out["runs"].append(_run_child("keyword", {"impl": impl, "n": n, "folder": str(work / f"kw-{impl}-{n}"),
                                                      "seeds": str(seeds), "repeats": repeats,
                                                      "tops": n == sizes[0]}))
            shutil.rmtree(work / f"kw-{impl}-{n}", ignore_errors=True)
    a, b = out["runs"][0]["tops"], out["runs"][1]["tops"]
    out["same_rankings"] = sum(_same_ranking(x, y) for x, y in zip(a, b))
    out["queries_compared"] = len(a)
    out["compared_at"] = sizes[0]
    for r in out["runs"]:
        r.pop("tops", None)
    return out
