"""answer() end to end on the seed page with the real offline model and the shipped reader
(each loaded once per session)."""

from __future__ import annotations

import pytest

from qa.answering import answer, read
from qa.evaluate import best_f1
from qa.records import join_spans

SEED_DOC = "000_2575e84d6e1eb83a.txt"


def _check_citations(index, a):
    for c in a.citations + a.related:
        source = index.source_text(c.doc)
        assert join_spans(source, c.spans) == c.quote
        assert (c.spans[0][0], c.spans[-1][1]) == (c.start, c.end)


@pytest.mark.parametrize(
    ("question", "answers", "title"),
    [
        ("辽源市“七讲七进”宣讲一共开展了多少场次？", ["1300余场次", "1300余场"], "唱响时代主旋律"),
        ("市人防办的“9·18”主题活动是哪天开展的？", ["9月18日"], "唱响时代主旋律"),
        ("“国防教育进校园”启动仪式在哪里举行？", ["市实验中学"], "唱响时代主旋律"),
        ("哪个单位组建了巾帼宣讲团？", ["市妇联"], "唱响时代主旋律"),
        ("龙山区把全区已成立业委会的小区分成了多少个片区？", ["17个", "17个片区", "17"], "龙山区探索党建引领基层治理新途径"),
        ("辽源供电公司处置了多少处外破隐患？", ["14处"], "国网辽源供电公司：筑牢电力设施保护“安全网”"),
    ],
)
def test_answers_with_citations(real_index, real_reader, question, answers, title):
    a = answer(question, index=real_index, reader=real_reader)
    assert a.found, a.message
    assert best_f1(a.text, tuple(answers)) >= 0.8, a.text
    assert a.sentence[a.text_start : a.text_start + len(a.text)] == a.text
    c = a.citations[0]
    assert (c.title, c.doc) == (title, SEED_DOC)
    assert a.sentence == c.quote
    assert 0.0 < a.confidence <= 1.0
    _check_citations(real_index, a)


def test_answer_across_a_caption_quotes_the_joined_text(real_index, real_reader):
    a = answer("辽源供电公司发放材料时为群众讲解了什么知识？", index=real_index, reader=real_reader)
    assert a.found and "电力设施保护" in a.text
    c = a.citations[0]
    source = real_index.source_text(c.doc)
    if len(c.spans) == 2:  # the quote crosses the photo caption
        assert "王闯 摄" in source[c.start : c.end] and "王闯" not in c.quote
    _check_citations(real_index, a)


def test_follow_up_uses_the_history(real_index, real_reader):
    q1 = "辽源市“七讲七进”宣讲开展了多少场次？"
    a1 = answer(q1, index=real_index, reader=real_reader)
    a2 = answer("那受众有多少人？", index=real_index, reader=real_reader, history=[(q1, a1)])
    assert a2.found and "6万余人" in a2.text


@pytest.mark.xfail(strict=True, reason="known weakness: the shipped reader answers 10余 (another count in the "
                   "same paragraph); English F1 on the seed test split is 0.33")
def test_english_questions_get_chinese_spans(real_index, real_reader):
    a = answer("How many contestants took part in the pipa art week?", index=real_index, reader=real_reader)
    assert a.found and "600余" in a.text


@pytest.mark.parametrize(
    "question",
    [
        "辽源市的GDP是多少？",
        "第五届“辽源琵琶文化艺术周”在哪里举办？",
        "明天辽源会下雨吗？",
        "What is the population of Liaoyuan?",
    ],
)
def test_unanswerable_questions_are_refused(real_index, real_reader, question):
    """Refused as the user sees it: not found, or a span below 中, which the chat and ``/ask``
    show as not found.  (The English question sits at the reader's threshold in bfloat16: on an
    AMX Xeon the shipped reader gives 6万余 at confidence 0.18, band low; float32 and an AMD EPYC
    with AVX512-BF16 refuse it outright.)"""
    from qa import api
    from qa.bands import LOW

    a = answer(question, index=real_index, reader=real_reader)
    if a.found:
        assert a.band == LOW, (a.text, a.confidence, a.band)
        assert api.answer_to_dict(a)["level"] == "not_found"
    else:
        assert a.text == "" and a.citations == []
        assert a.message
    assert a.related, "a refusal still shows the closest passages"
    _check_citations(real_index, a)


def test_read_a_pasted_paragraph_with_the_real_reader(real_reader):
    text = "据介绍，今年图书馆新增藏书五万册，举办读书会12场。\n\n馆长王明说，明年将开放夜间阅览室。"
    a = read("图书馆举办了多少场读书会？", text, reader=real_reader)
    assert a.found and a.text in ("12", "12场")  # the reader often leaves the measure word out
    c = a.citations[0]
    assert text[c.start : c.end] == c.quote and c.paragraph == 1


@pytest.mark.xfail(strict=True, reason="known weakness: the reader's calibrated confidence for 王明 is 0.25, "
                   "below read()'s floor (0.4), so it says the text does not answer")
def test_read_finds_a_person_in_the_second_paragraph(real_reader):
    text = "据介绍，今年图书馆新增藏书五万册，举办读书会12场。\n\n馆长王明说，明年将开放夜间阅览室。"
    a = read("谁是图书馆馆长？", text, reader=real_reader)
    assert a.found and a.text == "王明" and a.citations[0].paragraph == 2
