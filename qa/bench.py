"""Speed and memory benchmark: ``python -m qa bench`` writes the report of docs/benchmarks.md.

Seven sections, medians over ``--repeats`` runs, ratios measured side by side in one process
(the machines are shared and noisy, so ratios matter more than absolute times):

1. index build vs the raw model encoding the same passages, the texts the previous format
   embedded (passages + every sentence), and a batch-size sweep;
2. ``answer()`` latency vs embedding the question alone;
3. cold start: a fresh process to its first answer, its peak memory, and proof that nothing
   was re-embedded; ``qa ask`` in fresh processes, this tree and an earlier commit interleaved;
4. scale: corpora of recombined sentences (the seed, data/wild/docs and the SQuAD-style
   contexts in ../shared/mrc for vocabulary) with synthetic vectors, one subprocess per
   size and phase (build, serve) so memory peaks don't mix;
5. FAISS: exact vs HNSW vs IVF with compressed codes, recall@10 against exact search;
6. vector store: FAISS files vs Milvus (milvus-lite), same answers;
7. incremental update: one day's change to a large index, full vs incremental build;
8. OCR (only when asked for, ``--sections ocr``: minutes of OCR): a few scans of data/scans
   indexed the way ``qa index`` reads them, pages per minute, and a second build of the
   unchanged files, which must not run OCR again.

The subprocesses run ``python -m qa.bench _child MODE PARAMS_JSON`` and print one JSON line.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import importlib.metadata
import io
import json
import math
import os
import platform
import pstats
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from . import config
from .embedding import Embedder, make_embedder
from .index import (
    APPEND_MIN,
    BM25_B,
    BM25_K1,
    COMPRESS_LIMIT,
    FLAT_LIMIT,
    FORMAT_VERSION,
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_SEARCH,
    HNSW_M,
    RECALL_TARGET,
    Index,
    _DocPart,
    _documents_meta,
    _make_faiss,
    _write_generation,
    build_index,
    current_generation,
    faiss_threads,
    load_index,
    passage_embedding_text,
)
from .keyword import KeywordIndex
from .records import Passage
from .retrieval import DEPTH
from .text import Tokenizer, corpus_terms, has_cjk, split_sentences

ROOT = config.PROJECT_ROOT
QUESTIONS = config.PROJECT_ROOT / "data" / "questions"
SEED = 20261129  # corpus generation is deterministic
NOISE = 0.25  # norm of the Gaussian noise added to a synthetic passage vector
PER_DOC = 100  # synthetic passages per synthetic document
RECALL_K = 10
MEMORY_FACTOR = 1.5
TARGETS = {"build_ratio": 0.9, "build_speedup": 3.0, "answer_ratio": 1.5, "answer_ms": 50.0, "load_s": 5.0,
           "reader_answer_ms": 250.0, "store_identical": 0.98}
# The build before sentence vectors were dropped (docs/benchmarks.md of 2026-11-29, commit 87094d7):
# 43 seed passages + 81 sentences sent to the model in batches of 32.
PREVIOUS_BUILD = {"date": "2026-11-29", "build_s": 18.75, "texts": 124, "passages": 43, "batch": 32}
BATCH_SIZES = (8, 16, 32, 64)
VOCAB_SOURCES = (config.PROJECT_ROOT / "data" / "wild" / "docs", config.PROJECT_ROOT.parent / "shared" / "mrc")
TOKENIZE_LIMIT = 100_000  # above, the scale build tokenises each pool sentence once (jieba: ~7 min per 1M)
POOL_EMBEDDED = 512  # sentences of the scale pool embedded by the model; the others borrow their vectors
T = TypeVar("T")


# ------------------------------------------------------------------ small helpers


def parse_sizes(text: str) -> list[int]:
    """``"1k,10k,100k"`` -> ``[1000, 10000, 100000]`` (suffixes k and m; plain numbers too)."""
    out = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", part)
        if not m:
            raise ValueError(f"bad corpus size {part!r}: use numbers like 500, 1k, 10k, 1.5k, 1m")
        n = int(float(m.group(1)) * {"": 1, "k": 1_000, "m": 1_000_000}[m.group(2).lower()])
        if n < 1:
            raise ValueError(f"corpus size must be at least 1, not {part!r}")
        out.append(n)
    return out


def _label(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def _ms(seconds: list[float]) -> dict:
    """p50/p95 in milliseconds of a list of durations in seconds."""
    if not seconds:
        return {"p50_ms": None, "p95_ms": None, "n": 0}
    a = np.asarray(seconds) * 1000.0
    return {"p50_ms": float(np.percentile(a, 50)), "p95_ms": float(np.percentile(a, 95)), "n": len(a)}


def _timed(fn: Callable[[], T]) -> tuple[float, T]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def _status_mb(field: str) -> float:
    """A memory field of /proc/self/status (VmRSS, VmHWM, RssAnon, RssFile) in MiB (Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _reset_peak() -> bool:
    """Reset this process's peak RSS to its current RSS (Linux ``clear_refs`` 5)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _dir_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def _machine() -> dict:
    cpu = ""
    try:
        cpu = next(
            (ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
             if ln.startswith("model name")), ""
        )
    except OSError:
        pass
    versions = {}
    for pkg in ("torch", "sentence-transformers", "faiss-cpu", "numpy", "jieba"):
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = "-"
    return {
        "cpu": cpu or platform.processor(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "versions": versions,
        "loadavg_start": list(os.getloadavg()),
    }


def _questions(path: Path) -> list[str]:
    from .evaluate import load_questions

    return [q.question for q in load_questions(path)]


def _bar(iterable: Iterable, desc: str, total: int | None = None):
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, total=total, unit="it", leave=False, file=sys.stderr)


class QueryCache:
    """An embedder that answers known queries from a cache, to time ``answer()`` without embedding.

    Anything else (documents, unknown queries) goes to the wrapped model and is counted.
    """

    def __init__(self, inner: Embedder, vectors: dict[str, np.ndarray]) -> None:
        self.inner = inner
        self.vectors = vectors
        self.name, self.fingerprint = inner.name, inner.fingerprint
        self.precision = getattr(inner, "precision", "float32")
        self.dim, self.max_chars = inner.dim, inner.max_chars
        self.model_texts = 0

    def embed(self, texts: list[str], *, kind: str = "document", progress: bool = False) -> np.ndarray:
        if kind == "query" and texts and all(t in self.vectors for t in texts):
            return np.stack([self.vectors[t] for t in texts])
        self.model_texts += len(texts)
        return self.inner.embed(texts, kind=kind, progress=progress)


class TimingEmbedder:
    """Wraps an embedder and adds up its calls and seconds per kind (query, document)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name, self.fingerprint = inner.name, inner.fingerprint
        self.precision = getattr(inner, "precision", "float32")
        self.dim, self.max_chars = inner.dim, inner.max_chars
        self.reset()

    def reset(self) -> None:
        self.calls = {"query": 0, "document": 0}
        self.seconds = {"query": 0.0, "document": 0.0}

    def total(self) -> float:
        return sum(self.seconds.values())

    def embed(self, texts: list[str], *, kind: str = "document", progress: bool = False) -> np.ndarray:
        s, out = _timed(lambda: self.inner.embed(texts, kind=kind, progress=progress))
        self.calls[kind] = self.calls.get(kind, 0) + 1
        self.seconds[kind] = self.seconds.get(kind, 0.0) + s
        return out


def _cache_keys(question: str) -> list[str]:
    from .answering import clean_question

    return list(dict.fromkeys([question, clean_question(question)[0]]))


# ------------------------------------------------------------------ 1. build vs raw model


def _build_once(seeds: Path, folder: Path, timing: TimingEmbedder) -> dict:
    timing.reset()
    s, report = _timed(lambda: build_index(seeds, folder, embedder=timing))
    return {"build_s": s, "model_in_build_s": timing.total(), "embedded": report.embedded}


def _with_batch(embedder: Embedder, batch: int | None, fn: Callable[[], T]) -> T:
    """Run ``fn`` with the embedder's batch size set to ``batch`` (when it has one)."""
    inner = getattr(embedder, "inner", embedder)
    before = getattr(inner, "batch_size", None)
    if batch is None or before is None:
        return fn()
    inner.batch_size = batch
    try:
        return fn()
    finally:
        inner.batch_size = before


def bench_build(embedder: Embedder, seeds: Path, work: Path, repeats: int, old: Embedder | None = None) -> dict:
    """Build the seed index from scratch ``repeats`` times, each beside the raw model.

    Beside each build, in the same process: the raw model on the same passages (one
    call), and on what the previous format embedded (passages and every sentence, in
    batches of ``PREVIOUS_BUILD["batch"]``, by ``old``: the same model in float32, as the
    previous format ran it; default ``embedder``).  The order alternates (build first, then raw
    first) so that a drift in machine load doesn't favour one side; the model's own time
    inside each build is timed too.
    """
    runs = []
    ptexts: list[str] = []
    old_texts: list[str] = []
    timing = TimingEmbedder(embedder)
    old = old or embedder

    def raw(run: dict) -> None:
        run["raw_passages_s"] = _timed(lambda: embedder.embed(ptexts, kind="document"))[0]
        run["raw_old_s"] = _with_batch(old, PREVIOUS_BUILD["batch"],
                                       lambda: _timed(lambda: old.embed(old_texts, kind="document"))[0])

    for r in _bar(range(repeats), "1/5 build vs raw model"):
        folder = work / f"build-{r}"
        raw_first = r % 2 == 1 and bool(ptexts)
        run: dict = {}
        if raw_first:
            raw(run)
        run.update(_build_once(seeds, folder, timing))
        if not ptexts:
            built = load_index(folder, embedder=embedder)
            ptexts = [passage_embedding_text(p) for p in built.passages]
            old_texts = ptexts + [s for p in built.passages for s in p.sentence_texts()]
        if not raw_first:
            raw(run)
        shutil.rmtree(folder, ignore_errors=True)
        runs.append(run)
    med = statistics.median
    n_pass = len(ptexts)
    build_s = med(r["build_s"] for r in runs)
    return {
        "passages": n_pass,
        "sentences": len(old_texts) - n_pass,
        "chars": sum(map(len, ptexts)),
        "batch_size": getattr(getattr(embedder, "inner", embedder), "batch_size", None),
        "precision": getattr(embedder, "precision", "float32"),
        "old_precision": getattr(old, "precision", "float32"),
        "build_s": build_s,
        "raw_passages_s": med(r["raw_passages_s"] for r in runs),
        "raw_old_s": med(r["raw_old_s"] for r in runs),
        "model_in_build_s": med(r["model_in_build_s"] for r in runs),
        "build_passages_per_s": n_pass / build_s,
        "raw_passages_per_s": n_pass / med(r["raw_passages_s"] for r in runs),
        "ratio_same_texts": med(r["raw_passages_s"] / r["build_s"] for r in runs),
        "ratio_in_build": med(r["model_in_build_s"] / r["build_s"] for r in runs),
        "speedup_vs_old_texts": med(r["raw_old_s"] / r["build_s"] for r in runs),
        "speedup_vs_previous_report": PREVIOUS_BUILD["build_s"] / build_s,
        "non_embedding_s": med(r["build_s"] - r["model_in_build_s"] for r in runs),
        "seconds_per_passage": med(r["raw_passages_s"] for r in runs) / max(n_pass, 1),
        "runs": runs,
    }


def batch_texts(seeds: Path) -> list[str]:
    """Passage texts of the seeds folder and data/wild/docs, as the build embeds them."""
    from .chunking import ChunkSettings, chunk_document
    from .documents import DocumentError, list_documents, read_document

    texts: list[str] = []
    for folder in (seeds, VOCAB_SOURCES[0]):
        if not folder.is_dir():
            continue
        for path in list_documents(folder):
            try:
                doc = read_document(path, path.relative_to(folder).as_posix())
            except DocumentError:
                continue
            texts += [passage_embedding_text(p) for p in chunk_document(doc, ChunkSettings())]
    return texts


def bench_batches(embedder: Embedder, texts: list[str], repeats: int) -> dict | None:
    """Seconds to embed ``texts`` (longest first, as the build does) per batch size, interleaved."""
    from .index import _embed_texts

    if getattr(embedder, "batch_size", None) is None or not texts:
        return None
    times: dict[int, list[float]] = {b: [] for b in BATCH_SIZES}
    for r in _bar(range(max(1, min(repeats, 2))), "1/5 batch sizes"):
        for b in BATCH_SIZES if r % 2 == 0 else BATCH_SIZES[::-1]:
            times[b].append(_with_batch(embedder, b, lambda b=b: _timed(lambda: _embed_texts(embedder, texts, None, b))[0]))
    secs = {b: statistics.median(t) for b, t in times.items()}
    return {"texts": len(texts), "chars": sum(map(len, texts)), "seconds": {str(b): v for b, v in secs.items()},
            "passages_per_s": {str(b): len(texts) / v for b, v in secs.items()},
            "best": min(secs, key=secs.__getitem__), "runs": {str(b): t for b, t in times.items()}}


# ------------------------------------------------------------------ 2. answer() vs question embedding


_PROFILED = [
    ("retrieval.py", "retrieve", "retrieve (dense + BM25 + fusion, question embedded before)"),
    ("query.py", "analyse", "analyse the question (tokens, IDF, type, literals)"),
    ("reader/windows.py", "make_windows", "reader: tokenise question + passages into windows"),
    ("reader/model.py", "logits", "reader: model forward passes (the top passage, then the others unless it stops there)"),
]


def _profile_answers(index: Index, timing: TimingEmbedder, questions: list[str]) -> dict:
    """One profiled pass: where ``answer()`` spends its time (profiler overhead included)."""
    from .answering import answer

    timing.reset()
    prof = cProfile.Profile()
    prof.enable()
    for q in questions:
        answer(q, index=index)
    prof.disable()
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    total = sum(v[3] for k, v in stats.items() if k[0].endswith("answering.py") and k[2] == "answer")
    n = max(len(questions), 1)
    stages = [
        ("question embedding (model)", timing.calls["query"], timing.seconds["query"]),
    ]
    for suffix, func, label in _PROFILED:
        calls = cum = 0.0
        for (file, _, name), v in stats.items():
            if file.endswith(suffix) and name == func and "/qa/" in file.replace(os.sep, "/"):
                calls, cum = calls + v[1], cum + v[3]
        stages.append((label, int(calls), cum))
    rest = total - sum(s for _, _, s in stages)
    stages.append(("everything else in answer() (span ranking, checks, citations)", n, rest))
    return {"total_s": total, "stages": [
        {"stage": label, "calls": int(calls), "ms_per_answer": 1000 * sec / n, "share": sec / total if total else 0.0}
        for label, calls, sec in stages
    ]}


def bench_answer(index: Index, embedder: Embedder, timing: TimingEmbedder, questions: list[str], repeats: int) -> dict:
    """``answer()`` and the question's embedding alone, interleaved question by question.

    ``index`` answers through ``timing`` (wrapping ``embedder``), which the profiled pass reads.
    """
    from .answering import answer

    for q in questions[:3]:
        answer(q, index=index)
    t_ans: list[float] = []
    t_emb: list[float] = []
    zh: list[bool] = []
    found = 0
    for _ in _bar(range(repeats), "2/5 answer() vs embedding"):
        for q in questions:
            s, a = _timed(lambda q=q: answer(q, index=index))
            t_ans.append(s)
            found += bool(getattr(a, "found", False))
            t_emb.append(_timed(lambda q=q: embedder.embed([q], kind="query"))[0])
            zh.append(has_cjk(q))
    ans, emb = _ms(t_ans), _ms(t_emb)
    by_lang = {}
    for lang, flag in (("zh", True), ("en", False)):
        pairs = [(a, e) for a, e, z in zip(t_ans, t_emb, zh) if z == flag]
        by_lang[lang] = {"answer": _ms([a for a, _ in pairs]), "embed": _ms([e for _, e in pairs])}
    return {
        "questions": len(questions),
        "answer": ans,
        "embed": emb,
        "ratio_p50": ans["p50_ms"] / emb["p50_ms"],
        "ratio_paired_median": statistics.median(a / e for a, e in zip(t_ans, t_emb)),
        "non_embedding_p50_ms": statistics.median(1000 * (a - e) for a, e in zip(t_ans, t_emb)),
        "by_language": by_lang,
        "found_share": found / max(len(t_ans), 1),
        "profile": _profile_answers(index, timing, questions),
        "torch_threads": _torch_threads(embedder, questions),
    }


def bench_readers(index: Index, questions: list[str], readers: dict[str, object], repeats: int) -> dict:
    """``answer()`` with each reader (name -> :class:`qa.reader.Reader`), interleaved question by
    question in one process, so that a retrained reader's cost (its passages read, its early
    exit) is compared with another's on the same machine at the same moment.  Each reader
    answers with its own ``answering`` settings; ``ratio_p50`` is each p50 over the first's."""
    from .answering import answer

    for r in readers.values():  # loads (a reader that can't load raises ReaderError here), and warms
        getattr(r, "loaded", None)
        for q in questions[:3]:
            answer(q, index=index, reader=r)
    times: dict[str, list[float]] = {name: [] for name in readers}
    found = dict.fromkeys(readers, 0)
    order = list(readers.items())
    for _ in _bar(range(repeats), "2/5 answer() per reader"):
        for q in questions:
            order.reverse()  # neither reader always goes first
            for name, r in order:
                s, a = _timed(lambda q=q, r=r: answer(q, index=index, reader=r))
                times[name].append(s)
                found[name] += bool(getattr(a, "found", False))
    stats = {name: _ms(t) for name, t in times.items()}
    base = next(iter(stats.values()))["p50_ms"]
    return {
        "questions": len(questions),
        "readers": {
            name: {**x, "ratio_p50": x["p50_ms"] / base if base else float("nan"),
                   "found_share": found[name] / max(x["n"], 1)}
            for name, x in stats.items()
        },
    }


def _torch_threads(embedder: Embedder, questions: list[str]) -> dict | None:
    """The question embedding on torch's default thread count and on one thread, interleaved."""
    if "torch" not in sys.modules:
        return None
    import torch

    default = torch.get_num_threads()
    times: dict[int, list[float]] = {default: [], 1: []}
    try:
        for q in questions:
            for n in times:
                torch.set_num_threads(n)
                times[n].append(_timed(lambda q=q: embedder.embed([q], kind="query"))[0])
    finally:
        torch.set_num_threads(default)
    return {"default_threads": default, "default": _ms(times[default]), "one": _ms(times[1])}


# ------------------------------------------------------------------ 3. cold start

_COLD = r"""
import json, sys, time
t0 = float(sys.argv[1]); marks = {"interpreter_s": time.time() - t0}
import qa.answering as qa_answer
from qa import embedding
marks["import_s"] = time.time() - t0
counts = {"query": 0, "document": 0, "build_index": 0}
def counting(fn):
    def embed(self, texts, *, kind="document", progress=False):
        counts[kind] += len(texts)
        return fn(self, texts, kind=kind, progress=progress)
    return embed
for cls in (embedding.SentenceTransformerEmbedder, embedding.HashingEmbedder):
    cls.embed = counting(cls.embed)
real_build = qa_answer.build_index
def build(*a, **k):
    counts["build_index"] += 1
    return real_build(*a, **k)
qa_answer.build_index = build
idx = qa_answer.default_index()
marks["index_loaded_s"] = time.time() - t0
idx.embedder.dim  # loads the model (answer() would load it on first use)
marks["model_loaded_s"] = time.time() - t0
qa_answer.default_reader().loaded  # the reader, timed apart too
marks["reader_loaded_s"] = time.time() - t0
a = qa_answer.answer(sys.argv[2])
marks["first_answer_s"] = time.time() - t0
import resource
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
first = dict(counts)  # the second answer below is only timed
t = time.perf_counter(); qa_answer.answer(sys.argv[2]); marks["second_answer_s"] = time.perf_counter() - t
print(json.dumps({"marks": marks, "counts": first, "found": a.found, "text": a.text, "peak_rss_mb": peak_mb,
                  "generation": idx.folder.name}, ensure_ascii=False))
"""
# The commit before one e5 encoder per process (issue 22): `qa ask` there is the "before" of the
# cold-start comparison. QA_BENCH_BASELINE names another commit; "" skips the comparison.
COLD_BASELINE = "870c46bef8d1f35237d0f0697ab40be9a7eadcaf"


def _child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", **extra)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


def _generation_state(index_dir: Path) -> tuple[str, float]:
    gen = current_generation(index_dir)
    return gen.name, (gen / "meta.json").stat().st_mtime


def bench_cold_start(index_dir: Path, seeds: Path, question: str, model: str, repeats: int) -> dict:
    """Fresh processes from interpreter start to the first answer, with an already built index."""
    before = _generation_state(index_dir)
    env = _child_env(QA_INDEX=str(index_dir), QA_SEEDS=str(seeds), QA_MODEL=model)
    runs = []
    for _ in _bar(range(repeats), "3/5 cold start"):
        t0 = time.time()
        out = subprocess.run([sys.executable, "-c", _COLD, repr(t0), question], env=env,
                             capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"cold-start child failed ({out.returncode}): {out.stderr[-2000:]}")
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    after = _generation_state(index_dir)
    med = statistics.median
    marks = {k: med(r["marks"][k] for r in runs) for k in runs[0]["marks"]}
    return {
        "runs": len(runs),
        "marks": marks,
        "peak_rss_mb": med(r["peak_rss_mb"] for r in runs),
        "document_texts_embedded": max(r["counts"]["document"] for r in runs),
        "query_texts_embedded": max(r["counts"]["query"] for r in runs),
        "build_index_calls": max(r["counts"]["build_index"] for r in runs),
        "generation_before": before[0],
        "generation_after": after[0],
        "generation_unchanged": before == after and all(r["generation"] == before[0] for r in runs),
        "answer": {"found": runs[0]["found"], "text": runs[0]["text"]},
    }


def _baseline_tree(ref: str, dest: Path) -> Path:
    """The ``qa`` package of commit ``ref``, extracted under ``dest`` (a PYTHONPATH entry)."""
    out = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref, "qa"],
                         capture_output=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"git archive {ref}: {out.stderr.decode(errors='replace').strip()[-300:]}")
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(out.stdout)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def _ask_once(env: dict[str, str], cwd: Path, index: Path, question: str, work: Path) -> dict:
    """One ``python -m qa ask`` in a fresh process: wall time to exit, its own peak RSS, what it printed."""
    out_path, err_path = work / "ask.out", work / "ask.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "qa", "ask", "--index", str(index), question],
                                env=env, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage, not all children's
        wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    stdout = out_path.read_text(encoding="utf-8", errors="replace")
    stderr = err_path.read_text(encoding="utf-8", errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"qa ask failed ({proc.returncode}): {stderr[-2000:]}")
    return {"wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024.0, "stderr_chars": len(stderr),
            "stderr_head": stderr.strip().replace("\r", "\n").split("\n")[0][:80] if stderr.strip() else "",
            "answer": stdout.splitlines()[0] if stdout else ""}


