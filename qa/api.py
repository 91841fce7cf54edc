"""The ``ask`` API's plain data: an answer as a JSON-able dict, and the ``history`` it is given
parsed back into ``(question, Answer)`` pairs.

The dict says how the chat shows the answer (:func:`qa.render.shown_band`) and the text as shown
(:func:`qa.render.display_text`); a malformed history raises :class:`HistoryError`, its message
in the question's language.
"""

from __future__ import annotations

from . import bands
from .messages import Lang, Message, language
from .records import Answer, Citation
from .render import NOT_SURE, display_text, shown_band


def _citation_dict(c: Citation) -> dict:
    return {
        "doc": c.doc,
        "doc_title": c.doc_title,
        "date": c.date,
        "source": c.source,
        "title": c.title,
        "paragraph": c.paragraph,
        "label": c.label,
        "kind": c.kind,
        "quote": c.quote,
        "start": c.start,
        "end": c.end,
        "spans": [list(s) for s in c.spans],
        "score": c.score,
        "passage_id": c.passage_id,
        "page": c.page,
        "boxes": [list(b) for b in c.boxes],
        "low_confidence": c.low_confidence,
    }


def answer_to_dict(a: Answer) -> dict:
    """The answer as JSON-able data (what the ``ask`` API returns).

    ``level`` is how the chat shows it (:func:`shown_band`): ``"sure"`` (高), ``"possible"`` (中)
    or ``"not_found"``.  A found span below the 中 band is ``"not_found"`` too: ``found`` and
    ``text`` still say what answer() found, and ``message`` says that no answer was sure enough.
    ``display`` is the text as shown (a bare number with the unit that follows it in the sentence).
    """
    band = shown_band(a)
    message = a.message
    if a.found and band == bands.LOW:
        message = " ".join(x for x in (NOT_SURE(language(a.question)), a.message) if x)
    return {
        "question": a.question,
        "found": a.found,
        "level": {bands.HIGH: "sure", bands.MID: "possible"}.get(band, "not_found"),
        "text": a.text,
        "display": display_text(a),
        "sentence": a.sentence,
        "text_start": a.text_start,
        "confidence": a.confidence,
        "answer_type": a.answer_type,
        "low_confidence": a.low_confidence,
        "message": message,
        "citations": [_citation_dict(c) for c in a.citations],
        "related": [_citation_dict(c) for c in a.related],
    }


MAX_HISTORY_TURNS = 20


class HistoryError(ValueError):
    """A malformed ``history`` given to the ``ask`` API; the message says what is expected."""


HISTORY_NOT_A_LIST = Message("history 应是 [问题, 回答] 对的列表。", "history must be a list of [question, answer] pairs.")
HISTORY_NOT_A_PAIR = Message("history[{n}] 应是 [问题, 回答]。", "history[{n}] must be a [question, answer] pair.")
HISTORY_BAD_ANSWER = Message("history[{n}][1]：回答应是文字或上一次 /ask 返回的结果（dict），不是 {kind}。",
                             "history[{n}][1]: an answer is a string or a previous /ask result (a dict), not {kind}.")


def _answer_from(question: str, item: object, n: int, lang: Lang) -> Answer:
    if isinstance(item, str):
        return Answer(question=question, found=bool(item.strip()), text=item)
    if isinstance(item, dict):
        cits = []
        for c in item.get("citations") or []:
            if isinstance(c, dict) and isinstance(c.get("passage_id"), str):
                cits.append(Citation(doc=str(c.get("doc", "")), title=str(c.get("title", "")), paragraph=0,
                                     quote=str(c.get("quote", "")), start=0, end=0, score=0.0,
                                     passage_id=c["passage_id"]))
        text = item.get("text", "")
        return Answer(question=question, found=bool(item.get("found", bool(text))), text=str(text), citations=cits)
    raise HistoryError(HISTORY_BAD_ANSWER(lang, n=n, kind=type(item).__name__))


def history_from_api(history: object, lang: Lang = "zh") -> list[tuple[str, Answer]]:
    """The ``ask`` API's ``history`` as ``(question, Answer)`` pairs, oldest first.

    Accepted: ``None`` or a list of ``[question, answer]`` pairs, where ``answer`` is the
    answer text or the dict a previous ``/ask`` call returned (its citations let a
    follow-up prefer the same article).  Only the last :data:`MAX_HISTORY_TURNS` are kept.
    A malformed one raises :class:`HistoryError`, its message in ``lang`` (the question's).
    """
    if history in (None, "", []):
        return []
    if not isinstance(history, (list, tuple)):
        raise HistoryError(HISTORY_NOT_A_LIST(lang))
    out = []
    for n, pair in enumerate(history):
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and isinstance(pair[0], str)):
            raise HistoryError(HISTORY_NOT_A_PAIR(lang, n=n))
        out.append((pair[0], _answer_from(pair[0], pair[1], n, lang)))
    return out[-MAX_HISTORY_TURNS:]
