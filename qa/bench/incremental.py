"""7. Incremental update: one day's change to a large index, full vs incremental build.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections import Counter
from pathlib import Path

import numpy as np

from ..index import build_index, current_generation, load_index
from ..text import split_sentences
from .common import NOISE, QUESTIONS, SEED, _ms, _questions, _run_child, _status_mb, _timed
from .scale import SentencePool


class _SyntheticEmbedder:
    """Pool vectors instead of a model: a text's vector is the unit mean of its pool sentences'
    (as in :func:`synthetic_corpus`), plus noise fixed by the text's hash; other texts get a
    random unit vector.  Embedding costs ~nothing, and the vectors cluster as real ones do."""

    def __init__(self, pool: SentencePool) -> None:
        dim = int(pool.vectors.shape[1])
        self.dim, self.name, self.fingerprint, self.max_chars = dim, f"synthetic:{dim}", f"synthetic:{dim}", 10_000
        self.vectors = pool.vectors
        self.row = {t: i for i, t in enumerate(pool.texts)}

    def embed(self, texts: list[str], *, kind: str = "document", progress: bool = False) -> np.ndarray:
        import hashlib

        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            rng = np.random.default_rng(int.from_bytes(hashlib.blake2b(t.encode("utf-8"), digest_size=8).digest(), "little"))
            noise = rng.standard_normal(self.dim).astype(np.float32)
            rows = [self.row[t[a:b]] for a, b in split_sentences(t) if t[a:b] in self.row]
            if rows:
                mean = self.vectors[rows].mean(axis=0)
                out[i] = mean / np.linalg.norm(mean) + NOISE * noise / np.linalg.norm(noise)
            else:
                out[i] = noise
        return out / np.linalg.norm(out, axis=1, keepdims=True)


INC_PARAGRAPHS = 100  # paragraphs (passages) per synthetic document


def _inc_document(pool: SentencePool, rng: np.random.Generator, title: str) -> str:
    """A document of ``INC_PARAGRAPHS`` paragraphs of recombined pool sentences."""
    paras = []
    for k in rng.choice(pool.counts, size=INC_PARAGRAPHS):
        paras.append("".join(pool.texts[j] for j in rng.integers(0, len(pool.texts), size=int(k))))
    return title + "\n\n" + "\n\n".join(paras) + "\n"


def _inc_gen_files(root: Path) -> dict[tuple[int, int], int]:
    """(device, inode) -> size of every file of the current generation."""
    out = {}
    for f in current_generation(root).rglob("*"):
        if f.is_file():
            st = f.stat()
            out[(st.st_dev, st.st_ino)] = st.st_size
    return out


def _child_inc_build(params: dict) -> dict:
    """Write a corpus of ``n`` passages as documents, build it, and stage one day's change."""
    pool = SentencePool.load(Path(params["pool"]))
    rng = np.random.default_rng(SEED)
    seeds, root, staged = Path(params["seeds"]), Path(params["root"]), Path(params["staged"])
    seeds.mkdir(parents=True)
    staged.mkdir(parents=True)
    n_docs = max(3, int(params["n"]) // (INC_PARAGRAPHS + 1))
    t0 = time.perf_counter()
    for d in range(n_docs):
        title = f"{pool.titles[d % len(pool.titles)]}（{d}）"
        (seeds / f"doc-{d:05d}.txt").write_text(_inc_document(pool, rng, title), encoding="utf-8")
    (staged / "doc-new.txt").write_text(_inc_document(pool, rng, "新增文档"), encoding="utf-8")
    changed = (seeds / "doc-00000.txt").read_text(encoding="utf-8")
    (staged / "doc-00000.txt").write_text(changed + "\n" + _inc_document(pool, rng, "补充").split("\n\n", 1)[1],
                                          encoding="utf-8")
    write_s = time.perf_counter() - t0
    emb = _SyntheticEmbedder(pool)
    t0 = time.perf_counter()
    r = build_index(seeds, root, embedder=emb)
    return {"documents": n_docs, "passages": r.passages, "write_files_s": write_s,
            "build_s": time.perf_counter() - t0, "build_peak_rss_mb": _status_mb("VmHWM"), "model": emb.name}


def _child_inc_update(params: dict) -> dict:
    """One update build (full or incremental) of an index after the staged change."""
    root = Path(params["root"])
    before = _inc_gen_files(root)
    emb = _SyntheticEmbedder(SentencePool.load(Path(params["pool"])))
    rss0 = _status_mb("VmRSS")
    t0 = time.perf_counter()
    r = build_index(params["seeds"], root, embedder=emb, full=bool(params["full"]))
    seconds = time.perf_counter() - t0
    after = _inc_gen_files(root)
    written = sum(size for key, size in after.items() if key not in before)
    return {"mode": r.mode, "seconds": seconds, "peak_rss_mb": _status_mb("VmHWM"), "rss_start_mb": rss0,
            "embedded": r.embedded, "reused": r.reused, "passages": r.passages, "segments": r.segments,
            "deleted": r.deleted, "written_mb": written / 2**20, "generation_mb": sum(after.values()) / 2**20}


def _child_inc_compare(params: dict) -> dict:
    """The full and the incremental index side by side: same passages, same top 10?"""
    emb = _SyntheticEmbedder(SentencePool.load(Path(params["pool"])))
    a = load_index(params["full"], embedder=emb, verify=False)
    b = load_index(params["append"], embedder=emb, verify=False)
    ka = Counter(json.dumps(p.to_json(), sort_keys=True, ensure_ascii=False) for p in a.passages)
    kb = Counter(json.dumps(p.to_json(), sort_keys=True, ensure_ascii=False) for p in b.passages)
    same_passages = ka == kb
    del ka, kb
    qs = _questions(QUESTIONS / "dev.jsonl")
    # dense queries near the data: live passages' vectors plus noise, searched in both and exactly
    exact = a.vectors(np.arange(len(a.passages)))
    ids = [p.id for p in a.passages]
    rng = np.random.default_rng(SEED)
    noise = rng.standard_normal((len(qs), exact.shape[1])).astype(np.float32)
    queries = exact[rng.choice(len(ids), len(qs), replace=False)] + 0.5 * noise / np.linalg.norm(noise, axis=1)[:, None]
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    recall = {"full": 0.0, "append": 0.0}
    kw_same = kw_top1 = kw_overlap = 0.0
    kw_dev: list[float] = []  # per question: the largest relative difference of the i-th best scores
    t_kw: dict[str, list[float]] = {"full": [], "append": []}
    t_dn: dict[str, list[float]] = {"full": [], "append": []}
    for q in qs:
        toks_a, toks_b = a.tokenizer.words(q), b.tokenizer.words(q)
        ta, ra = _timed(lambda t=toks_a: a.keyword_search(t, 10))
        tb, rb = _timed(lambda t=toks_b: b.keyword_search(t, 10))
        t_kw["full"].append(ta)
        t_kw["append"].append(tb)
        ia, ib = [a.passages[i].id for i, _ in ra], [b.passages[i].id for i, _ in rb]
        kw_same += ia == ib
        kw_top1 += ia[:1] == ib[:1]
        kw_overlap += len(set(ia) & set(ib)) / max(len(ia), 1)
        sa, sb = [x for _, x in ra], [x for _, x in rb]  # ties are common: compare the scores too
        if len(sa) == len(sb) and sa:
            kw_dev.append(max(abs(x - y) / x for x, y in zip(sa, sb)))
        qv = queries[len(t_dn["full"])]
        ta, da = _timed(lambda v=qv: a.dense_search(v, 10))
        tb, db = _timed(lambda v=qv: b.dense_search(v, 10))
        t_dn["full"].append(ta)
        t_dn["append"].append(tb)
        truth = {ids[j] for j in np.argsort(-(exact @ qv))[:10]}
        recall["full"] += len(truth & {a.passages[i].id for i, _ in da}) / 10
        recall["append"] += len(truth & {b.passages[i].id for i, _ in db}) / 10
    n = max(len(qs), 1)
    return {"same_passages": same_passages, "questions": len(qs), "keyword_top10_identical": kw_same / n,
            "keyword_top1_identical": kw_top1 / n, "keyword_top10_overlap": kw_overlap / n,
            "keyword_score_deviation_p50": float(np.median(kw_dev)) if kw_dev else math.nan,
            "keyword_score_deviation_max": max(kw_dev) if kw_dev else math.nan,
            "dense_recall_at_10": {k: v / n for k, v in recall.items()}, "dense_index": type(a.dense).__name__,
            "keyword_p50_ms": {k: _ms(v)["p50_ms"] for k, v in t_kw.items()},
            "dense_p50_ms": {k: _ms(v)["p50_ms"] for k, v in t_dn.items()}}


def bench_incremental(n: int, pool_path: Path, work: Path) -> dict:
    """A corpus of ``n`` passages gets one day's change (one document added, one changed, one
    removed), then is updated twice from the same state: a full build and an incremental one."""
    base = work / f"inc-{n}"
    seeds, staged, root = base / "seeds", base / "staged", base / "ix"
    out = {"n": n, "initial": _run_child("inc_build", {"n": n, "pool": str(pool_path), "seeds": str(seeds),
                                                         "root": str(root), "staged": str(staged)})}
    copies = {"full": base / "ix-full", "append": base / "ix-append"}
    for path in copies.values():
        shutil.copytree(root, path)
    shutil.rmtree(root)
    for f in staged.iterdir():
        shutil.copyfile(f, seeds / f.name)
    (seeds / "doc-00001.txt").unlink()
    out["change"] = {"added": 1, "changed": 1, "removed": 1, "passages_per_document": INC_PARAGRAPHS}
    for kind, path in copies.items():
        out[kind] = _run_child("inc_update", {"root": str(path), "seeds": str(seeds), "pool": str(pool_path),
                                              "full": kind == "full"})
    out["compare"] = _run_child("inc_compare", {"full": str(copies["full"]), "append": str(copies["append"]),
                                                "pool": str(pool_path)})
    shutil.rmtree(base, ignore_errors=True)
    f, a = out["full"], out["append"]
    out["speedup"] = f["seconds"] / a["seconds"] if a["seconds"] else math.nan
    out["memory_ratio"] = f["peak_rss_mb"] / a["peak_rss_mb"] if a["peak_rss_mb"] else math.nan
    return out
