"""Property-based tests (hypothesis): answer() on arbitrary questions, chunker invariants, decoding.

The answer properties run on a small fake-embedder index holding the seed page and
two documents stored as GBK and BOM-less UTF-16, so offsets go through decoding too.
"""

from __future__ import annotations

import codecs
import logging
import re
import shutil
import time
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import ErrorLog
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from qa import build_index, load_index, messages
from qa.answering import answer
from qa.chunking import ChunkSettings, chunk_document
from qa.documents import decode_bytes, parse_text
from qa.embedding import HashingEmbedder
from qa.records import Answer, join_spans

READING = (
    "图书馆读书会\n\n"
    "本报讯(记者李四)辽源市图书馆今年举办读书会12场，参加的读者有三百多人。\n\n"
    "读书会由馆长王五主持，每场邀请一位本地作家分享创作经历。\n"
)
PAINTING = "东丰县农民画展\n\n本报讯(记者赵六)东丰县农民画展于5月20日在县文化馆开幕，展出作品160幅。\n"
SEED = Path(__file__).resolve().parent.parent / "seeds" / "000_2575e84d6e1eb83a.txt"
SEED_TEXT = SEED.read_text(encoding="utf-8")
QUESTIONS = [
    "辽源市图书馆今年举办了多少场读书会？",
    "东丰县农民画展什么时候开幕？",
    "辽源市“七讲七进”宣讲开展了多少场次？",
    "谁主持读书会？",
    "那受众有多少人？",
    "What did the library hold?",
]

# ------------------------------------------------------------------ answer()


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    base = tmp_path_factory.mktemp("props")
    seeds = base / "seeds"
    seeds.mkdir()
    shutil.copy(SEED, seeds / SEED.name)
    (seeds / "读书会.txt").write_bytes(READING.encode("gbk"))
    (seeds / "画展 UTF-16.txt").write_bytes(PAINTING.encode("utf-16-le"))
    emb = HashingEmbedder(64)
    build_index(seeds, base / "ix", embedder=emb)
    idx = load_index(base / "ix", embedder=emb)
    answer(QUESTIONS[0], index=idx)  # warm up jieba's part-of-speech tables outside the deadline
    return idx


def _check(idx, a) -> None:
    assert isinstance(a, Answer)
    assert a.found or a.message, a
    if a.found:
        assert a.text and a.text in a.sentence and a.citations
        assert a.sentence[a.text_start : a.text_start + len(a.text)] == a.text
    for c in a.citations + a.related:
        source = idx.source_text(c.doc)
        assert "".join(source[s:e] for s, e in c.spans) == c.quote, c
        assert c.spans[0][0] == c.start and c.spans[-1][1] == c.end, c
        assert all(0 <= s < e <= len(source) for s, e in c.spans), c


def _ask(idx, question, history=None) -> Answer:
    """answer() must neither raise nor swallow an internal error (it logs those)."""
    errors = ErrorLog()
    logging.getLogger("qa").addHandler(errors)
    try:
        t0 = time.perf_counter()
        a = answer(question, index=idx, history=history)
        assert time.perf_counter() - t0 < 5, "answer() took over 5 s"
    finally:
        logging.getLogger("qa").removeHandler(errors)
    assert not errors.records, [r.getMessage() for r in errors.records]
    _check(idx, a)
    return a


ANSWER_SETTINGS = settings(
    max_examples=150, deadline=timedelta(seconds=5), suppress_health_check=[HealthCheck.too_slow]
)
# Questions that look like questions: pieces of the documents, question words, noise.
CHINESE = st.text(alphabet=SEED_TEXT + READING + "？?吗呢谁几多少什么哪", max_size=80)
ANY_CHARS = st.characters(exclude_categories=())  # every code point, lone surrogates included
# Rare in random text, so also drawn on their own: NUL, bidi override, zero-width, BOM,
# lone surrogates, non-characters, private use, a combining mark, emoji, the last code point.
NASTY = ["\x00", "\x1b", "\u202e", "\u200b", "\ufeff", "\ud800", "\udfff", "\ufffe", "\ue000", "\u0301", "😀", "\U0010ffff", " "]
MIXED = st.lists(
    st.one_of(st.sampled_from(QUESTIONS), CHINESE, st.text(ANY_CHARS, max_size=20), st.sampled_from(NASTY)),
    max_size=5,
).map("".join)


@ANSWER_SETTINGS
@given(st.one_of(st.text(ANY_CHARS, max_size=400), MIXED))  # random text, and questions with random text inside
def test_answer_never_fails_on_arbitrary_unicode(index, question):
    _ask(index, question)


@ANSWER_SETTINGS
@given(st.one_of(CHINESE, MIXED))
def test_answer_citations_keep_the_offset_invariant(index, question):
    _ask(index, question)


@settings(ANSWER_SETTINGS, max_examples=50)
@given(st.text(alphabet=SEED_TEXT, min_size=300, max_size=2000))
def test_answer_on_long_questions_is_bounded(index, question):
    a = _ask(index, question)
    lang = messages.language(question)
    cut = messages.QUESTION_CUT(lang, limit=300) in a.message
    assert cut or len(" ".join(question.split())) <= 300 or messages.ASK_IN_CHINESE_OR_ENGLISH(lang) in a.message


