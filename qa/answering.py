"""``answer()`` and ``read()``: question in, extractive answer with citations out.

Pipeline: validate → analyse the question once (:mod:`qa.query`, follow-ups resolved
against ``history``) → hybrid retrieval → the reader reads the top passages (the
first alone, then the others in one batch unless its answer is confident enough) →
spans ranked across passages by reader margin plus retrieval → "not found" when the
best margin is below the reader's null threshold, when the question names a literal
its evidence lacks, or (a setting chosen on dev) when it asks for a sum of money and the
answer names none → citations: the sentence(s) holding the span, with source offsets.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

from . import config, messages
from .bands import DEFAULT as DEFAULT_BANDS
from .bands import Bands
from .documents import LOW_CONFIDENCE, TextLine
from .documents.images import lines_at
from .index import Index, IndexError_, build_index, load_index, stale_documents
from .money import money_at
from .query import MAX_QUESTION_CHARS, Query, analyse, clean_question, question_type
from .reader import Reader, ReaderError, SpanScore, TransformerReader
from .records import Answer, Citation, Hit, Passage, sub_spans
from .retrieval import retrieve
from .seeds import documents_folder
from .text import split_sentences

log = logging.getLogger(__name__)

__all__ = ["MAX_QUESTION_CHARS", "answer", "clean_question", "default_index", "default_reader", "read"]

READ_PASSAGES = 5  # passages the reader reads per question (one batch), unless the reader's settings say
# Added to a span's margin for its passage's retrieval rank (1st: +RETRIEVAL_BONUS, then less).
RETRIEVAL_BONUS = 1.0
MAX_TEXT_CHARS = 100_000  # read(): longest text accepted
# read() gives a span when its calibrated probability of being right is at least this, unless
# the reader's settings carry one chosen on dev (``answering.read_min_confidence``, by
# scripts/tune_answering.py on the gold paragraphs of the SQuAD-format dev files).
READ_MIN_CONFIDENCE = 0.5


@dataclass(frozen=True)
class Settings:
    """How spans are ranked across passages and when the answer is "not found".

    A reader's ``meta.json`` may carry settings chosen on dev data for it
    (``scripts/tune_answering.py``); otherwise these defaults apply: rank bonus
    ``RETRIEVAL_BONUS``, and the reader's own null threshold for the top passage.
    """

    bonus: float
    threshold: float  # on margin + bonus / rank
    literals: bool  # refuse when the question names a literal its evidence lacks
    calibration: tuple[float, float] | None  # confidence = σ(a·(score − threshold) + b)
    read_passages: int = READ_PASSAGES  # the reader's cost grows with it: chosen on dev for speed at equal quality
    type_penalty: float = 0.0  # taken off a span that lacks the asked-for form (Query.fits)
    # A long span for a 多少 question ("去年全镇共砍伐病树2.3万株") gives way to a candidate inside
    # it that has the number form ("2.3万株") and scores at most ``tighten`` less (0: off).
    tighten: float = 0.0
    tighten_min_chars: int = 10  # only spans at least this long give way
    tighten_types: tuple[str, ...] = ("number",)
    read_floor: float = READ_MIN_CONFIDENCE  # read(): the least confidence shown as an answer
    # The top passage is read alone first; when its best span ranks at least this, the others
    # are not read (inf: always read them all).  Chosen on dev for speed at equal quality.
    early_exit: float = math.inf
    bands: Bands = DEFAULT_BANDS  # 高 / 中 / not found on the confidence, measured on dev (qa.bands)
    # Refuse a question that asks for a sum of money when the span shown names no currency
    # (qa.money): "投资多少钱？" → "50吨" is a figure for something else.  Chosen on dev.
    money: bool = False

    @classmethod
    def of(cls, reader: Reader) -> Settings:
        tuned = getattr(reader, "answering", None) or {}
        bonus = float(tuned.get("retrieval_bonus", RETRIEVAL_BONUS))
        cal = tuned.get("calibration")
        tight = tuned.get("tighten") or {}
        return cls(
            bonus=bonus,
            threshold=float(tuned.get("threshold", reader.null_threshold + bonus)),
            literals=bool(tuned.get("literals", True)),
            calibration=(float(cal["a"]), float(cal["b"])) if cal else None,
            read_passages=max(1, int(tuned.get("read_passages", READ_PASSAGES))),
            type_penalty=float(tuned.get("type_penalty", 0.0)),
            tighten=float(tight.get("delta", 0.0)),
            tighten_min_chars=int(tight.get("min_chars", 10)),
            tighten_types=tuple(tight.get("types", ("number",))),
            read_floor=float(tuned.get("read_min_confidence", READ_MIN_CONFIDENCE)),
            early_exit=_exit_rank(tuned.get("early_exit")),
            bands=Bands.of(tuned),
            money=bool(tuned.get("money", False)),
        )

    def score(self, s: SpanScore, fits: bool = True) -> float:
        return s.margin + self.bonus / (1 + s.text) - (0.0 if fits else self.type_penalty)

    def confidence(self, s: SpanScore, fits: bool = True) -> float:
        if self.calibration is None:
            return s.prob
        a, b = self.calibration
        z = max(-50.0, min(50.0, a * (self.score(s, fits) - self.threshold) + b))
        return 1.0 / (1.0 + math.exp(-z))


def _exit_rank(value: object) -> float:
    """``answering.early_exit`` of a reader's meta.json: ``{"rank": x}`` or ``x``; off if absent."""
    if isinstance(value, dict):
        value = value.get("rank")
    return float(value) if isinstance(value, (int, float)) else math.inf


