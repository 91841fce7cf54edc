"""Text normalisation, Chinese sentence splitting and jieba tokenisation.

The same :func:`normalize` is applied to documents and questions, so that full-width
and half-width forms (``１３００``/``1300``, ``（``/``(``) and odd whitespace match.
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
# Bump when STOPWORDS or the tokenisation change: recorded in meta.json, so an index
# whose keyword side was tokenised differently is rebuilt.
TOKENIZER_VERSION = 2


def normalize(text: str) -> str:
    """NFKC (full-width to half-width), lower-case Latin, collapse whitespace."""
    text = unicodedata.normalize("NFKC", text)
    return _WS_RE.sub(" ", text).strip().lower()


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


def _fresh_jieba():
    """A jieba tokenizer with its own copy of the dictionary (loaded from disk once per process)."""
    import jieba

    global _BASE
    if _BASE is None:
        _BASE = jieba.Tokenizer()
        _BASE.initialize()
    tok = jieba.Tokenizer()
    tok.FREQ = dict(_BASE.FREQ)
    tok.total = _BASE.total
    tok.initialized = True
    return tok


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
        """Search-mode tokens of normalised text, without punctuation or stopwords."""
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