def bench_ask_cold(index_dir: Path, seeds: Path, question: str, model: str, pairs: int, work: Path,
                   baseline: str | None = None) -> dict:
    """``qa ask`` cold, this tree vs commit ``baseline``, in pairs of fresh processes run back to back
    (the order alternating), so that a shared machine's load hits both alike: medians and the
    median of the pairs' ratios.  The baseline builds its own index of ``seeds`` with its own code."""
    ref = COLD_BASELINE if baseline is None else baseline
    if not ref:
        return {"skipped": "no baseline commit (QA_BENCH_BASELINE is empty)"}
    seeds, index_dir, work = seeds.resolve(), index_dir.resolve(), work.resolve()  # the children run elsewhere
    work.mkdir(parents=True, exist_ok=True)
    try:
        old_root = _baseline_tree(ref, work / "baseline")
    except (OSError, RuntimeError, tarfile.TarError) as exc:
        return {"skipped": f"baseline {ref[:12]} unavailable: {exc}"}
    # `python -m` puts the working directory first on sys.path: each side runs from its own tree
    sides = {"before": _child_env(QA_MODEL=model), "after": _child_env(QA_MODEL=model)}
    sides["before"]["PYTHONPATH"] = os.pathsep.join([str(old_root), sides["before"]["PYTHONPATH"]])
    cwds = {"before": old_root, "after": ROOT}
    code, why = {}, {}
    for side in sides:
        where = subprocess.run([sys.executable, "-c", "import qa; print(qa.__file__)"], env=sides[side],
                               cwd=cwds[side], capture_output=True, text=True, check=False)
        code[side], why[side] = where.stdout.strip(), where.stderr.strip()[-300:]
    if not code["before"] or not Path(code["before"]).resolve().is_relative_to(old_root.resolve()):
        return {"skipped": f"the baseline's child did not import its own qa: {code['before'] or why['before']!r}"}
    old_index = work / "baseline-index"
    built = subprocess.run([sys.executable, "-m", "qa", "index", "--seeds", str(seeds), "--index", str(old_index)],
                           env=sides["before"], cwd=old_root, capture_output=True, text=True, check=False)
    if built.returncode != 0:
        return {"skipped": f"baseline {ref[:12]} could not index {seeds}: {built.stderr.strip()[-300:]}"}
    indexes = {"before": old_index, "after": index_dir}
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    for i in _bar(range(pairs), "3/5 qa ask, before/after"):
        for side in ("before", "after") if i % 2 == 0 else ("after", "before"):
            runs[side].append(_ask_once(sides[side], cwds[side], indexes[side], question, work))
    med = statistics.median
    out: dict = {"baseline": ref, "pairs": pairs, "question": question}
    for side, rs in runs.items():
        out[side] = {"code": code[side], "wall_s": med(r["wall_s"] for r in rs),
                     "peak_rss_mb": med(r["peak_rss_mb"] for r in rs),
                     "stderr_chars": max(r["stderr_chars"] for r in rs),
                     "stderr_head": next((r["stderr_head"] for r in rs if r["stderr_head"]), ""),
                     "answer": rs[0]["answer"], "runs": rs}
    for key in ("wall_s", "peak_rss_mb"):
        out[f"{key}_ratio"] = med(a[key] / b[key] for a, b in zip(runs["after"], runs["before"], strict=True))
    return out


