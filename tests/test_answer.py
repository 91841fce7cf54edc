"""answer() end to end on the seed page with the real offline model (one load per session)."""

from __future__ import annotations

import pytest

from qa.answering import answer, clean_question, missing_literal
from qa.records import join_spans


def _check_citations(index, a):
    for c in a.citations + a.related:
        source = index.source_text(c.doc)
        assert join_spans(source, c.spans) == c.quote
        assert (c.spans[0][0], c.spans[-1][1]) == (c.start, c.end)


@pytest.mark.parametrize(
    ("question", "expected", "title", "paragraph"),
    [
        ("辽源市“七讲七进”宣讲一共开展了多少场次？", "1300余场次", "唱响时代主旋律", 3),
        ("9月17日在南部新城辽源大剧院举行的是什么演出？", "辽源市2022年秋季送新兵文艺演出", "唱响时代主旋律", 12),
        ("市人防办的“9·18”主题活动是哪天开展的？", "9月18日", "唱响时代主旋律", 14),
        ("“9·18”那天警报声几点回荡在街道上空？", "9点18分", "唱响时代主旋律", 14),
        ("“国防教育进校园”启动仪式在哪里举行？", "市实验中学", "唱响时代主旋律", 13),
        ("哪个单位组建了巾帼宣讲团？", "市妇联", "唱响时代主旋律", 7),
        ("龙山区把全区已成立业委会的小区分成了多少个片区？", "17个", "龙山区探索党建引领基层治理新途径", 2),
        ("龙山区牢牢掌握的“三驾马车”是哪三者？", "社区居委会、小区业主委员会、物业公司",
         "龙山区探索党建引领基层治理新途径", 1),
        ("辽源供电公司处置了多少处外破隐患？", "14处", "国网辽源供电公司：筑牢电力设施保护“安全网”", 5),
    ],
)
def test_typed_answers_with_citations(real_index, question, expected, title, paragraph):
    a = answer(question, index=real_index)
    assert a.found, a.message
    assert a.text == expected
    assert a.text in a.sentence
    assert a.sentence[a.text_start : a.text_start + len(a.text)] == a.text
    c = a.citations[0]
    assert (c.title, c.paragraph, c.doc) == (title, paragraph, "000_2575e84d6e1eb83a.txt")
    assert a.sentence == c.quote
    assert 0.5 <= a.confidence <= 1.0
    _check_citations(real_index, a)


def test_person_from_the_byline(real_index):
    a = answer("《推进「人+车+机」联动新模式》这篇报道的通讯员是谁？", index=real_index)
    assert a.found and a.text == "蔺友祥"
    assert a.citations[0].kind == "header" and a.citations[0].paragraph == 0


def test_answer_across_a_caption_quotes_the_joined_text(real_index):
    a = answer("辽源供电公司发放材料时为群众讲解了什么知识？", index=real_index)
    assert a.found
    assert "电力设施保护知识" in a.text
    c = a.citations[0]
    assert len(c.spans) == 2  # the quote crosses the photo caption
    source = real_index.source_text(c.doc)
    assert "王闯 摄" in source[c.start : c.end] and "王闯" not in c.quote
    _check_citations(real_index, a)


def test_answer_across_a_cut_paragraph(real_index):
    a = answer("市人防办“9·18”人防宣传日主题活动以什么为主题？", index=real_index)
    assert a.found and a.text.startswith("勿忘国耻、时刻准备")
    assert len(a.citations[0].spans) == 2


def test_follow_up_uses_the_history(real_index):
    q1 = "辽源市“七讲七进”宣讲开展了多少场次？"
    a1 = answer(q1, index=real_index)
    a2 = answer("那受众有多少人？", index=real_index, history=[(q1, a1)])
    assert a2.found and a2.text == "6万余人"
    q3 = "第四届“辽源琵琶文化艺术周”在哪里拉开帷幕？"
    a3 = answer(q3, index=real_index)
    a4 = answer("它是哪天举行的？", index=real_index, history=[(q3, a3)])
    assert a4.found and a4.text == "8月15日"


def test_english_questions_get_chinese_spans(real_index):
    a = answer("How many contestants took part in the pipa art week?", index=real_index)
    assert a.found and a.text == "600余名"
    a = answer("Who is the correspondent of the article about the power supply company?", index=real_index)
    assert a.found and a.text == "张冬雪"


@pytest.mark.parametrize(
    "question",
    [
        "辽源市的GDP是多少？",
        "第五届“辽源琵琶文化艺术周”在哪里举办？",
        "辽源巡特警支队共有多少架无人机？",
        "国网辽源供电公司的总经理是谁？",
        "明天辽源会下雨吗？",
        "What is the population of Liaoyuan?",
    ],
)
def test_unanswerable_questions_are_refused(real_index, question):
    a = answer(question, index=real_index)
    assert not a.found
    assert a.text == "" and a.citations == []
    assert a.message
    assert a.related, "a refusal still shows the closest passages"
    _check_citations(real_index, a)


@pytest.mark.parametrize(
    ("question", "fragment"),
    [
        ("", "请输入问题"),
        ("   \n\t ", "请输入问题"),
        ("😀😀😀", "中文或英文"),
        ("Как дела у вас?", "中文或英文"),
        (None, "必须是文字"),
        (12345, "必须是文字"),
        ("辽源", "不像一个完整的问题"),
    ],
)
def test_bad_input_gets_a_message(real_index, question, fragment):
    a = answer(question, index=real_index)
    assert not a.found and fragment in a.message


def test_very_long_question_is_cut_with_a_notice(real_index):
    a = answer("辽源市“七讲七进”宣讲开展了多少场次？" + "啊" * 10_000, index=real_index)
    assert "只使用了前" in a.message


def test_clean_question_strips_control_characters_and_markup():
    q, note = clean_question("\x00辽源<b>市</b>\u200b宣讲\x7f开展了多少场次？")
    assert q == "辽源 市 宣讲 开展了多少场次？" and note == ""


def test_missing_literal_finds_a_near_miss():
    assert missing_literal("第五届艺术周在哪里举办？", "第四届艺术周在广场拉开帷幕") == "第五届"
    assert missing_literal("第四届艺术周在哪里举办？", "第四届艺术周在广场拉开帷幕") == ""
    assert missing_literal("辽源市的GDP是多少？", "辽源市开展宣讲") == "GDP"


def test_the_package_exports_the_answer_function():
    import qa
    from qa import answer as exported

    assert exported is answer and qa.answer is answer and callable(exported)
