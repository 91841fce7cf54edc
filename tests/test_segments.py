"""Incremental builds: appended segments, deleted rows, merges (with the fake embedder)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa import build_index, load_index
from qa import index as index_module
from qa.embedding import HashingEmbedder
from qa.index import IndexCorrupt, current_generation, stale_documents
from qa.retrieval import retrieve
from qa.segments import RowMap

ROOT = Path(__file__).resolve().parents[1]

DOCS = {
    "读书会.txt": "读书会活动\n\n本报讯 辽源市图书馆今年举办读书会12场，参加读者一千二百余人。\n\n读书会由馆员主持，每月一次。\n",
    "画展.txt": "画展开幕\n\n本报讯 东丰县农民画展昨日在文化馆开幕，展出作品八十幅。\n\n画展将持续到下月十日。\n",
    "冰雪节.txt": "冰雪节\n\n本报讯 龙首山冰雪节将于一月八日开幕，设冰雕展区三个。\n",
}
ADDED = "新闻发布会\n\n本报讯 梅河口市召开新闻发布会，介绍松花湖湿地保护工作，湿地面积达到三千公顷。\n"


def _seeds(tmp_path: Path, seeds: Path) -> Path:
    for name, text in DOCS.items():
        (seeds / name).write_text(text, encoding="utf-8")
    return seeds


def _build(seeds: Path, root: Path, **kw):
    return build_index(seeds, root, embedder=HashingEmbedder(64), append_min=0, **kw)


def _passages(ix) -> list[str]:
    return sorted(json.dumps(p.to_json(), ensure_ascii=False, sort_keys=True) for p in ix.passages)


def _assert_consistent(ix) -> None:
    """Rows, ids and meta.json's first_row agree, and every live passage can be found by id."""
    assert len(ix.passages) == ix.meta["counts"]["passages"] == len(list(ix.passages))
    for i, p in enumerate(ix.passages):
        assert ix.row(p.id) == i and ix.passages[i] == p
    for name, info in ix.documents().items():
        got = [ix.passages[i] for i in range(info["first_row"], info["first_row"] + info["passages"])]
        assert {p.doc for p in got} == {name}
    assert sum(len(p.sentences) for p in ix.passages) == ix.meta["counts"]["sentences"]


def _assert_same_as_full_build(ix, seeds: Path, tmp_path: Path) -> None:
    _build(seeds, tmp_path / "fresh", full=True)
    fresh = load_index(tmp_path / "fresh", embedder=HashingEmbedder(64))
    assert _passages(ix) == _passages(fresh)
    rng = np.random.default_rng(0)
    for _ in range(5):  # dense search is exact in both: the same passages with the same scores
        q = rng.standard_normal(64).astype(np.float32)
        q /= np.linalg.norm(q)
        a = [(ix.passages[i].id, round(s, 5)) for i, s in ix.dense_search(q, 8)]
        b = [(fresh.passages[i].id, round(s, 5)) for i, s in fresh.dense_search(q, 8)]
        assert a == b


def test_append_writes_a_segment_and_links_the_unchanged_files(seeds, tmp_path):
    _seeds(tmp_path, seeds)
    root = tmp_path / "ix"
    first = _build(seeds, root)
    assert first.mode == "full" and first.segments == 1
    base = current_generation(root) / "passages.jsonl"
    inode, before = base.stat().st_ino, load_index(root, embedder=HashingEmbedder(64))

    (seeds / "发布会.txt").write_text(ADDED, encoding="utf-8")
    r = _build(seeds, root)
    assert r.mode == "append" and r.segments == 2 and r.deleted == 0
    assert r.embedded == 2 and r.reused == first.passages
    assert "incremental" in r.summary()
    gen = current_generation(root)
    assert (gen / "passages.jsonl").stat().st_ino == inode  # linked, not rewritten
    assert (gen / "seg-1" / "passages.jsonl").is_file()

    ix = load_index(root, embedder=HashingEmbedder(64))
    assert len(ix.passages) == len(before.passages) + 2
    _assert_consistent(ix)
    hits = retrieve(ix, "松花湖湿地面积是多少", k=3)
    assert hits and hits[0].passage.doc == "发布会.txt"
    # the old passages keep their rows
    assert [p.id for p in ix.passages[: len(before.passages)]] == [p.id for p in before.passages]
    assert stale_documents(ix, seeds) == []
    _assert_same_as_full_build(ix, seeds, tmp_path)


