"""Extractive-QA data in the SQuAD JSON format, and the project's fixed split of it.

Files hold ``data[].paragraphs[].context`` with ``qas[].question``, ``qas[].answers``
(``text``/``answer_start``) and, for SQuAD 2.0, ``is_impossible``.  Splits are by
article, never by question, so no context is on both sides.  The split is a pure
function of the article (and, for translated sets that share question ids with
another file, of the article those ids belong to), so every command that needs
"the test part" computes the same one without storing the data.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

SPLITS = ("train", "dev", "test")
# Shares of articles held out (by hash); the rest is training data.
DEV_SHARE = 0.12
TEST_SHARE = 0.20

_CJK = re.compile(r"[\u4e00-\u9fff]")


class MRCDataError(ValueError):
    """A malformed SQuAD-format file; the message names the file and what is wrong."""


@dataclass(frozen=True)
class MRCExample:
    """One question over one context; ``answers`` are ``(text, start)`` pairs into ``context``."""

    id: str
    source: str  # file stem, e.g. "cmrc2018-trial"
    article: str
    context: str
    question: str
    answers: tuple[tuple[str, int], ...]

    @property
    def impossible(self) -> bool:
        return not self.answers

    @property
    def answer_texts(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t for t, _ in self.answers))


def _locate(context: str, text: str, start: object) -> int | None:
    """The answer's start: the given offset when it matches, else the nearest occurrence."""
    if isinstance(start, int) and context[start : start + len(text)] == text:
        return start
    hits = [m.start() for m in re.finditer(re.escape(text), context)]
    if not hits:
        return None
    ref = start if isinstance(start, int) else 0
    return min(hits, key=lambda h: abs(h - ref))


def load_squad(path: Path | str) -> list[MRCExample]:
    """Every question of a SQuAD-format file; answers that can't be located are dropped.

    A question whose every answer is unlocatable is skipped (it is neither answerable
    with a known span nor unanswerable).
    """
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError as exc:
        raise MRCDataError(f"{path}: file not found") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MRCDataError(f"{path}: not a JSON file ({exc})") from exc
    data = raw.get("data") if isinstance(raw, dict) else None
    if not isinstance(data, list):
        raise MRCDataError(f"{path}: expected a SQuAD file, an object with a 'data' list")
    out: list[MRCExample] = []
    for ai, art in enumerate(data):
        title = str(art.get("title") or f"article{ai}")
        for pi, para in enumerate(art.get("paragraphs") or []):
            ctx = para.get("context")
            if not isinstance(ctx, str) or not ctx.strip():
                raise MRCDataError(f"{path}: data[{ai}].paragraphs[{pi}] has no 'context' string")
            for qi, qa in enumerate(para.get("qas") or []):
                q = qa.get("question")
                if not isinstance(q, str) or not q.strip():
                    continue  # real files have a few empty questions; nothing to learn or score
                answers: list[tuple[str, int]] = []
                for a in qa.get("answers") or []:
                    text = (a.get("text") or "") if isinstance(a, dict) else ""
                    if not text.strip():
                        continue
                    start = _locate(ctx, text, a.get("answer_start"))
                    if start is not None and (text, start) not in answers:
                        answers.append((text, start))
                impossible = bool(qa.get("is_impossible")) or not (qa.get("answers") or [])
                if not answers and not impossible:
                    continue
                out.append(
                    MRCExample(
                        id=str(qa.get("id") or f"{title}-{pi}-{qi}"),
                        source=path.stem,
                        article=title,
                        context=ctx,
                        question=q.strip(),
                        answers=tuple(answers) if not impossible else (),
                    )
                )
    return out


def _bucket(key: str) -> str:
    x = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64
    if x < TEST_SHARE:
        return "test"
    if x < TEST_SHARE + DEV_SHARE:
        return "dev"
    return "train"


def is_chinese_context(ex: MRCExample) -> bool:
    return len(_CJK.findall(ex.context[:400])) >= 20


def assign_splits(examples: list[MRCExample]) -> dict[str, str]:
    """Split name per example id.

    Articles are hashed into buckets.  Files translated from the same source (XQuAD
    and SQuAD 2.0 share question ids) must agree: an article whose ids also occur in
    an article already placed goes where most of them went, so one English paragraph
    never feeds both training and testing.
    """
    by_article: dict[tuple[str, str], list[MRCExample]] = {}
    for ex in examples:
        by_article.setdefault((ex.source, ex.article), []).append(ex)
    # Place the largest files first, so the smaller translated ones follow them.
    sizes = Counter(ex.source for ex in examples)
    order = sorted(by_article, key=lambda k: (-sizes[k[0]], k[0], k[1]))
    split_of_id: dict[str, str] = {}
    out: dict[str, str] = {}
    for key in order:
        exs = by_article[key]
        votes = Counter(split_of_id[e.id] for e in exs if e.id in split_of_id)
        split = votes.most_common(1)[0][0] if votes else _bucket(f"{key[0]}\x00{key[1]}")
        for e in exs:
            out[f"{e.source}:{e.id}"] = split
            split_of_id.setdefault(e.id, split)
    return out


