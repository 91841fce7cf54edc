"""The benchmark keeps working: a tiny run with the hashing embedder (no timing thresholds)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from qa import build_index, load_index
from qa.bench import NOTES_MARK, parse_sizes, run_bench, sentence_pool, synthetic_corpus
from qa.reader import ReaderError


def test_parse_sizes():
    assert parse_sizes("1k,10k,100k") == [1_000, 10_000, 100_000]
    assert parse_sizes("300, 1.5k,1m") == [300, 1_500, 1_000_000]
    with pytest.raises(ValueError, match="1k"):
        parse_sizes("ten")


def test_synthetic_corpus_is_real_text_with_aligned_vectors(seeds, tmp_path, fake_embedder):
    build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    seed = load_index(tmp_path / "ix", embedder=fake_embedder)
    seed_sentences = {s for p in seed.passages if p.kind != "header" for s in p.sentence_texts()}
    extra = ["图书馆举办读书会十二场。", "东丰县农民画展开幕。", "全民阅读月活动有两千人参加。"]
    pool = sentence_pool(seed, fake_embedder, extra, np.random.default_rng(0), limit=len(seed_sentences) + 1)
    assert set(pool.texts) == seed_sentences | set(extra) and len(pool.vectors) == len(pool.texts)
    assert pool.embedded == len(seed_sentences) + 1  # the others borrow an embedded sentence's vector
    assert np.allclose(pool.vectors[0], fake_embedder.embed([pool.texts[0]])[0])
    passages, pvecs = synthetic_corpus(pool, 250, np.random.default_rng(0))
    assert len(passages) == len(pvecs) == 250
    assert len({p.id for p in passages}) == 250
    assert all(s in pool.texts for p in passages for s in p.sentence_texts())
    assert np.allclose(np.linalg.norm(pvecs, axis=1), 1.0, atol=1e-5)
    again, _ = synthetic_corpus(pool, 250, np.random.default_rng(0))
    assert [p.text for p in again] == [p.text for p in passages]


def test_bench_smoke(seeds, tmp_path, tiny_reader_dir, monkeypatch):
    import qa.answering
    from qa.reader import TransformerReader

    monkeypatch.setenv("QA_READER", str(tiny_reader_dir))  # the subprocesses read with the tiny reader
    monkeypatch.setenv("QA_BENCH_BASELINE", "")  # `qa ask` before/after: test_ask_cold_start_before_and_after
    monkeypatch.setattr(qa.answering, "_reader", TransformerReader(tiny_reader_dir))  # and so does this one
    out, js = tmp_path / "bench.md", tmp_path / "bench.json"
    out.write_text(f"old report\n{NOTES_MARK}\nhand-written notes\n", encoding="utf-8")
    args = argparse.Namespace(sizes="200,500", index=tmp_path / "ix", seeds=seeds, repeats=1,
                              json=js, out=out, model="hashing", compress_limit=300)
    assert run_bench(args) == 0
    report = json.loads(js.read_text(encoding="utf-8"))
    assert report["build"]["passages"] == 43 and report["build"]["ratio_same_texts"] > 0
    assert report["answer"]["questions"] > 0 and report["answer"]["ratio_p50"] > 0
    stages = {s["stage"]: s for s in report["answer"]["profile"]["stages"]}
    assert any(name.startswith("reader:") and s["calls"] > 0 for name, s in stages.items()), stages
    cold = report["cold_start"]
    assert cold["document_texts_embedded"] == 0 and cold["build_index_calls"] == 0
    assert cold["generation_unchanged"] and cold["peak_rss_mb"] > 0
    assert cold["marks"]["model_loaded_s"] <= cold["marks"]["reader_loaded_s"] <= cold["marks"]["first_answer_s"]
    assert cold["ask"] == {"skipped": "no baseline commit (QA_BENCH_BASELINE is empty)"}
    small, big = report["scale"]  # below and above the lowered compression threshold
    assert small["n"] == 200 and small["disk_mb"] > 0 and small["index_memory_mb"] > 0
    assert small["serve"]["faiss_type"] == "IndexFlatIP"
    assert 0.0 <= small["faiss"]["hnsw"]["recall_at_10"]["tie_aware"] <= 1.0
    assert big["serve"]["faiss_type"] == "IndexIVFScalarQuantizer" and big["serve"]["nprobe"] >= 1
    assert big["faiss_info"]["recall_at_10"] >= 0.95 and "hnsw" not in big["faiss"]
    assert big["serve"]["answers"] > 0 and report["pool"]["sentences"] > 0
    text = out.read_text(encoding="utf-8")
    for heading in ("## Targets", "## 1.", "## 2.", "## 3.", "## 4.", "## 5.", "## 6."):
        assert heading in text
    assert "old report" not in text and text.rstrip().endswith("hand-written notes")
    store = report["store"]  # FAISS vs milvus-lite over the same vectors, same reader
    assert store["questions"] > 100 and store["milvus"]["backend"] == "milvus"
    assert store["identical_answers"] >= 0.98 and store["identical_top_hits"] >= 0.98


def test_bench_sections(seeds, tmp_path, tiny_reader_dir, monkeypatch, capsys):
    import qa.answering
    from qa.reader import TransformerReader

    monkeypatch.setattr(qa.answering, "_reader", TransformerReader(tiny_reader_dir))
    js = tmp_path / "bench.json"
    monkeypatch.setenv("QA_READER", str(tiny_reader_dir))
    args = argparse.Namespace(sizes="200", index=tmp_path / "ix", seeds=seeds, repeats=1, json=js, out=None,
                              model="hashing", sections="answer,scale", baseline_reader=tiny_reader_dir)
    assert run_bench(args) == 0
    report = json.loads(js.read_text(encoding="utf-8"))
    assert report["sections"] == ["answer", "scale"] and "build" not in report and len(report["scale"]) == 1
    readers = report["answer"]["readers"]  # --baseline-reader: both readers timed on the same questions
    [this, base] = readers["readers"].values()
    assert this["n"] == base["n"] == readers["questions"] > 0 and this["ratio_p50"] == 1.0 and base["ratio_p50"] > 0
    assert this["found_share"] == base["found_share"] > 0  # the same reader twice: the same answers
    text = capsys.readouterr().out
    assert "## 2." in text and "## 4." in text and "## 1." not in text and "--sections answer,scale" in text
    assert "Readers side by side" in text and f"baseline ({tiny_reader_dir})" in text
    args.sections = "answer,speed"
    assert run_bench(args) == 2
    assert "unknown bench section speed" in capsys.readouterr().err
    args.sections = "scale"  # --baseline-reader without the section it times
    assert run_bench(args) == 2 and "add the answer section" in capsys.readouterr().err
    args.sections, args.baseline_reader = "answer", tmp_path / "no-reader"
    with pytest.raises(ReaderError):  # refused before any timing (the CLI prints it as an error)
        run_bench(args)


@pytest.mark.slow  # three fresh processes (an index build and two `qa ask`): about a minute on a busy machine
def test_ask_cold_start_before_and_after(seeds, tmp_path, tiny_reader_dir, fake_embedder, monkeypatch):
    """`qa ask` in fresh processes, a commit (HEAD here) against this tree: time, peak RSS, a silent start."""
    from qa.bench import ROOT, bench_ask_cold
    from qa.bench.report import _ask_section, _targets

    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: no commit to compare with")
    monkeypatch.setenv("QA_READER", str(tiny_reader_dir))
    build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    monkeypatch.chdir(tmp_path)  # relative paths, as `qa bench --seeds seeds` gives them
    k = bench_ask_cold(Path("ix"), Path(seeds.name), "宣讲开展了多少场次？", fake_embedder.name, 1, Path("work"),
                       baseline="HEAD")
    assert "skipped" not in k, k.get("skipped")
    assert Path(k["before"]["code"]).is_relative_to(tmp_path / "work"), "the commit's own code ran"
    assert Path(k["after"]["code"]).is_relative_to(ROOT) and not Path(k["after"]["code"]).is_relative_to(tmp_path)
    for side in ("before", "after"):
        assert k[side]["wall_s"] > 0 and k[side]["peak_rss_mb"] > 50 and k[side]["answer"]
    assert k["after"]["stderr_chars"] == 0, f"`qa ask` wrote to stderr: {k['after']['stderr_head']!r}"
    assert k["wall_s_ratio"] > 0 and k["peak_rss_mb_ratio"] > 0
    lines: list[str] = []
    _ask_section(k, lines.append)
    assert any(line.startswith("| peak RSS, MiB |") for line in lines)
    assert any(t[0].startswith("3. `qa ask` cold vs") for t in _targets({"cold_start": _cold_stub(k)}))
    assert bench_ask_cold(tmp_path / "ix", seeds, "问题？", fake_embedder.name, 1, tmp_path / "w2",
                          baseline="no-such-commit")["skipped"].startswith("baseline no-such-comm")


def _cold_stub(ask: dict) -> dict:
    return {"document_texts_embedded": 0, "build_index_calls": 0, "generation_unchanged": True, "ask": ask}


def test_incremental_target_is_not_applicable_below_the_append_threshold():
    from qa.bench.report import _targets
    from qa.index import APPEND_MIN

    def row(n: int, written: float):
        inc = {"n": n, "speedup": 50.0, "memory_ratio": 9.0, "compare": {"same_passages": True},
               "append": {"written_mb": written, "generation_mb": 100.0}}
        return next(t for t in _targets({"incremental": inc}) if t[0].startswith("7."))

    small = row(1_000, 90.0)
    assert small[3] is None and "not applicable" in small[2] and f"{APPEND_MIN:,}" in small[2]
    assert row(APPEND_MIN, 1.0)[3] is True
    assert row(APPEND_MIN, 90.0)[3] is False


def test_bench_ocr_section_counts_pages_and_the_second_build_reads_no_page(tmp_path, monkeypatch, fake_embedder):
    import os

    from qa.bench import bench_ocr
    from qa.bench.report import _ocr_section
    from qa.documents import ocr
    from qa.documents.reading_order import TextBox

    calls: list = []

    def fake(image):  # a headline and a paragraph per page, counted
        calls.append(image.size)
        return [TextBox((0, 0, 480, 30), "龙山区探索党建引领基层治理新途径", 0.97),
                TextBox((0, 40, 300, 60), "本报讯（记者董博）为进一步实现创新社区治理，推动业委会规范履职。", 0.9)]

    monkeypatch.setattr(ocr, "available", lambda: True)
    monkeypatch.setattr(ocr, "recognise", fake)
    o = bench_ocr(fake_embedder, tmp_path / "ocr")
    assert o["files"] == ["seed_p1.png", "seed_noisy_p1.jpg", "seed_scan.pdf"]
    assert o["pages"] == 4 and len(calls) == 4  # one page each, two in the PDF, and none again
    assert o["second_ocr_pages"] == 0 and o["recognised_kept"] == 3
    assert o["pages_per_minute"] == pytest.approx(60 * 4 / o["first_build_s"])
    assert o["seconds_per_page"] == pytest.approx(o["first_build_s"] / 4) and o["ocr_seconds_per_page"] >= 0
    assert o["second_over_first"] == pytest.approx(o["second_build_s"] / o["first_build_s"])
    assert o["cores"] == os.cpu_count() and o["cores_usable"] >= 1 and o["cpu"]
    assert o["loadavg_start"] >= 0 and o["loadavg_end"] >= 0 and o["engine"] == ocr.ENGINE
    assert ocr.recognise is fake  # the counting wrapper is gone
    lines: list[str] = []
    _ocr_section({"ocr": o}, lines.append)
    text = "\n".join(lines)
    assert "## 8." in text and "seed_scan.pdf (4 pages)" in text
    assert "| pages read through OCR by the second build | 0 |" in text
    monkeypatch.setattr(ocr, "available", lambda: False)
    skipped = bench_ocr(fake_embedder, tmp_path / "none")
    assert set(skipped) == {"skipped"} and ocr.INSTALL_HINT in skipped["skipped"]
    lines.clear()
    _ocr_section({"ocr": skipped}, lines.append)
    assert lines[1].startswith("Skipped: OCR is not installed")
