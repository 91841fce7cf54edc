"""Text normalisation, Chinese sentence splitting and jieba tokenisation.

The same :func:`normalize` is applied to documents and questions, so that full-width
and half-width forms (``１３００``/``1300``, ``（``/``(``), traditional and simplified
characters (``圖書館``/``图书馆``), Chinese and Arabic numerals (``五万``/``5万``/``50000``)
and odd whitespace match.  It is for matching only: passage text, quotes and offsets
always stay as the source has them.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import unicodedata
from collections.abc import Iterable

from .records import Span

# Sentence-final punctuation, and closing marks that stay with the sentence they end.
_TERMINALS = "。！？；!?;"
_CLOSERS = "”’」』）)》〉】\"'"
_SENT_RE = re.compile(
    rf"(?:[{_TERMINALS}]+|…+|\.{{3,}})[{re.escape(_CLOSERS)}]*"
)
# What counts as a complete paragraph ending (used to detect layout breaks).
PARAGRAPH_END = tuple(_TERMINALS) + ("…", "”", "’", "」", "』", "）", ")", "》", ".", "：", ":")

_WS_RE = re.compile(r"\s+")
_CREDIT_RE = re.compile(r"[\u4e00-\u9fff]{2,4}(?:\s*[、/ ]\s*[\u4e00-\u9fff]{2,4})*\s*(?:摄|摄影|供图)")
_CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_PUNCT_CATS = ("P", "S", "Z", "C")

STOPWORDS = frozenset(
    """
    的 了 是 在 和 与 及 或 也 都 就 而 并 把 被 对 从 为 以 于 将 让 给 向 到 由 之 其 此 这 那 该 个 有 又
    吗 呢 吧 啊 呀 么 么样 什么 多少 几 哪 哪里 哪儿 哪个 哪些 哪天 哪位 哪家 哪支 哪项 哪种 谁 何 何时 何地
    怎么 怎样 如何 为什么 为何 是否 是不是 请问 一下 一共 共 总共 分别 主要 这个 那个 这些 那些 它 它们 他 她
    他们 她们 我 我们 你 你们 中 上 下 里 时 等 方面 通过 进行 开展 了解 文中 文章 报道 本文 提到 提及 根据
    叫 叫做 称为 名字 名称 什么样 几个 几名 几次 几项 几场 多少次 多少名 多少个 多少人 几点 哪一天 时候 什么时候
    a an the of to in on at for by with from and or is are was were be been being do does did what which who whom
    whose when where why how many much name named called it its this that these those there their they he she
    as about into than then has have had will would can could should please tell me
    要 们 会 能 可 应 已 还 很 最 所 一个 一些 各 每 之一
    """.split()
)
# Bump when STOPWORDS, the tokenisation or the folding change: recorded in meta.json, so an index
# whose keyword side was tokenised differently is rebuilt.
TOKENIZER_VERSION = 3  # 3: traditional/simplified and numeral folding


# ---------------------------------------------------------------- folding (matching only)

_OPENCC = None
_OPENCC_LOCK = threading.Lock()


def to_simplified(text: str) -> str:
    """Traditional Chinese characters and phrases to simplified (OpenCC ``t2s``)."""
    global _OPENCC
    if _OPENCC is None:
        with _OPENCC_LOCK:
            if _OPENCC is None:
                import opencc

                _OPENCC = opencc.OpenCC("t2s")
    return _OPENCC.convert(text)


_CN_DIGIT = "〇零一二三四五六七八九"
_CN_NUMERAL = _CN_DIGIT + "两十百千万亿"
_CN_MAGNITUDE = "百千万亿"
# What a number counts or measures.  Date and time units first; then counters and units
# of measure (longer units before the characters they start with).  A lone 一 is a number
# only as an ordinal or a date part: 一起, 一点, 一些, 一道 are words, and so is 十分.
_DATE_UNITS = "年月日号"
_UNITS = (
    "世纪|季度|小时|分钟|周岁|平方米|平方公里|平方千米|立方米|公里|千米|厘米|毫米|公斤|千克|公顷|毫升|千瓦|"
    "美元|欧元|港元|英镑|日元|人次|架次|场次|余|多|来|"
    "[年月日号时点分秒周天岁个名位人次场项件册本部座所户元角届期章节条篇台辆架艘株棵只匹张份套家间层栋"
    "幢支队批组类种轮倍起处块片道行路首幅封句段页门例宗笔米吨斤克亩升度瓦%‰]"
)
_UNIT_RE = re.compile(rf"(?:[余多来几])?(?:{_UNITS})")
_NUMBER_RE = re.compile(
    rf"(?P<pct>百分之)(?P<pv>[{_CN_NUMERAL}]+(?:点[{_CN_DIGIT}]+)?|\d+(?:\.\d+)?)"
    rf"|(?<![\d.])(?P<ar>\d+(?:\.\d+)?)(?P<mag>[万亿]{{1,2}})"
    rf"|(?<![{_CN_NUMERAL}])(?P<cn>[{_CN_DIGIT}两十][{_CN_NUMERAL}]*)(?P<dec>点[{_CN_DIGIT}]+[万亿]?)?"
)


_MAGNITUDES = {"万": 1e4, "亿": 1e8, "万亿": 1e12, "亿亿": 1e16}


def _format_number(value: float) -> str:
    if value == int(value) and abs(value) < 1e18:
        return str(int(value))
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _cn_value(run: str) -> float | None:
    """The value of a run of Chinese numerals (二〇二五 read digit by digit), or None."""
    if all(ch in _CN_DIGIT for ch in run) and len(run) > 1:
        return float("".join(str(max(_CN_DIGIT.index(ch) - 1, 0)) for ch in run))  # 〇 and 零 are 0
    import cn2an

    scale = 1.0
    if "点" in run and run.endswith(("万", "亿")):  # 三点五亿: cn2an reads decimals without a magnitude
        scale, run = _MAGNITUDES[run[-1]], run[:-1]
    try:
        return float(cn2an.cn2an(run, "smart")) * scale
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def _cn_number(text: str, m: re.Match, bare: bool) -> tuple[str, int] | None:
    """The Arabic form of a Chinese-numeral match in context and where it ends, or None.

    A run is a number when it is an ordinal (第三), when a unit, a measure word or a date
    part follows it (五万册, 十一月二十六日, 六千二百余名), or when it has a magnitude
    (两千); ``bare`` also accepts a run that ends the text (for :func:`parse_number`).
    """
    run, start = m.group("cn"), m.start("cn")
    end, dec = m.end("cn"), m.group("dec")
    prev = text[start - 1] if start else ""
    nxt = text[m.end() :] if dec else text[end:]
    unit = _UNIT_RE.match(nxt)
    if dec and not dec.endswith(("万", "亿")) and (not unit or unit.group(0)[-1] in "分秒点时"):
        dec, nxt = None, text[end:]  # 三点五十分 is a time: 三点 + 五十分
        unit = _UNIT_RE.match(nxt)
    digits_only = all(ch in _CN_DIGIT for ch in run)
    if digits_only and len(run) > 1:  # a year or a code read digit by digit (二〇二五年); 七八个 is "7 or 8"
        ok = nxt[:1] == "年" and (len(run) >= 4 or any(ch in "〇零" for ch in run))
    elif run == "一":
        ok = prev == "第" or (nxt[:1] in _DATE_UNITS and (not has_cjk(prev) or prev in "年月"))
    elif prev == "第":
        ok = True
    elif unit:
        u = unit.group(0)
        ok = not (run == "十" and u[0] == "分")  # 十分 is "very"
    else:
        ok = (len(run) > 1 and any(ch in _CN_MAGNITUDE for ch in run)) or (bare and not nxt.strip())
    if not ok:
        return None
    value = _cn_value(run + (dec or ""))
    if value is None:
        return None
    return _format_number(value), end + (len(dec) if dec else 0)


def fold_numbers(text: str, *, bare: bool = False) -> str:
    """Write numbers in Arabic digits: ``五万册`` → ``50000册``, ``5万`` → ``50000``,
    ``百分之二十七`` → ``27%``, ``二〇二五年十一月二十六日`` → ``2025年11月26日``.

    Chinese numerals are converted only where they are numbers (see :func:`_cn_number`),
    so words such as 一起, 一些, 万一, 十分, 三明治 or 一带一路 stay as they are.
    Full-width digits become ASCII (NFKC).  For matching only: lengths change.
    """
    text = unicodedata.normalize("NFKC", text)
    if not _NUMBER_RE.search(text):
        return text
    out: list[str] = []
    pos = 0
    search = 0
    while (m := _NUMBER_RE.search(text, search)) is not None:
        search = m.start() + 1  # unless a conversion moves it past what it consumed
        if m.group("pct"):
            pv = m.group("pv")
            value = float(pv) if pv[0].isdigit() else _cn_value(pv)
            if value is None:
                continue
            out += [text[pos : m.start()], _format_number(value), "%"]
            pos = search = m.end()
        elif m.group("ar"):
            scale = _MAGNITUDES.get(m.group("mag"))
            if scale is None:
                continue
            out += [text[pos : m.start()], _format_number(float(m.group("ar")) * scale)]
            pos = search = m.end()
        else:
            found = _cn_number(text, m, bare)
            if found is None:
                continue
            out += [text[pos : m.start("cn")], found[0]]
            pos = search = found[1]
    out.append(text[pos:])
    return "".join(out)


_NUMBER_AT_START = re.compile(r"^(?:第|约|近|共|计|达|逾|超过|大约|总计)?\s*(-?\d+(?:\.\d+)?)")


def parse_number(text: str) -> float | None:
    """The value of the number that ``text`` starts with, in any notation, or None.

    ``"1300余场次"`` → 1300, ``"五万"`` → 50000, ``"5万"`` → 50000, ``"百分之二十七"`` and
    ``"27%"`` → 27, ``"二〇二五年"`` → 2025, ``"１２"`` → 12; ``"一起"`` and ``"十分"`` → None.
    """
    t = re.sub(r"(?<=\d),(?=\d{3})", "", fold_numbers(text.strip(), bare=True))
    m = _NUMBER_AT_START.match(t)
    return float(m.group(1)) if m else None


@functools.lru_cache(maxsize=16384)
def fold(text: str) -> str:
    """The matching form of text: NFKC, traditional to simplified, numbers in Arabic digits.

    Used on both sides (documents at index time, questions at query time), never for
    what is shown or quoted.  Numbers are folded to a fixed point: converting one run can
    make its neighbour a number in context (〇点〇万〇 → 〇点0 → 0点0), and the matching form
    of a matching form must be itself.
    """
    out = fold_numbers(to_simplified(unicodedata.normalize("NFKC", text)))
    for _ in range(4):
        again = fold_numbers(out)
        if again == out:
            break
        out = again
    return out


def normalize(text: str) -> str:
    """:func:`fold`, lower-case Latin, collapse whitespace (the form that is matched)."""
    return _WS_RE.sub(" ", fold(text)).strip().lower()


def has_cjk(text: str) -> bool:
    return bool(_CJK_RE.search(text))


def is_punct(token: str) -> bool:
    return all(unicodedata.category(ch)[0] in _PUNCT_CATS for ch in token)


def split_sentences(text: str, offset: int = 0) -> list[Span]:
    """Split Chinese (or mixed) text into sentences; returns ``(start, end)`` offsets.

    Ends at 。！？；, at runs of …… and at ASCII ?!; closing quotes and brackets that
    follow stay with the sentence.  Surrounding whitespace is excluded from spans.
    """
    spans: list[Span] = []
    start = 0
    for m in _SENT_RE.finditer(text):
        spans.append((start, m.end()))
        start = m.end()
    spans.append((start, len(text)))
    # A photo credit ("王闯 摄") belongs to the caption sentence before it.
    if len(spans) >= 2 and _CREDIT_RE.fullmatch(text[spans[-1][0] : spans[-1][1]].strip()):
        spans[-2:] = [(spans[-2][0], spans[-1][1])]
    out: list[Span] = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if s < e:
            out.append((s + offset, e + offset))
    return out


# Quoted names and book titles become user-dictionary words, so that jieba keeps
# “七讲七进” or 《电力设施保护条例》 together at index and query time.
_QUOTED_RE = re.compile(r"[“\"「『《]([^”\"」』》\s]{2,16})[”\"」』》]")


def corpus_terms(texts: Iterable[str]) -> list[str]:
    """Names worth adding to the tokenizer's dictionary (normalised, sorted, unique)."""
    terms: set[str] = set()
    for t in texts:
        for m in _QUOTED_RE.finditer(t):
            term = normalize(m.group(1))
            if 2 <= len(term) <= 16 and not is_punct(term):
                terms.add(term)
    return sorted(terms)


