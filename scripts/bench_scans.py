"""OCR speed and quality on the scanned seed pages of ``data/scans`` (issue 23).

Every page is read the way ``qa index`` reads it (``read_document``: OCR, reading order,
structure recovery; no stored text, so each page really goes through OCR) and scored
against ``truth.json`` (:mod:`qa.scan_accuracy`): character accuracy including reading
order, recognition alone (order-free), truth paragraphs read in order, articles found, and
recognised paragraphs crossing two articles.  Pages per minute are counted over all pages
read; the report names the CPU, its cores and the load average (OCR uses every core, and a
busy machine reads slower).

    .venv/bin/python scripts/bench_scans.py                  # the four renders and the PDF
    .venv/bin/python scripts/bench_scans.py seed_p2.png --out /tmp/scans.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.documents import DocumentError, parse_text, read_document  # noqa: E402
from qa.documents.ocr import ENGINE  # noqa: E402
from qa.scan_accuracy import score_page  # noqa: E402

SCANS = ROOT / "data" / "scans"
FILES = ["seed_p1.png", "seed_p2.png", "seed_noisy_p1.jpg", "seed_noisy_p2.jpg", "seed_scan.pdf"]


def truth_keys(name: str, pages: int) -> list[str]:
    """The truth pages of a file: ``seed_p2.png`` and ``seed_noisy_p2.jpg`` are ``seed_p2``;
    the PDF holds the clean pages in order."""
    if name.endswith(".pdf"):
        return [f"seed_p{i}" for i in range(1, pages + 1)]
    return ["seed_p" + Path(name).stem[-1]]


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
            articles = parse_text(text, path.name, doc.sha256, "ocr").articles
        score = score_page(text, truth[key], articles)
        rows.append({
            "file": path.name, "page": page, "truth": key, "kind": "noisy" if "noisy" in path.name else "clean",
            "seconds": round(seconds / len(pages), 1), "accuracy": score.accuracy, "bag_accuracy": score.bag_accuracy,
            "in_order": f"{score.in_order}/{score.paragraphs}", "articles": f"{score.articles_found}/{score.articles}",
            "crossing": f"{score.crossing}/{score.blocks}",
            "low_confidence_lines": sum(1 for ln in mine if ln.confidence < 0.8),
        })
    return rows


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
    args = ap.parse_args(argv)
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
            "low_confidence_lines"]
    print("\n| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for r in rows:
        print("| " + " | ".join(str(r[h]) for h in head) + " |")
    summary = {"engine": ENGINE, "machine": machine(), "pages": len(rows),
               "pages_per_minute": round(len(rows) / minutes, 2) if minutes else None}
    for kind in ("clean", "noisy"):
        acc = [r["accuracy"] for r in rows if r["kind"] == kind]
        if acc:
            summary[f"accuracy_{kind}_min"] = min(acc)
            summary[f"accuracy_{kind}_mean"] = round(sum(acc) / len(acc), 4)
    print("\n" + "\n".join(f"{k}: {v}" for k, v in summary.items()))
    if args.out:
        args.out.write_text(json.dumps({"summary": summary, "pages": rows}, ensure_ascii=False, indent=1) + "\n",
                            encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
