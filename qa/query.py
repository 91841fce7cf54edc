"""The question, analysed once: every stage (retrieval, reader, "not found") reads this record.

``analyse()`` cleans the input, resolves a follow-up against the conversation, and
computes what the stages compare: folded text for matching, content words with their
IDF in this corpus, the question's type, its specific literals (第五届, 2021年, “名称”,
GDP) and, lazily, its vector.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np

from . import glossary, messages
from .money import asks_money
from .text import fold_numbers, has_cjk, normalize, word_frequency

MAX_QUESTION_CHARS = 300

# (type, pattern), first match wins.  Only question words, in Chinese and English: the
# type labels answers and breaks results down; the reader, not these patterns, finds spans.
_TYPES: list[tuple[str, re.Pattern]] = [
    ("time", re.compile(r"几点|什么时刻|\bwhat time\b", re.I)),
    ("date", re.compile(r"哪天|哪一天|哪日|什么时候|何时|几月几日|几号|哪年|哪一年|日期|什么时间|\bwhen\b|"
                        r"\bwhat (date|day|year)\b|\bwhich (day|date|year)\b", re.I)),
    ("list", re.compile(r"哪些|哪[两二三四五六七八九几]+[个项种类方面者位家条]?|\bwhich (two|three|four|five)\b", re.I)),
    ("number", re.compile(r"多少|几[个名场次项期支家处份件本届位所座条台辆架篇种户批天年月人倍]|第几|"
                          r"\bhow (many|much|long|far|old)\b|\bnumber of\b", re.I)),
    ("person", re.compile(r"谁|哪位|什么人|姓名|\bwho\b|\bwhom\b|\bwhose\b", re.I)),
    ("place", re.compile(r"哪里|在哪|哪儿|什么地方|何地|何处|地点|\bwhere\b", re.I)),
    ("reason", re.compile(r"为什么|为何|原因|目的|\bwhy\b", re.I)),
    ("manner", re.compile(r"怎样|怎么|如何|\bhow\b", re.I)),
    ("thing", re.compile(r"什么|啥|哪|\bwhat\b|\bwhich\b", re.I)),
]

_LITERAL_RES = [
    re.compile(r"第[\d零〇一二两三四五六七八九十百]+[届次期批号个名]"),
    re.compile(r"\d{4}年|\d{1,2}月\d{1,2}[日号]|\d{1,2}月(?!\d)"),
    re.compile(r"“[^”]{2,30}”|《[^》]{2,30}》"),
    re.compile(r"(?<![A-Za-z])[A-Za-z]{2,}(?![A-Za-z])"),
]

# What an answer to a number, date or time question contains: a number in any notation
# (Chinese numerals are folded to digits first), or for dates and times a calendar word.
_HAS_NUMBER = re.compile(r"\d")
_CALENDAR = re.compile(r"[年月日天周旬季节晨早晚午夜时点]|星期|礼拜|春|夏|秋|冬|今|昨|明|前|后")

_TAG = re.compile(r"<[^<>]{0,200}>")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff]")

_FOLLOWUP_RE = re.compile(
    r"^(那|那么|那个|那次|它|其|该|这|此|他们|她们|他|她|还有|另外|and\b|what about|how about|then\b)|"
    r"它|其中|该活动|这个活动|此次|那次|这次|这些|那些|\b(it|they|them|its|their|that event|this event|there)\b",
    re.I,
)


def question_type(question: str) -> str:
    """What kind of answer the question words ask for (``none`` without a question word)."""
    for name, pat in _TYPES:
        if pat.search(question):
            return name
    return "none"


def span_fits(qtype: str, span: str) -> bool:
    if qtype not in ("number", "date", "time"):
        return True
    folded = fold_numbers(span, bare=True)
    if _HAS_NUMBER.search(folded):
        return True
    return qtype != "number" and bool(_CALENDAR.search(span))


def is_latin(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    return bool(letters) and sum(ch.isascii() for ch in letters) / len(letters) > 0.7


def literals(question: str) -> tuple[str, ...]:
    """Specific literals of a Chinese question that its evidence must contain."""
    if is_latin(question):
        return ()
    out: list[str] = []
    for pat in _LITERAL_RES:
        out += [m.group(0) for m in pat.finditer(question)]
    return tuple(dict.fromkeys(out))


def clean_question(question: object) -> tuple[str, str]:
    """The usable question text and a message about what was wrong ("" if fine)."""
    if not isinstance(question, str):
        return "", f"问题必须是文字（str），收到的是 {type(question).__name__}。"
    q = _TAG.sub(" ", _CONTROL.sub(" ", question))  # markup in a question is noise, not words
    q = "".join(ch for ch in q if unicodedata.category(ch) not in ("Cs", "Co", "Cn"))
    q = " ".join(q.split())
    if not q:
        return "", "请输入问题。"
    note = ""
    if len(q) > MAX_QUESTION_CHARS:
        q = q[:MAX_QUESTION_CHARS]
        note = messages.QUESTION_CUT(messages.language(q), limit=MAX_QUESTION_CHARS)
    if not has_cjk(q) and len(re.findall(r"[A-Za-z]{2,}", q)) < 2:
        return "", messages.ASK_IN_CHINESE_OR_ENGLISH(messages.language(q))
    return q, note


def is_followup(question: str, n_terms: int) -> bool:
    return bool(_FOLLOWUP_RE.search(question)) or n_terms <= 1


@dataclass
class Query:
    """A question, analysed.  ``retrieval_text`` adds the previous question to a follow-up."""

    raw: str
    text: str
    folded: str
    terms: dict[str, float]
    qtype: str
    literals: tuple[str, ...]
    latin: bool
    retrieval_text: str
    tokens: list[str] = field(default_factory=list)  # keyword tokens of retrieval_text
    boost_article: tuple[str, int] | None = None
    money: bool = False  # it asks for a sum of money (qa.money): its answer must name a currency
    note: str = ""
    vector: np.ndarray | None = field(default=None, repr=False)

    def fits(self, span: str) -> bool:
        """Whether ``span`` has the form the question asks for: a number for 多少/几/how many, a
        number or a calendar word for 哪天/when.  Other types take any span.  A feature of the
        span's score (its weight is chosen on dev data), not a filter."""
        return span_fits(self.qtype, span)

    def missing_literal(self, evidence: str, scanned: bool = False) -> str:
        """The first of the question's literals that ``evidence`` lacks ("" when all are there).

        White space next to Chinese characters does not count (“青春建功 奉献松江” is in
        青春建功奉献松江: OCR reads no spaces, a wrapped line may add one).  ``scanned``: the
        evidence was read through OCR, which misreads a character now and then (志愿 as
        志原); a quoted name of :data:`FUZZY_MIN` characters or more without digits is found
        with one character added, left out or read wrong.  Numbers, dates and 第N届 must match.
        """
        ev = _tight(normalize(evidence))
        for lit in self.literals:
            norm = _tight(normalize(lit.strip("“”《》")))
            if not norm or norm in ev:
                continue
            if scanned and lit[:1] in "“《" and len(norm) >= FUZZY_MIN and not re.search(r"\d", norm):
                if near(norm, ev, 1):
                    continue
            return lit
        return ""