_JIEBA_LOCK = threading.Lock()
_BASE = None
_WORD_TAGS: dict[str, str] | None = None  # jieba's part-of-speech table, shared (read-only)


def _base_jieba():
    """jieba's dictionary, loaded from disk once per process (call under ``_JIEBA_LOCK``)."""
    import jieba

    global _BASE
    if _BASE is None:
        base = jieba.Tokenizer()
        base.initialize()
        _BASE = base  # only once loaded: another thread never copies an empty dictionary
    return _BASE


def _fresh_jieba():
    """A jieba tokenizer with its own copy of the dictionary."""
    import jieba

    base = _base_jieba()
    tok = jieba.Tokenizer()
    tok.FREQ = dict(base.FREQ)
    tok.total = base.total
    tok.initialized = True
    return tok


def word_frequency(word: str) -> int:
    """How often jieba's dictionary says ``word`` occurs (0: not a word it knows)."""
    base = _BASE
    if base is None:
        with _JIEBA_LOCK:
            base = _base_jieba()
    return int(base.FREQ.get(word, 0))


class Tokenizer:
    """A private jieba tokenizer with the corpus user dictionary.

    Each index gets its own instance (jieba's module-level tokenizer is global state),
    so two indexes in one process never share dictionary words.
    """

    def __init__(self, user_words: Iterable[str] = ()) -> None:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        self.user_words = tuple(user_words)
        with _JIEBA_LOCK:
            self._jieba = _fresh_jieba()
            for w in self.user_words:
                self._jieba.add_word(w, freq=2000)
        self._pos_tokenizer = None
        # The same sentences are tagged by several candidate finders per question, and
        # again by later questions: remember the tags of recent texts.
        self._tags = functools.lru_cache(maxsize=4096)(self._tag)

    @property
    def _pos(self):
        """jieba's POS tagger over this dictionary, made on first use.

        Its word-tag table (350k entries, ~0.5 s and ~35 MB to load) is read once per
        process and shared: user words are added without tags, so it never changes.
        Building an index never tags, so it never loads it (see docs/benchmarks.md).
        """
        global _WORD_TAGS
        if self._pos_tokenizer is None:
            import jieba.posseg

            with _JIEBA_LOCK:
                if _WORD_TAGS is None:
                    _WORD_TAGS = jieba.posseg.POSTokenizer(_BASE).word_tag_tab
                pos = jieba.posseg.POSTokenizer.__new__(jieba.posseg.POSTokenizer)
                pos.tokenizer, pos.word_tag_tab = self._jieba, _WORD_TAGS
                self._pos_tokenizer = pos
        return self._pos_tokenizer

    def words(self, text: str) -> list[str]:
        """Search-mode tokens of normalised (folded) text, without punctuation or stopwords."""
        norm = normalize(text)
        toks = []
        for tok in self._jieba.lcut_for_search(norm):
            tok = tok.strip()
            if tok and not is_punct(tok) and tok not in STOPWORDS:
                toks.append(tok)
        return toks

    def cut(self, text: str) -> list[str]:
        """Precise-mode tokens of the text as is (offsets add up to ``len(text)``)."""
        return list(self._jieba.cut(text, HMM=True))

    def pos(self, text: str) -> list[tuple[str, str]]:
        """(word, part-of-speech) pairs of the text as is; pieces add up to ``text``."""
        return list(self._tags(text))

    def _tag(self, text: str) -> tuple[tuple[str, str], ...]:
        return tuple((p.word, p.flag) for p in self._pos.cut(text))
