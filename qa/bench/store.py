"""6. Vector store: FAISS files vs Milvus (milvus-lite), same answers.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..embedding import Embedder
from ..index import build_index, load_index
from ..retrieval import DEPTH
from .common import QUESTIONS, WILD, _bar, _ms, _questions, _timed
from .keyword import _same_ranking


def bench_store(seeds: Path, embedder: Embedder, work: Path) -> dict:
    """FAISS files against Milvus (an embedded milvus-lite file) over the same vectors.

    The corpus is the seed plus ``data/wild/docs``; the questions are every question of the
    project's sets (seed and wild, dev and test: the backends are compared with each other,
    not with the gold answers).  Both indexes are answered with the same reader.
    """
    from ..answering import answer
    from ..documents import list_documents
    from ..vectorstore import close_clients

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