FUZZY_MIN = 6  # characters of a quoted name that a scanned passage may hold with one misread
_AROUND_CJK_SPACE = re.compile(r"(?<=[\u3400-\u9fff\uf900-\ufaff“”《》「」，、。：；！？])\s+|"
                               r"\s+(?=[\u3400-\u9fff\uf900-\ufaff“”《》「」，、。：；！？])")


def _tight(text: str) -> str:
    """``text`` without the white space beside Chinese characters and punctuation."""
    return _AROUND_CJK_SPACE.sub("", text)


def near(needle: str, text: str, edits: int) -> bool:
    """Whether some piece of ``text`` is ``needle`` with at most ``edits`` characters added,
    left out or replaced (approximate substring matching, Sellers' algorithm)."""
    if not needle:
        return True
    prev = list(range(len(needle) + 1))  # a match may start anywhere in text: row 0 stays 0
    for ch in text:
        cur = [0]
        for i, c in enumerate(needle, 1):
            cur.append(min(prev[i] + 1, cur[i - 1] + 1, prev[i - 1] + (c != ch)))
        if cur[-1] <= edits:
            return True
        prev = cur
    return prev[-1] <= edits


def analyse(question: str, note: str, index, history=None, raw: str = "") -> Query:
    """The :class:`Query` for a cleaned question over ``index``, resolving follow-ups."""
    terms = index_terms(index, question)
    prev_q, article = _history_context(history, index)
    retrieval_text, boost = question, None
    followup = bool(prev_q) and is_followup(question, len(terms))
    if followup:
        retrieval_text, boost = f"{prev_q} {question}", article
        for t, w in index_terms(index, prev_q).items():
            terms.setdefault(t, 0.5 * w)
    tokens = index.tokenizer.words(retrieval_text)
    latin = is_latin(question)
    # An English question over Chinese text, or a follow-up that carries one, also searches
    # with its words in Chinese (qa.glossary): those the documents don't hold as they are.
    if latin or (followup and is_latin(prev_q)):
        unseen = [t for t in tokens if not index.has_term(t)]
        tokens += index.tokenizer.words(" ".join(glossary.chinese_words(unseen, word_frequency)))
    return Query(
        raw=raw or question, text=question, folded=normalize(question), terms=terms,
        qtype=question_type(question), literals=literals(question), latin=latin,
        retrieval_text=retrieval_text, tokens=tokens, boost_article=boost, money=asks_money(question), note=note,
    )


def index_terms(index, text: str) -> dict[str, float]:
    """Content words of ``text`` with their IDF in the index's corpus."""
    return {t: index.keyword.term_idf(t) for t in dict.fromkeys(index.tokenizer.words(text))}


def _history_context(history, index) -> tuple[str, tuple[str, int] | None]:
    """The previous question and the (doc, article) its answer cited, if any."""
    if not history:
        return "", None
    try:
        prev_q, prev_a = history[-1]
    except (TypeError, ValueError):
        return "", None
    prev_q = prev_q if isinstance(prev_q, str) else ""
    article = None
    cits = getattr(prev_a, "citations", None) or getattr(prev_a, "related", None)
    if cits:
        try:
            p = index.passages[index.row(cits[0].passage_id)]
            article = (p.doc, p.article)
        except (KeyError, AttributeError, TypeError, IndexError):
            article = None
    return prev_q, article