def test_changed_and_removed_documents_are_deleted_rows(seeds, tmp_path):
    _seeds(tmp_path, seeds)
    root = tmp_path / "ix"
    _build(seeds, root)
    old = load_index(root, embedder=HashingEmbedder(64))
    old_reading = [p.id for p in old.passages if p.doc == "读书会.txt"]

    (seeds / "读书会.txt").write_text(DOCS["读书会.txt"].replace("12场", "15场"), encoding="utf-8")
    (seeds / "冰雪节.txt").unlink()
    r = _build(seeds, root)
    assert r.mode == "append" and r.segments == 2
    removed = sum(1 for p in old.passages if p.doc == "冰雪节.txt")
    assert r.deleted == len(old_reading) + removed

    ix = load_index(root, embedder=HashingEmbedder(64))
    _assert_consistent(ix)
    assert "冰雪节.txt" not in ix.documents()
    assert all(p.doc != "冰雪节.txt" for p in ix.passages)
    # the same ids now name the new text, and the old text is found by no search
    texts = [ix.passages[ix.row(pid)].text for pid in old_reading]
    assert any("15场" in t for t in texts) and not any("12场" in t for t in texts)
    for q in ("读书会举办了多少场", "龙首山冰雪节什么时候开幕"):
        for h in retrieve(ix, q, k=20):
            assert "12场" not in h.passage.text and h.passage.doc != "冰雪节.txt"
        for i, _ in ix.keyword_search(ix.tokenizer.words(q), 20):
            assert "12场" not in ix.passages[i].text
    _assert_same_as_full_build(ix, seeds, tmp_path)


def test_keyword_scores_use_corpus_wide_statistics(seeds, tmp_path):
    """A term's IDF counts every segment, so an appended passage ranks as in a full build."""
    _seeds(tmp_path, seeds)
    _build(seeds, tmp_path / "ix")
    (seeds / "发布会.txt").write_text(ADDED, encoding="utf-8")
    _build(seeds, tmp_path / "ix")
    ix = load_index(tmp_path / "ix", embedder=HashingEmbedder(64))
    _build(seeds, tmp_path / "fresh", full=True)
    fresh = load_index(tmp_path / "fresh", embedder=HashingEmbedder(64))
    for term in ("本报讯", "湿地", "辽源市", "没有的词"):
        assert ix.keyword.term_idf(term) == pytest.approx(fresh.keyword.term_idf(term), rel=1e-6)
    for q in ("湿地面积", "本报讯 图书馆 读书会", "辽源市宣讲"):
        toks = ix.tokenizer.words(q)
        a = [(ix.passages[i].id, s) for i, s in ix.keyword_search(toks, 10)]
        b = [(fresh.passages[i].id, s) for i, s in fresh.keyword_search(toks, 10)]
        assert [x for x, _ in a][:3] == [x for x, _ in b][:3]
        assert [s for _, s in a] == pytest.approx([s for _, s in b], rel=0.05)


def test_limits_merge_the_segments_back_into_one(seeds, tmp_path, monkeypatch):
    _seeds(tmp_path, seeds)
    root = tmp_path / "ix"
    _build(seeds, root)
    monkeypatch.setattr(index_module.build, "MAX_SEGMENTS", 2)
    (seeds / "发布会.txt").write_text(ADDED, encoding="utf-8")
    assert _build(seeds, root).mode == "append"
    (seeds / "画展.txt").write_text(DOCS["画展.txt"].replace("八十幅", "九十幅"), encoding="utf-8")
    r = _build(seeds, root)  # a third segment is over the limit
    assert r.mode == "full" and r.segments == 1 and r.deleted == 0
    ix = load_index(root, embedder=HashingEmbedder(64))
    # only the changed document is embedded: the others' vectors come from both segments
    assert r.embedded == ix.documents()["画展.txt"]["passages"] and r.reused == len(ix.passages) - r.embedded
    assert ix.meta["segments"] == [{"dir": "", "rows": len(ix.passages), "faiss": {"type": "IndexFlatIP"}}]
    assert not list(current_generation(root).glob("seg-*"))
    _assert_consistent(ix)
    _assert_same_as_full_build(ix, seeds, tmp_path)


