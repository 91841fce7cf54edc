"""Index parts that keep serving flat as the corpus grows: the passage store, compressed vectors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qa import build_index, load_index
from qa.index import RECALL_TARGET, IndexMismatch, _make_faiss, current_generation
from qa.keyword import KeywordIndex
from qa.records import Passage
from qa.retrieval import retrieve
from qa.store import PassageStore, write_passages


def _passage(i: int, doc: str = "a.txt") -> Passage:
    text = f"第{i}段：图书馆举办读书会{i}场。"
    return Passage(id=f"{doc}#a1.p{i}.0", doc=doc, article=1, title="读书", kind="body", paragraph=i, part=0,
                   text=text, spans=((i * 100, i * 100 + len(text)),), sentences=((0, len(text)),))


def _clustered(n: int, dim: int = 32, centres: int = 40, seed: int = 0) -> np.ndarray:
    """Unit vectors around a few centres (like embeddings: clusters, not uniform noise)."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, dim)).astype(np.float32)
    v = c[rng.integers(0, centres, n)] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_store_is_a_sequence_read_on_demand(tmp_path):
    passages = [_passage(i) for i in range(30)] + [_passage(0, doc="中文 名.txt")]
    assert write_passages(tmp_path, passages) == ["passages.jsonl", "passages.offsets.npy", "passages.ids.npy"]
    store = PassageStore(tmp_path)
    assert len(store) == 31 and store[0] == passages[0] and store[-1] == passages[-1]
    assert list(store) == passages and store[3:6] == passages[3:6]
    assert all(store.row(p.id) == i for i, p in enumerate(passages))
    assert passages[7] in store and _passage(99) not in store
    with pytest.raises(KeyError):
        store.row("missing#a1.p1.0")
    with pytest.raises(IndexError, match="out of range"):
        store[31]
    line = (tmp_path / "passages.jsonl").read_text(encoding="utf-8").splitlines()[-1]
    assert "中文 名.txt" in line and json.loads(line)["id"] == passages[-1].id  # plain, readable JSON lines


def test_empty_store(tmp_path):
    write_passages(tmp_path, [])
    store = PassageStore(tmp_path)
    assert len(store) == 0 and list(store) == [] and not store


def test_store_refuses_files_that_disagree(tmp_path):
    write_passages(tmp_path, [_passage(i) for i in range(3)])
    with open(tmp_path / "passages.jsonl", "ab") as f:
        f.write(b"{}\n")
    with pytest.raises(ValueError, match="does not match"):
        PassageStore(tmp_path)


def test_keyword_arrays_are_memory_mapped_and_rank_the_same(tmp_path):
    docs = [["图书馆", "读书会"], ["读书会", "读书会", "场次"], ["画展"], []]
    kw = KeywordIndex().fit(iter(docs))
    kw.save(tmp_path)
    loaded = KeywordIndex.load(tmp_path, 1.2, 0.75)
    assert isinstance(loaded.weights, np.memmap) and isinstance(loaded.doc_ids, np.memmap)
    assert loaded.search(["读书会"], 3) == kw.search(["读书会"], 3)
    assert [i for i, _ in loaded.search(["读书会", "图书馆"], 3)] == [0, 1]


def test_ivf_nprobe_is_set_from_measured_recall():
    vectors = _clustered(6000)
    index, info = _make_faiss(vectors, compress_limit=1000)
    assert info["type"] == "IndexIVFScalarQuantizer" and info["nlist"] == 77
    assert info["recall_at_10"] >= RECALL_TARGET and 1 <= info["nprobe"] <= info["nlist"]
    assert info["recall_sweep"][str(info["nprobe"])] == round(info["recall_at_10"], 4)
    below = [v for k, v in info["recall_sweep"].items() if int(k) < info["nprobe"]]
    assert all(r < RECALL_TARGET for r in below)  # the smallest nprobe that reaches the target
    assert info["bytes_per_vector"] == 32 + 8 and index.ntotal == 6000
    flat, small = _make_faiss(vectors)
    assert small == {"type": "IndexFlatIP"}  # exact search below the threshold


def test_compressed_index_round_trips_and_reuses_exact_vectors(seeds, tmp_path, fake_embedder):
    r = build_index(seeds, tmp_path / "ix", embedder=fake_embedder, compress_limit=10)
    meta = json.loads((current_generation(tmp_path / "ix") / "meta.json").read_text(encoding="utf-8"))
    assert meta["faiss"]["type"] == "IndexIVFScalarQuantizer" and "vectors.npy" in meta["files"]
    assert meta["faiss"]["nprobe"] >= 1 and "recall_at_10" in meta["faiss"]
    a = load_index(tmp_path / "ix", embedder=fake_embedder)
    assert a.dense.nprobe == meta["faiss"]["nprobe"]
    exact = fake_embedder.embed([f"{p.title}\n{p.text}" if p.kind != "header" else p.text for p in a.passages])
    assert np.allclose(a.vectors(range(r.passages)), exact, atol=1e-6)
    q = "辽源市宣讲开展了多少场次"
    hits = [(h.passage.id, round(h.score, 6)) for h in retrieve(a, q, k=5)]
    b = load_index(tmp_path / "ix", embedder=fake_embedder)
    assert hits and hits == [(h.passage.id, round(h.score, 6)) for h in retrieve(b, q, k=5)]
    (seeds / "extra.txt").write_text("新增文章\n\n本报讯(记者李四)辽源市图书馆今年举办读书会12场。\n", encoding="utf-8")
    fake_embedder.calls.clear()
    r2 = build_index(seeds, tmp_path / "ix", embedder=fake_embedder, compress_limit=10)
    assert r2.reused == r.passages and sum(fake_embedder.calls) == r2.embedded
    c = load_index(tmp_path / "ix", embedder=fake_embedder)
    assert np.array_equal(c.vectors(range(r.passages)), a.vectors(range(r.passages)))  # not re-quantised


def test_old_format_is_refused_with_a_rebuild_message(seeds, tmp_path, fake_embedder):
    from qa.index import _meta_digest

    build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    path = current_generation(tmp_path / "ix") / "meta.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta["format_version"] = 2
    meta["meta_sha256"] = _meta_digest(meta)
    path.write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(IndexMismatch, match="format 2 is not one this version of qa reads.*rebuild the index"):
        load_index(tmp_path / "ix")
    r = build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    assert r.embedded == r.passages == 43


def test_keyword_ranks_like_bm25s_on_a_small_corpus():
    """Same passages, same scores (bm25s "lucene" leaves out the constant k1 + 1) as the reference."""
    bm25s = pytest.importorskip("bm25s")
    from qa.bench.keyword import _same_ranking

    docs = [["辽源", "图书馆", "读书会"], ["读书会", "读书会", "场次", "辽源"], ["画展", "东丰"], ["图书馆", "画展", "开幕"]]
    ours = KeywordIndex(1.2, 0.75).fit(docs)
    ref = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    ref.index(docs, show_progress=False)
    for q in (["读书会"], ["图书馆", "画展"], ["辽源", "场次"], ["东丰"]):
        got = ours.search(q, 4)
        s = ref.get_scores_from_ids(ref.get_tokens_ids(q)) * 2.2
        want = [(int(i), float(s[i])) for i in np.argsort(-s, kind="stable") if s[i] > 0]
        assert [i for i, _ in got] == [i for i, _ in want] and _same_ranking(got, want), (q, got, want)
