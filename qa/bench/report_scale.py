"""The report's sections 4 (scale) and 5 (FAISS index type by corpus size), and their targets.
"""

from __future__ import annotations

from collections.abc import Callable

from ..index import RECALL_TARGET
from ..retrieval import DEPTH
from .common import MEMORY_FACTOR, TARGETS, TOKENIZE_LIMIT, _f, _label


def _scale_targets(r: dict, out: list) -> None:
    if r.get("scale"):
        s = r["scale"][-1]
        p50 = s["serve"]["answer_excl_embedding"]["p50_ms"]
        out.append((f"4. answer() p50 at {_label(s['n'])} excl. question embedding",
                    f"≤ {TARGETS['answer_ms']:.0f} ms", f"{_f(p50)} ms", p50 <= TARGETS["answer_ms"]))
        load = s["serve"]["load_s"]
        out.append((f"4. load_index at {_label(s['n'])}", f"≤ {TARGETS['load_s']:.0f} s", f"{_f(load, 2)} s",
                    load <= TARGETS["load_s"]))
        anon = s["serve"]["index_anon_mb"] / s["dense_mb"]
        out.append((f"4. index memory at {_label(s['n'])} / the FAISS index's bytes", f"≤ {MEMORY_FACTOR}×",
                    f"{_f(s['memory_ratio'], 2)}× peak RSS ({_f(s['index_memory_mb'], 0)} MiB for "
                    f"{_f(s['dense_mb'], 0)} MiB of {s['serve']['faiss_type']}), of which heap alone {_f(anon, 2)}×; "
                    "the models beside, loaded before it", s["memory_ratio"] <= MEMORY_FACTOR))
        if "retrieve" in s["serve"]:
            out.append((f"4. retrieval p50 at {_label(s['n'])} (the part of answer() that grows with the corpus)",
                        "reported", f"{_f(s['serve']['retrieve']['p50_ms'])} ms", None))
        v = s["serve"]
        if "rss_reader_mb" in v:
            models = v["rss_reader_mb"] - v["rss_start_mb"]
            total = v["serve_peak_rss_mb"] / (s["dense_mb"] + models)
            out.append((f"4. serving memory at {_label(s['n'])} / (the FAISS index + the models)", f"≤ {MEMORY_FACTOR}×",
                        f"{_f(total, 2)}× ({_f(v['serve_peak_rss_mb'], 0)} MiB peak RSS for {_f(s['dense_mb'], 0)} "
                        f"MiB of vectors and {_f(models, 0)} MiB of embedder and reader)", total <= MEMORY_FACTOR))
        fa = s["faiss"]
        if "ivf" in fa:
            rec = fa["ivf"]["recall_at_10"]["tie_aware"]
            out.append((f"5. IVF recall@10 vs exact at {_label(s['n'])} (real questions, nprobe {fa['ivf']['nprobe']})",
                        f"≥ {RECALL_TARGET}", _f(rec, 3), rec >= RECALL_TARGET))
        if "hnsw" in fa:
            out.append((f"5. HNSW recall@10 vs exact at {_label(s['n'])}", "reported",
                        _f(fa["hnsw"]["recall_at_10"]["tie_aware"], 3), None))


