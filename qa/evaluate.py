"""Score the chatbot against a question set (JSON lines) and say where it fails.

Question format, one object per line::

    {"id": "q01", "type": "number", "question": "…？", "answers": ["1300余场次", "1300"],
     "evidence": "宣讲1300余场次"}

``answers`` empty means the documents don't answer the question.  ``evidence`` is a
short literal of the supporting passage (compared without whitespace).  ``type`` is
optional and only used for the breakdown.
"""

from __future__ import annotations

import json
import math
import re
import statistics
import time
import unicodedata
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import bands as bands_
from .answering import Settings, answer, default_reader
from .bands import Bands
from .index import Index
from .query import analyse, clean_question
from .records import Answer, join_spans
from .retrieval import MODES, retrieve


class QuestionSetError(ValueError):
    """A malformed question file; the message names the file and line."""


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: tuple[str, ...]
    evidence: str = ""
    type: str = ""
    line: int = 0
    doc: str = ""  # the document the question is about, when the set says (data/wild does)

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def load_questions(path: Path | str) -> list[Question]:
    """Read a question file; bad lines raise :class:`QuestionSetError` naming the line."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise QuestionSetError(f"{path}: file not found") from exc
    except UnicodeDecodeError as exc:
        raise QuestionSetError(f"{path}: not UTF-8 text") from exc
    out: list[Question] = []
    seen: set[str] = set()
    for n, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            d = json.loads(line)
        except json.JSONDecodeError as exc:
            raise QuestionSetError(f"{where}: not valid JSON ({exc.msg})") from exc
        if not isinstance(d, dict):
            raise QuestionSetError(f"{where}: expected a JSON object, got {type(d).__name__}")
        q = d.get("question")
        if not isinstance(q, str) or not q.strip():
            raise QuestionSetError(f"{where}: 'question' must be a non-empty string")
        answers = d.get("answers", [])
        if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
            raise QuestionSetError(f"{where}: 'answers' must be a list of strings ([] = not answerable)")
        evidence = d.get("evidence", "") or ""
        if not isinstance(evidence, str):
            raise QuestionSetError(f"{where}: 'evidence' must be a string")
        qid = str(d.get("id", f"line{n}"))
        if qid in seen:
            raise QuestionSetError(f"{where}: duplicate id {qid!r}")
        seen.add(qid)
        out.append(Question(qid, q, tuple(a for a in answers if a.strip()), evidence, str(d.get("type", "") or ""), n,
                            str(d.get("doc", "") or "")))
    if not out:
        raise QuestionSetError(f"{path}: no questions")
    return out


# ------------------------------------------------------------------ metrics (CMRC 2018 style)


def _is_punct(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "PSZC" or ch.isspace()


def cmrc_tokens(text: str) -> list[str]:
    """Each CJK character is a token; runs of Latin letters/digits are tokens; punctuation dropped."""
    text = unicodedata.normalize("NFKC", text).lower()
    out: list[str] = []
    buf = ""
    for ch in text:
        if re.match(r"[\u3400-\u9fff\uf900-\ufaff]", ch) or _is_punct(ch):
            if buf:
                out.append(buf)
                buf = ""
            if not _is_punct(ch):
                out.append(ch)
        else:
            buf += ch
    if buf:
        out.append(buf)
    return out


def _lcs_len(a: list[str], b: list[str]) -> int:
    """Length of the longest common contiguous run of tokens."""
    best = 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b, 1):
            if x == y:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best


def f1_score(prediction: str, gold: str) -> float:
    p, g = cmrc_tokens(prediction), cmrc_tokens(gold)
    if not p or not g:
        return float(p == g)
    lcs = _lcs_len(p, g)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(p), lcs / len(g)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, gold: str) -> float:
    return float(cmrc_tokens(prediction) == cmrc_tokens(gold))


def best_f1(prediction: str, answers: tuple[str, ...]) -> float:
    return max((f1_score(prediction, a) for a in answers), default=0.0)


def best_em(prediction: str, answers: tuple[str, ...]) -> float:
    return max((exact_match(prediction, a) for a in answers), default=0.0)


RIGHT_F1 = 0.5  # an answer is counted right from this F1 (calibration, reliability table, bands)


def is_right(prediction: str, answers: tuple[str, ...] | list[str]) -> bool:
    """Whether a given answer is right: F1 ≥ :data:`RIGHT_F1` against a gold answer (an answer
    to an unanswerable question is wrong)."""
    return bool(answers) and best_f1(prediction, tuple(answers)) >= RIGHT_F1


def _squash(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def contains(haystack: str, needle: str) -> bool:
    """Whitespace-insensitive containment (NFKC on both)."""
    return bool(needle) and _squash(needle) in _squash(haystack)


# ------------------------------------------------------------------ evaluation run


@dataclass
class Result:
    id: str
    type: str
    question: str
    answers: list[str]
    evidence: str
    found: bool
    predicted: str
    sentence: str
    confidence: float
    f1: float
    em: float
    sentence_ok: bool
    citation_ok: bool  # first citation's passage contains the evidence
    citations_valid: bool  # every citation's offsets locate its quote in the source
    retrieval_rank: int | None  # rank of the first retrieved passage containing the evidence
    seconds: float
    stage: str = ""  # "" when correct, else what failed
    band: str = ""  # a found answer's display band (qa.bands: high, mid, low = shown as not found)


def _retrieval_rank(index: Index, q: Question, mode: str, k: int = 10) -> int | None:
    """Where the first passage holding the evidence ranks, retrieved as ``answer()`` retrieves
    (the analysed question: an English one's words in Chinese too)."""
    if not q.evidence:
        return None
    text, note = clean_question(q.question)
    if not text:
        return None
    for rank, hit in enumerate(retrieve(index, analyse(text, note, index), k=k, mode=mode), 1):
        if contains(hit.passage.text, q.evidence):
            return rank
    return None


def citations_valid(index: Index, a: Answer) -> bool:
    """Each citation's spans reproduce its quote from the decoded source, within [start, end)."""
    for c in a.citations:
        try:
            source = index.source_text(c.doc)
        except (OSError, ValueError):
            return False
        spans = c.spans or ((c.start, c.end),)
        if join_spans(source, spans) != c.quote or spans[0][0] != c.start or spans[-1][1] != c.end:
            return False
    return True


def _passage_text(index: Index, passage_id: str) -> str:
    try:
        return index.passages[index.row(passage_id)].text
    except KeyError:
        return ""


def evaluate_question(index: Index, q: Question, mode: str = "hybrid", reader=None) -> Result:
    t0 = time.perf_counter()
    a = answer(q.question, index=index, mode=mode, reader=reader)
    seconds = time.perf_counter() - t0
    rank = _retrieval_rank(index, q, mode)
    first = a.citations[0] if a.citations else None
    cit_ok = bool(first) and contains(_passage_text(index, first.passage_id), q.evidence)
    predicted = a.text if a.found else ""
    r = Result(
        id=q.id, type=q.type, question=q.question, answers=list(q.answers), evidence=q.evidence,
        found=a.found, predicted=predicted, sentence=a.sentence if a.found else "",
        confidence=a.confidence,
        f1=best_f1(predicted, q.answers) if q.answerable else float(not a.found),
        em=best_em(predicted, q.answers) if q.answerable else float(not a.found),
        sentence_ok=q.answerable and a.found and any(contains(a.sentence, x) for x in q.answers),
        citation_ok=cit_ok, citations_valid=citations_valid(index, a), retrieval_rank=rank,
        seconds=seconds, band=a.band if a.found else "",
    )
    if not q.answerable:
        r.stage = "answered an unanswerable" if a.found else ""
    elif not a.found:
        r.stage = "false refusal"
    elif r.f1 < 0.999:
        if rank is None:
            r.stage = "retrieval miss"
        elif not cit_ok:
            r.stage = "sentence miss"
        else:
            r.stage = "extraction miss"
    return r


def _ratio(xs: list[bool | float]) -> float:
    return round(sum(float(x) for x in xs) / len(xs), 4) if xs else 0.0


def retrieval_metrics(index: Index, questions: list[Question], mode: str) -> dict:
    return rank_metrics([_retrieval_rank(index, q, mode) for q in questions if q.answerable and q.evidence])


def rank_metrics(ranks: list[int | None]) -> dict:
    """hit@k and MRR@10 from the rank of the first relevant passage (None: not in the top 10)."""
    return {
        "n": len(ranks),
        "hit@1": _ratio([r is not None and r <= 1 for r in ranks]),
        "hit@3": _ratio([r is not None and r <= 3 for r in ranks]),
        "hit@5": _ratio([r is not None and r <= 5 for r in ranks]),
        "mrr@10": round(sum(1.0 / r for r in ranks if r) / len(ranks), 4) if ranks else 0.0,
    }


def summarize(results: list[Result]) -> dict:
    ans = [r for r in results if r.answers]
    una = [r for r in results if not r.answers]
    refused = [r for r in results if not r.found]
    secs = sorted(r.seconds for r in results)
    return {
        "n": len(results),
        "answerable": len(ans),
        "unanswerable": len(una),
        "em": _ratio([r.em for r in ans]),
        "f1": _ratio([r.f1 for r in ans]),
        "sentence_accuracy": _ratio([r.sentence_ok for r in ans]),
        "citation@1": _ratio([r.citation_ok for r in ans]),
        "citations_valid": _ratio([r.citations_valid for r in results]),
        "abstain_precision": _ratio([not r.answers for r in refused]) if refused else 0.0,
        "abstain_recall": _ratio([not r.found for r in una]),
        "false_refusal": _ratio([not r.found for r in ans]),
        "latency_p50_ms": round(1000 * statistics.median(secs), 1) if secs else 0.0,
        "latency_p95_ms": round(1000 * secs[min(len(secs) - 1, int(0.95 * len(secs)))], 1) if secs else 0.0,
        "calibration": calibration([r.confidence for r in results if r.found],
                                   [bool(r.answers) and r.f1 >= RIGHT_F1 for r in results if r.found]),
    }


def band_report(results: list[Result], bands: Bands) -> dict:
    """Share right per display band on these results, beside what dev measured for the reader.

    Rows: 高, 中, and the found answers shown as "not found" (below 中), each with its answers,
    how many were right and the share; then the questions answer() refused, with the share of
    them that the documents indeed don't answer.
    """
    rows = []
    edges = {bands_.HIGH: (bands.high, math.inf), bands_.MID: (bands.mid, bands.high), bands_.LOW: (-math.inf, bands.mid)}
    for band, target in ((bands_.HIGH, bands.targets[0]), (bands_.MID, bands.targets[1]), (bands_.LOW, None)):
        inside = [r for r in results if r.found and (r.band or bands.band(r.confidence)) == band]
        right = sum(bool(r.answers) and r.f1 >= RIGHT_F1 for r in inside)
        dev = bands.stat(band)
        lo, hi = edges[band]
        rows.append({
            "band": band, "from": None if math.isinf(lo) else lo, "to": None if math.isinf(hi) else hi,
            "n": len(inside), "right": right, "share_right": round(right / len(inside), 4) if inside else None,
            "target": target, "dev_n": dev.n if dev else None,
            "dev_share_right": round(dev.share_right, 4) if dev and dev.share_right is not None else None,
        })
    refused = [r for r in results if not r.found]
    unanswerable = sum(not r.answers for r in refused)
    return {
        "source": bands.source, "rows": rows,
        "refused": {"n": len(refused), "unanswerable": unanswerable,
                    "share_unanswerable": round(unanswerable / len(refused), 4) if refused else None},
    }


def calibration(confidences: list[float], correct: list[bool], buckets: int = 5) -> dict:
    """How well shown confidence predicts a right answer (F1 ≥ 0.5): expected calibration
    error and a reliability table by confidence bucket, over the answers given."""
    rows, ece, n = [], 0.0, len(confidences)
    for i in range(buckets):
        lo, hi = i / buckets, (i + 1) / buckets
        idx = [j for j, c in enumerate(confidences) if lo <= c < hi or (i == buckets - 1 and c >= 1.0)]
        if not idx:
            continue
        conf = sum(confidences[j] for j in idx) / len(idx)
        acc = sum(correct[j] for j in idx) / len(idx)
        ece += len(idx) / n * abs(conf - acc)
        rows.append({"bucket": f"{lo:.1f}-{hi:.1f}", "n": len(idx), "confidence": round(conf, 3), "accuracy": round(acc, 3)})
    return {"ece": round(ece, 4), "n": n, "table": rows}


@dataclass
class Report:
    questions: str
    overall: dict
    retrieval: dict
    by_type: dict
    failures: list[dict]
    compare: dict = field(default_factory=dict)
    results: list[dict] = field(default_factory=list)
    by_document: dict = field(default_factory=dict)  # when the questions name their document
    bands: dict = field(default_factory=dict)  # share right per display band (band_report)

    def to_json(self) -> dict:
        return asdict(self)


def evaluate(
    index: Index, questions: list[Question], *, compare: bool = False, source: str = "", reader=None,
    progress: bool = False,
) -> Report:
    reader = reader or default_reader()
    with index.remembering_queries():
        return _evaluate(index, questions, compare=compare, source=source, reader=reader, progress=progress)


def _evaluate(index: Index, questions: list[Question], *, compare: bool, source: str, reader, progress: bool) -> Report:
    from tqdm import tqdm

    results = [evaluate_question(index, q, reader=reader)
               for q in tqdm(questions, desc="questions", disable=not progress, leave=False)]
    by_type: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by_type[r.type or "(none)"].append(r)
    report = Report(
        questions=source,
        overall=summarize(results),
        retrieval=retrieval_metrics(index, questions, "hybrid"),
        by_type={t: summarize(rs) for t, rs in sorted(by_type.items())},
        failures=[
            {"id": r.id, "type": r.type, "stage": r.stage, "question": r.question,
             "expected": r.answers, "got": r.predicted if r.found else "(not found)",
             "confidence": r.confidence}
            for r in results if r.stage
        ],
        results=[asdict(r) for r in results],
        bands=band_report(results, Settings.of(reader).bands),
    )
    if any(q.doc for q in questions):
        by_doc: dict[str, list[Result]] = defaultdict(list)
        for q, r in zip(questions, results):
            by_doc[q.doc or "(none)"].append(r)
        report.by_document = {d: summarize(rs) for d, rs in sorted(by_doc.items())}
    if compare:
        for mode in MODES:
            rs = results if mode == "hybrid" else [evaluate_question(index, q, mode, reader) for q in questions]
            report.compare[mode] = {"retrieval": retrieval_metrics(index, questions, mode), "answers": summarize(rs)}
    return report


def format_calibration(cal: dict) -> list[str]:
    out = ["", f"## Confidence calibration (answers given: {cal['n']}, expected calibration error {cal['ece']:.3f})", "",
           "| confidence | answers | mean confidence | share right (F1 ≥ 0.5) |", "|---|---|---|---|"]
    out += [f"| {r['bucket']} | {r['n']} | {r['confidence']:.3f} | {r['accuracy']:.3f} |" for r in cal["table"]]
    return out


BAND_NAMES = {bands_.HIGH: "高", bands_.MID: "中", bands_.LOW: "not found (span hidden)"}


def _share(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def _range(row: dict) -> str:
    lo, hi = row["from"], row["to"]
    if lo is None and hi is None:
        return "all"
    if hi is None:
        return f"≥ {lo:.3f}"
    return f"< {hi:.3f}" if lo is None else f"{lo:.3f}–{hi:.3f}"


def band_source(rep: dict) -> str:
    """Where a band report's edges come from, in words."""
    source = rep.get("source") or "default"
    return "default edges, not measured for this reader" if source == "default" else f"edges measured on {source}"


def format_bands(rep: dict) -> list[str]:
    """The display bands as a Markdown table: share right here, the target, and dev's measure."""
    out = ["", f"## Display bands ({band_source(rep)})", "",
           "| shown as | confidence | answers | right | share right (F1 ≥ 0.5) | target | dev: share right (n) |",
           "|---|---|---|---|---|---|---|"]
    for r in rep["rows"]:
        dev = f"{_share(r['dev_share_right'])} ({r['dev_n']})" if r["dev_n"] is not None else "—"
        target = f"≥ {r['target']:.2f}" if r["target"] is not None else "—"
        out.append(f"| {BAND_NAMES[r['band']]} | {_range(r)} | {r['n']} | {r['right']} | {_share(r['share_right'])} | "
                   f"{target} | {dev} |")
    f = rep["refused"]
    out.append(f"| not found (refused) | — | {f['n']} | — | {_share(f['share_unanswerable'])} unanswerable | — | — |")
    return out


def format_report(rep: Report) -> str:
    o, r = rep.overall, rep.retrieval
    lines = [
        f"# Evaluation: {rep.questions}",
        f"questions: {o['n']} ({o['answerable']} answerable, {o['unanswerable']} unanswerable)",
        "",
        f"retrieval (hybrid): hit@1 {r['hit@1']:.3f}  hit@3 {r['hit@3']:.3f}  hit@5 {r['hit@5']:.3f}  "
        f"MRR@10 {r['mrr@10']:.3f}" if r.get("n") else "retrieval: not measured (gold paragraphs given)",
        f"answers: EM {o['em']:.3f}  F1 {o['f1']:.3f}  sentence accuracy {o['sentence_accuracy']:.3f}  "
        f"citation@1 {o['citation@1']:.3f}",
        f"citations whose offsets locate the quote: {o['citations_valid']:.3f}",
        f"not found: precision {o['abstain_precision']:.3f}  recall {o['abstain_recall']:.3f}  "
        f"false refusals {o['false_refusal']:.3f}"
        + (f"  no-answer accuracy {o['no_answer_accuracy']:.3f}" if o.get("no_answer_accuracy") is not None else ""),
        f"latency per question: p50 {o['latency_p50_ms']:.0f} ms  p95 {o['latency_p95_ms']:.0f} ms",
    ]
    lines += format_calibration(o["calibration"])
    if rep.bands:
        lines += format_bands(rep.bands)
    if rep.compare:
        lines += ["", "## Retrieval modes side by side", "",
                  "| mode | hit@1 | hit@3 | hit@5 | MRR@10 | EM | F1 | sentence acc | citation@1 | abstain recall | false refusal |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for mode, m in rep.compare.items():
            rr, aa = m["retrieval"], m["answers"]
            lines.append(
                f"| {mode} | {rr['hit@1']:.3f} | {rr['hit@3']:.3f} | {rr['hit@5']:.3f} | {rr['mrr@10']:.3f} | "
                f"{aa['em']:.3f} | {aa['f1']:.3f} | {aa['sentence_accuracy']:.3f} | {aa['citation@1']:.3f} | "
                f"{aa['abstain_recall']:.3f} | {aa['false_refusal']:.3f} |"
            )
    lines += ["", "## By type", "",
              "| type | n | EM | F1 | sentence acc | citation@1 | refused (unanswerable) | false refusal |",
              "|---|---|---|---|---|---|---|---|"]
    for t, m in rep.by_type.items():
        lines.append(
            f"| {t} | {m['n']} | {m['em']:.3f} | {m['f1']:.3f} | {m['sentence_accuracy']:.3f} | "
            f"{m['citation@1']:.3f} | {m['abstain_recall']:.3f} | {m['false_refusal']:.3f} |"
        )
    if rep.by_document:
        lines += ["", "## By document", "",
                  "| document | n | EM | F1 | refused (unanswerable) | false refusal |", "|---|---|---|---|---|---|"]
        for d, m in rep.by_document.items():
            lines.append(f"| {d} | {m['n']} | {m['em']:.3f} | {m['f1']:.3f} | {m['abstain_recall']:.3f} | "
                         f"{m['false_refusal']:.3f} |")
    lines += ["", f"## Failures ({len(rep.failures)})", ""]
    for f in rep.failures:
        lines.append(
            f"- {f['id']} [{f['type']}] {f['stage']}: {f['question']} — expected {f['expected'] or '(not found)'}, "
            f"got {f['got']!r} (confidence {f['confidence']:.2f})"
        )
    return "\n".join(lines)