# ------------------------------------------------------------------ 4. synthetic corpora


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
    from .chunking import ChunkSettings, chunk_document
    from .documents import DocumentError, list_documents, read_document

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
    from . import index as index_module

    made: dict = {}

    def timed_make(vectors: np.ndarray, **kw):  # the index the build writes, timed and kept for section 5
        made["build_s"], (made["index"], made["info"]) = _timed(lambda: _make_faiss(vectors, **kw))
        return made["index"], made["info"]

    t0 = time.perf_counter()
    index_module._make_faiss = timed_make
    try:
        _write_generation(root, meta, passages, pvecs, keyword, words, None, compress_limit=compress_limit)
    finally:
        index_module._make_faiss = _make_faiss
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

    from .index import _make_ivf

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
    from .answering import answer, default_reader
    from .retrieval import retrieve

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


WILD = config.PROJECT_ROOT / "data" / "wild"
SECTIONS = ("build", "answer", "cold_start", "scale", "store", "incremental")  # run by default
OPTIONAL_SECTIONS = ("ocr",)  # run only when --sections names them


def bench_store(seeds: Path, embedder: Embedder, work: Path) -> dict:
    """FAISS files against Milvus (an embedded milvus-lite file) over the same vectors.

    The corpus is the seed plus ``data/wild/docs``; the questions are every question of the
    project's sets (seed and wild, dev and test: the backends are compared with each other,
    not with the gold answers).  Both indexes are answered with the same reader.
    """
    from .answering import answer
    from .documents import list_documents
    from .vectorstore import close_clients

    corpus = work / "store-seeds"
    corpus.mkdir()
    for p in list_documents(seeds) + sorted((WILD / "docs").iterdir()):
        if p.is_file():
            shutil.copy(p, corpus / p.name)
    faiss_dir, milvus_dir = work / "store-faiss", work / "store-milvus"
    build_index(corpus, faiss_dir, embedder=embedder)
    shutil.copytree(faiss_dir, milvus_dir)  # the Milvus build below reuses every vector
    move_s, rep = _timed(lambda: build_index(corpus, milvus_dir, embedder=embedder, store=str(work / "store.db")))
    load_f, fa = _timed(lambda: load_index(faiss_dir, embedder=embedder))
    load_m, mv = _timed(lambda: load_index(milvus_dir, embedder=embedder))
    sets = (QUESTIONS / "dev.jsonl", QUESTIONS / "test.jsonl", WILD / "dev.jsonl", WILD / "test.jsonl")
    questions = [q for path in sets for q in _questions(path)]
    same_answer = same_hits = 0
    t_df, t_dm, t_af, t_am = [], [], [], []
    differ: list[dict] = []
    for q in _bar(questions, "store: faiss vs milvus"):
        qv = embedder.embed([q], kind="query")[0]
        s1, h1 = _timed(lambda qv=qv: fa.dense_search(qv, DEPTH))
        s2, h2 = _timed(lambda qv=qv: mv.dense_search(qv, DEPTH))
        t_df.append(s1)
        t_dm.append(s2)
        same_hits += _same_ranking(h1, h2)  # the same passages and scores, up to ties at the cut
        s1, a1 = _timed(lambda q=q: answer(q, index=fa))
        s2, a2 = _timed(lambda q=q: answer(q, index=mv))
        t_af.append(s1)
        t_am.append(s2)
        key1 = (a1.found, a1.text, a1.citations[0].start if a1.citations else None)
        key2 = (a2.found, a2.text, a2.citations[0].start if a2.citations else None)
        same_answer += key1 == key2
        if key1 != key2 and len(differ) < 10:
            differ.append({"question": q, "faiss": a1.text if a1.found else "(not found)",
                           "milvus": a2.text if a2.found else "(not found)"})
    n = max(len(questions), 1)
    out = {
        "documents": rep.documents,
        "passages": rep.passages,
        "questions": len(questions),
        "identical_answers": same_answer / n,
        "identical_top_hits": same_hits / n,
        "move_s": move_s,
        "load_faiss_s": load_f,
        "load_milvus_s": load_m,
        "dense_faiss": _ms(t_df),
        "dense_milvus": _ms(t_dm),
        "answer_faiss": _ms(t_af),
        "answer_milvus": _ms(t_am),
        "milvus": mv.meta["dense"],
        "differences": differ,
    }
    close_clients()
    return out


