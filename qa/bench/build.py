"""1. Index build vs the raw model encoding the same passages, the texts the previous format
embedded (passages + every sentence), and a batch-size sweep.
"""

from __future__ import annotations

import shutil
import statistics
from collections.abc import Callable
from pathlib import Path

from ..embedding import Embedder
from ..index import build_index, load_index, passage_embedding_text
from .common import BATCH_SIZES, PREVIOUS_BUILD, VOCAB_SOURCES, T, TimingEmbedder, _bar, _timed


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
    from ..chunking import ChunkSettings, chunk_document
    from ..documents import DocumentError, list_documents, read_document

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
    from ..index import _embed_texts

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
