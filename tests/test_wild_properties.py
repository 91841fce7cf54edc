"""Property tests: whatever the layout, no text is lost and every offset is exact.

Documents are generated from blocks (paragraphs, headings, Markdown headings, list
items, tables, code) laid out in many ways (hard-wrapped at any width, indented, with
or without blank lines between paragraphs).  The generator knows which characters are
Markdown syntax; every other non-whitespace character must be in an indexed passage,
or, for a heading, in the section path of a passage.
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from qa.chunking import ChunkSettings, chunk_document
from qa.documents import parse_text
from qa.records import join_spans
from qa.text import fold, parse_number

_CJK = "辽源市图书馆今年举办读书会场参加的读者有三百多人东丰县农民画展开幕作品长白山位于吉林省东南部一二十万"
_WORDS = st.text(alphabet=_CJK, min_size=1, max_size=20)
_SENTENCE = st.tuples(_WORDS, st.sampled_from(["。", "，", "；", "！", "", "、", "……", "”"])).map("".join)
_PARAGRAPH = st.lists(_SENTENCE, min_size=1, max_size=6).map("".join)
_HEADING = st.text(alphabet=_CJK, min_size=1, max_size=14)

Piece = tuple[str, bool]  # text, is Markdown syntax

_BLOCK = st.one_of(
    st.tuples(st.just("p"), _PARAGRAPH),
    st.tuples(st.just("p"), _PARAGRAPH),
    st.tuples(st.just("h"), _HEADING),
    st.tuples(st.just("md"), st.integers(1, 4), _HEADING),
    st.tuples(st.just("li"), st.sampled_from(["- ", "* ", "1. ", "2) ", "3、"]), _PARAGRAPH),
    st.tuples(st.just("table"), st.lists(st.lists(_HEADING, min_size=1, max_size=3), min_size=1, max_size=3)),
    st.tuples(st.just("code"), st.lists(_WORDS, min_size=1, max_size=3)),
)


def _wrap(text: str, width: int | None) -> list[str]:
    if not width:
        return [text]
    return [text[i : i + width] for i in range(0, len(text), width)]


def _render(blocks, width: int | None, gap: str, indent: str, markdown: bool) -> list[Piece]:
    pieces: list[Piece] = []
    for i, block in enumerate(blocks):
        if i:
            pieces.append((gap, False))
        kind = block[0]
        if kind == "p":
            pieces.append((indent, False))
            pieces.append(("\n".join(_wrap(block[1], width)), False))
        elif kind == "h":
            pieces.append((block[1], False))
        elif kind == "md":
            pieces += [("#" * block[1] + " ", True), (block[2], False)]
        elif kind == "li":
            pieces += [(block[1], markdown), (block[2], False)]
        elif kind == "table":
            for r, row in enumerate(block[1]):
                if r:
                    pieces.append(("\n", False))
                for cell in row:
                    pieces += [("| ", markdown), (cell, False), (" ", False)]
                pieces.append(("|", markdown))
                if r == 0 and len(block[1]) > 1:
                    pieces.append(("\n" + "|---" * len(row) + "|", markdown))
        else:
            pieces += [("```\n", markdown), ("\n".join(block[1]), False), ("\n```", markdown)]
    return pieces


@settings(max_examples=400, deadline=None)
@given(
    st.lists(_BLOCK, min_size=1, max_size=12),
    st.sampled_from([None, None, 6, 11, 16, 23, 30]),
    st.sampled_from(["\n", "\n\n", "\n\n\n"]),
    st.sampled_from(["", "　　", "  "]),
    st.booleans(),
    st.sampled_from([400, 30]),
)
# Found by Hypothesis on 2026-12-05: a heading that ends an article, longer than max_chars, was
# cut into two passages, so no passage (and no section) named it.
@example(blocks=[("p", "一。"), ("p", "一一，一一一一一……一一一一一一一一，"), ("h", "一一一一一一一一一一一一"), ("md", 1, "一")],
         width=None, gap="\n", indent="", markdown=False, max_chars=30)
def test_no_text_is_lost_in_any_layout(blocks, width, gap, indent, markdown, max_chars):
    pieces = _render(blocks, width, gap, indent, markdown)
    text = "".join(t for t, _ in pieces) + "\n"
    syntax = []
    for t, is_syntax in pieces:
        syntax += [is_syntax] * len(t)
    syntax.append(False)
    doc = parse_text(text, "doc.md" if markdown else "doc.txt")
    passages = chunk_document(doc, ChunkSettings(max_chars=max_chars))
    covered = [0] * len(text)
    for p in passages:
        assert join_spans(text, p.spans) == p.text
        assert all(0 <= s < e <= len(text) for s, e in p.spans)
        assert all(e1 <= s2 for (_, e1), (s2, _) in zip(p.spans, p.spans[1:]))
        for s, e in p.spans:
            for i in range(s, e):
                covered[i] += 1
    # A Markdown table's header row is attached to every row under it; nothing else repeats.
    header = [False] * len(text)
    if markdown:
        pos = 0
        lines = text.split("\n")
        for ln, nxt in zip(lines, lines[1:] + [""]):
            if ln.startswith("|") and nxt.startswith("|---"):
                header[pos : pos + len(ln)] = [True] * len(ln)
            pos += len(ln) + 1
    assert max((c for c, h in zip(covered, header) if not h), default=0) <= 1, "text in two passages"
    sections = {part for p in passages for part in p.section.split(" / ")}
    for a in doc.articles:
        for h in a.headings:
            assert join_spans(text, h.spans) == h.text
            assert h.text in sections or any(p.text == h.text for p in passages), f"heading {h.text!r} lost"
            for s, e in h.spans:
                for i in range(s, e):
                    covered[i] += 1
    lost = [i for i, ch in enumerate(text) if not ch.isspace() and not syntax[i] and not covered[i]]
    assert not lost, f"lost {[text[i] for i in lost]} in {text!r}"


_NUMERAL_TEXT = st.text(alphabet="一二三四五六七八九十百千万亿两〇零第年月日号个人名余多点分之百%起些带路明治统唯", max_size=20)


@settings(max_examples=300, deadline=None)
@given(_NUMERAL_TEXT)
def test_fold_never_fails_and_is_idempotent(text):
    folded = fold(text)
    assert fold(folded) == folded
    value = parse_number(text)
    assert value is None or value == value  # a number, never NaN