def _run_child(mode: str, params: dict) -> dict:
    out = subprocess.run([sys.executable, "-m", "qa.bench", "_child", mode, json.dumps(params)],
                         env=_child_env(), stdout=subprocess.PIPE, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"bench child {mode} failed with exit code {out.returncode} (see its stderr above)")
    return json.loads(out.stdout.strip().splitlines()[-1])


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


# ------------------------------------------------------------------ report


def _f(x: float | None, nd: int = 1) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:,.{nd}f}"


def _targets(r: dict) -> list[tuple[str, str, str, bool | None]]:
    out: list[tuple[str, str, str, bool | None]] = []
    inc = r.get("incremental")
    if inc and inc["n"] < APPEND_MIN:
        out.append((f"7. an incremental update at {_label(inc['n'])} rewrites nothing unchanged",
                    "new segment only; same live passages as a full build",
                    f"not applicable: below {APPEND_MIN:,} live passages every update is a full merge, by design "
                    "(run `--sections incremental --sizes 1m`: docs/benchmarks-incremental.md)", None))
    elif inc:
        a = inc["append"]
        out.append((f"7. an incremental update at {_label(inc['n'])} rewrites nothing unchanged",
                    "new segment only; same live passages as a full build",
                    f"{_f(a['written_mb'], 1)} of {_f(a['generation_mb'], 0)} MiB written, "
                    f"{_f(inc['speedup'], 0)}x faster and {_f(inc['memory_ratio'], 1)}x less memory than full",
                    a["written_mb"] <= 0.05 * a["generation_mb"] and inc["compare"]["same_passages"]))
    b, a, c = r.get("build"), r.get("answer"), r.get("cold_start")
    if b:
        _build_targets(b, out)
    if a:
        ratio = _answer_ratio(a)
        out.append(("2. answer() p50 / question embedding p50", f"≤ {TARGETS['answer_ratio']}×",
                    f"{_f(ratio, 2)}× = 1 + {_f(a['non_embedding_p50_ms'])} ms / {_f(a['embed']['p50_ms'])} ms "
                    f"(raw p50s: {_f(a['ratio_p50'], 2)}×; paired ratios: {_f(a['ratio_paired_median'], 2)}×)",
                    ratio <= TARGETS["answer_ratio"]))
        p50 = a["answer"]["p50_ms"]
        out.append(("2. answer() p50 with the reader, seed index", f"≤ {TARGETS['reader_answer_ms']:.0f} ms",
                    f"{_f(p50)} ms", p50 <= TARGETS["reader_answer_ms"]))
    if c:
        ok = c["document_texts_embedded"] == 0 and c["build_index_calls"] == 0 and c["generation_unchanged"]
        out.append(("3. cold start re-embeds nothing", "0 texts", f"{c['document_texts_embedded']} texts, "
                    f"{c['build_index_calls']} builds, generation unchanged: {c['generation_unchanged']}", ok))
        k = c.get("ask") or {}
        if "wall_s_ratio" in k:
            out.append((f"3. `qa ask` cold vs `{k['baseline'][:7]}`: time, peak RSS, stderr",
                        "less time and memory, nothing on stderr",
                        f"{_f(k['wall_s_ratio'], 2)}× the time, {_f(k['peak_rss_mb_ratio'], 2)}× the peak RSS, "
                        f"{k['after']['stderr_chars']} characters on stderr",
                        k["wall_s_ratio"] < 1 and k["peak_rss_mb_ratio"] < 1 and k["after"]["stderr_chars"] == 0))
    _scale_targets(r, out)
    st = r.get("store")
    if st:
        out.append(("6. Milvus (milvus-lite) answers identical to FAISS", f"≥ {TARGETS['store_identical']:.0%}",
                    f"{_f(100 * st['identical_answers'], 1)}% of {st['questions']} questions",
                    st["identical_answers"] >= TARGETS["store_identical"]))
    return out


def _build_targets(b: dict, out: list) -> None:
    out.append(("1. build throughput / raw model encoding the passages alone", f"≥ {TARGETS['build_ratio']}",
            f"{_f(b['ratio_same_texts'], 2)} side by side; {_f(b['ratio_in_build'], 2)} model share inside the build",
            b["ratio_same_texts"] >= TARGETS["build_ratio"]))
    out.append(("1. build speed-up over the previous format (passages + sentences)", f"≥ {TARGETS['build_speedup']:.0f}×",
            f"{_f(b['speedup_vs_old_texts'], 2)}× side by side (the model on the old texts / this build); "
            f"{_f(b['speedup_vs_previous_report'], 2)}× against the {PREVIOUS_BUILD['date']} report's "
            f"{PREVIOUS_BUILD['build_s']} s", b["speedup_vs_old_texts"] >= TARGETS["build_speedup"]))


def _scale_targets(r: dict, out: list) -> None:
    if r.get("scale"):
        s = r["scale"][-1]
        p50 = s["serve"]["answer_excl_embedding"]["p50_ms"]
        out.append((f"4. answer() p50 at {_label(s['n'])} excl. question embedding",
                    f"≤ {TARGETS['answer_ms']:.0f} ms", f"{_f(p50)} ms", p50 <= TARGETS["answer_ms"]))
        load = s["serve"]["load_s"]
        out.append((f"4. load_index at {_label(s['n'])}", f"≤ {TARGETS['load_s']:.0f} s", f"{_f(load, 2)} s",
                    load <= TARGETS["load_s"]))
        anon = s["serve"]["index_anon_mb"] / s["dense_mb"]
        out.append((f"4. index memory at {_label(s['n'])} / the FAISS index's bytes", f"≤ {MEMORY_FACTOR}×",
                    f"{_f(s['memory_ratio'], 2)}× peak RSS ({_f(s['index_memory_mb'], 0)} MiB for "
                    f"{_f(s['dense_mb'], 0)} MiB of {s['serve']['faiss_type']}), of which heap alone {_f(anon, 2)}×; "
                    "the models beside, loaded before it", s["memory_ratio"] <= MEMORY_FACTOR))
        if "retrieve" in s["serve"]:
            out.append((f"4. retrieval p50 at {_label(s['n'])} (the part of answer() that grows with the corpus)",
                        "reported", f"{_f(s['serve']['retrieve']['p50_ms'])} ms", None))
        v = s["serve"]
        if "rss_reader_mb" in v:
            models = v["rss_reader_mb"] - v["rss_start_mb"]
            total = v["serve_peak_rss_mb"] / (s["dense_mb"] + models)
            out.append((f"4. serving memory at {_label(s['n'])} / (the FAISS index + the models)", f"≤ {MEMORY_FACTOR}×",
                        f"{_f(total, 2)}× ({_f(v['serve_peak_rss_mb'], 0)} MiB peak RSS for {_f(s['dense_mb'], 0)} "
                        f"MiB of vectors and {_f(models, 0)} MiB of embedder and reader)", total <= MEMORY_FACTOR))
        fa = s["faiss"]
        if "ivf" in fa:
            rec = fa["ivf"]["recall_at_10"]["tie_aware"]
            out.append((f"5. IVF recall@10 vs exact at {_label(s['n'])} (real questions, nprobe {fa['ivf']['nprobe']})",
                        f"≥ {RECALL_TARGET}", _f(rec, 3), rec >= RECALL_TARGET))
        if "hnsw" in fa:
            out.append((f"5. HNSW recall@10 vs exact at {_label(s['n'])}", "reported",
                        _f(fa["hnsw"]["recall_at_10"]["tie_aware"], 3), None))


def _answer_ratio(a: dict) -> float:
    """``answer()`` over the question embedding: 1 + (its non-model time) / (the embedding), both p50.

    The non-model time is the median of ``answer() - embedding`` measured back to back, which
    stays put when a busy machine makes single embeddings bimodal (fast, or hundreds of ms);
    the ratio of the raw p50s then swings either way.
    """
    return 1.0 + a["non_embedding_p50_ms"] / a["embed"]["p50_ms"]


def format_report(r: dict) -> str:
    """The markdown report."""
    m = r["machine"]
    L: list[str] = []
    add = L.append
    add("# Benchmarks\n")
    secs = r.get("sections") or list(SECTIONS)
    only = "" if list(secs) == list(SECTIONS) else f" --sections {','.join(secs)}"
    add(f"Generated by `python -m qa bench --sizes {r.get('sizes_arg') or r['sizes']} --repeats {r['repeats']}{only}` on "
        f"{r['date']}. Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
        + f". Model: `{r['model']}`. Load average at start/end: {_f(m['loadavg_start'][0], 2)} / "
        f"{_f(m['loadavg_end'][0], 2)} (the machine is shared: ratios measured side by side are the "
        "figures to trust; absolute times vary from run to run). The full data is in the JSON report.\n")
    add("## Targets\n")
    add("| target | goal | measured | met |")
    add("|---|---|---|---|")
    for name, goal, got, ok in _targets(r):
        add(f"| {name} | {goal} | {got} | {'yes' if ok else 'no' if ok is not None else '–'} |")
    add("")
    if r.get("build"):
        _build_section(r, add)
    if r.get("answer"):
        _answer_section(r, add)
    if r.get("cold_start"):
        _cold_section(r, add)
    if r.get("scale"):
        _scale_sections(r, add)
    if r.get("store"):
        _store_section(r, add)
    if r.get("incremental"):
        _incremental_section(r, add)
    if r.get("ocr"):
        _ocr_section(r, add)
    _method_notes(r, add)
    return "\n".join(L) + "\n"


