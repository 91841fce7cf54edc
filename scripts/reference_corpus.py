"""Write a reference corpus for the indexing-speed target: ordinary Chinese prose, one document
per paragraph, up to ``--chars`` characters (issue: "any corpus of 400k characters of ordinary
prose indexes in ≤ 3 minutes").  The paragraphs come from the SQuAD-format files given (CMRC
2018's native Wikipedia paragraphs first, then the translated ones), in file order.

    python scripts/reference_corpus.py --data ../shared/mrc/cmrc2018-trial.json \
        ../shared/mrc/xquad-zh.json ../shared/mrc/squad2-zh-dev.json --out /tmp/ref400k
    time python -m qa index --seeds /tmp/ref400k --index /tmp/ref400k-index
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.reader.data import load_squad  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, nargs="+", required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--chars", type=int, default=400_000)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    total = 0
    for f in args.data:
        for e in load_squad(f):
            if e.context in seen:
                continue
            seen.add(e.context)
            name = hashlib.sha256(e.context.encode()).hexdigest()[:12]
            (args.out / f"{f.stem}_{name}.txt").write_text(f"{e.article}\n\n{e.context}\n", encoding="utf-8")
            total += len(e.context)
            if total >= args.chars:
                print(f"{len(seen)} documents, {total:,} characters in {args.out}")
                return 0
    print(f"only {total:,} characters in the files given ({len(seen)} documents) in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