def test_small_indexes_and_big_changes_rebuild_in_full(seeds, tmp_path):
    _seeds(tmp_path, seeds)
    root = tmp_path / "ix"
    build_index(seeds, root, embedder=HashingEmbedder(64))  # the default threshold: 43 passages is small
    (seeds / "发布会.txt").write_text(ADDED, encoding="utf-8")
    assert build_index(seeds, root, embedder=HashingEmbedder(64)).mode == "full"
    (seeds / "发布会2.txt").write_text(ADDED.replace("梅河口市", "集安市"), encoding="utf-8")
    assert _build(seeds, root, full=True).mode == "full"
    # removing the seed page (most of the corpus) is too many deleted rows for an append
    for p in seeds.glob("000_*"):
        p.unlink()
    assert _build(seeds, root).mode == "full"
    assert _build(seeds, root).mode == "unchanged"


def test_a_renamed_document_moves_with_its_vectors(seeds, tmp_path):
    _seeds(tmp_path, seeds)
    root = tmp_path / "ix"
    n = _build(seeds, root) and load_index(root, embedder=HashingEmbedder(64)).documents()["画展.txt"]["passages"]
    (seeds / "画展.txt").rename(seeds / "农民画展.txt")
    r = _build(seeds, root)
    assert r.mode == "append" and r.embedded == 0 and r.deleted == n
    ix = load_index(root, embedder=HashingEmbedder(64))
    _assert_consistent(ix)
    assert "农民画展.txt" in ix.documents() and "画展.txt" not in ix.documents()
    _assert_same_as_full_build(ix, seeds, tmp_path)


def test_a_corrupt_segment_file_is_refused(seeds, tmp_path):
    _seeds(tmp_path, seeds)
    root = tmp_path / "ix"
    _build(seeds, root)
    (seeds / "发布会.txt").write_text(ADDED, encoding="utf-8")
    _build(seeds, root)
    path = current_generation(root) / "seg-1" / "passages.jsonl"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.unlink()  # a new inode: the file is not shared with another generation
    path.write_bytes(bytes(data))
    with pytest.raises(IndexCorrupt, match="seg-1/passages.jsonl does not match its checksum"):
        load_index(root, embedder=HashingEmbedder(64))


def test_deleted_rows_out_of_range_are_refused(seeds, tmp_path):
    _seeds(tmp_path, seeds)
    root = tmp_path / "ix"
    _build(seeds, root)
    (seeds / "冰雪节.txt").unlink()
    _build(seeds, root)
    gen = current_generation(root)
    meta = json.loads((gen / "meta.json").read_text(encoding="utf-8"))
    (gen / "deleted.npy").unlink()
    np.save(gen / "deleted.npy", np.array([10**6], dtype=np.int64))
    meta["files"]["deleted.npy"] = index_module._sha256_file(gen / "deleted.npy")
    meta["meta_sha256"] = index_module._meta_digest(meta)
    (gen / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(IndexCorrupt, match="deleted.npy is not a sorted list of rows"):
        load_index(root, embedder=HashingEmbedder(64))


CRASH_SCRIPT = """
import sys
from qa.embedding import HashingEmbedder
from qa.index import build_index
build_index(sys.argv[1], sys.argv[2], embedder=HashingEmbedder(64), append_min=0, _crash_after=sys.argv[3])
"""


@pytest.mark.parametrize("point", ["embed", "files", "generation"])
def test_an_append_killed_midway_leaves_the_previous_index(seeds, tmp_path, point):
    _seeds(tmp_path, seeds)
    root = tmp_path / "ix"
    _build(seeds, root)
    state = {p.name: p.read_bytes() for p in current_generation(root).rglob("*") if p.is_file()}
    (seeds / "发布会.txt").write_text(ADDED, encoding="utf-8")
    script = tmp_path / "crash.py"
    script.write_text(CRASH_SCRIPT, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, str(script), str(seeds), str(root), point], env=env, capture_output=True)
    assert proc.returncode == 17, proc.stderr.decode()
    assert {p.name: p.read_bytes() for p in current_generation(root).rglob("*") if p.is_file()} == state
    assert len(load_index(root, embedder=HashingEmbedder(64)).passages) == sum(
        1 for _ in load_index(root, embedder=HashingEmbedder(64)).passages
    )
    r = _build(seeds, root)
    assert r.mode == "append"
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(("gen-", ".tmp-"))) == [current_generation(root).name]
    shutil.rmtree(tmp_path / "fresh", ignore_errors=True)
    _assert_same_as_full_build(load_index(root, embedder=HashingEmbedder(64)), seeds, tmp_path)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=1, max_size=5), st.data())
