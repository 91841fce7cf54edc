"""Command line: ``python -m qa index|ask|eval|bench`` (also installed as ``qa``)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from . import config
from .vectorstore import STORE_HELP, StoreError


def _given_folder(args: argparse.Namespace) -> Path | None:
    """The documents folder the user named: ``--seeds`` where the command has it, else ``QA_SEEDS``."""
    return getattr(args, "seeds", None) or config.given_seeds_dir()


def _check_folder(args: argparse.Namespace) -> None:
    """``qa ask``/``eval`` read the index as it is; a named folder that is not its own is refused all the same."""
    from .seeds import documents_folder

    given = _given_folder(args)
    if given is not None:
        documents_folder(args.index, given)


def _cmd_index(args: argparse.Namespace) -> int:
    from .index import build_index
    from .seeds import documents_folder

    # No --seeds: the folder the index was built from (a new index: QA_SEEDS or seeds/).
    seeds = documents_folder(args.index, _given_folder(args))
    report = build_index(
        seeds, args.index, model=args.model, progress=not args.quiet, store=args.store, full=args.full
    )
    print(report.summary())
    if report.unchanged:
        print("index is up to date: nothing re-embedded")
    return 0


def _cmd_ask(args: argparse.Namespace) -> int:
    from . import bands, render
    from .answering import answer
    from .index import load_index

    _check_folder(args)
    index = load_index(args.index)
    a = answer(" ".join(args.question), index=index, reader=_reader(args))
    if args.json:
        from dataclasses import asdict

        print(json.dumps(asdict(a), ensure_ascii=False, indent=2))
        return 0
    band = render.shown_band(a)  # as the chat shows it: 高, 中, or not found below 中
    if band != bands.LOW:
        print(f"答案: {render.display_text(a)}   (把握 {bands.LABELS[band]}，置信度 {a.confidence:.2f})")
        print(f"原句: {a.sentence}")
        for i, c in enumerate(a.citations, 1):
            print(f"[{i}] {c.doc} · {c.label} · 字符 {c.start}-{c.end}: {c.quote}")
    else:
        print(f"没有找到答案。{a.message if not a.found else render.NOT_SURE('zh')}")
        for i, c in enumerate(a.related, 1):
            print(f"  相关 [{i}] {c.label}: {c.quote[:60]}")
    return 0


def _reader(args: argparse.Namespace):
    from .answering import default_reader
    from .reader import TransformerReader

    reader = TransformerReader(args.reader) if getattr(args, "reader", None) else default_reader()
    _ = getattr(reader, "loaded", None)  # a bad --reader fails here, once, not once per question
    return reader


def _cmd_eval(args: argparse.Namespace) -> int:
    from .evaluate import evaluate, format_report, load_questions
    from .evaluate_squad import evaluate_squad, is_squad_file
    from .index import load_index

    squad = [p for p in args.questions if p.is_file() and is_squad_file(p)]
    sets = [p for p in args.questions if p not in squad]
    if squad and sets:
        print("error: give either SQuAD-format .json files or question sets (.jsonl), not both", file=sys.stderr)
        return 2
    if (args.open or args.gold) and not squad:
        print("error: --open/--gold apply to SQuAD-format files only", file=sys.stderr)
        return 2
    if squad:
        if args.compare:
            print("error: --compare applies to question sets (.jsonl) only", file=sys.stderr)
            return 2
        mode = "open" if args.open else "gold"
        report = evaluate_squad(squad, mode=mode, reader=_reader(args), limit=args.limit, progress=not args.quiet)
    else:
        questions = [q for path in sets for q in load_questions(path)]
        if args.limit:
            questions = questions[: args.limit]
        _check_folder(args)
        index = load_index(args.index)
        report = evaluate(index, questions, compare=args.compare, source=", ".join(map(str, sets)), reader=_reader(args),
                          progress=not args.quiet)
    print(format_report(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_json(), ensure_ascii=False, indent=2), encoding="utf-8")
        print(f"\nJSON written to {args.json}")
    if args.html:
        from .report_html import write_html

        print(f"HTML report written to {write_html(report, args.html)}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from .bench import run_bench
    from .seeds import documents_folder

    # The bench brings --index up to date before timing it: from its own documents folder,
    # never from another one (that would rebuild a user's index behind their back).
    args.seeds = documents_folder(args.index, _given_folder(args))
    return run_bench(args)


def _cmd_mrc_split(args: argparse.Namespace) -> int:
    from .reader.data import write_squad
    from .reader.trainset import load_data

    splits = load_data(args.data)
    args.out.mkdir(parents=True, exist_ok=True)
    for split in ("dev", "test"):
        for f in args.data:
            exs = [e for e in splits[split] if e.source == f.stem]
            if exs:
                path = args.out / f"{f.stem}.{split}.json"
                write_squad(exs, path)
                print(f"{path}: {len(exs)} questions")
    return 0


def _cmd_train_reader(args: argparse.Namespace) -> int:
    from .reader.data import MRCDataError
    from .reader.train import ResumeError, TrainSettingError, train
    from .reader.trainset import TrainConfig

    if args.resume is not None:
        if not args.resume.is_dir():
            print(f"error: --resume {args.resume} is not a folder (give the --out folder of the run)", file=sys.stderr)
            return 2
        try:
            train([], args.resume, TrainConfig(max_minutes=args.max_minutes, threads=args.threads), resume=True,
                  epochs=args.epochs)
        except (MRCDataError, ResumeError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0
    if not args.data or (args.out is None and args.pack is None):
        print("error: train-reader needs --data FILES and --out DIR (or --resume DIR to continue a run)", file=sys.stderr)
        return 2
    over: dict[str, float] = {}
    for item in args.oversample:
        name, _, n = item.partition("=")
        try:
            w = float(n)
        except ValueError:
            w = -1.0
        if not name or not (0.0 < w <= 100.0):
            print(f"error: --oversample takes SOURCE=W (a file stem and a weight above 0, e.g. cmrc2018-trial=2 "
                  f"or squad2-zh-dev=0.5), not {item!r}", file=sys.stderr)
            return 2
        over[name] = w
    if args.freeze_layers < 0:  # the upper bound is the model's layer count, checked once it is loaded
        print(f"error: --freeze-layers is a count of the encoder's lowest layers (0 or more), not {args.freeze_layers}",
              file=sys.stderr)
        return 2
    if args.pack is not None and args.freeze_layers:
        print("error: --freeze-layers applies to training here; the GPU path (--pack, scripts/gpu_train.py) trains "
              "every layer", file=sys.stderr)
        return 2
    for flag, v in (("--cut-answers", args.cut_answers), ("--article-negatives", args.article_negatives),
                    ("--swap-negatives", args.swap_negatives), ("--freeze-share", args.freeze_share)):
        if not 0.0 <= v <= 1.0:
            print(f"error: {flag} is a share between 0 and 1, not {v}", file=sys.stderr)
            return 2
    cfg = TrainConfig(
        epochs=2.0 if args.epochs is None else args.epochs, lr=args.lr, batch_size=args.batch_size, negatives=args.negatives, oversample=over,
        seed=args.seed, bf16=not args.no_bf16, max_minutes=args.max_minutes, threads=args.threads,
        eval_every=args.eval_every, limit=args.limit, max_len=args.max_len, stride=args.stride,
        init=str(args.init[0]) if len(args.init) == 1 else "", average=[str(f) for f in args.init] if len(args.init) > 1 else [],
        dev_limit=args.dev_limit, cut_answers=args.cut_answers,
        article_negatives=args.article_negatives, swap_negatives=args.swap_negatives, save_every=args.save_every,
        freeze_layers=args.freeze_layers, freeze_share=args.freeze_share,
    )
    for folder in args.init:
        if not (folder / "meta.json").is_file():
            print(f"error: --init {folder} is not a reader folder (no meta.json)", file=sys.stderr)
            return 2
    if cfg.epochs < 0 or (cfg.epochs == 0 and not args.init):
        print("error: --epochs is a number above 0 (or 0 with --init DIR: evaluate that reader only)", file=sys.stderr)
        return 2
    try:
        if args.pack is not None:
            from .reader.pack import write_pack

            write_pack(args.data, cfg, args.pack)
            return 0
        train(args.data, args.out, cfg)
    except (MRCDataError, TrainSettingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qa", description="Question answering with citations over Chinese documents.")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress and warnings")
    sub = p.add_subparsers(dest="command", required=True)

    pi = sub.add_parser("index", help="build or update the index of the documents")
    pi.add_argument("--seeds", type=Path, default=None,
                    help="documents folder (env QA_SEEDS; default: the one the index was built from, else seeds/)")
    pi.add_argument("--index", type=Path, default=config.index_dir(), help="index folder (env QA_INDEX)")
    pi.add_argument("--model", default=None, help="sentence-transformers model name or path (env QA_MODEL)")
    pi.add_argument("--quiet", action="store_true", help="no progress bar")
    pi.add_argument("--full", action="store_true",
                    help="rewrite the whole index as one segment (default: large indexes append small changes)")
    pi.add_argument("--store", default=None, help=f"where vectors live: {STORE_HELP}; default: as the current index, else faiss")
    pi.set_defaults(func=_cmd_index)

    pa = sub.add_parser("ask", help="answer one question")
    pa.add_argument("question", nargs="+")
    pa.add_argument("--index", type=Path, default=config.index_dir())
    pa.add_argument("--json", action="store_true", help="print the Answer as JSON")
    pa.add_argument("--reader", default=None, help="reader folder or Hugging Face QA model (env QA_READER)")
    pa.set_defaults(func=_cmd_ask)

    pe = sub.add_parser("eval", help="score the system against question files (JSON lines)")
    pe.add_argument("questions", nargs="+", type=Path)
    pe.add_argument("--index", type=Path, default=config.index_dir())
    pe.add_argument("--json", type=Path, default=None, help="also write the full report as JSON")
    pe.add_argument("--html", type=Path, default=None, metavar="OUT",
                    help="also write a self-contained HTML report (metrics, charts, failures)")
    pe.add_argument("--compare", action="store_true", help="keyword-only, dense-only and fused side by side")
    squad_mode = pe.add_mutually_exclusive_group()
    squad_mode.add_argument("--gold", action="store_true", help="SQuAD files: read each question with its own context (default)")
    squad_mode.add_argument("--open", action="store_true", help="SQuAD files: index all contexts, answer through answer()")
    pe.add_argument("--reader", default=None, help="reader folder or Hugging Face QA model (env QA_READER)")
    pe.add_argument("--limit", type=int, default=0, help="only the first N questions")
    pe.add_argument("--quiet", action="store_true", help="no progress bar")
    pe.set_defaults(func=_cmd_eval)

    ps = sub.add_parser("mrc-split", help="write the dev and test parts of SQuAD-format files (split by article)")
    ps.add_argument("--data", nargs="+", type=Path, required=True, help="the same files as given to train-reader")
    ps.add_argument("--out", type=Path, required=True, help="folder for <file>.<split>.json")
    ps.set_defaults(func=_cmd_mrc_split)

    pb = sub.add_parser("bench", help="measure speed and memory (writes a markdown + JSON report)")
    pb.add_argument("--sizes", default="1k,10k,100k", help="corpus sizes in passages, e.g. 1k,10k,100k")
    pb.add_argument("--index", type=Path, default=config.index_dir())
    pb.add_argument("--seeds", type=Path, default=None,
                    help="documents folder (default: the one --index was built from; a new index: QA_SEEDS or seeds/)")
    pb.add_argument("--repeats", type=int, default=5)
    pb.add_argument("--baseline-reader", type=Path, default=None, metavar="DIR",
                    help="also time answer() with this reader beside the one in use, interleaved (section answer)")
    pb.add_argument("--json", type=Path, default=None)
    pb.add_argument("--out", type=Path, default=None, help="markdown report path (default: print)")
    pb.add_argument("--sections", default=None,
                    help="comma-separated subset of build,answer,cold_start,scale,store,incremental "
                         "(default: all of those), or ocr (only when named)")
    pb.set_defaults(func=_cmd_bench)

    pt = sub.add_parser("train-reader", help="fine-tune the extractive reader on SQuAD-format files")
    pt.add_argument("--data", nargs="+", type=Path, default=[], help="SQuAD-format JSON files (split by article)")
    pt.add_argument("--out", type=Path, default=None, help="reader folder to write (meta.json + weights; resumable state in OUT/resume)")
    pt.add_argument("--resume", type=Path, default=None, metavar="DIR",
                    help="continue the run whose --out was DIR, from its last saved state (its data and settings)")
    pt.add_argument("--epochs", type=float, default=None,
                    help="passes over the training windows (default 2; 0 with --init: evaluate only; with --resume: "
                         "a new length for the schedule, the learning rate decaying from where it is to the new end)")
    pt.add_argument("--lr", type=float, default=8e-5)
    pt.add_argument("--batch-size", type=int, default=16)
    pt.add_argument("--negatives", type=float, default=0.4, help="no-answer windows kept per answer window")
    pt.add_argument("--oversample", nargs="*", default=[], help="SOURCE=W: weigh a file's questions (2: twice per epoch, 0.5: a random half)")
    pt.add_argument("--max-len", type=int, default=256, help="tokens per window")
    pt.add_argument("--stride", type=int, default=96, help="tokens shared by consecutive windows")
    pt.add_argument("--seed", type=int, default=13)
    pt.add_argument("--max-minutes", type=float, default=0.0, help="stop early after this long (0: no limit)")
    pt.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    pt.add_argument("--eval-every", type=int, default=0, help="steps between dev evaluations (0: each epoch)")
    pt.add_argument("--limit", type=int, default=0, help="questions per split (smoke test)")
    pt.add_argument("--init", type=Path, nargs="+", default=[], metavar="DIR",
                    help="continue from this reader folder (e.g. qa/reader/shipped), or from the uniform average of "
                         "several (a model soup of one run's checkpoints)")
    pt.add_argument("--dev-limit", type=int, default=600, help="dev questions for the learning curve")
    pt.add_argument("--no-bf16", action="store_true", help="train in float32 (default: bfloat16 autocast where this CPU runs it faster)")
    pt.add_argument("--cut-answers", type=float, default=0.0,
                    help="share of answerable questions also trained as unanswerable over their context minus the answer")
    pt.add_argument("--article-negatives", type=float, default=0.0,
                    help="share of answerable questions also trained as unanswerable over another paragraph of their article")
    pt.add_argument("--swap-negatives", type=float, default=0.0,
                    help="share of answerable training questions also trained as unanswerable with one rare noun swapped "
                         "for another question's (a near miss: the paragraph gives a figure for something else)")
    pt.add_argument("--save-every", type=float, default=10.0, help="minutes between resumable saves (OUT/resume)")
    pt.add_argument("--freeze-layers", type=int, default=0, metavar="N",
                    help="leave the embeddings and the lowest N encoder layers untrained (a cheaper step)")
    pt.add_argument("--freeze-share", type=float, default=1.0,
                    help="for this share of the schedule (1: all of it), with --freeze-layers")
    pt.add_argument("--pack", type=Path, default=None, metavar="DIR",
                    help="write the run's windows for scripts/gpu_train.py to DIR instead of training here")
    pt.set_defaults(func=_cmd_train_reader)
    return p


def main(argv: list[str] | None = None) -> int:
    from .documents import DocumentError
    from .embedding import EmbeddingError
    from .evaluate import QuestionSetError
    from .index import IndexError_
    from .precision import PrecisionError
    from .reader import ReaderError
    from .reader.data import MRCDataError

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        return args.func(args)
    except (DocumentError, EmbeddingError, QuestionSetError, IndexError_, MRCDataError, PrecisionError, ReaderError,
            StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
