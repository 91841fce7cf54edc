"""Command line: ``python -m qa index|ask|eval|bench`` (also installed as ``qa``)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from . import config


def _cmd_index(args: argparse.Namespace) -> int:
    from .index import build_index

    report = build_index(args.seeds, args.index, model=args.model, progress=not args.quiet)
    print(report.summary())
    if report.unchanged:
        print("index is up to date: nothing re-embedded")
    return 0


def _cmd_ask(args: argparse.Namespace) -> int:
    from .answering import answer
    from .index import load_index

    index = load_index(args.index)
    a = answer(" ".join(args.question), index=index)
    if args.json:
        from dataclasses import asdict

        print(json.dumps(asdict(a), ensure_ascii=False, indent=2))
        return 0
    if a.found:
        print(f"答案: {a.text}   (置信度 {a.confidence:.2f})")
        print(f"原句: {a.sentence}")
        for i, c in enumerate(a.citations, 1):
            print(f"[{i}] {c.doc} · {c.label} · 字符 {c.start}-{c.end}: {c.quote}")
    else:
        print(f"没有找到答案。{a.message}")
        for i, c in enumerate(a.related, 1):
            print(f"  相关 [{i}] {c.label}: {c.quote[:60]}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from .evaluate import evaluate, format_report, load_questions
    from .index import load_index

    questions = [q for path in args.questions for q in load_questions(path)]
    index = load_index(args.index)
    report = evaluate(index, questions, compare=args.compare, source=", ".join(map(str, args.questions)))
    print(format_report(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_json(), ensure_ascii=False, indent=2), encoding="utf-8")
        print(f"\nJSON written to {args.json}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from .bench import run_bench

    return run_bench(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qa", description="Question answering with citations over Chinese documents.")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress and warnings")
    sub = p.add_subparsers(dest="command", required=True)

    pi = sub.add_parser("index", help="build or update the index of the documents")
    pi.add_argument("--seeds", type=Path, default=config.seeds_dir(), help="documents folder (env QA_SEEDS)")
    pi.add_argument("--index", type=Path, default=config.index_dir(), help="index folder (env QA_INDEX)")
    pi.add_argument("--model", default=None, help="sentence-transformers model name or path (env QA_MODEL)")
    pi.add_argument("--quiet", action="store_true", help="no progress bar")
    pi.set_defaults(func=_cmd_index)

    pa = sub.add_parser("ask", help="answer one question")
    pa.add_argument("question", nargs="+")
    pa.add_argument("--index", type=Path, default=config.index_dir())
    pa.add_argument("--json", action="store_true", help="print the Answer as JSON")
    pa.set_defaults(func=_cmd_ask)

    pe = sub.add_parser("eval", help="score the system against question files (JSON lines)")
    pe.add_argument("questions", nargs="+", type=Path)
    pe.add_argument("--index", type=Path, default=config.index_dir())
    pe.add_argument("--json", type=Path, default=None, help="also write the full report as JSON")
    pe.add_argument("--compare", action="store_true", help="keyword-only, dense-only and fused side by side")
    pe.set_defaults(func=_cmd_eval)

    pb = sub.add_parser("bench", help="measure speed and memory (writes a markdown + JSON report)")
    pb.add_argument("--sizes", default="1k,10k,100k", help="corpus sizes in passages, e.g. 1k,10k,100k")
    pb.add_argument("--index", type=Path, default=config.index_dir())
    pb.add_argument("--seeds", type=Path, default=config.seeds_dir())
    pb.add_argument("--repeats", type=int, default=5)
    pb.add_argument("--json", type=Path, default=None)
    pb.add_argument("--out", type=Path, default=None, help="markdown report path (default: print)")
    pb.set_defaults(func=_cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    from .documents import DocumentError
    from .embedding import EmbeddingError
    from .evaluate import QuestionSetError
    from .index import IndexError_

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        return args.func(args)
    except (DocumentError, EmbeddingError, QuestionSetError, IndexError_) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
