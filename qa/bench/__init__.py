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

One module per stage: :mod:`.build` (1), :mod:`.answer` (2), :mod:`.cold` (3), :mod:`.scale` (4, 5),
:mod:`.store` (6), :mod:`.incremental` (7), :mod:`.ocr` (8), :mod:`.keyword` (qa.keyword vs bm25s),
:mod:`.report` and :mod:`.report_scale` (the markdown), :mod:`.common` (what they share);
:func:`run_bench` runs them.  The subprocesses run ``python -m qa.bench _child MODE PARAMS_JSON``
(:mod:`.__main__`) and print one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ..embedding import make_embedder
from ..index import (
    COMPRESS_LIMIT,
    FLAT_LIMIT,
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_SEARCH,
    HNSW_M,
    build_index,
    load_index,
)
from .answer import bench_answer, bench_readers
from .build import batch_texts, bench_batches, bench_build
from .cold import COLD_BASELINE, bench_ask_cold, bench_cold_start
from .common import (
    BATCH_SIZES,
    MEMORY_FACTOR,
    NOISE,
    OPTIONAL_SECTIONS,
    PER_DOC,
    POOL_EMBEDDED,
    PREVIOUS_BUILD,
    QUESTIONS,
    RECALL_K,
    ROOT,
    SECTIONS,
    SEED,
    TARGETS,
    TOKENIZE_LIMIT,
    VOCAB_SOURCES,
    WILD,
    QueryCache,
    TimingEmbedder,
    _bar,
    _label,
    _machine,
    _questions,
    parse_sizes,
)
from .incremental import INC_PARAGRAPHS, bench_incremental
from .keyword import compare_keyword
from .ocr import OCR_FILES, bench_ocr
from .report import NOTES_MARK, _with_notes, format_report
from .scale import (
    SentencePool,
    _growth,
    _seed_vector_check,
    bench_scale,
    sentence_pool,
    source_sentences,
    synthetic_corpus,
)
from .store import bench_store

# the public names of the former qa/bench.py, importable from qa.bench as before
__all__ = [
    "BATCH_SIZES", "COLD_BASELINE", "INC_PARAGRAPHS", "MEMORY_FACTOR", "NOISE", "NOTES_MARK", "OCR_FILES",
    "OPTIONAL_SECTIONS", "PER_DOC", "POOL_EMBEDDED", "PREVIOUS_BUILD", "QUESTIONS", "QueryCache",
    "RECALL_K", "ROOT", "SECTIONS", "SEED", "SentencePool", "TARGETS", "TOKENIZE_LIMIT", "TimingEmbedder",
    "VOCAB_SOURCES", "WILD", "batch_texts", "bench_answer", "bench_ask_cold", "bench_batches",
    "bench_build", "bench_cold_start", "bench_incremental", "bench_ocr", "bench_readers", "bench_scale",
    "bench_store", "compare_keyword", "format_report", "parse_sizes", "run_bench", "sentence_pool",
    "source_sentences", "synthetic_corpus",
]


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
        from ..reader import TransformerReader

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
                from ..answering import default_reader

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