def split_examples(examples: list[MRCExample]) -> dict[str, list[MRCExample]]:
    splits = assign_splits(examples)
    out: dict[str, list[MRCExample]] = {s: [] for s in SPLITS}
    for ex in examples:
        out[splits[f"{ex.source}:{ex.id}"]].append(ex)
    return out


def cross_lingual(examples: list[MRCExample]) -> list[MRCExample]:
    """Questions of non-Chinese contexts paired, by id, with the Chinese context and answer.

    XQuAD ships the same questions in several languages under the same ids; pairing an
    English question with the Chinese paragraph teaches the reader English questions
    over Chinese text.  Examples with non-Chinese contexts are otherwise dropped.
    """
    zh = {ex.id: ex for ex in examples if is_chinese_context(ex) and ex.source.endswith("zh")}
    zh.update({ex.id: ex for ex in examples if is_chinese_context(ex) and ex.id not in zh})
    out: list[MRCExample] = []
    for ex in examples:
        if is_chinese_context(ex):
            out.append(ex)
        elif ex.id in zh:
            base = zh[ex.id]
            out.append(replace(base, question=ex.question, source=ex.source, id=ex.id))
    return out


def answer_cut(ex: MRCExample) -> MRCExample | None:
    """``ex`` made unanswerable: its context without the sentences that hold an answer.

    What remains is on the topic and often holds other figures and names, so the reader
    learns the hard "no": a plausible span of the right kind that answers something else
    (SQuAD 2.0's unanswerables are of this kind; training on cut contexts adds them for
    every source).  None when an answer still occurs in what is left, or little is left.
    """
    from ..text import split_sentences

    if ex.impossible:
        return None
    spans = [(a, b) for a, b in split_sentences(ex.context) if b > a]
    hit = [any(a < s + len(t) and s < b for t, s in ex.answers) for a, b in spans]
    kept = [ex.context[a:b] for (a, b), h in zip(spans, hit) if not h]
    context = "".join(kept)
    if not any(hit) or len(kept) < 2 or any(t in context for t in ex.answer_texts):
        return None
    return replace(ex, id=f"{ex.id}#cut", context=context, answers=())


def write_squad(examples: list[MRCExample], path: Path | str) -> None:
    """Write examples back to a SQuAD 2.0 file (one paragraph per distinct context)."""
    arts: dict[str, dict[str, list[MRCExample]]] = {}
    for ex in examples:
        arts.setdefault(ex.article, {}).setdefault(ex.context, []).append(ex)
    data = [
        {
            "title": title,
            "paragraphs": [
                {
                    "context": ctx,
                    "qas": [
                        {
                            "id": ex.id,
                            "question": ex.question,
                            "is_impossible": ex.impossible,
                            "answers": [{"text": t, "answer_start": s} for t, s in ex.answers],
                        }
                        for ex in exs
                    ],
                }
                for ctx, exs in paras.items()
            ],
        }
        for title, paras in arts.items()
    ]
    Path(path).write_text(json.dumps({"version": "v2.0", "data": data}, ensure_ascii=False), encoding="utf-8")


def _traditional_share(text: str, folded: str) -> float:
    """Share of CJK characters that OpenCC's t2s changes (0 for simplified text)."""
    cjk = [i for i, ch in enumerate(text) if _CJK.match(ch)]
    if not cjk or len(folded) != len(text):
        return 1.0 if cjk else 0.0
    return sum(text[i] != folded[i] for i in cjk) / len(cjk)


def fold_simplified(examples: list[MRCExample], min_share: float = 0.02) -> list[MRCExample]:
    """Simplified copies (source ``<source>-s``) of the examples whose context is traditional.

    Users hold documents in both scripts, so traditional data (DRCD) trains the reader as
    written *and* folded.  The copy's answers are folded too and located again near their
    old offsets (t2s can change a phrase's length); a question whose answers are lost is
    skipped.  Call it on a split's examples, so both copies stay on the same side.
    """
    from ..text import to_simplified

    out: list[MRCExample] = []
    folded_ctx: dict[str, tuple[str, bool]] = {}
    for ex in examples:
        if ex.context not in folded_ctx:
            f = to_simplified(ex.context)
            folded_ctx[ex.context] = (f, _traditional_share(ex.context, f) >= min_share)
        ctx, trad = folded_ctx[ex.context]
        if not trad:
            continue
        answers: list[tuple[str, int]] = []
        for text, start in ex.answers:
            t = to_simplified(text)
            s = _locate(ctx, t, start)
            if s is not None:
                answers.append((t, s))
        if ex.answers and not answers:
            continue
        out.append(replace(ex, id=f"{ex.id}#s", source=f"{ex.source}-s", context=ctx,
                           question=to_simplified(ex.question), answers=tuple(answers)))
    return out