def _build_section(r: dict, add: Callable[[str], None]) -> None:
    b = r["build"]
    add("## 1. Index build vs the raw model\n")
    add(f"The seed ({b['passages']} passages, {_f(b['chars'], 0)} characters) indexed from scratch, "
        f"median of {len(b['runs'])} builds, batches of {b['batch_size']} texts. Beside each build, in the "
        "same process (before the build on odd runs, after it on even ones): the raw model "
        "(`embedder.embed`) encoding the same passages in one call, and encoding what the previous "
        f"index format embedded: every passage **and every sentence** ({b['passages'] + b['sentences']} "
        f"texts), in its batches of {PREVIOUS_BUILD['batch']}. The model's own time inside each build is "
        "timed as well. A build now embeds passages only: the reader picks the sentence and span from "
        f"the text. The build and the raw model on the same passages compute in {b.get('precision', 'float32')} "
        "(`QA_PRECISION`, auto: bfloat16 where the CPU has it natively); the previous format's texts are "
        f"encoded in {b.get('old_precision', 'float32')}, as that format's build ran.\n")
    add("| | seconds | passages/s |")
    add("|---|---|---|")
    add(f"| `build_index` (read, chunk, embed passages, BM25, write) | {_f(b['build_s'], 2)} | "
        f"{_f(b['build_passages_per_s'], 1)} |")
    add(f"| raw model, same passages | {_f(b['raw_passages_s'], 2)} | {_f(b['raw_passages_per_s'], 1)} |")
    add(f"| raw model, the previous format's texts (passages + sentences, batch {PREVIOUS_BUILD['batch']}) | "
        f"{_f(b['raw_old_s'], 2)} | {_f(b['passages'] / b['raw_old_s'], 1)} |")
    add(f"| the model's time inside `build_index` | {_f(b['model_in_build_s'], 2)} | – |")
    add(f"| previous `build_index` ({PREVIOUS_BUILD['date']} report, another load on the machine) | "
        f"{_f(PREVIOUS_BUILD['build_s'], 2)} | {_f(PREVIOUS_BUILD['passages'] / PREVIOUS_BUILD['build_s'], 1)} |")
    add("")
    add(f"- Build over the raw model on the same passages (paired median): **{_f(b['ratio_same_texts'], 3)}** "
        f"(target ≥ {TARGETS['build_ratio']}). Inside the build, the model takes "
        f"{_f(100 * b['ratio_in_build'], 1)}% of the time and everything else (reading, chunking, jieba, "
        f"BM25, writing, checksums) {_f(b['non_embedding_s'], 2)} s per build.")
    add(f"- Speed-up over the previous format, side by side: **{_f(b['speedup_vs_old_texts'], 2)}×** "
        f"(target ≥ {TARGETS['build_speedup']:.0f}×); against the previous report's build time "
        f"{_f(b['speedup_vs_previous_report'], 2)}× (different machine load: the side-by-side figure is "
        "the one to trust).")
    add(f"- Model time: {_f(b['seconds_per_passage'] * 1000, 0)} ms per passage, the basis of the "
        "embedding estimates for the scale corpora below.\n")
    bt = r.get("batches")
    if bt:
        add(f"Batch size: the seed and `data/wild/docs` ({bt['texts']} passages, {_f(bt['chars'], 0)} "
            "characters) embedded longest first, as the build does, one pass per size, interleaved "
            "(medians):\n")
        add("| batch | " + " | ".join(bt["seconds"]) + " |")
        add("|---|" + "---|" * len(bt["seconds"]))
        add("| seconds | " + " | ".join(_f(v, 2) for v in bt["seconds"].values()) + " |")
        add("| passages/s | " + " | ".join(_f(v, 2) for v in bt["passages_per_s"].values()) + " |")
        add(f"\nFastest here: {bt['best']} (the build uses {b['batch_size']}).\n")


def _answer_section(r: dict, add: Callable[[str], None]) -> None:
    a = r["answer"]
    add("## 2. `answer()` latency on the seed index\n")
    add(f"{a['questions']} questions of `data/questions/dev.jsonl` × {r['repeats']} passes; each "
        "`answer()` is followed by the model embedding the same question alone.\n")
    add("| | p50 ms | p95 ms |")
    add("|---|---|---|")
    add(f"| `answer()` | {_f(a['answer']['p50_ms'])} | {_f(a['answer']['p95_ms'])} |")
    add(f"| question embedding alone | {_f(a['embed']['p50_ms'])} | {_f(a['embed']['p95_ms'])} |")
    for lang, name in (("zh", "Chinese"), ("en", "English")):
        x = a["by_language"][lang]
        if x["answer"]["n"]:
            add(f"| `answer()`, {name} questions only ({x['answer']['n']}) | {_f(x['answer']['p50_ms'])} | "
                f"{_f(x['answer']['p95_ms'])} |")
            add(f"| embedding alone, {name} questions only | {_f(x['embed']['p50_ms'])} | {_f(x['embed']['p95_ms'])} |")
    tt = a.get("torch_threads")
    if tt:
        add(f"| question embedding, torch on {tt['default_threads']} threads (default; one pass) | "
            f"{_f(tt['default']['p50_ms'])} | {_f(tt['default']['p95_ms'])} |")
        add(f"| question embedding, torch on 1 thread (same pass, interleaved) | {_f(tt['one']['p50_ms'])} | "
            f"{_f(tt['one']['p95_ms'])} |")
    add("")
    add(f"- `answer()` minus the embedding, per question: {_f(a['non_embedding_p50_ms'])} ms (p50), so "
        f"`answer()` ≈ embedding + that: **{_f(_answer_ratio(a), 2)}×** the question embedding's p50 "
        f"(target ≤ {TARGETS['answer_ratio']}×). The ratio of the two raw p50s is {_f(a['ratio_p50'], 2)}× "
        f"and the median of the per-question ratios {_f(a['ratio_paired_median'], 2)}×: on a busy "
        "machine torch's two threads make single embeddings bimodal (fast, or hundreds of ms), which "
        "moves those two either way, while the difference stays put.")
    add(f"- Found an answer for {_f(100 * a['found_share'], 0)}% of the runs.\n")
    rd = a.get("readers")
    if rd:
        add(f"Readers side by side (`--baseline-reader`): `answer()` with each, the same {rd['questions']} "
            f"questions × {r['repeats']} passes, interleaved question by question, each with its own settings:\n")
        add("| reader | p50 ms | p95 ms | × the first's p50 | found |")
        add("|---|---|---|---|---|")
        for name, x in rd["readers"].items():
            add(f"| {name} | {_f(x['p50_ms'])} | {_f(x['p95_ms'])} | {_f(x['ratio_p50'], 2)} | "
                f"{_f(100 * x['found_share'], 0)}% |")
        add("")
    add("Where the time goes (one more pass under cProfile, which inflates Python-heavy stages; "
        "model time measured by a timing wrapper around the embedder):\n")
    add("| stage | calls | ms per answer | share |")
    add("|---|---|---|---|")
    for s in a["profile"]["stages"]:
        add(f"| {s['stage']} | {s['calls']} | {_f(s['ms_per_answer'])} | {_f(100 * s['share'], 0)}% |")
    add("")


def _cold_section(r: dict, add: Callable[[str], None]) -> None:
    c = r["cold_start"]
    add("## 3. Cold start\n")
    mk = c["marks"]
    add(f"A fresh `python -c \"from qa import answer; …; answer(q)\"` with the index already built "
        f"(`QA_INDEX`, `QA_SEEDS` set), median of {c['runs']} processes, seconds since the parent "
        "started the process (warm OS file cache):\n")
    add("| interpreter up | `import qa` | index loaded (`default_index`) | embedder loaded | reader loaded "
        "| first answer | next answer (its own time) | peak RSS MiB (to the first answer) |")
    add("|---|---|---|---|---|---|---|---|")
    add(f"| {_f(mk['interpreter_s'], 2)} | {_f(mk['import_s'], 2)} | {_f(mk['index_loaded_s'], 2)} | "
        f"{_f(mk['model_loaded_s'], 2)} | {_f(mk.get('reader_loaded_s'), 2)} | **{_f(mk['first_answer_s'], 2)}** | "
        f"{_f(mk['second_answer_s'], 3)} | {_f(c.get('peak_rss_mb'), 0)} |")
    add("")
    add(f"Proof that nothing was re-embedded: the child counted the texts sent to the model by kind "
        f"(documents: **{c['document_texts_embedded']}**, queries: {c['query_texts_embedded']}), "
        f"`build_index` was called {c['build_index_calls']} times, and the index generation is the same "
        f"before and after (`{c['generation_before']}` → `{c['generation_after']}`, meta.json untouched: "
        f"{c['generation_unchanged']}). First answer: {c['answer']['text']!r}. The models are loaded once "
        "per process, on first use (here touched explicitly to time them apart).\n")
    if c.get("ask"):
        _ask_section(c["ask"], add)


