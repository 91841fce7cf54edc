"""2. ``answer()`` latency vs embedding the question alone (readers side by side with
``--baseline-reader``; one profiled pass says where the time goes).
"""

from __future__ import annotations

import cProfile
import os
import pstats
import statistics
import sys

from ..embedding import Embedder
from ..index import Index
from ..text import has_cjk
from .common import TimingEmbedder, _bar, _ms, _timed

_PROFILED = [
    ("retrieval.py", "retrieve", "retrieve (dense + BM25 + fusion, question embedded before)"),
    ("query.py", "analyse", "analyse the question (tokens, IDF, type, literals)"),
    ("reader/windows.py", "make_windows", "reader: tokenise question + passages into windows"),
    ("reader/model.py", "logits", "reader: model forward passes (the top passage, then the others unless it stops there)"),
]


def _profile_answers(index: Index, timing: TimingEmbedder, questions: list[str]) -> dict:
    """One profiled pass: where ``answer()`` spends its time (profiler overhead included)."""
    from ..answering import answer

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
    from ..answering import answer

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
    from ..answering import answer

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