def _scale_sections(r: dict, add: Callable[[str], None]) -> None:
    sc = r["scale"]
    add("## 4. Scale\n")
    add("Synthetic corpora (see the notes: real text, synthetic vectors), one build and one "
        f"serve subprocess per size. Searches fetch the top {DEPTH} (as `retrieve` does); "
        "`answer()` excludes the question embedding.\n")
    add("| passages | keyword search p50 / p95 ms | dense search p50 / p95 ms | "
        "answer() p50 / p95 ms | answer() Chinese / English p50 ms | build s (no embedding) | "
        "load_index s | disk MiB (serving / all) | float32 vectors MiB | dense.faiss MiB | index memory MiB | "
        "serve peak RSS MiB | build peak RSS MiB |")
    add("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for s in sc:
        v = s["serve"]
        add(f"| {_label(s['n'])} | {_f(v['keyword_search']['p50_ms'], 2)} / "
            f"{_f(v['keyword_search']['p95_ms'], 2)} | {_f(v['dense_search']['p50_ms'], 2)} / "
            f"{_f(v['dense_search']['p95_ms'], 2)} | {_f(v['answer_excl_embedding']['p50_ms'])} / "
            f"{_f(v['answer_excl_embedding']['p95_ms'])} | {_f(v['answer_zh']['p50_ms'])} / "
            f"{_f(v['answer_en']['p50_ms'])} | {_f(s['build_s'], 1)} | {_f(v['load_s'], 2)} | "
            f"{_f(s['serving_disk_mb'], 1)} / {_f(s['disk_mb'], 1)} | {_f(s['raw_vector_mb'], 1)} | "
            f"{_f(s['dense_mb'], 1)} | {_f(s['index_memory_mb'], 0)} | "
            f"{_f(v['serve_peak_rss_mb'], 0)} | {_f(s['build_peak_rss_mb'], 0)} |")
    add("")
    add("Build time breakdown (seconds): tokenize (jieba) / BM25 fit / write (FAISS build, "
        "files, checksums); with real vectors, add the embedding estimate.\n")
    add("| passages | tokenize | BM25 fit | write | embedding (estimated, not run) | projected build ratio "
        "| vocabulary | postings |")
    add("|---|---|---|---|---|---|---|---|")
    per = (r.get("build") or {}).get("seconds_per_passage")  # absent when the build section was not run
    for s in sc:
        est = per * s["n"] if per else None
        add(f"| {_label(s['n'])} | {_f(s['tokenize_s'])} | {_f(s['keyword_fit_s'])} | {_f(s['write_s'])} | "
            f"{_f(est / 60, 0) + ' min' if est else '–'} | {_f(est / (est + s['build_s']) if est else None, 3)} | "
            f"{s['vocab']:,} | {s['postings']:,} |")
    add("")
    add("Embedding estimate: the raw model's time per seed passage (section 1) × passages. Projected "
        "build ratio: that estimate over the estimate plus the measured non-embedding build time.\n")
    cached = [_label(s["n"]) for s in sc if s.get("tokens_per_sentence")]
    if cached:
        add(f"At {', '.join(cached)} (above {TOKENIZE_LIMIT:,} passages) the bench tokenised each pool sentence "
            "once and joined its passages' sentence tokens, so the tokenize column there is not jieba's "
            "cost over the passages (about 0.4 ms per passage at the smaller sizes).\n")
    v0 = sc[-1]["serve"]
    add(f"Model in the serving process: {_f(v0['rss_model_mb'] - v0['rss_start_mb'], 0)} MiB "
        f"(RSS {_f(v0['rss_start_mb'], 0)} → {_f(v0['rss_model_mb'], 0)} MiB when it loads); "
        f"question embedding p50 {_f(v0['question_embedding']['p50_ms'])} ms.")
    if "rss_reader_mb" in v0:
        add(f"The reader, loaded next and before the index: {_f(v0['rss_reader_mb'] - v0['rss_model_mb'], 0)} MiB "
            f"(RSS → {_f(v0['rss_reader_mb'], 0)} MiB).")
    add("")
    if all("retrieve" in s["serve"] for s in sc):
        add("Where `answer()`'s time goes as the corpus grows: retrieval (tokenising the question, dense and "
            "BM25 search, fusion; the question vector given) grows with the corpus, the reader reading the top "
            "passages does not:\n")
        add("| passages | retrieve p50 / p95 ms | answer() p50 ms | answer() − retrieve p50 ms (the reader, spans, citations) |")
        add("|---|---|---|---|")
        for s in sc:
            v = s["serve"]
            add(f"| {_label(s['n'])} | {_f(v['retrieve']['p50_ms'])} / {_f(v['retrieve']['p95_ms'])} | "
                f"{_f(v['answer_excl_embedding']['p50_ms'])} | "
                f"{_f(v['answer_excl_embedding']['p50_ms'] - v['retrieve']['p50_ms'])} |")
        add("")
    add("Index memory in the serving process, split into heap (anonymous: FAISS, BM25 vocabulary, "
        "jieba's dictionaries, parsed passages) and mapped file pages (passage records and postings, "
        "page cache the kernel can drop), after all queries:\n")
    add("| passages | FAISS index | dense.faiss MiB | bytes per passage in dense.faiss | index peak RSS MiB | ratio | "
        "heap MiB | mapped file MiB |")
    add("|---|---|---|---|---|---|---|---|")
    for s in sc:
        v = s["serve"]
        add(f"| {_label(s['n'])} | {v['faiss_type']} | {_f(s['dense_mb'], 1)} | "
            f"{_f(s['dense_mb'] * 2**20 / s['n'], 0)} | {_f(s['index_memory_mb'], 0)} | "
            f"{_f(s['memory_ratio'], 2)}× | {_f(v['index_anon_mb'], 0)} | {_f(v['index_file_mb'], 0)} |")
    add("")
    pairs = list(dict.fromkeys((g["from"], g["to"]) for g in r["growth"]))
    if pairs:
        add("How each figure grows (factor between consecutive sizes; exponent 1 = linear):\n")
        add("| metric | " + " | ".join(f"{_label(a)}→{_label(b)}" for a, b in pairs) + " |")
        add("|---|" + "---|" * len(pairs))
        for name in dict.fromkeys(g["metric"] for g in r["growth"]):
            cells = [f"×{_f(g['factor'], 2)} (exp {_f(g['exponent'], 2)})" for g in r["growth"] if g["metric"] == name]
            add(f"| {name} | " + " | ".join(cells) + " |")
        add("")
    add("## 5. FAISS index type by corpus size\n")
    fs = r["faiss_settings"]
    add(f"`qa/index/dense.py` uses exact `IndexFlatIP` up to `FLAT_LIMIT` = {fs['flat_limit']:,} passages, "
        f"`IndexHNSWFlat` (M={fs['hnsw_m']}, efConstruction={fs['ef_construction']}, efSearch={fs['ef_search']}) "
        f"up to `COMPRESS_LIMIT` = {fs['compress_limit']:,}, and IVF with compressed codes beyond "
        "(√n lists, trained on a sample; `nprobe` is the smallest power of two whose recall@10 "
        "against exact search, measured at build time on stored vectors plus noise, reaches "
        f"{RECALL_TARGET}; meta.json records it). All are built on every corpus here (HNSW only up to "
        f"`COMPRESS_LIMIT`); one query, top {DEPTH}, recall@10 against exact search over "
        f"{sc[-1]['faiss']['queries']} real question vectors (dev + test), tie-aware (a result "
        "scoring as high as the exact 10th counts) and plain.\n")
    add("| passages | chosen | flat 1 thread p50 ms | flat 2 threads p50 ms | HNSW p50 ms | HNSW recall@10 "
        "(tie-aware / plain) | IVF lists / nprobe | IVF p50 ms | IVF recall@10 (tie-aware / plain) | "
        "build s flat / HNSW / IVF | size MiB flat / HNSW / IVF | IVF bytes per passage |")
    add("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for s in sc:
        fa = s["faiss"]
        f, h, i = fa["flat"], fa.get("hnsw"), fa["ivf"]
        add(f"| {_label(s['n'])} | {s['serve']['faiss_type']} | {_f(f['search_1t']['p50_ms'], 2)} | "
            f"{_f(f['search_2t']['p50_ms'], 2)} | {_f(h['search_1t']['p50_ms'], 2) if h else '–'} | "
            + (f"{_f(h['recall_at_10']['tie_aware'], 3)} / {_f(h['recall_at_10']['plain'], 3)}" if h else "–")
            + f" | {i['nlist']} / {i['nprobe']} | {_f(i['search_1t']['p50_ms'], 2)} | "
            f"{_f(i['recall_at_10']['tie_aware'], 3)} / {_f(i['recall_at_10']['plain'], 3)} | "
            f"{_f(f['build_s'], 2)} / {_f(h['build_s'], 1) if h else '–'} / {_f(i['build_s'], 1)} | "
            f"{_f(f['size_mb'], 1)} / {_f(h['size_mb'], 1) if h else '–'} / {_f(i['size_mb'], 1)} | "
            f"{i['bytes_per_vector']} |")
    add("")
    ivf_built = [s for s in sc if "nprobe" in s["faiss_info"]]
    if ivf_built:
        add("The nprobe sweep the build ran (recall@10 on stored vectors plus noise; meta.json `faiss`):\n")
        for s in ivf_built:
            fi = s["faiss_info"]
            sweep = ", ".join(f"{k}: {v}" for k, v in fi["recall_sweep"].items())
            add(f"- {_label(s['n'])}: `{fi['factory']}`, trained on {fi['train_size']:,} vectors, "
                f"nprobe {fi['nprobe']} (recall {_f(fi['recall_at_10'], 3)}); sweep {sweep}.")
        add("")
    add("In the serving process (model loaded, `answer()` running in between), the chosen index "
        "searched for one query on one and on two OpenMP threads, side by side; "
        "`Index.dense_search` uses one:\n")
    add("| passages | FAISS search, 1 thread p50 / p95 ms | 2 threads p50 / p95 ms | `dense_search` p50 ms |")
    add("|---|---|---|---|")
    for s in sc:
        v = s["serve"]
        a, b = v["faiss_search_1thread"], v["faiss_search_2threads"]
        add(f"| {_label(s['n'])} | {_f(a['p50_ms'], 2)} / {_f(a['p95_ms'], 2)} | {_f(b['p50_ms'], 2)} / "
            f"{_f(b['p95_ms'], 2)} | {_f(v['dense_search']['p50_ms'], 2)} |")
    add("")
