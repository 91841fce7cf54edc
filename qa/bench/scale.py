"""4. Scale: corpora of recombined sentences (the seed, data/wild/docs and the SQuAD-style
contexts in ../shared/mrc for vocabulary) with synthetic vectors, one subprocess per
size and phase (build, serve) so memory peaks don't mix;
5. FAISS: exact vs HNSW vs IVF with compressed codes, recall@10 against exact search.
"""

from __future__ import annotations

import contextlib
import json
import math
import resource
import shutil
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..embedding import Embedder, make_embedder
from ..index import (
    BM25_B,
    BM25_K1,
    COMPRESS_LIMIT,
    FORMAT_VERSION,
    Index,
    _DocPart,
    _documents_meta,
    _make_faiss,
    _write_generation,
    current_generation,
    faiss_threads,
    load_index,
)
from ..keyword import KeywordIndex
from ..records import Passage
from ..retrieval import DEPTH
from ..text import Tokenizer, corpus_terms, has_cjk, split_sentences
from .common import (
    NOISE,
    PER_DOC,
    POOL_EMBEDDED,
    QUESTIONS,
    RECALL_K,
    SEED,
    TOKENIZE_LIMIT,
    QueryCache,
    _bar,
    _cache_keys,
    _dir_mb,
    _label,
    _ms,
    _questions,
    _reset_peak,
    _run_child,
    _status_mb,
    _timed,
)