def article_negatives(examples: list[MRCExample], share: float, rng) -> list[MRCExample]:
    """Answerable questions put over *another* paragraph of their own article, as unanswerable.

    Retrieval hands the reader on-topic passages without the answer; this is that case,
    labelled.  A paragraph qualifies only when none of the question's answer texts occurs in
    it.  ``share`` of the answerable questions that have such a paragraph get one (source
    ``<source>+other``).  Call it per split, so the pair stays on one side.
    """
    paras: dict[tuple[str, str], list[str]] = {}
    for ex in examples:
        lst = paras.setdefault((ex.source, ex.article), [])
        if ex.context not in lst:
            lst.append(ex.context)
    pool = []
    for ex in examples:
        if ex.impossible or ex.id.endswith("#cut"):
            continue
        others = [c for c in paras[(ex.source, ex.article)] if c != ex.context and not any(t in c for t in ex.answer_texts)]
        if others:
            pool.append((ex, others))
    chosen = rng.sample(pool, min(len(pool), round(share * len(pool))))
    return [replace(ex, id=f"{ex.id}#other", source=f"{ex.source}+other", context=rng.choice(others), answers=())
            for ex, others in chosen]


# jieba's tags for nouns: common, person, place, organisation, other proper, verbal noun.
_SWAP_TAGS = ("n", "nr", "ns", "nt", "nz", "vn")


def _unlike(a: str, b: str) -> bool:
    """No character in common once a shared ending is set aside: 桂林市/柳州市 and 薛某甲/沈某甲
    are different things of one kind, 评审/审查 and 混合/混联 are likely the same thing."""
    n = 0
    while n < min(len(a), len(b)) - 1 and a[-1 - n] == b[-1 - n]:
        n += 1
    return not set(a[: len(a) - n]) & set(b[: len(b) - n])


def term_swaps(examples: list[MRCExample], share: float, rng) -> list[tuple[MRCExample, MRCExample]]:
    """Near-miss unanswerables: an answerable question with one of its rare nouns swapped for another.

    The swapped-out noun occurs in the context; the noun put in (same jieba tag, rare too,
    and :func:`_unlike` it, so rarely a synonym) does not.  It comes from another question of
    the same article when one has such a noun, so the question stays on the topic, else from
    any question of the same source.  The result asks, over the very paragraph that answered
    it, about something that paragraph never names, while a span of the right kind is still
    there: "the article gives a figure for something else".  Only rare nouns are swapped (in
    at most one question in 2,000, or 2), so a question word such as 时间 is never replaced by
    地点, which would ask for a kind of thing the paragraph may well hold.  Returns
    ``(swapped, original)`` pairs; ``share`` of the answerable questions are tried.  Call it on
    training data only.
    """
    import jieba.posseg

    answerable = [e for e in examples if not e.impossible and "#" not in e.id]
    tagged = [[(p.word, p.flag) for p in jieba.posseg.lcut(e.question) if len(p.word) >= 2 and p.flag in _SWAP_TAGS]
              for e in answerable]
    df = Counter(w for terms in tagged for w in {w for w, _ in terms})
    rare = max(2, len(answerable) // 2000)
    tagged = [[(w, f) for w, f in terms if df[w] <= rare] for terms in tagged]
    pools: dict[tuple[str, ...], set[str]] = {}
    for e, terms in zip(answerable, tagged):
        for w, f in terms:
            pools.setdefault((e.source, e.article, f), set()).add(w)
            pools.setdefault((e.source, f), set()).add(w)
    out: list[tuple[MRCExample, MRCExample]] = []
    for i in sorted(rng.sample(range(len(answerable)), round(share * len(answerable)))):
        ex = answerable[i]
        cands = [(w, f) for w, f in tagged[i] if w in ex.context and not any(w in t or t in w for t in ex.answer_texts)]
        if not cands:
            continue
        w, f = rng.choice(cands)
        for key in ((ex.source, ex.article, f), (ex.source, f)):
            options = sorted(r for r in pools.get(key, ()) if r not in ex.context and r not in ex.question and _unlike(r, w))
            if options:
                break
        if not options:
            continue
        question = ex.question.replace(w, rng.choice(options), 1)
        out.append((replace(ex, id=f"{ex.id}#swap", source=f"{ex.source}+swap", question=question, answers=()), ex))
    return out