@ANSWER_SETTINGS
@given(MIXED, st.sampled_from(QUESTIONS), st.sampled_from(["answer", "none", "junk"]))
def test_follow_ups_with_any_history(index, question, previous, kind):
    prev = {"answer": answer(previous, index=index), "none": None, "junk": "not an answer"}[kind]
    _ask(index, question, history=[(previous, prev)])


# ------------------------------------------------------------------ chunker invariants

_CJK = "辽源市图书馆今年举办读书会场参加的读者有三百多人本报讯记者李四张三摄影供图第一二东丰县"
_PIECES = st.one_of(
    st.text(alphabet=_CJK, min_size=1, max_size=30),
    st.sampled_from(list("。！？；…“”，、（）()—!?.") + ["……", "——", "...", "#"]),
    st.sampled_from(["本报讯(记者李四)", "本报记者 张三", "——副标题", "王闯 摄", "# ", "## ", "图/张三"]),
    st.sampled_from(["\n", "\n\n", "\n\n\n", " ", "  ", "\t", "\u3000", "\r\n"]),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=12),
)
DOCUMENTS = st.one_of(
    st.lists(_PIECES, max_size=60).map("".join),
    st.lists(st.text(max_size=40), max_size=12).map("\n".join),
)
_MD_MARK = re.compile(r"(?m)^\s*(#{1,6})(?=\s)")


def _count(cover: list[int], spans) -> None:
    for s, e in spans:
        for i in range(s, e):
            cover[i] += 1


def _page_furniture(source: str) -> list[tuple[int, int]]:
    """The lines of a paged text (form feeds between pages) left out as running headers,
    footers and page numbers; each must stand among its page's first or last lines."""
    from qa.documents import _EDGE_LINES, _lines, _without_text_furniture

    if "\f" not in source:
        return []
    lines = _lines(source)
    kept = {(ln.start, ln.end) for ln in _without_text_furniture(source, lines)}
    breaks = [i for i, ch in enumerate(source) if ch == "\f"]
    pages: dict[int, list] = {}
    for ln in lines:
        pages.setdefault(sum(b < ln.start for b in breaks), []).append(ln)
    dropped = []
    for page in pages.values():
        for pos, ln in enumerate(page):
            if (ln.start, ln.end) not in kept:
                assert pos < _EDGE_LINES or pos >= len(page) - _EDGE_LINES, f"body line {source[ln.start:ln.end]!r} dropped"
                dropped.append((ln.start, ln.end))
    return dropped


@settings(max_examples=500, deadline=None)
@given(DOCUMENTS, st.sampled_from([400, 30, 5]))
@example("0\n\f\n0", 400)  # two pages of a page number each: furniture, not body text
@example("一\n本报记者 张三\n——副标题", 400)  # a byline before the subtitle: the header kept source order
@example("、\n本报讯(记者李四)", 400)  # a 本报讯 prefix over two lines: the byline's spans cross the break
def test_chunker_loses_and_duplicates_nothing(text, max_chars):
    """Every passage is its spans; no non-space character is lost or in two passages.

    Headlines, subtitles and bylines are in header passages; section headings are kept
    on the articles (not indexed), markdown ``#`` marks are syntax, and in a paged text
    (form feeds) the running headers, footers and page numbers at its pages' edges are
    left out.
    """
    doc = parse_text(text, "t.txt")
    passages = chunk_document(doc, ChunkSettings(max_chars=max_chars))
    source = doc.text
    in_passages = [0] * len(source)
    for p in passages:
        assert join_spans(source, p.spans) == p.text
        assert all(0 <= s < e <= len(source) for s, e in p.spans)
        assert all(e1 <= s2 for (_, e1), (s2, _) in zip(p.spans, p.spans[1:]))
        assert all(0 <= s < e <= len(p.text) for s, e in p.sentences)
        _count(in_passages, p.spans)
    assert max(in_passages, default=0) <= 1, "text in two passages"
    elsewhere = [0] * len(source)
    for a in doc.articles:
        assert join_spans(source, a.title_spans) == (a.title if a.title_spans else "")
        for h in a.headings:
            assert join_spans(source, h.spans) == h.text
            _count(elsewhere, h.spans)
    for m in _MD_MARK.finditer(source):
        _count(elsewhere, [m.span(1)])
    _count(elsewhere, _page_furniture(source))
    lost = [i for i, ch in enumerate(source) if not ch.isspace() and not in_passages[i] and not elsewhere[i]]
    assert not lost, f"lost {[source[i] for i in lost]} in {source!r}"
    ids = [p.id for p in passages]
    assert len(ids) == len(set(ids))


# ------------------------------------------------------------------ decoding


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=SEED_TEXT + "abc 123\t㐂𠀀😀", min_size=1, max_size=200),
    st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32", "utf-16-le-bom", "utf-16-be-bom"]),
)
def test_text_with_a_byte_order_mark_or_utf8_decodes_exactly(text, encoding):
    boms = {"utf-16-le-bom": codecs.BOM_UTF16_LE, "utf-16-be-bom": codecs.BOM_UTF16_BE}
    data = boms[encoding] + text.encode(encoding[:9]) if encoding in boms else text.encode(encoding)
    assert decode_bytes(data)[0] == text
