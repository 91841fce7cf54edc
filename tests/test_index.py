"""Building, saving, loading and updating the index (with the fake embedder)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qa import build_index, load_index
from qa.embedding import HashingEmbedder
from qa.index import IndexCorrupt, IndexMismatch, IndexMissing, current_generation
from qa.retrieval import retrieve

EXTRA = "新增文章\n\n本报讯(记者李四)辽源市图书馆今年举办读书会12场。\n"


def test_build_reports_counts(seeds, tmp_path, fake_embedder):
    r = build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    assert (r.documents, r.articles) == (1, 4)
    assert r.passages == 43 and r.embedded == 43 and r.reused == 0
    assert not r.skipped


def test_round_trip_gives_identical_results(seeds, tmp_path, fake_embedder):
    build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    a = load_index(tmp_path / "ix", embedder=fake_embedder)
    b = load_index(tmp_path / "ix", embedder=HashingEmbedder(64))
    assert [p.to_json() for p in a.passages] == [p.to_json() for p in b.passages]
    q = "辽源市宣讲开展了多少场次"
    ra = [(h.passage.id, round(h.score, 6)) for h in retrieve(a, q, k=5)]
    rb = [(h.passage.id, round(h.score, 6)) for h in retrieve(b, q, k=5)]
    assert ra == rb and ra
    assert np.array_equal(a.vectors(range(43)), b.vectors(range(43)))
    assert a.row(a.passages[7].id) == 7 and len(a.passages) == 43


def test_files_are_plain_and_readable(seeds, tmp_path, fake_embedder):
    build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    gen = current_generation(tmp_path / "ix")
    meta = json.loads((gen / "meta.json").read_text(encoding="utf-8"))
    assert meta["model"] == {"name": "hashing:64", "fingerprint": "hashing:64", "dim": 64, "precision": "float32"}
    assert meta["chunker"]["max_chars"] == 400
    assert set(meta["documents"]) == {"000_2575e84d6e1eb83a.txt"}
    assert meta["package_version"]
    line = (gen / "passages.jsonl").read_text(encoding="utf-8").splitlines()[0]
    assert "唱响时代主旋律" in line  # ensure_ascii=False: readable Chinese


def test_second_build_reembeds_nothing(seeds, tmp_path, fake_embedder):
    build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    calls = len(fake_embedder.calls)
    r = build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    assert r.embedded == 0 and r.reused == 43 and r.unchanged
    assert len(fake_embedder.calls) == calls


def test_update_embeds_only_the_changed_document(seeds, tmp_path, fake_embedder):
    (seeds / "extra.txt").write_text(EXTRA, encoding="utf-8")
    build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    before = load_index(tmp_path / "ix", embedder=fake_embedder)
    (seeds / "extra.txt").write_text(EXTRA.replace("12场", "15场"), encoding="utf-8")
    fake_embedder.calls.clear()
    r = build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    extra_passages = sum(1 for p in before.passages if p.doc == "extra.txt")
    assert r.embedded == extra_passages and r.reused == 43
    after = load_index(tmp_path / "ix", embedder=fake_embedder)
    assert any("15场" in p.text for p in after.passages)
    # Vectors of the unchanged document are the very same rows.
    seed_rows = [i for i, p in enumerate(after.passages) if p.doc != "extra.txt"]
    old_rows = [i for i, p in enumerate(before.passages) if p.doc != "extra.txt"]
    assert np.array_equal(after.dense.reconstruct_batch(np.array(seed_rows)),
                          before.dense.reconstruct_batch(np.array(old_rows)))


def test_removed_document_disappears(seeds, tmp_path, fake_embedder):
    (seeds / "extra.txt").write_text(EXTRA, encoding="utf-8")
    build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    (seeds / "extra.txt").unlink()
    r = build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    assert r.embedded == 0 and r.documents == 1
    assert all(p.doc != "extra.txt" for p in load_index(tmp_path / "ix").passages)


def test_changed_model_rebuilds_everything(seeds, tmp_path, fake_embedder):
    build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    r = build_index(seeds, tmp_path / "ix", embedder=HashingEmbedder(32))
    assert r.embedded == 43 and r.reused == 0


def test_querying_with_another_model_is_refused(seeds, tmp_path, fake_embedder):
    build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    with pytest.raises(IndexMismatch, match="built with model"):
        load_index(tmp_path / "ix", embedder=HashingEmbedder(32))


def test_missing_index_is_reported(tmp_path):
    with pytest.raises(IndexMissing, match="python -m qa index"):
        load_index(tmp_path / "nothing")


@pytest.mark.parametrize(
    "name", ["dense.faiss", "passages.jsonl", "passages.offsets.npy", "passages.ids.npy", "keyword_weights.npy"]
)
def test_bit_flip_is_detected(seeds, tmp_path, fake_embedder, name):
    build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    path = current_generation(tmp_path / "ix") / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(IndexCorrupt, match=name):
        load_index(tmp_path / "ix")


def test_truncated_file_is_detected(seeds, tmp_path, fake_embedder):
    build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    path = current_generation(tmp_path / "ix") / "keyword_docs.npy"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(IndexCorrupt):
        load_index(tmp_path / "ix")


def test_corrupt_index_is_rebuilt_by_the_next_build(seeds, tmp_path, fake_embedder):
    build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    (current_generation(tmp_path / "ix") / "meta.json").write_text("{broken", encoding="utf-8")
    r = build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    assert r.embedded == 43
    assert len(load_index(tmp_path / "ix").passages) == 43


def test_undecodable_file_is_skipped_with_its_name(seeds, tmp_path, fake_embedder):
    (seeds / "junk.txt").write_bytes(bytes(range(256)) * 50)
    r = build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    assert r.documents == 1
    assert any(m.startswith("junk.txt") for m in r.skipped)


def test_keyword_search_ranks_the_matching_passage_first(seeds, tmp_path, fake_embedder):
    build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    ix = load_index(tmp_path / "ix", embedder=fake_embedder)
    hits = retrieve(ix, "巾帼宣讲团", k=3, mode="keyword")
    assert "巾帼宣讲团" in hits[0].passage.text
    with pytest.raises(ValueError, match="valid modes are"):
        retrieve(ix, "x", mode="bogus")


def test_a_skipped_file_does_not_make_the_index_stale(seeds, tmp_path, fake_embedder):
    from qa.index import stale_documents

    (seeds / "junk.txt").write_bytes(bytes(range(256)) * 50)
    build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    ix = load_index(tmp_path / "ix", embedder=fake_embedder)
    assert stale_documents(ix, seeds) == []
    (seeds / "junk.txt").write_bytes(bytes(range(255, -1, -1)) * 50)  # changed: worth another try
    assert stale_documents(ix, seeds) == ["junk.txt"]
    r = build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    assert not r.unchanged and r.embedded == 0
    assert stale_documents(load_index(tmp_path / "ix", embedder=fake_embedder), seeds) == []