def _ask_section(k: dict, add: Callable[[str], None]) -> None:
    if "skipped" in k:
        add(f"`qa ask` before/after: skipped ({k['skipped']}).\n")
        return
    ref = k["baseline"][:7]
    what = (" (before: each model loaded on its own, the reader reading the whole base model)"
            if k["baseline"] == COLD_BASELINE else "")
    add(f"`qa ask QUESTION` in a fresh process, this tree (after) and commit `{ref}`{what}, "
        f"{k['pairs']} pairs run back to back "
        "in alternating order; wall time from spawn to exit, peak RSS of that process (`wait4`), and what "
        "it wrote to stderr. Ratios: median of the pairs' after / before.\n")
    b, a = k["before"], k["after"]
    add(f"| `qa ask`, median | before (`{ref}`) | after | after / before |")
    add("|---|---|---|---|")
    add(f"| wall time to exit, s | {_f(b['wall_s'], 2)} | {_f(a['wall_s'], 2)} | **{_f(k['wall_s_ratio'], 2)}** |")
    add(f"| peak RSS, MiB | {_f(b['peak_rss_mb'], 0)} | {_f(a['peak_rss_mb'], 0)} | "
        f"**{_f(k['peak_rss_mb_ratio'], 2)}** |")
    add(f"| stderr, characters | {b['stderr_chars']} | {a['stderr_chars']} | |")
    add("")
    for side, r in (("before", b), ("after", a)):
        if r["stderr_head"]:
            add(f"- {side}, stderr began: `{r['stderr_head']}`")
    if a["answer"] == b["answer"]:
        add(f"- answers: the same (`{a['answer']}`)\n")
    else:  # the display may have changed between the two commits too
        add(f"- answers: before `{b['answer']}`, after `{a['answer']}`\n")


def _incremental_section(r: dict, add: Callable[[str], None]) -> None:
    inc = r["incremental"]
    init, c, ch = inc["initial"], inc["compare"], inc["change"]
    add(f"## 7. Incremental update at {_label(inc['n'])} passages\n")
    add(f"{init['documents']} documents of {ch['passages_per_document']} paragraphs of recombined pool sentences "
        f"({init['passages']} passages; vectors from `{init['model']}`: a passage's is the unit mean of its "
        "sentences' pool vectors plus noise, as in section 4, so the times are the build's own, without the "
        f"model). First build {_f(init['build_s'])} s, peak RSS "
        f"{_f(init['build_peak_rss_mb'], 0)} MiB. Then one day's change: {ch['added']} document added, "
        f"{ch['changed']} changed, {ch['removed']} removed, and the index updated twice from the same state, "
        "each in its own process:\n")
    add("| update | seconds | peak RSS MiB | MiB written | generation MiB | passages embedded | segments | "
        "deleted rows |")
    add("|---|---|---|---|---|---|---|---|")
    for kind, label in (("full", "full (`qa index --full`)"), ("append", "incremental (default)")):
        u = inc[kind]
        add(f"| {label} | {_f(u['seconds'], 2)} | {_f(u['peak_rss_mb'], 0)} | {_f(u['written_mb'], 1)} | "
            f"{_f(u['generation_mb'], 1)} | {u['embedded']} | {u['segments']} | {u['deleted']} |")
    add("")
    add(f"Incremental over full: {_f(inc['speedup'], 1)}x faster, {_f(inc['memory_ratio'], 1)}x less peak memory. "
        f"Same live passages in both: {'yes' if c['same_passages'] else 'NO'}. Over {c['questions']} dev "
        f"questions: keyword top-10 overlap {_f(c['keyword_top10_overlap'] * 100, 0)}%, in the same order "
        f"{_f(c['keyword_top10_identical'] * 100, 0)}%, same top-1 {_f(c['keyword_top1_identical'] * 100, 0)}%; "
        "the i-th best scores differ by "
        f"{_f(c['keyword_score_deviation_p50'] * 100, 2)}% at the median question and "
        f"{_f(c['keyword_score_deviation_max'] * 100, 2)}% at most (each segment keeps the mean length it was "
        "fitted with, and BM25's document frequencies count deleted rows until the next merge). The scores "
        "are the figure to read: the corpus recombines about 11,500 distinct sentences, so equal scores are "
        "many (more as the corpus grows), and the order of equal scores follows the rows, which the two "
        "builds number differently. Dense recall@10 against "
        f"exact search, full / incremental: {_f(c['dense_recall_at_10']['full'], 3)} / "
        f"{_f(c['dense_recall_at_10']['append'], 3)} ({c['dense_index']}; the appended segment is searched "
        "exactly). Search p50, full / incremental: "
        f"keyword {_f(c['keyword_p50_ms']['full'], 2)} / {_f(c['keyword_p50_ms']['append'], 2)} ms, dense "
        f"{_f(c['dense_p50_ms']['full'], 2)} / {_f(c['dense_p50_ms']['append'], 2)} ms.\n")


def _store_section(r: dict, add: Callable[[str], None]) -> None:
    st = r["store"]
    mv = st["milvus"]
    add("## 6. Vector store: FAISS files vs Milvus (milvus-lite)\n")
    add(f"The seed and `data/wild/docs` ({st['documents']} documents, {st['passages']} passages) indexed once "
        f"with FAISS, then moved to a milvus-lite file by `build_index(..., store=PATH.db)`, which reuses every "
        f"vector ({_f(st['move_s'], 2)} s; Milvus index {mv['index']}, inner product). Every question of "
        f"the project's sets ({st['questions']}: seed and wild, dev and test) asked of both, with the same reader; "
        "the backends are compared with each other, not with the gold answers.\n")
    add("| | FAISS | Milvus |")
    add("|---|---|---|")
    add(f"| load_index, s | {_f(st['load_faiss_s'], 2)} | {_f(st['load_milvus_s'], 2)} |")
    add(f"| dense search p50 / p95, ms | {_f(st['dense_faiss']['p50_ms'], 2)} / {_f(st['dense_faiss']['p95_ms'], 2)} | "
        f"{_f(st['dense_milvus']['p50_ms'], 2)} / {_f(st['dense_milvus']['p95_ms'], 2)} |")
    add(f"| answer() p50 / p95, ms | {_f(st['answer_faiss']['p50_ms'])} / {_f(st['answer_faiss']['p95_ms'])} | "
        f"{_f(st['answer_milvus']['p50_ms'])} / {_f(st['answer_milvus']['p95_ms'])} |")
    add("")
    add(f"- Identical answers (found, span, first citation's offset): **{_f(100 * st['identical_answers'], 1)}%** "
        f"(target ≥ {TARGETS['store_identical']:.0%}); identical top-{DEPTH} dense results (same passages "
        "and scores to 1e-4, ties at the cut aside): "
        f"{_f(100 * st['identical_top_hits'], 1)}%.")
    for d in st["differences"]:
        add(f"- differs: {d['question']} → FAISS {d['faiss']!r}, Milvus {d['milvus']!r}")
    add("")


def _ocr_section(r: dict, add: Callable[[str], None]) -> None:
    o = r["ocr"]
    add("## 8. OCR: scanned pages per minute\n")
    if o.get("skipped"):
        add(f"Skipped: {o['skipped']}.\n")
        return
    threads = o["ort_intra_op_threads"]
    add(f"{', '.join(o['files'])} ({o['pages']} pages) indexed the way `qa index` reads them ({o['engine']}, "
        "reading order, structure recovery, passages embedded), then built again unchanged, in one process. "
        f"CPU: {o['cpu']}, {o['cores']} cores ({o['cores_usable']} usable), onnxruntime intra-op threads "
        f"{threads if threads else 'its default (one per physical core)'}. Load average (1 min) at start/end: "
        f"{_f(o['loadavg_start'], 2)} / {_f(o['loadavg_end'], 2)}: OCR uses every core, so a busy machine reads "
        "slower.\n")
    add("| | value |")
    add("|---|---|")
    add(f"| pages per minute (first build) | {_f(o['pages_per_minute'], 2)} |")
    add(f"| seconds per page (first build / OCR engine alone, median) | {_f(o['seconds_per_page'], 1)} / "
        f"{_f(o['ocr_seconds_per_page'], 1)} |")
    add(f"| first build, s | {_f(o['first_build_s'], 1)} |")
    add(f"| second build of the unchanged files, s | {_f(o['second_build_s'], 2)} |")
    add(f"| second / first build | {_f(o['second_over_first'], 4)} |")
    add(f"| pages read through OCR by the second build | {o['second_ocr_pages']} |")
    add("")


def _method_notes(r: dict, add: Callable[[str], None]) -> None:
    add("## Method notes\n")
    add("- Medians over repeated runs; p50/p95 over all (question × pass) timings. Ratios are "
        "paired: both sides run back to back in the same process.")
    pool = r.get("pool", {})
    add("- Scale corpora: passages made of real sentences recombined at random (as many "
        "sentences per passage as the seed's body passages), so BM25 and jieba see real text: "
        f"{_f(pool.get('sentences'), 0)} distinct sentences from the seed and "
        f"{', '.join('`' + Path(p).name + '`' for p in pool.get('sources', [])) or 'nothing else'}. "
        f"**Vectors are synthetic**: {_f(pool.get('embedded'), 0)} sentences (the seed's, then a random "
        "sample) are embedded by the model and every other sentence borrows one of those vectors; a "
        f"passage vector is the unit mean of its sentences' vectors plus Gaussian noise of norm {NOISE}, "
        "renormalised (on the seed, a real passage vector and the mean of its sentences' vectors have "
        f"cosine {_f(r.get('seed_vector_cosine'), 3)}). Embedding them for real would take the time "
        "given in section 1.")
    add("- Queries are the real dev questions embedded by the model; `answer()` at scale gets "
        "the question vector from a cache, so its time excludes the question embedding (it "
        "still includes any clause embedding English questions need).")
    add("- Recombining a fixed pool of sentences is still pessimistic for BM25: every word of the "
        "pool recurs in a fixed share of the passages, so posting lists grow linearly with the corpus, "
        "where a real archive's vocabulary keeps growing and most postings stay short.")
    add("- Memory: peak RSS (VmHWM) of the serving process, reset after the model is loaded; "
        "index memory = that peak minus the RSS just before `load_index`; its ratio is to the size of "
        "`dense.faiss` (the vectors as searched: float32 for flat and HNSW, codes for IVF). Passage "
        "records and BM25 postings are memory-mapped, so only the pages that queries touch become "
        "resident (page cache, which the kernel can drop).")


