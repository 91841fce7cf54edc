"""The Milvus vector store, against an embedded milvus-lite file (no server)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import QUESTIONS, ROOT, SEED

pytest.importorskip("milvus_lite")

from qa import answer, build_index, load_index  # noqa: E402
from qa.bench.keyword import _same_ranking  # noqa: E402
from qa.evaluate import load_questions  # noqa: E402
from qa.index import IndexCorrupt, current_generation  # noqa: E402
from qa.vectorstore import StoreError, StoreSpec, close_clients, parse_store  # noqa: E402


@pytest.fixture(autouse=True)
def _close_milvus():
    yield
    close_clients()  # frees the milvus-lite file for the next test


def test_parse_store_forms(tmp_path):
    assert parse_store(None) == StoreSpec("faiss")
    assert parse_store("FAISS").kind == "faiss"
    s = parse_store("milvus://db.example:19531/news")
    assert (s.kind, s.uri, s.collection, s.lite) == ("milvus", "http://db.example:19531", "news", False)
    assert parse_store("milvus://db.example").uri == "http://db.example:19530"
    lite = parse_store(str(tmp_path / "v.db") + "#papers")
    assert lite.lite and lite.uri == str(tmp_path / "v.db") and lite.collection == "papers"
    assert parse_store("milvus-lite:" + str(tmp_path / "v.db")).collection == "qa_passages"
    for bad in ("pinecone://x", "vectors.sqlite", "milvus://host/bad-name", "x.db#1abc"):
        with pytest.raises(StoreError, match="faiss|collection name"):
            parse_store(bad)


def _seed_questions() -> list[str]:
    return [q.question for q in load_questions(QUESTIONS / "dev.jsonl")]


def _wild_seeds(tmp_path):
    d = tmp_path / "seeds"
    d.mkdir()
    shutil.copy(SEED, d / SEED.name)
    for p in sorted((ROOT / "data" / "wild" / "docs").iterdir())[:4]:
        shutil.copy(p, d / p.name)
    return d


def test_milvus_lite_answers_like_faiss(tmp_path):
    from qa.embedding import HashingEmbedder

    fake_embedder = HashingEmbedder(dim=512)  # wider than the shared fake: fewer exact ties between passages
    seeds = _wild_seeds(tmp_path)
    build_index(seeds, tmp_path / "faiss", embedder=fake_embedder)
    db = tmp_path / "vectors.db"
    report = build_index(seeds, tmp_path / "milvus", embedder=fake_embedder, store=str(db))
    assert report.embedded == report.passages > 0
    a, b = load_index(tmp_path / "faiss", embedder=fake_embedder), load_index(tmp_path / "milvus", embedder=fake_embedder)
    assert b.meta["dense"]["backend"] == "milvus" and not (b.folder / "dense.faiss").exists()
    assert b.meta["dense"]["count"] == len(b.passages) == len(a.passages)
    questions = _seed_questions()
    for q in questions:
        v = fake_embedder.embed([q], kind="query")[0]
        ha, hb = a.dense_search(v, 10), b.dense_search(v, 10)
        # the same scores in the same order; the hashing embedder ties often, and ties may swap
        assert np.allclose([s for _, s in ha], [s for _, s in hb], atol=1e-5)
        assert _same_ranking(ha, hb)
    spans_a = [(x.found, x.text) for x in (answer(q, index=a) for q in questions)]
    spans_b = [(x.found, x.text) for x in (answer(q, index=b) for q in questions)]
    assert sum(x == y for x, y in zip(spans_a, spans_b)) / len(questions) >= 0.98
    got = answer(questions[0], index=b)
    assert got.citations and got.citations[0].quote in b.source_text(got.citations[0].doc)


def test_update_reuses_vectors_and_keeps_the_store(tmp_path, fake_embedder):
    seeds = _wild_seeds(tmp_path)
    db = str(tmp_path / "v.db")
    first = build_index(seeds, tmp_path / "idx", embedder=fake_embedder, store=db)
    gen1 = load_index(tmp_path / "idx", embedder=fake_embedder).meta["dense"]["generation_collection"]
    extra = sorted((ROOT / "data" / "wild" / "docs").iterdir())[5]
    shutil.copy(extra, seeds / extra.name)
    calls = []
    orig = fake_embedder.embed
    fake_embedder.embed = lambda texts, kind="document": calls.append(len(texts)) or orig(texts, kind=kind)
    second = build_index(seeds, tmp_path / "idx", embedder=fake_embedder)  # no store named: keeps Milvus
    fake_embedder.embed = orig
    assert second.reused == first.passages and second.embedded == sum(calls) > 0
    idx = load_index(tmp_path / "idx", embedder=fake_embedder)
    gen2 = idx.meta["dense"]["generation_collection"]
    assert idx.meta["dense"]["backend"] == "milvus" and gen2 != gen1
    # vectors reused from Milvus are the ones computed the first time
    from qa.index import passage_embedding_text

    v = fake_embedder.embed([passage_embedding_text(idx.passages[0])], kind="document")
    assert np.allclose(idx.vectors([0]), v, atol=1e-6)
    (seeds / extra.name).unlink()
    build_index(seeds, tmp_path / "idx", embedder=fake_embedder)
    from qa.vectorstore import _client

    names = set(_client(parse_store(db)).list_collections())
    assert gen1 not in names and gen2 in names  # the replaced generation kept, older ones dropped
    assert build_index(seeds, tmp_path / "idx", embedder=fake_embedder).unchanged


def test_changed_or_missing_collection_is_refused(tmp_path, fake_embedder):
    seeds = _wild_seeds(tmp_path)
    db = str(tmp_path / "v.db")
    build_index(seeds, tmp_path / "idx", embedder=fake_embedder, store=db)
    meta = json.loads((current_generation(tmp_path / "idx") / "meta.json").read_text(encoding="utf-8"))
    from qa.vectorstore import _client

    c = _client(parse_store(db))
    name = meta["dense"]["generation_collection"]
    row = meta["dense"]["probe_rows"][0]
    c.upsert(name, [{"row": row, "vector": [0.5] * meta["model"]["dim"]}])
    with pytest.raises(IndexCorrupt, match="other vectors"):
        load_index(tmp_path / "idx", embedder=fake_embedder)
    c.drop_collection(name)
    with pytest.raises(IndexCorrupt, match="no collection"):
        load_index(tmp_path / "idx", embedder=fake_embedder)


def test_cli_builds_and_asks_through_milvus(tmp_path, capsys):
    from qa.cli import main

    seeds = _wild_seeds(tmp_path)
    db = str(tmp_path / "cli.db")
    assert main(["index", "--seeds", str(seeds), "--index", str(tmp_path / "idx"), "--model", "hashing:64", "--store", db, "--quiet"]) == 0
    close_clients()
    assert "passages embedded" in capsys.readouterr().out
    assert main(["ask", "--index", str(tmp_path / "idx"), "--json", "辽源市“七讲七进”宣讲开展了多少场次？"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["found"] and got["citations"]
    c = got["citations"][0]
    source = (seeds / c["doc"]).read_text(encoding="utf-8")
    assert source[c["start"] : c["end"]] == c["quote"]
    assert main(["index", "--seeds", str(seeds), "--index", str(tmp_path / "other"), "--store", "pinecone://x"]) == 2
    assert "milvus://" in capsys.readouterr().err
