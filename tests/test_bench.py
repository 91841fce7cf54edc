"""The benchmark keeps working: a tiny run with the hashing embedder (no timing thresholds)."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from qa import build_index, load_index
from qa.bench import NOTES_MARK, parse_sizes, run_bench, synthetic_corpus


def test_parse_sizes():
    assert parse_sizes("1k,10k,100k") == [1_000, 10_000, 100_000]
    assert parse_sizes("300, 1.5k,1m") == [300, 1_500, 1_000_000]
    with pytest.raises(ValueError, match="1k"):
        parse_sizes("ten")


def test_synthetic_corpus_is_real_text_with_aligned_vectors(seeds, tmp_path, fake_embedder):
    build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    seed = load_index(tmp_path / "ix", embedder=fake_embedder)
    seed_sentences = {s for p in seed.passages for s in p.sentence_texts()}
    passages, pvecs, svecs = synthetic_corpus(seed, 250, np.random.default_rng(0))
    assert len(passages) == len(pvecs) == 250
    assert len(svecs) == sum(len(p.sentences) for p in passages)
    assert len({p.id for p in passages}) == 250
    assert all(s in seed_sentences for p in passages for s in p.sentence_texts())
    assert np.allclose(np.linalg.norm(pvecs, axis=1), 1.0, atol=1e-5)
    again, _, _ = synthetic_corpus(seed, 250, np.random.default_rng(0))
    assert [p.text for p in again] == [p.text for p in passages]


def test_bench_smoke(seeds, tmp_path, tiny_reader_dir, monkeypatch):
    import qa.answering
    from qa.reader import TransformerReader

    monkeypatch.setenv("QA_READER", str(tiny_reader_dir))  # the subprocesses read with the tiny reader
    monkeypatch.setattr(qa.answering, "_reader", TransformerReader(tiny_reader_dir))  # and so does this one
    out, js = tmp_path / "bench.md", tmp_path / "bench.json"
    out.write_text(f"old report\n{NOTES_MARK}\nhand-written notes\n", encoding="utf-8")
    args = argparse.Namespace(sizes="200", index=tmp_path / "ix", seeds=seeds, repeats=1,
                              json=js, out=out, model="hashing")
    assert run_bench(args) == 0
    report = json.loads(js.read_text(encoding="utf-8"))
    assert report["build"]["passages"] == 43 and report["build"]["ratio_same_texts"] > 0
    assert report["answer"]["questions"] > 0 and report["answer"]["ratio_p50"] > 0
    stages = {s["stage"]: s for s in report["answer"]["profile"]["stages"]}
    assert any(name.startswith("reader:") and s["calls"] > 0 for name, s in stages.items()), stages
    cold = report["cold_start"]
    assert cold["document_texts_embedded"] == 0 and cold["build_index_calls"] == 0
    assert cold["generation_unchanged"]
    (scale,) = report["scale"]
    assert scale["n"] == 200 and scale["disk_mb"] > 0 and scale["index_memory_mb"] > 0
    assert scale["serve"]["faiss_type"] == "IndexFlatIP"
    assert 0.0 <= scale["faiss"]["hnsw"]["recall_at_10"]["tie_aware"] <= 1.0
    text = out.read_text(encoding="utf-8")
    for heading in ("## Targets", "## 1.", "## 2.", "## 3.", "## 4.", "## 5."):
        assert heading in text
    assert "old report" not in text and text.rstrip().endswith("hand-written notes")
