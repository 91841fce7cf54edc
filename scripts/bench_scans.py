"""OCR speed and quality on the scanned seed pages of ``data/scans`` (issue 23).

Every page is read the way ``qa index`` reads it (``read_document``: OCR, reading order,
structure recovery; no stored text, so each page really goes through OCR) and scored
against ``truth.json`` (:mod:`qa.scan_accuracy`): character accuracy including reading
order, recognition alone (order-free), truth paragraphs read in order, articles found, and
recognised paragraphs crossing two articles or joining two truth blocks, and truth blocks split
in two.  Pages per minute are counted over all pages read; the report names the CPU, its
cores and the load average (OCR uses every core, and a busy machine reads slower).

With ``--questions``, the seed questions instead: the seed document that the pages render
(:data:`SEED`) is indexed in one index and its scanned pages (default: the image-only PDF)
in another, each in a folder of its own; the questions whose gold document is the seed are
answered from both through ``qa eval``'s evaluator (:func:`qa.evaluate.evaluate`), and EM and
F1 are reported for both, with their difference (issue 23: within 0.05 F1) and the
questions answered differently.  OCR runs once per build: ``--work DIR`` keeps the indexes
and the recognised text for the next run (default: a temporary folder, removed after).

    .venv/bin/python scripts/bench_scans.py                  # every render and the PDF
    .venv/bin/python scripts/bench_scans.py seed_p2.png --out /tmp/scans.json
    .venv/bin/python scripts/bench_scans.py --questions data/questions/dev.jsonl data/questions/test.jsonl
    .venv/bin/python scripts/bench_scans.py --questions data/questions/*.jsonl --scans seed_noisy_p1.jpg seed_noisy_p2.jpg
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.documents import DocumentError, Source, parse_text, read_document  # noqa: E402
from qa.documents.ocr import ENGINE  # noqa: E402
from qa.evaluate import Question, contains  # noqa: E402
from qa.scan_accuracy import index_of, score_page  # noqa: E402

SCANS = ROOT / "data" / "scans"
SEED = ROOT / "seeds" / "000_2575e84d6e1eb83a.txt"  # the document data/scans/make_scans.py renders
SEED_SCANS = ["seed_scan.pdf"]  # its pages, scanned: what --questions indexes by default
MAX_F1_GAP = 0.05  # the target: scanned within this much F1 of the text
FILES = ["seed_p1.png", "seed_p2.png", "seed_rotated_p1.png", "seed_rotated_p2.png", "seed_150dpi_p1.png",
         "seed_150dpi_p2.png", "notice_tc.png", "seed_noisy_p1.jpg", "seed_noisy_p2.jpg", "seed_scan.pdf", "vertical.png"]
KINDS = ("clean", "rotated", "150dpi", "traditional", "noisy", "vertical")  # each with the target
TARGETS = {"clean": 0.97, "rotated": 0.97, "150dpi": 0.97, "traditional": 0.97, "noisy": 0.93, "vertical": 0.97}


def truth_keys(name: str, pages: int) -> list[str]:
    """The truth pages of a file: a variant of a seed page (``seed_p2.png``, ``seed_noisy_p2.jpg``,
    ``seed_rotated_p2.png``) is ``seed_p2``; the PDF holds the clean pages in order; any other
    file is its own name without the suffix (``notice_tc``)."""
    if name.endswith(".pdf"):
        return [f"seed_p{i}" for i in range(1, pages + 1)]
    m = re.fullmatch(r"seed_(?:\w+_)?p(\d+)", Path(name).stem)
    return [f"seed_p{m.group(1)}" if m else Path(name).stem]


def kind_of(name: str) -> str:
    """The variant a file renders: ``noisy``, ``rotated`` (±2°), ``150dpi``, ``traditional`` (the
    notice), ``vertical`` (the page in vertical columns) or ``clean`` (the clean pages and the
    image-only PDF)."""
    for kind in ("noisy", "rotated", "150dpi"):
        if f"_{kind}_" in name:
            return kind
    if name.startswith("vertical"):
        return "vertical"
    return "traditional" if name.endswith("_tc.png") else "clean"


def bench_file(path: Path, truth: dict) -> list[dict]:
    start = time.perf_counter()
    doc = read_document(path)
    seconds = time.perf_counter() - start
    # A PDF's pages: its recognised lines say where each page's text lies.
    pages = sorted({ln.page for ln in doc.lines}) or [1]
    rows = []
    for page, key in zip(pages, truth_keys(path.name, len(pages))):
        text, articles = doc.text, doc.articles
        mine = [ln for ln in doc.lines if ln.page == page]
        if len(pages) > 1:  # the page's text (from the start of its first line), read for its own articles
            lo, hi = doc.text.rfind("\n", 0, mine[0].start) + 1, mine[-1].end
            text = " " * lo + doc.text[lo:hi]  # offsets kept
            articles = parse_text(text, path.name, doc.sha256, "ocr", meta=Source(text, "ocr", lines=tuple(mine))).articles
        score = score_page(text, truth[key], articles)
        rows.append({
            "file": path.name, "page": page, "truth": key, "kind": kind_of(path.name),
            "seconds": round(seconds / len(pages), 1), "accuracy": score.accuracy, "bag_accuracy": score.bag_accuracy,
            "in_order": f"{score.in_order}/{score.paragraphs}", "articles": f"{score.articles_found}/{score.articles}",
            "crossing": f"{score.crossing}/{score.blocks}", "joined": f"{score.joined}/{score.blocks}",
            "split": f"{score.split}/{score.paragraphs}",
            "low_confidence_lines": sum(1 for ln in mine if ln.confidence < 0.8),
        })
    return rows


def seed_questions(questions: list[Question], seed: Path = SEED) -> list[Question]:
    """The answerable ``questions`` whose gold document is ``seed``: those that name it (``doc``),
    and those that name no document whose evidence (else an answer) is in one of the seed's
    paragraphs, as the structure recovery reads them (a paragraph cut by a photo caption is
    one paragraph again)."""
    doc = read_document(seed)
    texts = [doc.text] + [b.text for a in doc.articles for b in a.blocks]
    out = []
    for q in questions:
        if not q.answerable:
            continue
        if q.doc:
            if q.doc == seed.name:
                out.append(q)
        elif any(contains(t, q.evidence or q.answers[0]) for t in texts):
            out.append(q)
    return out


def compare_questions(questions: list[Question], scans: list[Path], work: Path, seed: Path = SEED,
                      reader=None, embedder=None, progress: bool = False) -> dict:
    """The seed ``questions`` answered from the text of ``seed`` and from its scanned pages
    ``scans``, each indexed on its own under ``work``: both reports' figures, the difference
    (scanned − text) and the questions whose answers differ."""
    from qa.answering import default_reader
    from qa.evaluate import evaluate

    reader = reader or default_reader()
    keys = ("n", "em", "f1", "sentence_accuracy", "citation@1", "false_refusal")
    out: dict = {"seed": seed.name, "scans": [p.name for p in scans], "questions": len(questions)}
    results = {}
    for name, files in (("text", [seed]), ("scanned", scans)):
        index = index_of(files, work / name, embedder)
        start = time.perf_counter()
        report = evaluate(index, questions, source=name, reader=reader, progress=progress)
        out[name] = {k: report.overall[k] for k in keys} | {"seconds": round(time.perf_counter() - start, 1)}
        results[name] = {r["id"]: r for r in report.results}
    out["difference"] = {k: round(out["scanned"][k] - out["text"][k], 4) for k in ("em", "f1")}
    out["within_target"] = abs(out["difference"]["f1"]) <= MAX_F1_GAP
    out["differ"] = [
        {"id": q.id, "question": q.question, "expected": list(q.answers),
         "text": results["text"][q.id]["predicted"] if results["text"][q.id]["found"] else None,
         "scanned": results["scanned"][q.id]["predicted"] if results["scanned"][q.id]["found"] else None,
         "f1_text": round(results["text"][q.id]["f1"], 4), "f1_scanned": round(results["scanned"][q.id]["f1"], 4)}
        for q in questions
        if results["text"][q.id]["f1"] != results["scanned"][q.id]["f1"]
        or results["text"][q.id]["predicted"] != results["scanned"][q.id]["predicted"]
    ]
    return out


def format_comparison(c: dict) -> str:
    keys = ("em", "f1", "sentence_accuracy", "citation@1", "false_refusal", "seconds")
    lines = [f"{c['questions']} questions on {c['seed']}", "",
             "| index | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    for name, what in (("text", c["seed"]), ("scanned", ", ".join(c["scans"]))):
        lines.append(f"| {name} ({what}) | " + " | ".join(str(c[name][k]) for k in keys) + " |")
    d = c["difference"]
    lines += ["", f"scanned − text: EM {d['em']:+.4f}, F1 {d['f1']:+.4f} "
                  f"({'within' if c['within_target'] else 'over'} the target of {MAX_F1_GAP} F1)"]
    if c["differ"]:
        lines += ["", f"answered differently ({len(c['differ'])}):"]
        for r in c["differ"]:
            lines.append(f"  {r['id']} {r['question']}  expected {r['expected'][0]!r}: text {r['text']!r} "
                         f"(F1 {r['f1_text']}), scanned {r['scanned']!r} (F1 {r['f1_scanned']})")
    return "\n".join(lines)


def run_questions(paths: list[Path], scans: list[str], work: Path | None, out: Path | None) -> int:
    from qa.evaluate import load_questions

    questions = seed_questions([q for p in paths for q in load_questions(p)])
    if not questions:
        print(f"none of the questions is about {SEED.name}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="scan-questions-") as tmp:
        c = compare_questions(questions, [SCANS / s for s in scans], work or Path(tmp), progress=True)
    c["question_sets"] = [str(p) for p in paths]
    print(format_comparison(c))
    if out:
        out.write_text(json.dumps(c, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return 0


def machine() -> str:
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{name}, {os.cpu_count()} cores, load average {load}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", default=FILES, help=f"files under data/scans (default: {' '.join(FILES)})")
    ap.add_argument("--out", type=Path, help="also write the rows and the summary as JSON here")
    ap.add_argument("--questions", nargs="+", type=Path, metavar="FILE",
                    help="instead: answer these question sets (.jsonl) from the seed's text and from its scans")
    ap.add_argument("--scans", nargs="+", default=SEED_SCANS, metavar="NAME",
                    help=f"with --questions: the scanned pages to index, under data/scans (default: {' '.join(SEED_SCANS)})")
    ap.add_argument("--work", type=Path, help="with --questions: keep the indexes here for the next run")
    args = ap.parse_args(argv)
    if args.questions:
        return run_questions(args.questions, args.scans, args.work, args.out)
    truth = json.loads((SCANS / "truth.json").read_text(encoding="utf-8"))
    print(f"{ENGINE} on {machine()}\n", flush=True)
    rows: list[dict] = []
    start = time.perf_counter()
    for name in args.files:
        try:
            rows += bench_file(SCANS / name, truth)
        except (DocumentError, OSError) as exc:
            print(f"{name}: {exc}", file=sys.stderr)
            return 1
        print(f"{name}: {rows[-1]['seconds']:.0f} s a page", flush=True)
    minutes = (time.perf_counter() - start) / 60
    head = ["file", "page", "kind", "seconds", "accuracy", "bag_accuracy", "in_order", "articles", "crossing",
            "joined", "split", "low_confidence_lines"]
    print("\n| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for r in rows:
        print("| " + " | ".join(str(r[h]) for h in head) + " |")
    summary = {"engine": ENGINE, "machine": machine(), "pages": len(rows),
               "pages_per_minute": round(len(rows) / minutes, 2) if minutes else None}
    for kind in KINDS:
        acc = [r["accuracy"] for r in rows if r["kind"] == kind]
        if acc:
            summary[f"accuracy_{kind}_min"] = min(acc)
            summary[f"accuracy_{kind}_mean"] = round(sum(acc) / len(acc), 4)
            summary[f"accuracy_{kind}_target"] = TARGETS[kind]
    print("\n" + "\n".join(f"{k}: {v}" for k, v in summary.items()))
    if args.out:
        args.out.write_text(json.dumps({"summary": summary, "pages": rows}, ensure_ascii=False, indent=1) + "\n",
                            encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
