"""Can BM25 move to Milvus too?  Milvus's full-text search against qa/keyword.py, measured.

Three keyword rankings over the same passages and questions:

- ``qa``: qa/keyword.py over qa.text.Tokenizer's words (jieba over the folded text);
- ``milvus-tokens``: Milvus's BM25 function over the same words, joined by spaces and split
  again by Milvus's ``standard`` tokenizer (milvus-lite offers ``standard`` and ``jieba``;
  ``standard`` splits at spaces and punctuation, so ``43%`` is matched as ``43``), with the
  same k1 and b (is Milvus's BM25 ours?);
- ``milvus-jieba``: Milvus's BM25 function with its ``jieba`` tokenizer over the raw text
  (what a user gets without our tokenizer: no traditional/simplified or numeral folding, no
  corpus words).

Reported: hit@1 / hit@5 / MRR of the passage holding a question's evidence, agreement of the
top 10 with ``qa``, and search latency.  Runs against milvus-lite (embedded); the figures are
written to the JSON file given.

    .venv/bin/python scripts/milvus_bm25.py --sets data/questions/dev.jsonl=seeds \\
        data/wild/dev.jsonl=data/wild/docs --out docs/benchmarks-milvus-bm25.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.chunking import ChunkSettings, chunk_document  # noqa: E402
from qa.documents import list_documents, read_document  # noqa: E402
from qa.index import BM25_B, BM25_K1  # noqa: E402
from qa.keyword import KeywordIndex  # noqa: E402
from qa.records import Passage  # noqa: E402
from qa.text import Tokenizer, corpus_terms, fold  # noqa: E402

K = 10


def load_set(spec: str) -> tuple[list[Passage], list[dict]]:
    questions, folder = spec.split("=", 1)
    passages: list[Passage] = []
    for path in list_documents(Path(folder)):
        doc = read_document(path, path.relative_to(folder).as_posix())
        passages += chunk_document(doc, ChunkSettings())
    qs = [json.loads(line) for line in Path(questions).read_text(encoding="utf-8").splitlines() if line.strip()]
    return passages, [q for q in qs if q.get("evidence")]


def gold_rows(passages: list[Passage], q: dict) -> set[int]:
    ev = fold(q["evidence"])
    return {i for i, p in enumerate(passages) if p.doc == q.get("doc", p.doc) and ev in fold(p.text)}


def scores(rankings: list[list[int]], golds: list[set[int]]) -> dict:
    hit1 = hit5 = mrr = 0.0
    for ranked, gold in zip(rankings, golds):
        rank = next((r for r, i in enumerate(ranked) if i in gold), None)
        hit1 += rank == 0
        hit5 += rank is not None and rank < 5
        mrr += 1.0 / (rank + 1) if rank is not None else 0.0
    n = max(len(golds), 1)
    return {"hit@1": round(hit1 / n, 3), "hit@5": round(hit5 / n, 3), "mrr": round(mrr / n, 3)}


def milvus_collection(client, name: str, texts: list[str], analyzer: dict) -> None:
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("text", DataType.VARCHAR, max_length=65_535, enable_analyzer=True, analyzer_params=analyzer)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                 input_field_names=["text"], output_field_names=["sparse"]))
    params = client.prepare_index_params()
    params.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                     params={"inverted_index_algo": "DAAT_MAXSCORE", "bm25_k1": BM25_K1, "bm25_b": BM25_B})
    client.create_collection(name, schema=schema, index_params=params)
    for lo in range(0, len(texts), 1000):
        client.insert(name, [{"id": lo + j, "text": t} for j, t in enumerate(texts[lo : lo + 1000])])
    client.flush(name)
    client.load_collection(name)


def milvus_search(client, name: str, queries: list[str]) -> tuple[list[list[int]], list[float]]:
    out, times = [], []
    for q in queries:
        t = time.perf_counter()
        res = client.search(name, data=[q], anns_field="sparse", limit=K, output_fields=["id"],
                            search_params={"metric_type": "BM25"})
        times.append(time.perf_counter() - t)
        out.append([int(hit["id"]) for hit in res[0]])
    return out, times


def run(spec: str, client, tag: str) -> dict:
    passages, qs = load_set(spec)
    words = corpus_terms(p.text for p in passages)
    tok = Tokenizer(words)
    ptoks = [tok.words(p.text) for p in passages]
    kw = KeywordIndex(BM25_K1, BM25_B).fit(ptoks)
    qtoks = [tok.words(q["question"]) for q in qs]
    golds = [gold_rows(passages, q) for q in qs]
    keep = [i for i, g in enumerate(golds) if g]
    qs, qtoks, golds = [qs[i] for i in keep], [qtoks[i] for i in keep], [golds[i] for i in keep]
    ours, t_ours = [], []
    for t in qtoks:
        t0 = time.perf_counter()
        r = kw.search(t, K)
        t_ours.append(time.perf_counter() - t0)
        ours.append([i for i, _ in r])
    out = {"set": spec, "passages": len(passages), "questions": len(qs),
           "qa": dict(scores(ours, golds), p50_ms=round(statistics.median(t_ours) * 1000, 3))}
    # the standard tokenizer splits at spaces: a space inside a token (none in jieba's output
    # over folded text, but be safe) is replaced
    def join(toks: list[str]) -> str:
        return " ".join(t.replace(" ", "_") for t in toks if t.strip())

    variants = {
        "milvus-tokens": ({"tokenizer": "standard"}, [join(t) for t in ptoks], [join(list(dict.fromkeys(t))) for t in qtoks]),
        "milvus-jieba": ({"tokenizer": "jieba"}, [p.text for p in passages], [q["question"] for q in qs]),
    }
    for name, (analyzer, texts, queries) in variants.items():
        coll = f"bm25_{tag}_{name.replace('-', '_')}"
        try:
            t0 = time.perf_counter()
            milvus_collection(client, coll, texts, analyzer)
            build_s = time.perf_counter() - t0
            ranked, times = milvus_search(client, coll, queries)
        except Exception as exc:  # noqa: BLE001 - a probe: report what Milvus says
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        same = sum(a == b for a, b in zip(ranked, ours))
        overlap = statistics.mean(len(set(a) & set(b)) / max(len(b), 1) for a, b in zip(ranked, ours) if b)
        out[name] = dict(scores(ranked, golds), p50_ms=round(statistics.median(times) * 1000, 3),
                         build_s=round(build_s, 2), top10_identical_to_qa=round(same / len(qs), 3),
                         top10_overlap_with_qa=round(overlap, 3))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", nargs="+", required=True, help="QUESTIONS.jsonl=DOCS_FOLDER")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    import importlib.metadata

    from pymilvus import MilvusClient

    with tempfile.TemporaryDirectory(prefix="qa-milvus-bm25-") as tmp:
        client = MilvusClient(str(Path(tmp) / "bm25.db"))
        report = {"k1": BM25_K1, "b": BM25_B, "k": K,
                  "versions": {p: importlib.metadata.version(p) for p in ("pymilvus", "milvus-lite")},
                  "sets": [run(spec, client, f"s{i}") for i, spec in enumerate(args.sets)]}
        client.close()
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
