"""``qa eval`` on SQuAD-format files (standard extractive-QA data), in two modes.

* ``gold``: each question is read with its own context through :func:`qa.read`;
* ``open``: every context becomes a document of a temporary index and each question
  goes through :func:`qa.answer`, as a user's would.

Both report EM/F1 (CMRC 2018 convention), no-answer accuracy, calibration, latency and
a failure list, in the same :class:`~qa.evaluate.Report` as question sets.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from .answering import answer, read
from .evaluate import Report, Result, best_em, best_f1, contains, rank_metrics, summarize
from .reader.data import MRCExample, load_squad
from .retrieval import retrieve

SQUAD_MODES = ("gold", "open")


def is_squad_file(path: Path) -> bool:
    """A SQuAD JSON file (as opposed to the project's JSON-lines question sets)."""
    if path.suffix.lower() != ".json":
        return False
    with open(path, "rb") as f:
        head = f.read(4096).lstrip()
    return head.startswith(b"{") and b'"data"' in head or head.startswith(b"{") and b'"version"' in head


def _result(ex: MRCExample, a, seconds: float, *, cited_ok: bool, rank: int | None) -> Result:
    predicted = a.text if a.found else ""
    golds = ex.answer_texts
    r = Result(
        id=ex.id, type=ex.source + (" unanswerable" if ex.impossible else ""), question=ex.question,
        answers=list(golds), evidence="", found=a.found, predicted=predicted,
        sentence=a.sentence if a.found else "", confidence=a.confidence,
        f1=best_f1(predicted, golds) if golds else float(not a.found),
        em=best_em(predicted, golds) if golds else float(not a.found),
        sentence_ok=bool(golds) and a.found and any(contains(a.sentence, g) for g in golds),
        citation_ok=cited_ok, citations_valid=True, retrieval_rank=rank, seconds=seconds,
    )
    if not golds:
        r.stage = "answered an unanswerable" if a.found else ""
    elif not a.found:
        r.stage = "false refusal"
    elif r.f1 < 0.999:
        r.stage = "retrieval miss" if rank is None else ("sentence miss" if not r.sentence_ok else "extraction miss")
    return r


def _doc_name(ex: MRCExample) -> str:
    digest = hashlib.sha1(ex.context.encode()).hexdigest()[:10]
    return f"{ex.source}-{digest}.txt"


def evaluate_squad(
    files: list[Path], *, mode: str = "gold", reader=None, embedder=None, limit: int = 0, progress: bool = False
) -> Report:
    """Score the reader (``gold``) or the whole chatbot (``open``) on SQuAD-format files."""
    from tqdm import tqdm

    if mode not in SQUAD_MODES:
        raise ValueError(f"unknown mode {mode!r}; valid modes are: {', '.join(SQUAD_MODES)}")
    examples = [ex for f in files for ex in load_squad(f)]
    if limit:
        examples = examples[:limit]
    results: list[Result] = []
    if mode == "gold":
        for ex in tqdm(examples, desc="questions", disable=not progress, leave=False):
            t0 = time.perf_counter()
            a = read(ex.question, ex.context, reader=reader)
            secs = time.perf_counter() - t0
            ok = a.found and all(ex.context[c.start : c.end] == c.quote for c in a.citations)
            results.append(_result(ex, a, secs, cited_ok=ok, rank=0))
    else:
        from . import build_index, load_index

        with tempfile.TemporaryDirectory(prefix="qa-squad-") as tmp:
            seeds = Path(tmp) / "seeds"
            seeds.mkdir()
            for ex in examples:
                path = seeds / _doc_name(ex)
                if not path.exists():
                    # A title line, then the paragraph: the shape of an encyclopedia entry.
                    path.write_text(f"{ex.article}\n\n{ex.context}\n", encoding="utf-8")
            build_index(seeds, Path(tmp) / "index", embedder=embedder, progress=progress)
            idx = load_index(Path(tmp) / "index", embedder=embedder)
            for ex in tqdm(examples, desc="questions", disable=not progress, leave=False):
                t0 = time.perf_counter()
                a = answer(ex.question, index=idx, reader=reader)
                secs = time.perf_counter() - t0
                doc = _doc_name(ex)
                hits = retrieve(idx, ex.question, k=10)
                rank = next((i for i, h in enumerate(hits, 1) if h.passage.doc == doc), None)
                results.append(_result(ex, a, secs, cited_ok=bool(a.citations) and a.citations[0].doc == doc, rank=rank))
    by_type: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by_type[r.type].append(r)
    overall = summarize(results)
    una = [r for r in results if not r.answers]
    overall["no_answer_accuracy"] = round(
        sum((not r.found) if not r.answers else r.found for r in results) / len(results), 4) if una and results else None
    ranks = [r.retrieval_rank for r in results if r.answers] if mode == "open" else []
    return Report(
        questions=f"{', '.join(map(str, files))} ({mode} mode)",
        overall=overall,
        retrieval=rank_metrics(ranks),
        by_type={t: summarize(rs) for t, rs in sorted(by_type.items())},
        failures=[
            {"id": r.id, "type": r.type, "stage": r.stage, "question": r.question, "expected": r.answers,
             "got": r.predicted if r.found else "(not found)", "confidence": r.confidence}
            for r in results if r.stage
        ],
        results=[r.__dict__ for r in results],
    )
