"""Readers side by side on the gold paragraphs of the same DEV questions, per source.

The dev part is ``qa train-reader``'s (same files, split and same-article negatives); up to
``--per-source`` questions of each source are drawn with a fixed seed, so every reader reads the
same ones.  Each reader is scored at its own no-answer threshold (``null_threshold`` in its
meta.json) and without one: F1 / EM on the answerable questions, no-answer accuracy where a
source has unanswerable ones.  The test part is never read.

    .venv/bin/python scripts/compare_readers.py --data ../shared/mrc/*.json --article-negatives 0.3 \\
        --readers qa/reader/shipped /work/runs/native1 --out docs/reader-compare.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.reader import TransformerReader  # noqa: E402
from qa.reader.gold import gold_metrics, predict_gold  # noqa: E402
from qa.reader.trainset import load_data  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", nargs="+", type=Path, required=True)
    ap.add_argument("--article-negatives", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=13, help="the runs' seed (it places the same-article negatives)")
    ap.add_argument("--readers", nargs="+", type=Path, required=True)
    ap.add_argument("--per-source", type=int, default=150)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    dev = load_data(args.data, article_share=args.article_negatives, seed=args.seed)["dev"]
    rng = random.Random(0)
    sample = []
    for src in sorted({e.source for e in dev}):
        exs = [e for e in dev if e.source == src]
        sample += rng.sample(exs, min(args.per_source, len(exs)))
    report: dict = {"questions": len(sample), "per_source": args.per_source, "readers": {}}
    for folder in args.readers:
        reader = TransformerReader(folder)
        t = time.time()
        preds = predict_gold(reader, sample)
        thr = reader.null_threshold
        rows = {}
        for src in sorted({e.source for e in sample}):
            sel = [(e, p) for e, p in zip(sample, preds) if e.source == src]
            es, ps = [e for e, _ in sel], [p for _, p in sel]
            rows[src] = {"no_threshold": gold_metrics(es, ps, None), "at_threshold": gold_metrics(es, ps, thr)}
        rows["all"] = {"no_threshold": gold_metrics(sample, preds, None), "at_threshold": gold_metrics(sample, preds, thr)}
        report["readers"][str(folder)] = {"sha256": reader.meta.get("sha256"), "null_threshold": thr,
                                         "seconds": round(time.time() - t, 1), "sources": rows}
        print(f"{folder}: {time.time() - t:.0f} s", flush=True)
    names = list(report["readers"])
    print(f"{'source':28s} " + " | ".join(f"{Path(n).name[:22]:>22s}" for n in names))
    for src in report["readers"][names[0]]["sources"]:
        cells = []
        for n in names:
            r = report["readers"][n]["sources"][src]
            f1 = r["no_threshold"]["f1"]
            na = r["at_threshold"].get("no_answer_accuracy")
            cells.append(f"F1 {f1 if f1 is not None else '-':>6} NA {na if na is not None else '-':>6}")
        print(f"{src:28s} " + " | ".join(f"{c:>22s}" for c in cells))
    if args.out:
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