# ------------------------------------------------------------------ defaults

_default: Index | None = None
_default_key: tuple | None = None
_default_lock = threading.Lock()
_folder: tuple[tuple, Path] | None = None  # (what it was resolved from, the documents folder)
_reader: Reader | None = None


def _seeds_signature(seeds: Path) -> tuple:
    try:
        return tuple(
            sorted((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in seeds.rglob("*") if p.is_file())
        )
    except OSError:
        return ()


def _stamp(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError:
        return (0, 0)
    return (st.st_mtime_ns, st.st_size)


def _default_folder(root: Path) -> Path:
    """:func:`qa.seeds.documents_folder` of ``root`` for ``QA_SEEDS``, remembered until the index changes."""
    global _folder
    given = config.given_seeds_dir()
    key = (str(root), str(given), _stamp(root / "CURRENT"))
    if _folder is None or _folder[0] != key:
        _folder = (key, documents_folder(root, given))
    return _folder[1]


def default_index() -> Index:
    """The index in ``QA_INDEX`` (the project's ``embeddings/``), built or updated when its documents changed.

    Its documents folder is the one it was built from; ``QA_SEEDS``, when set, must be that
    folder (else :class:`qa.seeds.FolderMismatch`).  A new index is built from ``QA_SEEDS``
    or the project's ``seeds/``.  Raises :class:`IndexError_` rather than drop documents: a
    folder that is named wrongly, missing or empty changes nothing.
    """
    global _default, _default_key
    root = config.index_dir()
    seeds = _default_folder(root)
    key = (str(seeds), str(root), _seeds_signature(seeds))
    with _default_lock:
        if _default is not None and _default_key == key:
            return _default
        try:
            idx = load_index(root)
            # Built elsewhere (a folder moved with its index): rebuilt to record the folder, vectors reused.
            if idx.meta.get("seeds_dir") != str(seeds) or stale_documents(idx, seeds):
                raise IndexError_("stale")
        except IndexError_:
            build_index(seeds, root, progress=False)  # refuses to drop every document (FolderUnusable)
            idx = load_index(root)
        _default, _default_key = idx, key
        return idx


def default_reader() -> Reader:
    """The shipped reader, or the one named by ``QA_READER`` (loaded on first use)."""
    global _reader
    if _reader is None:
        _reader = TransformerReader()
    return _reader


# ------------------------------------------------------------------ citations


def _sentence_range(p: Passage, start: int, end: int) -> tuple[int, int]:
    """The sentence(s) of ``p`` that hold ``text[start:end]``."""
    inside = [(s, e) for s, e in p.sentences if s < end and e > start]
    if not inside:
        return start, end
    return min(start, inside[0][0]), max(end, inside[-1][1])


def _citation(p: Passage, start: int, end: int, score: float) -> Citation:
    spans = p.source_spans(start, end)
    return Citation(
        doc=p.doc, title=p.title, paragraph=p.paragraph, quote=p.text[start:end], start=spans[0][0],
        end=spans[-1][1], score=round(float(score), 4), spans=spans, passage_id=p.id, kind=p.kind,
        doc_title=p.doc_title, date=p.date, source=p.source,
    )


def _scanned(idx: Index, doc: str) -> bool:
    """Whether ``doc`` was read through OCR (its text may hold a misread character)."""
    found = getattr(idx, "scan_lines", None)
    return bool(doc and found is not None and found(doc))


def _scan_lines(idx: Index, spans: Sequence[tuple[int, int]], doc: str) -> list[TextLine]:
    """The lines of a scanned document (read through OCR) that text at ``spans`` stands on."""
    found = getattr(idx, "scan_lines", None)
    return lines_at(found(doc), spans) if doc and found is not None else []


def _placed(c: Citation, idx: Index) -> Citation:
    """A citation of a scanned page with its page, its lines' boxes and whether OCR was unsure of them."""
    lines = _scan_lines(idx, c.spans, c.doc)
    if not lines:
        return c
    return replace(c, page=lines[0].page, boxes=tuple((ln.page, *ln.box) for ln in lines),
                   low_confidence=any(ln.confidence < LOW_CONFIDENCE for ln in lines))


def _on_pages(a: Answer, idx: Index) -> Answer:
    """``a``'s citations placed on their pages; an answer whose own text stands on a line that
    OCR read with low confidence is marked, and its message says so."""
    low = False
    if a.found and a.citations and a.text_start >= 0:
        first = a.citations[0]
        spans = sub_spans(first.spans, a.text_start, a.text_start + len(a.text))
        low = any(ln.confidence < LOW_CONFIDENCE for ln in _scan_lines(idx, spans, first.doc))
    return replace(
        a, citations=[_placed(c, idx) for c in a.citations], related=[_placed(c, idx) for c in a.related],
        low_confidence=low, message=_join(a.message, messages.LOW_OCR(messages.language(a.question))) if low else a.message,
    )


def _related(hits: list[Hit], spans: list[SpanScore], n: int = 3) -> list[Citation]:
    """The closest passages: each one's sentence where the reader looked, else its first."""
    out: list[Citation] = []
    for i, h in enumerate(hits[:n]):
        p = h.passage
        best = next((s for s in spans if s.text == i), None)
        a, b = _sentence_range(p, best.start, best.end) if best else (p.sentences[0] if p.sentences else (0, len(p.text)))
        if b > a:
            out.append(_citation(p, a, b, h.score))
    return out


# ------------------------------------------------------------------ answer


def answer(
    question: str,
    *,
    index: Index | None = None,
    history: list | None = None,
    k: int = 8,
    mode: str = "hybrid",
    reader: Reader | None = None,
) -> Answer:
    """Answer ``question`` from the documents; never raises for any string input.

    ``history`` is a list of ``(question, Answer)`` pairs of the conversation so far;
    ``k`` is how many passages are retrieved (the best ``Settings.read_passages`` are read);
    ``mode`` (hybrid, dense, keyword) is for evaluation.
    """
    q, note = clean_question(question)
    raw = question if isinstance(question, str) else ""
    lang = messages.language(raw)
    if not q:
        return Answer(question=raw, found=False, message=note)
    try:
        idx = index if index is not None else default_index()
        query = analyse(q, note, idx, history, raw)
        return _on_pages(_answer(query, idx, reader or default_reader(), k, mode), idx)
    except (IndexError_, ReaderError, OSError, RuntimeError, ValueError) as exc:
        log.warning("answer failed: %s", exc)
        why = exc.reason.text(lang) if isinstance(exc, messages.ReasonedError) else exc  # the question's language
        return Answer(question=raw, found=False, message=messages.CANNOT_ANSWER(lang, error=why))
    except Exception as exc:  # never raise to the caller; the log has the traceback
        log.exception("answer failed")
        return Answer(question=raw, found=False, message=messages.INTERNAL_ERROR(lang, error=type(exc).__name__))


class SpanChoice(NamedTuple):
    """What tightening compares of a candidate span: where it is, its rank score, its form."""

    text: int
    start: int
    end: int
    rank: float
    fits: bool


def tightened(best: SpanChoice, cands: Sequence[SpanChoice], delta: float, min_chars: int) -> SpanChoice:
    """``best``, or the best-ranked shorter candidate inside it that has the asked-for form and
    ranks at most ``delta`` lower, when ``best`` is at least ``min_chars`` long.

    The reader is trained on answers of every length and often ends a quantity question's
    span at the number but starts it at the clause ("去年全镇共砍伐病树2.3万株"); its own
    candidates usually hold the bare quantity too, scored a little lower.  Shared with
    scripts/tune_answering.py, which chooses ``delta`` and ``min_chars`` on dev.
    """
    if delta <= 0 or best.end - best.start < min_chars:
        return best
    inner = [
        c for c in cands
        if c.text == best.text and best.start <= c.start and c.end <= best.end and c.end - c.start < best.end - best.start
        and c.fits and c.rank >= best.rank - delta
    ]
    return max(inner, key=lambda c: c.rank) if inner else best


def _tighten(best: SpanScore, spans: list[SpanScore], query: Query, hits: list[Hit], cfg: Settings,
             rank: Callable[[SpanScore], float]) -> SpanScore:
    """:func:`tightened` over the reader's spans, for the question types ``cfg`` names."""
    if cfg.tighten <= 0 or query.qtype not in cfg.tighten_types:
        return best
    choices = [SpanChoice(s.text, s.start, s.end, rank(s), query.fits(hits[s.text].passage.text[s.start : s.end]))
               for s in spans]
    chosen = tightened(choices[spans.index(best)], choices, cfg.tighten, cfg.tighten_min_chars)
    return spans[choices.index(chosen)]


def _evidence_text(p: Passage) -> str:
    """What a passage asserts, with the context a reader sees: headline and section."""
    return f"{p.title} {p.section} {p.text}"


def _answer(query: Query, idx: Index, reader: Reader, k: int, mode: str) -> Answer:
    raw, note = query.raw, query.note
    lang = messages.language(raw)
    if mode != "keyword":
        query.vector = idx.query_vector(query.retrieval_text)
    hits = retrieve(idx, query, k=k, mode=mode)
    if not hits:
        return Answer(question=raw, found=False, message=_join(messages.NO_PASSAGES(lang), note))
    if query.qtype == "none" and (len(query.terms) < 3 or query.latin):
        # Keywords, not a question ("辽源", "<script>…"): show where they occur, claim nothing.
        return Answer(
            question=raw, found=False, answer_type=query.qtype, related=_related(hits, []),
            message=_join(messages.NOT_A_QUESTION(lang), note),
        )
    cfg = Settings.of(reader)
    read_hits = hits[: cfg.read_passages]
    missing = {
        i: query.missing_literal(_evidence_text(h.passage), scanned=_scanned(idx, h.passage.doc)) if cfg.literals
        else "" for i, h in enumerate(read_hits)
    }

    def fits(s: SpanScore) -> bool:
        return query.fits(read_hits[s.text].passage.text[s.start : s.end])

    def rank(s: SpanScore) -> float:
        return cfg.score(s, fits(s)) - (100.0 if missing[s.text] else 0.0)

    spans = _read(query.text, read_hits, reader, cfg, rank)
    best = max(spans, key=rank) if spans else None
    related = _related(read_hits, spans)
    fit = best is not None and fits(best)
    conf = cfg.confidence(best, fit) if best is not None else 0.0
    if best is None or cfg.score(best, fit) < cfg.threshold or missing[best.text]:
        lit = missing[best.text] if best is not None else ""
        why = messages.OTHER_LITERAL(lang, literal=lit) if lit else messages.NOT_ANSWERED(lang)
        return Answer(
            question=raw, found=False, confidence=round(conf, 4), answer_type=query.qtype,
            message=_join(why, note),
            related=related,
        )
    best = _tighten(best, spans, query, read_hits, cfg, rank)  # decided and calibrated on the reader's best
    source = read_hits[best.text].passage.text
    text = source[best.start : best.end]
    if cfg.money and query.money and not money_at(source, best.start, best.end):
        return Answer(
            question=raw, found=False, confidence=round(conf, 4), answer_type=query.qtype,
            message=_join(messages.NOT_MONEY(lang, span=text[:30]), note), related=related,
        )
    at, start = _surest(best, spans, [h.passage.text for h in read_hits], missing)
    p = read_hits[at].passage
    a, b = _sentence_range(p, start, start + len(text))
    citations = [_citation(p, a, b, conf)]
    for s in spans:  # other passages where the reader found the same answer corroborate it
        if len(citations) >= 3:
            break
        other = read_hits[s.text].passage
        if other.id not in {c.passage_id for c in citations} and other.text[s.start : s.end] == text:
            citations.append(_citation(other, *_sentence_range(other, s.start, s.end), s.prob))
    return Answer(
        question=raw, found=True, text=text, sentence=p.text[a:b], confidence=round(conf, 4),
        citations=citations, answer_type=query.qtype, message=note, related=related,
        text_start=start - a, band=cfg.bands.band(round(conf, 4)),
    )


def _surest(best: SpanScore, spans: Sequence[SpanScore], texts: Sequence[str],
            missing: dict[int, str]) -> tuple[int, int]:
    """Where to cite ``best``'s answer: ``(passage, start of the answer in it)``.

    The answer is chosen with a bonus for the passage's retrieval rank, so the same words
    can come from a higher-ranked passage that merely mentions them (a headline, a lead
    naming the district) while a lower one says them in reply to the question.  The
    citation goes to the passage whose span holding the answer the reader itself scored
    highest (its margin, without the bonus); a passage that lacks a literal of the
    question is never cited.
    """
    answer = texts[best.text][best.start : best.end]
    where, top = (best.text, best.start), best.margin
    if not answer:
        return where
    for s in spans:
        if s.text == best.text or s.margin <= top or missing[s.text]:
            continue  # in its own passage the answer stays where it was chosen (tightening chose it)
        found = _whole(answer, texts[s.text], s.start, s.end)
        if found >= 0:
            where, top = (s.text, found), s.margin
    return where


def _whole(answer: str, text: str, start: int, end: int) -> int:
    """Where ``answer`` stands in ``text[start:end]`` as a whole (not "12" inside "2012" or "7"
    inside "17人"), or -1."""
    def latin_or_digit(ch: str) -> bool:  # "" (the text's edge) is neither
        return ch.isascii() and ch.isalnum()

    at = text.find(answer, start, end)
    while at >= 0:
        before, after = text[at - 1 : at], text[at + len(answer) : at + len(answer) + 1]
        if not (latin_or_digit(before) and latin_or_digit(answer[0])) and not (
            latin_or_digit(after) and latin_or_digit(answer[-1])
        ):
            return at
        at = text.find(answer, at + 1, end)
    return -1


def _read(question: str, hits: list[Hit], reader: Reader, cfg: Settings,
          rank: Callable[[SpanScore], float], top_k: int = 10) -> list[SpanScore]:
    """The reader's best spans over ``hits``' passages, best first.

    With ``cfg.early_exit`` set, the top passage is read alone first, and the others only
    when its best span ranks below it: a confident first passage costs a third of the
    reading.  Each passage is read on its own, so the two reads together give exactly the
    spans of one read of all of them.
    """
    texts = [h.passage.text for h in hits]
    if not math.isfinite(cfg.early_exit) or len(texts) < 2:
        return reader.read(question, texts, top_k=top_k)
    first = reader.read(question, texts[:1], top_k=top_k)
    if first and max(rank(s) for s in first) >= cfg.early_exit:
        return first
    rest = [replace(s, text=s.text + 1) for s in reader.read(question, texts[1:], top_k=top_k)]
    return sorted(first + rest, key=lambda s: -s.score)[:top_k]


# ------------------------------------------------------------------ read a given text


def _text_passages(text: str) -> list[Passage]:
    """The paragraphs of a pasted text as passages (offsets into ``text``)."""
    out: list[Passage] = []
    pos = 0
    for line in text.splitlines(keepends=True):
        body = line.strip()
        if body:
            start = pos + line.index(body[0])
            end = start + len(body)
            n = len(out) + 1
            out.append(Passage(
                id=f"text:{n}", doc="", article=1, title="", kind="body", paragraph=n, part=1, text=body,
                spans=((start, end),), sentences=tuple(split_sentences(body)),
            ))
        pos += len(line)
    return out


def read(question: str, text: str, *, reader: Reader | None = None) -> Answer:
    """Answer ``question`` from ``text`` alone (no index); offsets point into ``text``.

    Never raises for string input: bad input comes back as ``found=False`` with a message.
    """
    q, note = clean_question(question)
    raw = question if isinstance(question, str) else ""
    lang = messages.language(raw)
    if not q:
        return Answer(question=raw, found=False, message=note)
    if not isinstance(text, str) or not text.strip():
        return Answer(question=raw, found=False, message=messages.NO_TEXT(lang))
    if len(text) > MAX_TEXT_CHARS:
        return Answer(question=raw, found=False, message=messages.TEXT_TOO_LONG(lang, chars=len(text), limit=MAX_TEXT_CHARS))
    rd = reader or default_reader()
    passages = _text_passages(text)
    try:
        spans = rd.read(q, [p.text for p in passages], top_k=10)
        floor = Settings.of(rd).read_floor
    except (ReaderError, RuntimeError, ValueError, TypeError) as exc:
        return Answer(question=raw, found=False, message=messages.CANNOT_ANSWER(lang, error=exc))
    best = spans[0] if spans else None
    if best is None or best.prob < floor:
        return Answer(question=raw, found=False, confidence=round(best.prob if best else 0.0, 4), message=_join(
            messages.TEXT_NOT_ANSWERED(lang), note))
    p = passages[best.text]
    a, b = _sentence_range(p, best.start, best.end)
    return Answer(
        question=raw, found=True, text=p.text[best.start : best.end], sentence=p.text[a:b],
        confidence=round(best.prob, 4), citations=[_citation(p, a, b, best.prob)],
        answer_type=question_type(q), message=note, text_start=best.start - a,
    )


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p)
