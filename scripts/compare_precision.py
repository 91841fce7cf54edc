"""answer() in float32 and in bfloat16 side by side, on dev question sets only.

Each precision gets its own indexes (the embedder builds them in that precision) and its own
reader; the questions go through ``answer()`` in both, interleaved per question so that a
drift in machine load favours neither.  Reports, per set: F1, refusals, the share of
identical answers (same found/not-found and the same span), and answer()'s latency.

    python scripts/compare_precision.py --sets data/questions/dev.jsonl=seeds data/wild/dev.jsonl=data/wild/docs
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa import answer, build_index, load_index  # noqa: E402
from qa.embedding import SentenceTransformerEmbedder  # noqa: E402
from qa.evaluate import best_f1, load_questions  # noqa: E402
from qa.precision import BFLOAT16, FLOAT32  # noqa: E402
from qa.reader import TransformerReader  # noqa: E402

PRECISIONS = (FLOAT32, BFLOAT16)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", nargs="+", required=True, help="QUESTIONS.jsonl=DOCS_FOLDER (dev sets only)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    readers = {p: TransformerReader(precision=p) for p in PRECISIONS}
    report: dict = {"sets": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for spec in args.sets:
            qpath, docs = spec.split("=", 1)
            questions = load_questions(qpath)
            indexes, build_s = {}, {}
            for p in PRECISIONS:
                emb = SentenceTransformerEmbedder(precision=p)
                emb.embed(["预热"])
                folder = Path(tmp) / f"{Path(docs).name}-{p}"
                t0 = time.perf_counter()
                build_index(docs, folder, embedder=emb)
                build_s[p] = round(time.perf_counter() - t0, 2)
                indexes[p] = load_index(folder, embedder=emb)
            rows = []
            for q in questions:
                row = {"id": q.id, "answerable": q.answerable}
                for p in PRECISIONS if len(rows) % 2 == 0 else PRECISIONS[::-1]:
                    t0 = time.perf_counter()
                    a = answer(q.question, index=indexes[p], reader=readers[p])
                    row[p] = {"s": time.perf_counter() - t0, "found": a.found, "text": a.text if a.found else "",
                              "f1": best_f1(a.text if a.found else "", q.answers) if q.answerable else float(not a.found),
                              "confidence": a.confidence}
                rows.append(row)
            out = {"questions": len(rows), "build_s": build_s}
            for p in PRECISIONS:
                ans = [r for r in rows if r["answerable"]]
                una = [r for r in rows if not r["answerable"]]
                out[p] = {
                    "f1_answerable": round(statistics.mean(r[p]["f1"] for r in ans), 4) if ans else None,
                    "false_refusals": round(statistics.mean(not r[p]["found"] for r in ans), 4) if ans else None,
                    "unanswerable_refused": round(statistics.mean(r[p]["f1"] for r in una), 4) if una else None,
                    "p50_ms": round(1000 * statistics.median(r[p]["s"] for r in rows), 1),
                    "mean_ms": round(1000 * statistics.mean(r[p]["s"] for r in rows), 1),
                }
            same = [r[FLOAT32]["found"] == r[BFLOAT16]["found"] and r[FLOAT32]["text"] == r[BFLOAT16]["text"] for r in rows]
            out["identical_answers"] = round(sum(same) / len(same), 4)
            out["max_confidence_change"] = round(max(abs(r[FLOAT32]["confidence"] - r[BFLOAT16]["confidence"]) for r in rows), 4)
            report["sets"][qpath] = out
            print(qpath, json.dumps(out, ensure_ascii=False), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
