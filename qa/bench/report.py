"""The markdown report: the targets, one section per stage, the method notes, and the hand-written
notes of an earlier report kept (sections 4 and 5 are in :mod:`.report_scale`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..index import APPEND_MIN
from ..retrieval import DEPTH
from .cold import COLD_BASELINE
from .common import NOISE, PREVIOUS_BUILD, SECTIONS, TARGETS, _f, _label
from .report_scale import _scale_sections, _scale_targets


def _targets(r: dict) -> list[tuple[str, str, str, bool | None]]:
    out: list[tuple[str, str, str, bool | None]] = []
    inc = r.get("incremental")
    if inc and inc["n"] < APPEND_MIN:
        out.append((f"7. an incremental update at {_label(inc['n'])} rewrites nothing unchanged",
                    "new segment only; same live passages as a full build",
                    f"not applicable: below {APPEND_MIN:,} live passages every update is a full merge, by design "
                    "(run `--sections incremental --sizes 1m`: docs/benchmarks-incremental.md)", None))
    elif inc:
        a = inc["append"]
        out.append((f"7. an incremental update at {_label(inc['n'])} rewrites nothing unchanged",
                    "new segment only; same live passages as a full build",
                    f"{_f(a['written_mb'], 1)} of {_f(a['generation_mb'], 0)} MiB written, "
                    f"{_f(inc['speedup'], 0)}x faster and {_f(inc['memory_ratio'], 1)}x less memory than full",
                    a["written_mb"] <= 0.05 * a["generation_mb"] and inc["compare"]["same_passages"]))
    b, a, c = r.get("build"), r.get("answer"), r.get("cold_start")
    if b:
        _build_targets(b, out)
    if a:
        ratio = _answer_ratio(a)
        out.append(("2. answer() p50 / question embedding p50", f"≤ {TARGETS['answer_ratio']}×",
                    f"{_f(ratio, 2)}× = 1 + {_f(a['non_embedding_p50_ms'])} ms / {_f(a['embed']['p50_ms'])} ms "
                    f"(raw p50s: {_f(a['ratio_p50'], 2)}×; paired ratios: {_f(a['ratio_paired_median'], 2)}×)",
                    ratio <= TARGETS["answer_ratio"]))
        p50 = a["answer"]["p50_ms"]
        out.append(("2. answer() p50 with the reader, seed index", f"≤ {TARGETS['reader_answer_ms']:.0f} ms",
                    f"{_f(p50)} ms", p50 <= TARGETS["reader_answer_ms"]))
    if c:
        ok = c["document_texts_embedded"] == 0 and c["build_index_calls"] == 0 and c["generation_unchanged"]
        out.append(("3. cold start re-embeds nothing", "0 texts", f"{c['document_texts_embedded']} texts, "
                    f"{c['build_index_calls']} builds, generation unchanged: {c['generation_unchanged']}", ok))
        k = c.get("ask") or {}
        if "wall_s_ratio" in k:
            out.append((f"3. `qa ask` cold vs `{k['baseline'][:7]}`: time, peak RSS, stderr",
                        "less time and memory, nothing on stderr",
                        f"{_f(k['wall_s_ratio'], 2)}× the time, {_f(k['peak_rss_mb_ratio'], 2)}× the peak RSS, "
                        f"{k['after']['stderr_chars']} characters on stderr",
                        k["wall_s_ratio"] < 1 and k["peak_rss_mb_ratio"] < 1 and k["after"]["stderr_chars"] == 0))
    _scale_targets(r, out)
    st = r.get("store")
    if st:
        out.append(("6. Milvus (milvus-lite) answers identical to FAISS", f"≥ {TARGETS['store_identical']:.0%}",
                    f"{_f(100 * st['identical_answers'], 1)}% of {st['questions']} questions",
                    st["identical_answers"] >= TARGETS["store_identical"]))
    return out


def _build_targets(b: dict, out: list) -> None:
    out.append(("1. build throughput / raw model encoding the passages alone", f"≥ {TARGETS['build_ratio']}",
            f"{_f(b['ratio_same_texts'], 2)} side by side; {_f(b['ratio_in_build'], 2)} model share inside the build",
            b["ratio_same_texts"] >= TARGETS["build_ratio"]))
    out.append(("1. build speed-up over the previous format (passages + sentences)", f"≥ {TARGETS['build_speedup']:.0f}×",
            f"{_f(b['speedup_vs_old_texts'], 2)}× side by side (the model on the old texts / this build); "
            f"{_f(b['speedup_vs_previous_report'], 2)}× against the {PREVIOUS_BUILD['date']} report's "
            f"{PREVIOUS_BUILD['build_s']} s", b["speedup_vs_old_texts"] >= TARGETS["build_speedup"]))


def _answer_ratio(a: dict) -> float:
    """``answer()`` over the question embedding: 1 + (its non-model time) / (the embedding), both p50.

    The non-model time is the median of ``answer() - embedding`` measured back to back, which
    stays put when a busy machine makes single embeddings bimodal (fast, or hundreds of ms);
    the ratio of the raw p50s then swings either way.
    """
    return 1.0 + a["non_embedding_p50_ms"] / a["embed"]["p50_ms"]


def format_report(r: dict) -> str:
    """The markdown report."""
    m = r["machine"]
    L: list[str] = []
    add = L.append
    add("# Benchmarks\n")
    secs = r.get("sections") or list(SECTIONS)
    only = "" if list(secs) == list(SECTIONS) else f" --sections {','.join(secs)}"
    add(f"Generated by `python -m qa bench --sizes {r.get('sizes_arg') or r['sizes']} --repeats {r['repeats']}{only}` on "
        f"{r['date']}. Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
        + f". Model: `{r['model']}`. Load average at start/end: {_f(m['loadavg_start'][0], 2)} / "
        f"{_f(m['loadavg_end'][0], 2)} (the machine is shared: ratios measured side by side are the "
        "figures to trust; absolute times vary from run to run). The full data is in the JSON report.\n")
    add("## Targets\n")
    add("| target | goal | measured | met |")
    add("|---|---|---|---|")
    for name, goal, got, ok in _targets(r):
        add(f"| {name} | {goal} | {got} | {'yes' if ok else 'no' if ok is not None else '–'} |")
    add("")
    sections = (("build", _build_section), ("answer", _answer_section), ("cold_start", _cold_section),
                ("scale", _scale_sections), ("store", _store_section), ("incremental", _incremental_section),
                ("ocr", _ocr_section))
    for key, section in sections:  # in the report's order, each only when it was measured
        if r.get(key):
            section(r, add)
    _method_notes(r, add)
    return "\n".join(L) + "\n"


def _build_section(r: dict, add: Callable[[str], None]) -> None:
    b = r["build"]
    add("## 1. Index build vs the raw model\n")
    add(f"The seed ({b['passages']} passages, {_f(b['chars'], 0)} characters) indexed from scratch, "
        f"median of {len(b['runs'])} builds, batches of {b['batch_size']} texts. Beside each build, in the "
        "same process (before the build on odd runs, after it on even ones): the raw model "
        "(`embedder.embed`) encoding the same passages in one call, and encoding what the previous "
        f"index format embedded: every passage **and every sentence** ({b['passages'] + b['sentences']} "
        f"texts), in its batches of {PREVIOUS_BUILD['batch']}. The model's own time inside each build is "
        "timed as well. A build now embeds passages only: the reader picks the sentence and span from "
        f"the text. The build and the raw model on the same passages compute in {b.get('precision', 'float32')} "
        "(`QA_PRECISION`, auto: bfloat16 where the CPU has it natively); the previous format's texts are "
        f"encoded in {b.get('old_precision', 'float32')}, as that format's build ran.\n")
    add("| | seconds | passages/s |")
    add("|---|---|---|")
    add(f"| `build_index` (read, chunk, embed passages, BM25, write) | {_f(b['build_s'], 2)} | "
        f"{_f(b['build_passages_per_s'], 1)} |")
    add(f"| raw model, same passages | {_f(b['raw_passages_s'], 2)} | {_f(b['raw_passages_per_s'], 1)} |")
    add(f"| raw model, the previous format's texts (passages + sentences, batch {PREVIOUS_BUILD['batch']}) | "
        f"{_f(b['raw_old_s'], 2)} | {_f(b['passages'] / b['raw_old_s'], 1)} |")
    add(f"| the model's time inside `build_index` | {_f(b['model_in_build_s'], 2)} | – |")
    add(f"| previous `build_index` ({PREVIOUS_BUILD['date']} report, another load on the machine) | "
        f"{_f(PREVIOUS_BUILD['build_s'], 2)} | {_f(PREVIOUS_BUILD['passages'] / PREVIOUS_BUILD['build_s'], 1)} |")
    add("")
    add(f"- Build over the raw model on the same passages (paired median): **{_f(b['ratio_same_texts'], 3)}** "
        f"(target ≥ {TARGETS['build_ratio']}). Inside the build, the model takes "
        f"{_f(100 * b['ratio_in_build'], 1)}% of the time and everything else (reading, chunking, jieba, "
        f"BM25, writing, checksums) {_f(b['non_embedding_s'], 2)} s per build.")
    add(f"- Speed-up over the previous format, side by side: **{_f(b['speedup_vs_old_texts'], 2)}×** "
        f"(target ≥ {TARGETS['build_speedup']:.0f}×); against the previous report's build time "
        f"{_f(b['speedup_vs_previous_report'], 2)}× (different machine load: the side-by-side figure is "
        "the one to trust).")
    add(f"- Model time: {_f(b['seconds_per_passage'] * 1000, 0)} ms per passage, the basis of the "
        "embedding estimates for the scale corpora below.\n")
    bt = r.get("batches")
    if bt:
        add(f"Batch size: the seed and `data/wild/docs` ({bt['texts']} passages, {_f(bt['chars'], 0)} "
            "characters) embedded longest first, as the build does, one pass per size, interleaved "
            "(medians):\n")
        add("| batch | " + " | ".join(bt["seconds"]) + " |")
        add("|---|" + "---|" * len(bt["seconds"]))
        add("| seconds | " + " | ".join(_f(v, 2) for v in bt["seconds"].values()) + " |")
        add("| passages/s | " + " | ".join(_f(v, 2) for v in bt["passages_per_s"].values()) + " |")
        add(f"\nFastest here: {bt['best']} (the build uses {b['batch_size']}).\n")


def _answer_section(r: dict, add: Callable[[str], None]) -> None:
    a = r["answer"]
    add("## 2. `answer()` latency on the seed index\n")
    add(f"{a['questions']} questions of `data/questions/dev.jsonl` × {r['repeats']} passes; each "
        "`answer()` is followed by the model embedding the same question alone.\n")
    add("| | p50 ms | p95 ms |")
    add("|---|---|---|")
    add(f"| `answer()` | {_f(a['answer']['p50_ms'])} | {_f(a['answer']['p95_ms'])} |")
    add(f"| question embedding alone | {_f(a['embed']['p50_ms'])} | {_f(a['embed']['p95_ms'])} |")
    for lang, name in (("zh", "Chinese"), ("en", "English")):
        x = a["by_language"][lang]
        if x["answer"]["n"]:
            add(f"| `answer()`, {name} questions only ({x['answer']['n']}) | {_f(x['answer']['p50_ms'])} | "
                f"{_f(x['answer']['p95_ms'])} |")
            add(f"| embedding alone, {name} questions only | {_f(x['embed']['p50_ms'])} | {_f(x['embed']['p95_ms'])} |")
    tt = a.get("torch_threads")
    if tt:
        add(f"| question embedding, torch on {tt['default_threads']} threads (default; one pass) | "
            f"{_f(tt['default']['p50_ms'])} | {_f(tt['default']['p95_ms'])} |")
        add(f"| question embedding, torch on 1 thread (same pass, interleaved) | {_f(tt['one']['p50_ms'])} | "
            f"{_f(tt['one']['p95_ms'])} |")
    add("")
    add(f"- `answer()` minus the embedding, per question: {_f(a['non_embedding_p50_ms'])} ms (p50), so "
        f"`answer()` ≈ embedding + that: **{_f(_answer_ratio(a), 2)}×** the question embedding's p50 "
        f"(target ≤ {TARGETS['answer_ratio']}×). The ratio of the two raw p50s is {_f(a['ratio_p50'], 2)}× "
        f"and the median of the per-question ratios {_f(a['ratio_paired_median'], 2)}×: on a busy "
        "machine torch's two threads make single embeddings bimodal (fast, or hundreds of ms), which "
        "moves those two either way, while the difference stays put.")
    add(f"- Found an answer for {_f(100 * a['found_share'], 0)}% of the runs.\n")
    rd = a.get("readers")
    if rd:
        add(f"Readers side by side (`--baseline-reader`): `answer()` with each, the same {rd['questions']} "
            f"questions × {r['repeats']} passes, interleaved question by question, each with its own settings:\n")
        add("| reader | p50 ms | p95 ms | × the first's p50 | found |")
        add("|---|---|---|---|---|")
        for name, x in rd["readers"].items():
            add(f"| {name} | {_f(x['p50_ms'])} | {_f(x['p95_ms'])} | {_f(x['ratio_p50'], 2)} | "
                f"{_f(100 * x['found_share'], 0)}% |")
        add("")
    add("Where the time goes (one more pass under cProfile, which inflates Python-heavy stages; "
        "model time measured by a timing wrapper around the embedder):\n")
    add("| stage | calls | ms per answer | share |")
    add("|---|---|---|---|")
    for s in a["profile"]["stages"]:
        add(f"| {s['stage']} | {s['calls']} | {_f(s['ms_per_answer'])} | {_f(100 * s['share'], 0)}% |")
    add("")


def _cold_section(r: dict, add: Callable[[str], None]) -> None:
    c = r["cold_start"]
    add("## 3. Cold start\n")
    mk = c["marks"]
    add(f"A fresh `python -c \"from qa import answer; …; answer(q)\"` with the index already built "
        f"(`QA_INDEX`, `QA_SEEDS` set), median of {c['runs']} processes, seconds since the parent "
        "started the process (warm OS file cache):\n")
    add("| interpreter up | `import qa` | index loaded (`default_index`) | embedder loaded | reader loaded "
        "| first answer | next answer (its own time) | peak RSS MiB (to the first answer) |")
    add("|---|---|---|---|---|---|---|---|")
    add(f"| {_f(mk['interpreter_s'], 2)} | {_f(mk['import_s'], 2)} | {_f(mk['index_loaded_s'], 2)} | "
        f"{_f(mk['model_loaded_s'], 2)} | {_f(mk.get('reader_loaded_s'), 2)} | **{_f(mk['first_answer_s'], 2)}** | "
        f"{_f(mk['second_answer_s'], 3)} | {_f(c.get('peak_rss_mb'), 0)} |")
    add("")
    add(f"Proof that nothing was re-embedded: the child counted the texts sent to the model by kind "
        f"(documents: **{c['document_texts_embedded']}**, queries: {c['query_texts_embedded']}), "
        f"`build_index` was called {c['build_index_calls']} times, and the index generation is the same "
        f"before and after (`{c['generation_before']}` → `{c['generation_after']}`, meta.json untouched: "
        f"{c['generation_unchanged']}). First answer: {c['answer']['text']!r}. The models are loaded once "
        "per process, on first use (here touched explicitly to time them apart).\n")
    if c.get("ask"):
        _ask_section(c["ask"], add)


def _ask_section(k: dict, add: Callable[[str], None]) -> None:
    if "skipped" in k:
        add(f"`qa ask` before/after: skipped ({k['skipped']}).\n")
        return
    ref = k["baseline"][:7]
    what = (" (before: each model loaded on its own, the reader reading the whole base model)"
            if k["baseline"] == COLD_BASELINE else "")
    add(f"`qa ask QUESTION` in a fresh process, this tree (after) and commit `{ref}`{what}, "
        f"{k['pairs']} pairs run back to back "
        "in alternating order; wall time from spawn to exit, peak RSS of that process (`wait4`), and what "
        "it wrote to stderr. Ratios: median of the pairs' after / before.\n")
    b, a = k["before"], k["after"]
    add(f"| `qa ask`, median | before (`{ref}`) | after | after / before |")
    add("|---|---|---|---|")
    add(f"| wall time to exit, s | {_f(b['wall_s'], 2)} | {_f(a['wall_s'], 2)} | **{_f(k['wall_s_ratio'], 2)}** |")
    add(f"| peak RSS, MiB | {_f(b['peak_rss_mb'], 0)} | {_f(a['peak_rss_mb'], 0)} | "
        f"**{_f(k['peak_rss_mb_ratio'], 2)}** |")
    add(f"| stderr, characters | {b['stderr_chars']} | {a['stderr_chars']} | |")
    add("")
    for side, r in (("before", b), ("after", a)):
        if r["stderr_head"]:
            add(f"- {side}, stderr began: `{r['stderr_head']}`")
    if a["answer"] == b["answer"]:
        add(f"- answers: the same (`{a['answer']}`)\n")
    else:  # the display may have changed between the two commits too
        add(f"- answers: before `{b['answer']}`, after `{a['answer']}`\n")


def _incremental_section(r: dict, add: Callable[[str], None]) -> None:
    inc = r["incremental"]
    init, c, ch = inc["initial"], inc["compare"], inc["change"]
    add(f"## 7. Incremental update at {_label(inc['n'])} passages\n")
    add(f"{init['documents']} documents of {ch['passages_per_document']} paragraphs of recombined pool sentences "
        f"({init['passages']} passages; vectors from `{init['model']}`: a passage's is the unit mean of its "
        "sentences' pool vectors plus noise, as in section 4, so the times are the build's own, without the "
        f"model). First build {_f(init['build_s'])} s, peak RSS "
        f"{_f(init['build_peak_rss_mb'], 0)} MiB. Then one day's change: {ch['added']} document added, "
        f"{ch['changed']} changed, {ch['removed']} removed, and the index updated twice from the same state, "
        "each in its own process:\n")
    add("| update | seconds | peak RSS MiB | MiB written | generation MiB | passages embedded | segments | "
        "deleted rows |")
    add("|---|---|---|---|---|---|---|---|")
    for kind, label in (("full", "full (`qa index --full`)"), ("append", "incremental (default)")):
        u = inc[kind]
        add(f"| {label} | {_f(u['seconds'], 2)} | {_f(u['peak_rss_mb'], 0)} | {_f(u['written_mb'], 1)} | "
            f"{_f(u['generation_mb'], 1)} | {u['embedded']} | {u['segments']} | {u['deleted']} |")
    add("")
    add(f"Incremental over full: {_f(inc['speedup'], 1)}x faster, {_f(inc['memory_ratio'], 1)}x less peak memory. "
        f"Same live passages in both: {'yes' if c['same_passages'] else 'NO'}. Over {c['questions']} dev "
        f"questions: keyword top-10 overlap {_f(c['keyword_top10_overlap'] * 100, 0)}%, in the same order "
        f"{_f(c['keyword_top10_identical'] * 100, 0)}%, same top-1 {_f(c['keyword_top1_identical'] * 100, 0)}%; "
        "the i-th best scores differ by "
        f"{_f(c['keyword_score_deviation_p50'] * 100, 2)}% at the median question and "
        f"{_f(c['keyword_score_deviation_max'] * 100, 2)}% at most (each segment keeps the mean length it was "
        "fitted with, and BM25's document frequencies count deleted rows until the next merge). The scores "
        "are the figure to read: the corpus recombines about 11,500 distinct sentences, so equal scores are "
        "many (more as the corpus grows), and the order of equal scores follows the rows, which the two "
        "builds number differently. Dense recall@10 against "
        f"exact search, full / incremental: {_f(c['dense_recall_at_10']['full'], 3)} / "
        f"{_f(c['dense_recall_at_10']['append'], 3)} ({c['dense_index']}; the appended segment is searched "
        "exactly). Search p50, full / incremental: "
        f"keyword {_f(c['keyword_p50_ms']['full'], 2)} / {_f(c['keyword_p50_ms']['append'], 2)} ms, dense "
        f"{_f(c['dense_p50_ms']['full'], 2)} / {_f(c['dense_p50_ms']['append'], 2)} ms.\n")


def _store_section(r: dict, add: Callable[[str], None]) -> None:
    st = r["store"]
    mv = st["milvus"]
    add("## 6. Vector store: FAISS files vs Milvus (milvus-lite)\n")
    add(f"The seed and `data/wild/docs` ({st['documents']} documents, {st['passages']} passages) indexed once "
        f"with FAISS, then moved to a milvus-lite file by `build_index(..., store=PATH.db)`, which reuses every "
        f"vector ({_f(st['move_s'], 2)} s; Milvus index {mv['index']}, inner product). Every question of "
        f"the project's sets ({st['questions']}: seed and wild, dev and test) asked of both, with the same reader; "
        "the backends are compared with each other, not with the gold answers.\n")
    add("| | FAISS | Milvus |")
    add("|---|---|---|")
    add(f"| load_index, s | {_f(st['load_faiss_s'], 2)} | {_f(st['load_milvus_s'], 2)} |")
    add(f"| dense search p50 / p95, ms | {_f(st['dense_faiss']['p50_ms'], 2)} / {_f(st['dense_faiss']['p95_ms'], 2)} | "
        f"{_f(st['dense_milvus']['p50_ms'], 2)} / {_f(st['dense_milvus']['p95_ms'], 2)} |")
    add(f"| answer() p50 / p95, ms | {_f(st['answer_faiss']['p50_ms'])} / {_f(st['answer_faiss']['p95_ms'])} | "
        f"{_f(st['answer_milvus']['p50_ms'])} / {_f(st['answer_milvus']['p95_ms'])} |")
    add("")
    add(f"- Identical answers (found, span, first citation's offset): **{_f(100 * st['identical_answers'], 1)}%** "
        f"(target ≥ {TARGETS['store_identical']:.0%}); identical top-{DEPTH} dense results (same passages "
        "and scores to 1e-4, ties at the cut aside): "
        f"{_f(100 * st['identical_top_hits'], 1)}%.")
    for d in st["differences"]:
        add(f"- differs: {d['question']} → FAISS {d['faiss']!r}, Milvus {d['milvus']!r}")
    add("")


def _ocr_section(r: dict, add: Callable[[str], None]) -> None:
    o = r["ocr"]
    add("## 8. OCR: scanned pages per minute\n")
    if o.get("skipped"):
        add(f"Skipped: {o['skipped']}.\n")
        return
    threads = o["ort_intra_op_threads"]
    add(f"{', '.join(o['files'])} ({o['pages']} pages) indexed the way `qa index` reads them ({o['engine']}, "
        "reading order, structure recovery, passages embedded), then built again unchanged, in one process. "
        f"CPU: {o['cpu']}, {o['cores']} cores ({o['cores_usable']} usable), onnxruntime intra-op threads "
        f"{threads if threads else 'its default (one per physical core)'}. Load average (1 min) at start/end: "
        f"{_f(o['loadavg_start'], 2)} / {_f(o['loadavg_end'], 2)}: OCR uses every core, so a busy machine reads "
        "slower.\n")
    add("| | value |")
    add("|---|---|")
    add(f"| pages per minute (first build) | {_f(o['pages_per_minute'], 2)} |")
    add(f"| seconds per page (first build / OCR engine alone, median) | {_f(o['seconds_per_page'], 1)} / "
        f"{_f(o['ocr_seconds_per_page'], 1)} |")
    add(f"| first build, s | {_f(o['first_build_s'], 1)} |")
    add(f"| second build of the unchanged files, s | {_f(o['second_build_s'], 2)} |")
    add(f"| second / first build | {_f(o['second_over_first'], 4)} |")
    add(f"| pages read through OCR by the second build | {o['second_ocr_pages']} |")
    add("")


def _method_notes(r: dict, add: Callable[[str], None]) -> None:
    add("## Method notes\n")
    add("- Medians over repeated runs; p50/p95 over all (question × pass) timings. Ratios are "
        "paired: both sides run back to back in the same process.")
    pool = r.get("pool", {})
    add("- Scale corpora: passages made of real sentences recombined at random (as many "
        "sentences per passage as the seed's body passages), so BM25 and jieba see real text: "
        f"{_f(pool.get('sentences'), 0)} distinct sentences from the seed and "
        f"{', '.join('`' + Path(p).name + '`' for p in pool.get('sources', [])) or 'nothing else'}. "
        f"**Vectors are synthetic**: {_f(pool.get('embedded'), 0)} sentences (the seed's, then a random "
        "sample) are embedded by the model and every other sentence borrows one of those vectors; a "
        f"passage vector is the unit mean of its sentences' vectors plus Gaussian noise of norm {NOISE}, "
        "renormalised (on the seed, a real passage vector and the mean of its sentences' vectors have "
        f"cosine {_f(r.get('seed_vector_cosine'), 3)}). Embedding them for real would take the time "
        "given in section 1.")
    add("- Queries are the real dev questions embedded by the model; `answer()` at scale gets "
        "the question vector from a cache, so its time excludes the question embedding (it "
        "still includes any clause embedding English questions need).")
    add("- Recombining a fixed pool of sentences is still pessimistic for BM25: every word of the "
        "pool recurs in a fixed share of the passages, so posting lists grow linearly with the corpus, "
        "where a real archive's vocabulary keeps growing and most postings stay short.")
    add("- Memory: peak RSS (VmHWM) of the serving process, reset after the model is loaded; "
        "index memory = that peak minus the RSS just before `load_index`; its ratio is to the size of "
        "`dense.faiss` (the vectors as searched: float32 for flat and HNSW, codes for IVF). Passage "
        "records and BM25 postings are memory-mapped, so only the pages that queries touch become "
        "resident (page cache, which the kernel can drop).")


NOTES_MARK = "<!-- notes: kept when the report is regenerated -->"


def _with_notes(text: str, out: Path) -> str:
    """Keep the hand-written notes (after ``NOTES_MARK``) of an existing report."""
    if out.is_file():
        old = out.read_text(encoding="utf-8")
        if NOTES_MARK in old:
            return text + "\n" + NOTES_MARK + old.split(NOTES_MARK, 1)[1]
    return text