@dataclass
class SentencePool:
    """Sentences to recombine into synthetic passages, with a vector for each.

    The first ``embedded`` sentences (the seed's, then a sample of the others) have real
    vectors from the model; every other sentence borrows the vector of an embedded one
    (chosen at random, fixed), so the vocabulary is real and the vectors are synthetic.
    """

    texts: list[str]
    vectors: np.ndarray
    counts: np.ndarray  # sentences per body passage in the seed, sampled from
    titles: list[str]
    embedded: int

    def save(self, path: Path) -> None:
        np.savez(path, vectors=self.vectors, counts=self.counts, embedded=self.embedded)
        path.with_suffix(".json").write_text(json.dumps({"texts": self.texts, "titles": self.titles},
                                                        ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> SentencePool:
        with np.load(path) as z:
            vectors, counts, embedded = z["vectors"], z["counts"], int(z["embedded"])
        d = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        return cls(d["texts"], vectors, counts, d["titles"], embedded)


def source_sentences(sources: Iterable[Path]) -> list[str]:
    """Sentences of the documents in folders and of the contexts of SQuAD-style ``.json`` files."""
    from ..chunking import ChunkSettings, chunk_document
    from ..documents import DocumentError, list_documents, read_document

    out: list[str] = []
    for src in sources:
        if src.is_dir():
            files = [p for p in sorted(src.iterdir()) if p.suffix == ".json"]
            for path in files:
                with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                    data = json.loads(path.read_text(encoding="utf-8"))["data"]
                    for art in data:
                        for para in art["paragraphs"]:
                            ctx = para["context"]
                            out += [ctx[a:b] for a, b in split_sentences(ctx)]
            with contextlib.suppress(DocumentError):
                for path in list_documents(src):
                    try:
                        doc = read_document(path, path.name)
                    except DocumentError:
                        continue
                    out += [t for p in chunk_document(doc, ChunkSettings()) if p.kind == "body"
                            for t in p.sentence_texts()]
    return [t for t in dict.fromkeys(t.strip() for t in out) if len(t) >= 4]


def sentence_pool(seed: Index, embedder: Embedder, extra: list[str], rng: np.random.Generator,
                  limit: int = POOL_EMBEDDED) -> SentencePool:
    """The seed's body sentences and ``extra`` ones; the seed's and ``limit`` in all are embedded."""
    counts = [len(p.sentences) for p in seed.passages if p.kind != "header" and p.sentences]
    own = list(dict.fromkeys(t for p in seed.passages if p.kind != "header" for t in p.sentence_texts()))
    if not own:
        raise ValueError("the seed index has no body sentences to recombine")
    seen = set(own)
    others = [t for t in extra if t not in seen]
    order = rng.permutation(len(others))
    others = [others[i] for i in order]
    n_emb = max(len(own), min(limit, len(own) + len(others)))
    texts = own + others
    real = embedder.embed(texts[:n_emb], kind="document")
    borrowed = real[rng.integers(0, n_emb, size=len(texts) - n_emb)]
    vectors = np.concatenate([real, borrowed]).astype(np.float32)
    titles = sorted({p.title for p in seed.passages}) or ["bench"]
    return SentencePool(texts, vectors, np.asarray(counts), titles, n_emb)


def synthetic_corpus(pool: SentencePool, n: int, rng: np.random.Generator) -> tuple[list[Passage], np.ndarray]:
    """``n`` passages of pool sentences recombined at random, with synthetic vectors.

    A passage vector is the unit mean of its sentences' vectors plus Gaussian noise of
    norm ``NOISE``, renormalised, so that no two passages tie.  Passages have as many
    sentences as the seed's body passages (sampled from their distribution).
    """
    texts = pool.texts
    k = rng.choice(pool.counts, size=n)
    picks = rng.integers(0, len(texts), size=int(k.sum()))
    starts = np.concatenate([[0], np.cumsum(k)[:-1]]).astype(np.int64)
    passages: list[Passage] = []
    offset = 0
    for i in range(n):
        doc = f"bench-{i // PER_DOC:05d}.txt"
        if i % PER_DOC == 0:
            offset = 0
        sents, parts, pos = [], [], 0
        for s in picks[starts[i] : starts[i] + k[i]]:
            t = texts[s]
            sents.append((pos, pos + len(t)))
            parts.append(t)
            pos += len(t)
        article, paragraph = (i % PER_DOC) // 10 + 1, i % 10 + 1
        passages.append(Passage(
            id=f"{doc}#a{article}.p{paragraph}.0", doc=doc, article=article,
            title=pool.titles[(i // 10) % len(pool.titles)], kind="body", paragraph=paragraph, part=0,
            text="".join(parts), spans=((offset, offset + pos),), sentences=tuple(sents),
        ))
        offset += pos + 2
    pvecs = np.empty((n, pool.vectors.shape[1]), dtype=np.float32)
    step = 50_000  # in chunks: the sentence rows of a million passages would take GBs
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        a, b = int(starts[lo]), int(starts[hi - 1] + k[hi - 1])
        pvecs[lo:hi] = np.add.reduceat(pool.vectors[picks[a:b]], starts[lo:hi] - a, axis=0)
    pvecs /= np.linalg.norm(pvecs, axis=1, keepdims=True)
    noise = rng.standard_normal(pvecs.shape).astype(np.float32)
    pvecs += NOISE * noise / np.linalg.norm(noise, axis=1, keepdims=True)
    pvecs /= np.linalg.norm(pvecs, axis=1, keepdims=True)
    return passages, pvecs


def _seed_vector_check(seed: Index, pool: SentencePool) -> float:
    """Median cosine of a seed passage's real vector and the unit mean of its sentences' vectors."""
    row = {t: i for i, t in enumerate(pool.texts[: pool.embedded])}
    cos = []
    for i, p in enumerate(seed.passages):
        rows = [row[t] for t in p.sentence_texts() if t in row] if p.kind != "header" else []
        if rows:
            mean = pool.vectors[rows].mean(axis=0)
            cos.append(float(seed.vectors([i])[0] @ (mean / np.linalg.norm(mean))))
    return statistics.median(cos) if cos else math.nan


def _child_build(params: dict) -> dict:
    """Build a synthetic index of ``n`` passages (no embedding), then compare the FAISS index types."""
    n, root = int(params["n"]), Path(params["root"])
    compress_limit = int(params.get("compress_limit", COMPRESS_LIMIT))
    rss_start = _status_mb("VmRSS")
    seed = load_index(params["seed_index"], verify=False)
    pool = SentencePool.load(Path(params["pool"]))
    t0 = time.perf_counter()
    passages, pvecs = synthetic_corpus(pool, n, np.random.default_rng(SEED + n))
    gen_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    words = corpus_terms(p.text for p in passages)
    tokenizer = Tokenizer(words)
    tok_s = [time.perf_counter() - t0]

    cache: dict[str, list[str]] | None = {} if n > TOKENIZE_LIMIT else None

    def passage_tokens(p: Passage) -> list[str]:
        if cache is None:
            return tokenizer.words(p.text)
        out: list[str] = []  # each pool sentence tokenised once; a passage joins its sentences' tokens
        for t in p.sentence_texts():
            toks = cache.get(t)
            if toks is None:
                toks = cache[t] = tokenizer.words(t)
            out += toks
        return out

    def tokens(ps: list[Passage]):  # streamed into the fit: a million token lists would take GBs
        for p in _bar(ps, f"tokenize {_label(n)}"):
            t = time.perf_counter()
            out = passage_tokens(p)
            tok_s[0] += time.perf_counter() - t
            yield out

    setup_s = tok_s[0]  # corpus terms and the tokenizer
    t0 = time.perf_counter()
    keyword = KeywordIndex(BM25_K1, BM25_B).fit(tokens(passages))
    tokenize_s = tok_s[0]
    keyword_s = time.perf_counter() - t0 - (tokenize_s - setup_s)  # the fit without jieba
    docs = sorted({p.doc for p in passages})
    parts = [_DocPart(d, "synthetic", 10, passages[i * PER_DOC : (i + 1) * PER_DOC], encoding="utf-8")
             for i, d in enumerate(docs)]
    meta = {
        "format_version": FORMAT_VERSION,
        "package_version": "bench",
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "seeds_dir": str(root / "no-seeds"),
        "model": seed.meta["model"],
        "chunker": seed.meta["chunker"],
        "bm25": seed.meta["bm25"],
        "counts": {"passages": n, "sentences": int(sum(len(p.sentences) for p in passages))},
        "documents": _documents_meta(parts),
    }
    del parts
    from ..index import write as write_module  # where _write_generation looks up _make_faiss

    made: dict = {}

    def timed_make(vectors: np.ndarray, **kw):  # the index the build writes, timed and kept for section 5
        made["build_s"], (made["index"], made["info"]) = _timed(lambda: _make_faiss(vectors, **kw))
        return made["index"], made["info"]

    t0 = time.perf_counter()
    write_module._make_faiss = timed_make
    try:
        _write_generation(root, meta, passages, pvecs, keyword, words, None, compress_limit=compress_limit)
    finally:
        write_module._make_faiss = _make_faiss
    write_s = time.perf_counter() - t0
    build_peak = _status_mb("VmHWM")
    gen = current_generation(root)
    files_mb = {f.name: f.stat().st_size / 2**20 for f in gen.iterdir()}
    out = {
        "n": n,
        "sentences": meta["counts"]["sentences"],
        "dim": int(pvecs.shape[1]),
        "pool_sentences": len(pool.texts),
        "pool_embedded": pool.embedded,
        "tokens_per_sentence": cache is not None,
        "generate_s": gen_s,
        "tokenize_s": tokenize_s,
        "keyword_fit_s": keyword_s,
        "write_s": write_s,
        "build_s": tokenize_s + keyword_s + write_s,
        "disk_mb": _dir_mb(gen),
        "serving_disk_mb": sum(v for k, v in files_mb.items() if k != "vectors.npy"),
        "files_mb": files_mb,
        "raw_vector_mb": pvecs.nbytes / 2**20,
        "dense_mb": files_mb["dense.faiss"],
        "faiss_info": made["info"],
        "build_peak_rss_mb": build_peak,
        "build_rss_start_mb": rss_start,
        "vocab": len(keyword.vocab),
        "postings": int(len(keyword.doc_ids)),
    }
    del passages, keyword
    chosen = made["info"]["type"]
    kind = "flat" if chosen == "IndexFlatIP" else "hnsw" if chosen == "IndexHNSWFlat" else "ivf"
    out["faiss"] = _compare_faiss(pvecs, np.load(params["query_vectors"]), {kind: (made["build_s"], made["index"])},
                                  compress_limit)
    return out


def _compare_faiss(vectors: np.ndarray, queries: np.ndarray, built: dict, compress_limit: int = COMPRESS_LIMIT) -> dict:
    """Exact (flat) vs HNSW vs IVF: build time, size, one-query latency (1 and 2 threads), recall@10.

    ``built`` maps "flat"/"hnsw"/"ivf" to an already built ``(seconds, index)``.  HNSW is
    built only up to ``compress_limit`` (beyond, its build takes minutes); IVF always.
    """
    import faiss

    from ..index import _make_ivf

    queries = np.ascontiguousarray(queries, dtype=np.float32)
    out: dict = {"queries": len(queries)}
    makers = {
        "flat": lambda: _make_faiss(vectors, exact=True)[0],
        "hnsw": lambda: _make_faiss(vectors, exact=False)[0],
        "ivf": lambda: _make_ivf(np.ascontiguousarray(vectors, dtype=np.float32))[0],
    }
    indexes = {}
    for name, make in makers.items():
        if name == "hnsw" and len(vectors) > compress_limit and name not in built:
            continue
        s, ix = built.get(name) or _timed(make)
        indexes[name] = ix
        out[name] = {"build_s": s, "size_mb": len(faiss.serialize_index(ix)) / 2**20}
        if name == "ivf":
            ivf = faiss.extract_index_ivf(ix)
            out[name].update(nlist=int(ivf.nlist), nprobe=int(ivf.nprobe), bytes_per_vector=int(ivf.code_size) + 8)
    k = min(RECALL_K, len(vectors))
    with faiss_threads(2):
        exact_scores, exact_ids = indexes["flat"].search(queries, k)
    for name, ix in indexes.items():
        for threads in (1, 2):
            if name != "flat" and threads == 2:
                continue
            times, found = [], []
            with faiss_threads(threads):
                for q in queries:
                    s, (_, ids) = _timed(lambda q=q, ix=ix: ix.search(q[None], DEPTH))
                    times.append(s)
                    found.append(ids[0][:k])
            out[name][f"search_{threads}t"] = _ms(times)
            if threads == 1:
                out[name]["recall_at_10"] = _recall(vectors, queries, found, exact_ids, exact_scores)
    return out


def _recall(vectors, queries, found, exact_ids, exact_scores) -> dict:
    """Recall@k against exact search: plain, and tie-aware (a result as good as the k-th counts)."""
    plain, tie = [], []
    for q, got, ids, scores in zip(queries, found, exact_ids, exact_scores):
        got = np.asarray([g for g in got if g >= 0])
        plain.append(len(set(got.tolist()) & set(ids.tolist())) / len(ids))
        good = (vectors[got] @ q >= scores[-1] - 1e-6).sum() if len(got) else 0
        tie.append(min(int(good), len(ids)) / len(ids))
    return {"plain": float(np.mean(plain)), "tie_aware": float(np.mean(tie))}


def _child_serve(params: dict) -> dict:
    """Load a built index beside the models and time the searches, retrieval and ``answer()``."""
    from ..answering import answer, default_reader
    from ..retrieval import retrieve

    repeats = int(params["repeats"])
    rss_start = _status_mb("VmRSS")
    model = make_embedder(params["model"])
    model.embed(["预热"], kind="query")
    rss_model = _status_mb("VmRSS")
    # The reader loads before the index too, so that "index memory" is the index's alone.
    reader = default_reader()
    reader.read("预热？", ["预热"])
    rss_reader = _status_mb("VmRSS")
    questions = _questions(Path(params["questions"]))
    embed_times, vectors = [], {}
    for q in questions:
        s, v = _timed(lambda q=q: model.embed([q], kind="query")[0])
        embed_times.append(s)
        for key in _cache_keys(q):
            vectors[key] = v
    peak_reset = _reset_peak()
    rss_before_load = _status_mb("VmRSS")
    anon_before, file_before = _status_mb("RssAnon"), _status_mb("RssFile")
    cache = QueryCache(model, vectors)
    load_s, index = _timed(lambda: load_index(params["root"], embedder=cache))
    rss_loaded = _status_mb("VmRSS")
    for q in questions[:3]:
        answer(q, index=index)
    kw, dense, raw1, raw2, ans, zh, ret = [], [], [], [], [], [], []
    import faiss

    for r in _bar(range(repeats), f"serve {_label(len(index.passages))}"):
        for i, q in enumerate(questions):
            qv = vectors[q]
            kw.append(_timed(lambda q=q: index.keyword_search(index.tokenizer.words(q), DEPTH))[0])
            dense.append(_timed(lambda qv=qv: index.dense_search(qv, DEPTH))[0])
            order = ((1, raw1), (2, raw2))
            for threads, out in order if (r + i) % 2 else order[::-1]:  # alternate: caches warm the second
                with faiss_threads(threads):
                    out.append(_timed(lambda qv=qv: index.dense.search(qv[None], DEPTH))[0])
            ret.append(_timed(lambda q=q, qv=qv: retrieve(index, q, qvec=qv, k=8))[0])
            ans.append(_timed(lambda q=q: answer(q, index=index))[0])
            zh.append(has_cjk(q))
    peak = _status_mb("VmHWM") if peak_reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    hnsw = getattr(index.dense, "hnsw", None)
    return {
        "faiss_type": type(index.dense).__name__,
        "ef_search": int(hnsw.efSearch) if hnsw is not None else None,
        "omp_threads_default": faiss.omp_get_max_threads(),
        "load_s": load_s,
        "keyword_search": _ms(kw),
        "dense_search": _ms(dense),
        "faiss_search_1thread": _ms(raw1),
        "faiss_search_2threads": _ms(raw2),
        "answer_excl_embedding": _ms(ans),
        "retrieve": _ms(ret),  # dense + BM25 + fusion: the part of answer() that grows with the corpus
        "answer_zh": _ms([a for a, z in zip(ans, zh) if z]),
        "answer_en": _ms([a for a, z in zip(ans, zh) if not z]),
        "question_embedding": _ms(embed_times),
        "model_texts_in_answers": cache.model_texts,
        "answers": len(ans),
        "rss_start_mb": rss_start,
        "rss_model_mb": rss_model,
        "rss_reader_mb": rss_reader,
        "rss_before_load_mb": rss_before_load,
        "rss_loaded_mb": rss_loaded,
        "rss_end_mb": _status_mb("VmRSS"),
        "index_anon_mb": _status_mb("RssAnon") - anon_before,  # heap: passages, FAISS, BM25, jieba
        "index_file_mb": _status_mb("RssFile") - file_before,  # mapped pages: passages, postings (page cache)
        "nprobe": index.meta.get("faiss", {}).get("nprobe"),
        "serve_peak_rss_mb": peak,
        "peak_is_after_model": peak_reset,
    }


def bench_scale(n: int, seed_index: Path, work: Path, model: str, repeats: int, qvec_path: Path,
                pool_path: Path, compress_limit: int = COMPRESS_LIMIT) -> dict:
    """One size: a build subprocess, then a serve subprocess on what it wrote."""
    root = work / f"scale-{n}"
    build = _run_child("build", {"n": n, "root": str(root), "seed_index": str(seed_index),
                                 "query_vectors": str(qvec_path), "pool": str(pool_path),
                                 "compress_limit": compress_limit})
    serve = _run_child("serve", {"root": str(root), "model": model, "repeats": repeats,
                                 "questions": str(QUESTIONS / "dev.jsonl")})
    shutil.rmtree(root, ignore_errors=True)
    index_mb = serve["serve_peak_rss_mb"] - serve["rss_before_load_mb"]
    return dict(build, serve=serve, index_memory_mb=index_mb,
                memory_ratio=index_mb / build["dense_mb"] if build["dense_mb"] else math.nan)


def _growth(scale: list[dict]) -> list[dict]:
    """How each figure grows between consecutive sizes: factor and exponent (log-log slope)."""
    metrics = {
        "keyword search p50": lambda s: s["serve"]["keyword_search"]["p50_ms"],
        "dense search p50": lambda s: s["serve"]["dense_search"]["p50_ms"],
        "answer() p50": lambda s: s["serve"]["answer_excl_embedding"]["p50_ms"],
        "build (no embedding)": lambda s: s["build_s"],
        "load_index": lambda s: s["serve"]["load_s"],
        "disk": lambda s: s["disk_mb"],
        "index memory (peak RSS)": lambda s: s["index_memory_mb"],
        "index heap": lambda s: s["serve"]["index_anon_mb"],
    }
    rows = []
    for a, b in zip(scale, scale[1:]):
        size = b["n"] / a["n"]
        for name, get in metrics.items():
            x, y = get(a), get(b)
            factor = y / x if x > 0 else math.nan
            exp = math.log(factor) / math.log(size) if factor > 0 and size > 1 else math.nan
            rows.append({"metric": name, "from": a["n"], "to": b["n"], "factor": factor, "exponent": exp})
    return rows