def _scale_sections(r: dict, add: Callable[[str], None]) -> None:
    sc = r["scale"]
    add("## 4. Scale\n")
    add("Synthetic corpora (see the notes: real text, synthetic vectors), one build and one "
        f"serve subprocess per size. Searches fetch the top {DEPTH} (as `retrieve` does); "
        "`answer()` excludes the question embedding.\n")
    add("| passages | keyword search p50 / p95 ms | dense search p50 / p95 ms | "
        "answer() p50 / p95 ms | answer() Chinese / English p50 ms | build s (no embedding) | "
        "load_index s | disk MiB (serving / all) | float32 vectors MiB | dense.faiss MiB | index memory MiB | "
        "serve peak RSS MiB | build peak RSS MiB |")
    add("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for s in sc:
        v = s["serve"]
        add(f"| {_label(s['n'])} | {_f(v['keyword_search']['p50_ms'], 2)} / "
            f"{_f(v['keyword_search']['p95_ms'], 2)} | {_f(v['dense_search']['p50_ms'], 2)} / "
            f"{_f(v['dense_search']['p95_ms'], 2)} | {_f(v['answer_excl_embedding']['p50_ms'])} / "
            f"{_f(v['answer_excl_embedding']['p95_ms'])} | {_f(v['answer_zh']['p50_ms'])} / "
            f"{_f(v['answer_en']['p50_ms'])} | {_f(s['build_s'], 1)} | {_f(v['load_s'], 2)} | "
            f"{_f(s['serving_disk_mb'], 1)} / {_f(s['disk_mb'], 1)} | {_f(s['raw_vector_mb'], 1)} | "
            f"{_f(s['dense_mb'], 1)} | {_f(s['index_memory_mb'], 0)} | "
            f"{_f(v['serve_peak_rss_mb'], 0)} | {_f(s['build_peak_rss_mb'], 0)} |")
    add("")
    add("Build time breakdown (seconds): tokenize (jieba) / BM25 fit / write (FAISS build, "
        "files, checksums); with real vectors, add the embedding estimate.\n")
    add("| passages | tokenize | BM25 fit | write | embedding (estimated, not run) | projected build ratio "
        "| vocabulary | postings |")
    add("|---|---|---|---|---|---|---|---|")
    per = (r.get("build") or {}).get("seconds_per_passage")  # absent when the build section was not run
    for s in sc:
        est = per * s["n"] if per else None
        add(f"| {_label(s['n'])} | {_f(s['tokenize_s'])} | {_f(s['keyword_fit_s'])} | {_f(s['write_s'])} | "
            f"{_f(est / 60, 0) + ' min' if est else '–'} | {_f(est / (est + s['build_s']) if est else None, 3)} | "
            f"{s['vocab']:,} | {s['postings']:,} |")
    add("")
    add("Embedding estimate: the raw model's time per seed passage (section 1) × passages. Projected "
        "build ratio: that estimate over the estimate plus the measured non-embedding build time.\n")
    cached = [_label(s["n"]) for s in sc if s.get("tokens_per_sentence")]
    if cached:
        add(f"At {', '.join(cached)} (above {TOKENIZE_LIMIT:,} passages) the bench tokenised each pool sentence "
            "once and joined its passages' sentence tokens, so the tokenize column there is not jieba's "
            "cost over the passages (about 0.4 ms per passage at the smaller sizes).\n")
    v0 = sc[-1]["serve"]
    add(f"Model in the serving process: {_f(v0['rss_model_mb'] - v0['rss_start_mb'], 0)} MiB "
        f"(RSS {_f(v0['rss_start_mb'], 0)} → {_f(v0['rss_model_mb'], 0)} MiB when it loads); "
        f"question embedding p50 {_f(v0['question_embedding']['p50_ms'])} ms.")
    if "rss_reader_mb" in v0:
        add(f"The reader, loaded next and before the index: {_f(v0['rss_reader_mb'] - v0['rss_model_mb'], 0)} MiB "
            f"(RSS → {_f(v0['rss_reader_mb'], 0)} MiB).")
    add("")
    if all("retrieve" in s["serve"] for s in sc):
        add("Where `answer()`'s time goes as the corpus grows: retrieval (tokenising the question, dense and "
            "BM25 search, fusion; the question vector given) grows with the corpus, the reader reading the top "
            "passages does not:\n")
        add("| passages | retrieve p50 / p95 ms | answer() p50 ms | answer() − retrieve p50 ms (the reader, spans, citations) |")
        add("|---|---|---|---|")
        for s in sc:
            v = s["serve"]
            add(f"| {_label(s['n'])} | {_f(v['retrieve']['p50_ms'])} / {_f(v['retrieve']['p95_ms'])} | "
                f"{_f(v['answer_excl_embedding']['p50_ms'])} | "
                f"{_f(v['answer_excl_embedding']['p50_ms'] - v['retrieve']['p50_ms'])} |")
        add("")
    add("Index memory in the serving process, split into heap (anonymous: FAISS, BM25 vocabulary, "
        "jieba's dictionaries, parsed passages) and mapped file pages (passage records and postings, "
        "page cache the kernel can drop), after all queries:\n")
    add("| passages | FAISS index | dense.faiss MiB | bytes per passage in dense.faiss | index peak RSS MiB | ratio | "
        "heap MiB | mapped file MiB |")
    add("|---|---|---|---|---|---|---|---|")
    for s in sc:
        v = s["serve"]
        add(f"| {_label(s['n'])} | {v['faiss_type']} | {_f(s['dense_mb'], 1)} | "
            f"{_f(s['dense_mb'] * 2**20 / s['n'], 0)} | {_f(s['index_memory_mb'], 0)} | "
            f"{_f(s['memory_ratio'], 2)}× | {_f(v['index_anon_mb'], 0)} | {_f(v['index_file_mb'], 0)} |")
    add("")
    pairs = list(dict.fromkeys((g["from"], g["to"]) for g in r["growth"]))
    if pairs:
        add("How each figure grows (factor between consecutive sizes; exponent 1 = linear):\n")
        add("| metric | " + " | ".join(f"{_label(a)}→{_label(b)}" for a, b in pairs) + " |")
        add("|---|" + "---|" * len(pairs))
        for name in dict.fromkeys(g["metric"] for g in r["growth"]):
            cells = [f"×{_f(g['factor'], 2)} (exp {_f(g['exponent'], 2)})" for g in r["growth"] if g["metric"] == name]
            add(f"| {name} | " + " | ".join(cells) + " |")
        add("")
    add("## 5. FAISS index type by corpus size\n")
    fs = r["faiss_settings"]
    add(f"`qa/index.py` uses exact `IndexFlatIP` up to `FLAT_LIMIT` = {fs['flat_limit']:,} passages, "
        f"`IndexHNSWFlat` (M={fs['hnsw_m']}, efConstruction={fs['ef_construction']}, efSearch={fs['ef_search']}) "
        f"up to `COMPRESS_LIMIT` = {fs['compress_limit']:,}, and IVF with compressed codes beyond "
        "(√n lists, trained on a sample; `nprobe` is the smallest power of two whose recall@10 "
        "against exact search, measured at build time on stored vectors plus noise, reaches "
        f"{RECALL_TARGET}; meta.json records it). All are built on every corpus here (HNSW only up to "
        f"`COMPRESS_LIMIT`); one query, top {DEPTH}, recall@10 against exact search over "
        f"{sc[-1]['faiss']['queries']} real question vectors (dev + test), tie-aware (a result "
        "scoring as high as the exact 10th counts) and plain.\n")
    add("| passages | chosen | flat 1 thread p50 ms | flat 2 threads p50 ms | HNSW p50 ms | HNSW recall@10 "
        "(tie-aware / plain) | IVF lists / nprobe | IVF p50 ms | IVF recall@10 (tie-aware / plain) | "
        "build s flat / HNSW / IVF | size MiB flat / HNSW / IVF | IVF bytes per passage |")
    add("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for s in sc:
        fa = s["faiss"]
        f, h, i = fa["flat"], fa.get("hnsw"), fa["ivf"]
        add(f"| {_label(s['n'])} | {s['serve']['faiss_type']} | {_f(f['search_1t']['p50_ms'], 2)} | "
            f"{_f(f['search_2t']['p50_ms'], 2)} | {_f(h['search_1t']['p50_ms'], 2) if h else '–'} | "
            + (f"{_f(h['recall_at_10']['tie_aware'], 3)} / {_f(h['recall_at_10']['plain'], 3)}" if h else "–")
            + f" | {i['nlist']} / {i['nprobe']} | {_f(i['search_1t']['p50_ms'], 2)} | "
            f"{_f(i['recall_at_10']['tie_aware'], 3)} / {_f(i['recall_at_10']['plain'], 3)} | "
            f"{_f(f['build_s'], 2)} / {_f(h['build_s'], 1) if h else '–'} / {_f(i['build_s'], 1)} | "
            f"{_f(f['size_mb'], 1)} / {_f(h['size_mb'], 1) if h else '–'} / {_f(i['size_mb'], 1)} | "
            f"{i['bytes_per_vector']} |")
    add("")
    ivf_built = [s for s in sc if "nprobe" in s["faiss_info"]]
    if ivf_built:
        add("The nprobe sweep the build ran (recall@10 on stored vectors plus noise; meta.json `faiss`):\n")
        for s in ivf_built:
            fi = s["faiss_info"]
            sweep = ", ".join(f"{k}: {v}" for k, v in fi["recall_sweep"].items())
            add(f"- {_label(s['n'])}: `{fi['factory']}`, trained on {fi['train_size']:,} vectors, "
                f"nprobe {fi['nprobe']} (recall {_f(fi['recall_at_10'], 3)}); sweep {sweep}.")
        add("")
    add("In the serving process (model loaded, `answer()` running in between), the chosen index "
        "searched for one query on one and on two OpenMP threads, side by side; "
        "`Index.dense_search` uses one:\n")
    add("| passages | FAISS search, 1 thread p50 / p95 ms | 2 threads p50 / p95 ms | `dense_search` p50 ms |")
    add("|---|---|---|---|")
    for s in sc:
        v = s["serve"]
        a, b = v["faiss_search_1thread"], v["faiss_search_2threads"]
        add(f"| {_label(s['n'])} | {_f(a['p50_ms'], 2)} / {_f(a['p95_ms'], 2)} | {_f(b['p50_ms'], 2)} / "
            f"{_f(b['p95_ms'], 2)} | {_f(v['dense_search']['p50_ms'], 2)} |")
    add("")


NOTES_MARK = "<!-- notes: kept when the report is regenerated -->"


def _with_notes(text: str, out: Path) -> str:
    """Keep the hand-written notes (after ``NOTES_MARK``) of an existing report."""
    if out.is_file():
        old = out.read_text(encoding="utf-8")
        if NOTES_MARK in old:
            return text + "\n" + NOTES_MARK + old.split(NOTES_MARK, 1)[1]
    return text


# ------------------------------------------------------------------ 8. OCR


OCR_FILES = ("seed_p1.png", "seed_noisy_p1.jpg", "seed_scan.pdf")  # a clean page, a noisy JPEG, the 2-page PDF


def _ort_threads() -> int | None:
    """The intra-op threads the loaded OCR engine's onnxruntime session was given (0: onnxruntime's
    default, one per physical core); None without a loaded engine."""
    from .documents import ocr

    try:
        return int(ocr._engine.text_det.infer.session.get_session_options().intra_op_num_threads)
    except AttributeError:
        return None


def bench_ocr(embedder: Embedder, work: Path, files: Iterable[Path] | None = None) -> dict:
    """Pages per minute of OCR as a build reads scans: ``files`` (default :data:`OCR_FILES` of
    data/scans) indexed under ``work`` by :func:`qa.scan_accuracy.index_of` (what
    ``scripts/bench_scans.py --questions`` builds with), then again unchanged: that second build
    must take its text from the recognised store, without OCR.  Every page the engine reads is
    counted and timed (``ocr.recognise``, wrapped for the section).  Skipped, with the reason,
    where OCR is not installed."""
    from .documents import ocr
    from .index import recognised_dir
    from .scan_accuracy import index_of

    paths = [ROOT / "data" / "scans" / n for n in OCR_FILES] if files is None else list(files)
    if not ocr.available():  # loads the engine (outside the timings)
        return {"skipped": f"OCR is not installed here (the extra: {ocr.INSTALL_HINT}, and OpenCV's system libraries)"}
    engine = ocr.recognise
    seconds: list[float] = []  # one per page read through OCR

    def counted(image):
        s, boxes = _timed(lambda: engine(image))
        seconds.append(s)
        return boxes

    load_start = os.getloadavg()[0]
    ocr.recognise = counted
    try:
        first_s = _timed(lambda: index_of(paths, work, embedder))[0]
        pages = len(seconds)
        second_s = _timed(lambda: index_of(paths, work, embedder))[0]
    finally:
        ocr.recognise = engine
    return {
        "engine": ocr.ENGINE, "files": [p.name for p in paths], "pages": pages,
        "first_build_s": first_s, "pages_per_minute": 60.0 * pages / first_s,
        "seconds_per_page": first_s / max(pages, 1),
        "ocr_seconds_per_page": statistics.median(seconds[:pages]) if pages else None,
        "second_build_s": second_s, "second_over_first": second_s / first_s,
        "second_ocr_pages": len(seconds) - pages,
        "recognised_kept": len(list(recognised_dir(work / "index").glob("*.json"))),
        "cpu": _machine()["cpu"], "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "ort_intra_op_threads": _ort_threads(), "loadavg_start": load_start, "loadavg_end": os.getloadavg()[0],
    }


# ------------------------------------------------------------------ entry points


def _no_nan(x):
    """The report with NaN as null (strict JSON)."""
    if isinstance(x, dict):
        return {k: _no_nan(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_no_nan(v) for v in x]
    return None if isinstance(x, float) and math.isnan(x) else x


def run_bench(args: argparse.Namespace) -> int:
    """``python -m qa bench``: run the sections asked for (default: all) and write the markdown and JSON reports."""
    sizes = parse_sizes(args.sizes)
    repeats = max(1, int(args.repeats))
    sections = [x.strip() for x in (getattr(args, "sections", None) or ",".join(SECTIONS)).split(",") if x.strip()]
    bad = [x for x in sections if x not in SECTIONS + OPTIONAL_SECTIONS]
    if bad:
        print(f"error: unknown bench section {', '.join(bad)}; choose from {', '.join(SECTIONS + OPTIONAL_SECTIONS)}",
              file=sys.stderr)
        return 2
    inc_n = sizes[-1] if sizes else 100_000  # the incremental update runs at the largest size
    if "scale" not in sections:
        sizes = []
    seeds, index_dir = Path(args.seeds), Path(args.index)
    baseline = None
    if getattr(args, "baseline_reader", None):
        if "answer" not in sections:
            print("error: --baseline-reader times answer(): add the answer section", file=sys.stderr)
            return 2
        from .reader import TransformerReader

        baseline = TransformerReader(args.baseline_reader)
        baseline.loaded  # noqa: B018 -- a folder that holds no reader is refused before any timing
    embedder = make_embedder(getattr(args, "model", None))
    embedder.embed(["预热"], kind="query")  # the model loads once, outside every timing
    report: dict = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "sizes": ",".join(_label(n) for n in sizes),
        "sizes_arg": args.sizes,
        "repeats": repeats,
        "sections": sections,
        "model": embedder.name,
        "precision": getattr(embedder, "precision", "float32"),
        "machine": _machine(),
        "faiss_settings": {"flat_limit": FLAT_LIMIT, "hnsw_m": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION,
                           "ef_search": HNSW_EF_SEARCH,
                           "compress_limit": int(getattr(args, "compress_limit", None) or COMPRESS_LIMIT)},
    }
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as tmp:
        work = Path(tmp)
        if "build" in sections:
            old = embedder
            if getattr(embedder, "precision", "float32") != "float32":  # the previous format ran in float32
                old = make_embedder(getattr(args, "model", None), precision="float32")
                old.embed(["预热"], kind="query")
            report["build"] = bench_build(embedder, seeds, work, repeats, old)
            report["batches"] = bench_batches(embedder, batch_texts(seeds), repeats)
        build_index(seeds, index_dir, embedder=embedder)  # up to date: reuses every vector
        timing = TimingEmbedder(embedder)
        index = load_index(index_dir, embedder=timing)
        sources = [Path(p) for p in args.vocab.split(",") if p] if getattr(args, "vocab", None) else list(VOCAB_SOURCES)
        vocab = source_sentences(sources) if sizes or "incremental" in sections else []
        pool = sentence_pool(index, embedder, vocab, np.random.default_rng(SEED))
        pool_path = work / "pool.npz"
        pool.save(pool_path)
        report["pool"] = {"sentences": len(pool.texts), "embedded": pool.embedded,
                          "sources": [str(p) for p in sources]}
        report["seed_vector_cosine"] = _seed_vector_check(index, pool)
        dev = _questions(QUESTIONS / "dev.jsonl")
        if "answer" in sections:
            report["answer"] = bench_answer(index, embedder, timing, dev, repeats)
            if baseline is not None:
                from .answering import default_reader

                report["answer"]["readers"] = bench_readers(index, dev, {
                    "this reader": default_reader(), f"baseline ({args.baseline_reader})": baseline}, repeats)
        if "cold_start" in sections:
            report["cold_start"] = bench_cold_start(index_dir, seeds, dev[0], embedder.name, min(repeats, 3))
            report["cold_start"]["ask"] = bench_ask_cold(index_dir, seeds, dev[0], embedder.name, min(repeats, 5),
                                                         work, os.environ.get("QA_BENCH_BASELINE"))
        if "store" in sections:
            report["store"] = bench_store(seeds, embedder, work)
        if "incremental" in sections:
            report["incremental"] = bench_incremental(inc_n, pool_path, work)
        if "ocr" in sections:
            report["ocr"] = bench_ocr(embedder, work / "ocr")
        all_q = dev + _questions(QUESTIONS / "test.jsonl")
        qvec_path = work / "questions.npy"
        np.save(qvec_path, embedder.embed(all_q, kind="query"))
        report["scale"] = []
        for n in _bar(sizes, "4-5/5 scale"):
            report["scale"].append(bench_scale(n, index_dir, work, embedder.name, repeats, qvec_path, pool_path,
                                               int(getattr(args, "compress_limit", None) or COMPRESS_LIMIT)))
    report["growth"] = _growth(report["scale"])
    report["machine"]["loadavg_end"] = list(os.getloadavg())
    if args.json:  # first: a report that fails to format still leaves its data
        Path(args.json).write_text(json.dumps(_no_nan(report), ensure_ascii=False, indent=2), encoding="utf-8")
    text = format_report(report)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(_with_notes(text, out), encoding="utf-8")
        print(f"report written to {out}")
    else:
        print(text)
    if args.json:
        print(f"JSON written to {args.json}")
    return 0


# ------------------------------------------------------------------ keyword side: qa.keyword vs bm25s


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


# ------------------------------------------------------------------ 6. incremental updates


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


def _child_main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "keyword":  # python -m qa.bench keyword 100k,1m
        with tempfile.TemporaryDirectory(prefix="qa-kw-") as tmp:
            print(json.dumps(compare_keyword(parse_sizes(argv[1]), config.seeds_dir(), Path(tmp)), indent=1))
        return 0
    modes = {"build": _child_build, "serve": _child_serve, "keyword": _child_keyword,
             "inc_build": _child_inc_build, "inc_update": _child_inc_update, "inc_compare": _child_inc_compare}
    if len(argv) != 3 or argv[0] != "_child" or argv[1] not in modes:
        print(f"usage: python -m qa.bench _child {'|'.join(modes)} PARAMS_JSON (run by `python -m qa bench`), "
              "or python -m qa.bench keyword SIZES", file=sys.stderr)
        return 2
    print(json.dumps(modes[argv[1]](json.loads(argv[2]))))
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
