"""Passages: sentence splitting, size limits and the offset invariant."""

from __future__ import annotations

from qa.chunking import ChunkSettings, chunk_document
from qa.documents import parse_text
from qa.records import join_spans
from qa.text import split_sentences


def _texts(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


def test_sentence_splitting_on_chinese_punctuation():
    assert _texts("第一句。第二句！第三句？第四句；第五句") == ["第一句。", "第二句！", "第三句？", "第四句；", "第五句"]


def test_closing_quote_stays_with_its_sentence():
    assert _texts("他说：“施工要远离电力设施……”近日，公司宣讲。") == [
        "他说：“施工要远离电力设施……”",
        "近日，公司宣讲。",
    ]


def test_ellipsis_ends_a_sentence():
    assert _texts("点燃爱国强国梦……今年以来。") == ["点燃爱国强国梦……", "今年以来。"]


def test_seed_passages_recover_from_source(seed_doc):
    passages = chunk_document(seed_doc)
    assert passages
    for p in passages:
        assert join_spans(seed_doc.text, p.spans) == p.text
        for s, e in p.sentences:
            assert 0 <= s < e <= len(p.text)
    ids = [p.id for p in passages]
    assert len(ids) == len(set(ids))


def test_seed_passage_kinds_and_numbers(seed_doc):
    passages = chunk_document(seed_doc)
    headers = [p for p in passages if p.kind == "header"]
    captions = [p for p in passages if p.kind == "caption"]
    assert len(headers) == 4 and len(captions) == 4
    body = [p for p in passages if p.kind == "body" and p.article == 1]
    assert sorted({p.paragraph for p in body}) == list(range(1, 19))
    assert "本报记者 董博 赵蓓蓓 通讯员 王思博" in headers[0].sentence_texts()


def test_long_paragraph_is_split_on_sentence_boundaries():
    body = "".join(f"第{i}句话的内容比较长一些。" for i in range(60))
    doc = parse_text(f"标题\n\n{body}\n", "long.txt")
    passages = [p for p in chunk_document(doc, ChunkSettings(max_chars=100)) if p.kind == "body"]
    assert len(passages) > 1
    assert all(len(p.text) <= 100 for p in passages)
    assert all(p.text.endswith("。") for p in passages)
    assert "".join(p.text for p in passages) == body
    assert {p.paragraph for p in passages} == {1}
    assert [p.part for p in passages] == list(range(len(passages)))


def test_body_text_is_neither_lost_nor_duplicated(seed_doc):
    passages = chunk_document(seed_doc)
    covered = sorted(s for p in passages for s in p.spans)
    for (_s1, e1), (s2, _) in zip(covered, covered[1:]):
        assert e1 <= s2, "overlapping passages"
    text = seed_doc.text
    covered_chars = sum(e - s for s, e in covered)
    non_space = sum(1 for ch in text if not ch.isspace())
    # Everything but whitespace (and the section headings) is in some passage.
    headings = sum(len(h.text) for a in seed_doc.articles for h in a.headings)
    assert covered_chars + headings >= non_space - text.count(" ")