def test_rowmap_numbers_live_rows_without_gaps(sizes, data):
    total = sum(sizes)
    deleted = sorted(data.draw(st.sets(st.integers(0, max(total - 1, 0)), max_size=total)) if total else [])
    rows = RowMap(sizes, np.array(deleted, dtype=np.int64))
    live = [g for g in range(total) if g not in set(deleted)]
    assert rows.n_live == len(live)
    for r, g in enumerate(live):
        assert int(rows.to_global(r)) == g and int(rows.to_live(g)) == r
        assert 0 <= rows.segment_of(g) < len(sizes) and not rows.is_deleted(np.array([g]))[0]
    assert all(rows.is_deleted(np.array(deleted, dtype=np.int64))) if deleted else True
    per_segment = Counter(rows.segment_of(g) for g in deleted)
    assert [rows.deleted_in(s) for s in range(len(sizes))] == [per_segment[s] for s in range(len(sizes))]


def test_a_format_3_index_loads_as_one_segment_and_takes_an_append(seeds, tmp_path):
    """An index written before segments (no ``segments`` in meta.json) is still read and updated."""
    _seeds(tmp_path, seeds)
    root = tmp_path / "ix"
    _build(seeds, root)
    path = current_generation(root) / "meta.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta.pop("segments")
    meta["format_version"] = 3
    meta["meta_sha256"] = index_module._meta_digest(meta)
    path.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    old = load_index(root, embedder=HashingEmbedder(64))
    assert len(old.segments) == 1 and len(old.passages) == meta["counts"]["passages"]
    (seeds / "发布会.txt").write_text(ADDED, encoding="utf-8")
    (seeds / "冰雪节.txt").unlink()
    r = _build(seeds, root)
    assert r.mode == "append" and r.segments == 2 and r.deleted == old.documents()["冰雪节.txt"]["passages"]
    ix = load_index(root, embedder=HashingEmbedder(64))
    assert ix.meta["format_version"] == index_module.FORMAT_VERSION
    assert [s["rows"] for s in ix.meta["segments"]] == [len(old.passages), ix.documents()["发布会.txt"]["passages"]]
    _assert_consistent(ix)
    _assert_same_as_full_build(ix, seeds, tmp_path)


def test_dense_search_looks_past_deleted_near_duplicates(seeds, tmp_path):
    """Deleted rows nearest the query don't crowd out live ones: the search asks for more."""
    _seeds(tmp_path, seeds)
    for k in range(5):
        (seeds / f"版本{k}.txt").write_text(f"通知\n\n本报讯 文化馆第{k}版通知：读书会改在周六上午九点举行，地点不变。\n", encoding="utf-8")
    root = tmp_path / "ix"
    _build(seeds, root)
    for k in range(4):
        (seeds / f"版本{k}.txt").unlink()
    assert _build(seeds, root).mode == "append"
    ix = load_index(root, embedder=HashingEmbedder(64))
    survivor = next(p for p in ix.passages if p.doc == "版本4.txt" and "读书会" in p.text)
    q = HashingEmbedder(64).embed([index_module.passage_embedding_text(survivor)], kind="query")[0]
    got = ix.dense_search(q, 2)
    assert len(got) == 2 and ix.passages[got[0][0]] == survivor
    assert all(ix.passages[i].doc not in {f"版本{k}.txt" for k in range(4)} for i, _ in got)
