"""Example questions for the web chat, made from the documents' own text.

``(question, expected)`` pairs come from counted things in the text ("…4场" → "…多少场？"); a
question keeps its subject, or borrows its article's headline.  A large index is sampled
evenly (:func:`sample_passages`), so start-up stays flat.  :meth:`qa.library.Library.examples` keeps the
ones that get answered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from .records import Passage

_COUNT_RE = re.compile(
    r"(?<![第\d.])\d[\d,.]*(?:余|多)?(?:万|千|百)?(?:余|多)?"
    r"(场次|人次|名|人|场|个|家|次|期|项|篇|所|支|位|件|户|条|台|辆|处|座|本|册)"
)
_CLAUSE_SPLIT = re.compile(r"[，,；;。！？!?：:（）()]")
_LEADING = re.compile(r"^(本报讯\s*|并且|同时|其中|此外|以及|但是|而且|并|和|及|还|又|已|均|都|但|而|也)+")
_NOT_PROSE = re.compile(r"[<>{}\[\]=/\\|#*_~`$@]")


# Parts of speech a question's subject may start with: nouns, names, places, organisations, times.
_SUBJECT_TAGS = frozenset({"n", "nr", "ns", "nt", "nz", "nrt", "nrfg", "t", "s", "j", "eng"})


def _has_subject(head: str, tagger) -> bool:
    """Whether ``head`` starts with a noun phrase (a quoted or titled name counts), not a verb or adverb."""
    if head[0] in "“《「":
        return True
    tags = tagger.pos(head)
    return bool(tags) and tags[0][1] in _SUBJECT_TAGS and len(tags[0][0]) >= 2


def question_candidates(passages: Iterable[Passage], per_article: int = 3, tagger=None) -> list[tuple[str, str]]:
    """``(question, expected)`` pairs made from counted things in the text ("…4场" → "…多少场？").

    A question keeps its subject: a clause that starts with a verb or adverb ("组建…", "共办…")
    borrows its article's headline instead ("《唱响时代主旋律》一文中，…").  Questions with their
    own subject come first.  Round-robin over articles so that every document gets some;
    ``expected`` is the number.
    """
    from .text import Tokenizer

    tagger = tagger or Tokenizer()
    by_article: dict[tuple[str, int], list[tuple[int, str, str]]] = {}
    seen: set[str] = set()
    for p in passages:
        if p.kind != "body":
            continue
        for sentence in p.sentence_texts():
            for clause in _CLAUSE_SPLIT.split(sentence):
                m = _COUNT_RE.search(clause)
                if not m or _COUNT_RE.search(clause, m.end()) or m.start() > 30:
                    continue
                head, tail = _LEADING.sub("", clause[: m.start()]).strip(), clause[m.end() :].strip()
                if len(head) < 6 or len(tail) > 12 or tail[-1:] in tuple("在于和与及的了从向对把被将"):
                    continue
                if _NOT_PROSE.search(clause) or not (head[0].isalnum() or head[0] in "“《「"):
                    continue
                own = _has_subject(head, tagger)
                title = p.title.strip()
                if not own and not (title and len(title) <= 16 and not _NOT_PROSE.search(title)):
                    continue
                body = f"{head}多少{m.group(1)}{tail}？"
                q = body if own else f"《{title}》一文中，{body}"
                if len(q) > 48 or q in seen:
                    continue
                seen.add(q)
                number = re.match(r"[\d,.]+", m.group(0))
                item = (0 if own else 1, q, number.group(0) if number else "")
                by_article.setdefault((p.doc, p.article), []).append(item)
    ranked: list[tuple[int, int, str, str]] = []
    for items in by_article.values():
        items.sort(key=lambda x: x[0])  # stable: text order within each kind
        ranked += [(rank, i, q, e) for i, (rank, q, e) in enumerate(items[:per_article])]
    ranked.sort(key=lambda x: (x[0], x[1]))  # own subject first, then round-robin over articles
    return [(q, e) for _, _, q, e in ranked]


EXAMPLE_ROWS = 3000  # passages read for example questions, spread over the whole index


def sample_passages(passages, limit: int = EXAMPLE_ROWS) -> Iterator[Passage]:
    """Every passage of a small index; of a large one, ``limit`` runs of consecutive rows spread
    evenly over it (whole paragraphs, every part of the archive), so start-up stays flat."""
    n = len(passages)
    if n <= limit:
        yield from passages
        return
    run = 20
    step = n / (limit // run)
    for k in range(limit // run):
        lo = int(k * step)
        for i in range(lo, min(n, lo + run)):
            yield passages[i]
