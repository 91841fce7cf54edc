"""Check the wild question sets against the documents (independent of the qa package).

    .venv/bin/python data/wild/scripts/validate.py

Each document is decoded with its known encoding (.docx: paragraphs and table cells; .html: the
visible text of <body>, scripts and styles removed; .pdf: the source text that make_pdf.py lays
out, from make_pdf.logical_text: title, headings, paragraphs and table cells, one per line, without
line wraps, running headers or footers).  Every answer and every evidence string must be an exact
substring of that text.  In the hard-wrapped reports (wrapped_*.txt) a string may instead occur
only once the wrapped lines are joined (a newline between two non-blank lines removed); those
questions are listed as "cross-line".

For the PDFs, when pypdf is installed, the text pypdf extracts must equal the source text once
whitespace, running headers and footers are removed (so the files are not stale), and the
questions whose strings pypdf gives only across a line wrap or a page break are listed as
"pdf cross-line" and "pdf cross-page" (for information).
"""

import collections
import json
import re
import sys
from pathlib import Path

WILD = Path(__file__).resolve().parents[1]
DOCS = WILD / "docs"
sys.path.insert(0, str(Path(__file__).resolve().parent))

import make_pdf  # noqa: E402  (the PDFs' source text; needs no reportlab)

ENCODINGS = {
    "news_trad_bridge_big5.txt": "big5",
    "web_trad_tea_festival_big5.html": "big5",
    "notice_reading_month_gb18030.txt": "gb18030",
    "numerals_town_chronicle_gb18030.txt": "gb18030",
    "wrapped_report_orchard.txt": "utf-16",
    "notice_water_outage.txt": "utf-8-sig",
}
TYPES = {"number", "date", "time", "place", "person", "org", "name", "list", "reason",
         "sentence", "english", "paraphrase", "unanswerable"}


def doc_text(path: Path) -> str:
    if path.suffix == ".pdf":
        return make_pdf.logical_text(path.name)
    if path.suffix == ".docx":
        import docx

        d = docx.Document(str(path))
        parts = [p.text for p in d.paragraphs]
        for t in d.tables:
            for row in t.rows:
                parts.extend(c.text for c in row.cells)
        return "\n".join(parts)
    text = path.read_bytes().decode(ENCODINGS.get(path.name, "utf-8"))
    text = text.replace("\r\n", "\n")
    if path.suffix == ".html":
        from bs4 import BeautifulSoup

        soup = BeautifulSoup(text, "html.parser")
        for tag in soup(["script", "style", "head"]):
            tag.decompose()
        text = soup.get_text("\n")
    return text


def joined(text: str) -> str:
    return re.sub(r"(?<=\S)\n(?=\S)", "", text)


def pdf_pages(path: Path):
    """pypdf's text of each page with the running header and footer lines removed, or None."""
    try:
        import pypdf
    except ImportError:
        return None
    pages = [p.extract_text() for p in pypdf.PdfReader(str(path)).pages]
    out = []
    for n, page in enumerate(pages, 1):
        furniture = {f for f in make_pdf.furniture(path.name, n, len(pages)) if f}
        out.append("\n".join(ln for ln in page.split("\n") if ln.strip() not in furniture))
    return out


def pdf_where(s: str, pages) -> str:
    """"line" / "wrap" / "page": where pypdf's text has s (one line, across a wrap, a page)."""
    if any(s in p for p in pages):
        return "line"
    if any(s in re.sub(r"\s*\n\s*", "", p) for p in pages):
        return "wrap"
    return "page"


def cjk(text: str) -> int:
    return sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")


def main() -> int:
    texts = {p.name: doc_text(p) for p in sorted(DOCS.iterdir())}
    failures, ids, crossline = [], set(), []
    pdf = {}
    for name in texts:
        if name.endswith(".pdf"):
            if name not in make_pdf.DOCUMENTS:
                failures.append(f"{name}: not a document of make_pdf.py")
                continue
            pages = pdf_pages(DOCS / name)
            if pages is None:
                continue
            pdf[name] = pages
            if re.sub(r"\s", "", "".join(pages)) != re.sub(r"\s", "", texts[name]):
                failures.append(f"{name}: pypdf's text differs from make_pdf.py's (rerun it?)")
    pdf_cross = {"wrap": [], "page": []}
    per_doc = collections.Counter()
    counts = {}
    split_docs = {}
    for split in ("dev", "test"):
        types = collections.Counter()
        split_docs[split] = set()
        for n, line in enumerate((WILD / f"{split}.jsonl").read_text("utf-8").splitlines(), 1):
            where = f"{split}:{n}"
            try:
                q = json.loads(line)
            except json.JSONDecodeError as exc:
                failures.append(f"{where}: bad JSON: {exc}")
                continue
            qid, doc = q.get("id"), q.get("doc")
            if qid in ids:
                failures.append(f"{where}: duplicate id {qid}")
            ids.add(qid)
            if q.get("type") not in TYPES:
                failures.append(f"{where} {qid}: unknown type {q.get('type')!r}")
            if doc not in texts:
                failures.append(f"{where} {qid}: unknown doc {doc!r}")
                continue
            if not q.get("question", "").strip():
                failures.append(f"{where} {qid}: empty question")
            types[q["type"]] += 1
            per_doc[doc] += 1
            split_docs[split].add(doc)
            text = texts[doc]
            wrapped = doc.startswith("wrapped_")
            answers, ev = q.get("answers", []), q.get("evidence", "")
            if not answers and ev:
                failures.append(f"{where} {qid}: unanswerable question with evidence")
            if answers and not 5 <= len(ev) <= 25:
                failures.append(f"{where} {qid}: evidence length {len(ev)}")
            for s in list(answers) + ([ev] if ev else []):
                if s in text:
                    if doc in pdf:
                        found = pdf_where(s, pdf[doc])
                        if found != "line":
                            pdf_cross[found].append(qid)
                    continue
                if wrapped and s in joined(text):
                    crossline.append(qid)
                    continue
                failures.append(f"{where} {qid}: not in {doc}: {s!r}")
            if answers and ev and not any(a in ev for a in answers):
                # evidence should normally contain an answer form; warn only
                print(f"note: {qid}: no answer form inside the evidence")
        counts[split] = types
    for name, text in texts.items():
        c = cjk(text)
        if not 400 <= c <= 1500:
            failures.append(f"{name}: {c} Chinese characters")
        if not 5 <= per_doc[name] <= 9:
            failures.append(f"{name}: {per_doc[name]} questions")
    overlap = split_docs["dev"] & split_docs["test"]
    if overlap:
        failures.append(f"documents in both splits: {sorted(overlap)}")
    for name, text in texts.items():
        split = "dev" if name in split_docs["dev"] else "test"
        print(f"{split:4} {per_doc[name]:2} q  {cjk(text):5} 字  {name}")
    for split, types in counts.items():
        print(split, sum(types.values()), dict(sorted(types.items())))
    print("cross-line:", ", ".join(sorted(set(crossline))) or "none")
    if pdf:
        print("pdf cross-line:", ", ".join(sorted(set(pdf_cross["wrap"]))) or "none")
        print("pdf cross-page:", ", ".join(sorted(set(pdf_cross["page"]))) or "none")
    for f in failures:
        print("FAIL", f)
    print("OK" if not failures else f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
