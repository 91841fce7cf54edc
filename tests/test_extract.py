"""Question types and typed spans on small inline sentences (jieba only, no model)."""

from __future__ import annotations

import pytest

from qa.extract import align, extract, question_type, question_unit
from qa.text import Tokenizer


@pytest.fixture(scope="module")
def tok():
    return Tokenizer()


def _terms(tok, q):
    return {w: 1.0 for w in tok.words(q)}


@pytest.mark.parametrize(
    ("question", "qtype"),
    [
        ("宣讲开展了多少场次？", "number"),
        ("组建了几支服务队？", "number"),
        ("演出是哪天举行的？", "date"),
        ("警报几点响起？", "time"),
        ("启动仪式在哪里举行？", "place"),
        ("这篇报道的通讯员是谁？", "person"),
        ("哪个单位牵头培训？", "org"),
        ("活动以什么为主题？", "name"),
        ("三驾马车是哪三者？", "list"),
        ("为什么要开展专项治理？", "reason"),
        ("宣讲引导农民代表做什么？", "action"),
        ("How many contestants took part?", "number"),
        ("When was the show held?", "date"),
        ("Who is the correspondent?", "person"),
        ("辽源", "none"),
    ],
)
def test_question_types(question, qtype):
    assert question_type(question) == qtype


def test_question_unit():
    assert question_unit("有多少名农民代表参加？") == "名"
    assert question_unit("开展了多少场次？") == "场次"
    assert question_unit("参加人数达到多少？") == ""


def test_number_with_its_measure_word(tok):
    q = "全市有多少名农民代表参加活动？"
    s = "聘请专家开展宣讲活动4场，全市55名农民代表参加活动。"
    span = extract(q, s, "number", tok, _terms(tok, q))
    assert span.text == "55名"
    assert s[span.start : span.end] == span.text


def test_number_chosen_by_the_words_around_it(tok):
    q = "打造了多少个文体活动室？"
    s = "设立“老书记工作室”11个，打造文体活动室65个，培育群众团体34支。"
    assert extract(q, s, "number", tok, _terms(tok, q)).text == "65个"


def test_number_next_to_the_question_words(tok):
    q = "阅读推广活动的参加人数达到多少？"
    s = "开展阅读进机关等10项活动，参加活动人数达10万余人；"
    assert extract(q, s, "number", tok, _terms(tok, q)).text == "10万余人"


def test_date_and_time(tok):
    s = "9月18日，市人防办开展宣传日主题活动。9点18分，警报声回荡在街道上空。"
    q = "市人防办在哪天开展宣传日主题活动？"
    assert extract(q, s, "date", tok, _terms(tok, q)).text == "9月18日"
    q = "警报声在几点回荡在街道上空？"
    assert extract(q, s, "time", tok, _terms(tok, q)).text == "9点18分"


def test_place_from_the_alignment_gap(tok):
    q = "农业农村局聘请专家在哪里开展主题宣讲活动？"
    s = "农业农村局聘请专家在辽源市职教园区开展主题宣讲活动。"
    assert extract(q, s, "place", tok, _terms(tok, q)).text == "辽源市职教园区"


def test_place_by_the_noun_asked_about(tok):
    q = "服务队队员来到了哪个小区的施工现场？"
    s = "服务队队员来到西安台区的家园小区作业施工现场，告知电缆走向。"
    assert extract(q, s, "place", tok, _terms(tok, q)).text == "家园小区"


def test_person_by_role(tok):
    s = "本报讯(记者赵蓓蓓 通讯员张冬雪)"
    q = "这篇报道的通讯员是谁？"
    assert extract(q, s, "person", tok, _terms(tok, q)).text == "张冬雪"
    q = "这篇报道的记者是谁？"
    assert extract(q, s, "person", tok, _terms(tok, q)).text == "赵蓓蓓"


def test_photographer(tok):
    q = "这张照片是谁拍摄的？"
    s = "9月16日，服务队队员来到施工现场宣传知识。王闯 摄"
    assert extract(q, s, "person", tok, _terms(tok, q)).text == "王闯"


def test_person_in_another_role_has_no_support(tok):
    q = "供电公司的总经理是谁？"
    s = "近日，供电公司工作人员王品皓对正在施工的单位进行现场宣讲。"
    span = extract(q, s, "person", tok, _terms(tok, q))
    assert span is None or span.support < 0.1


def test_org_keeps_the_whole_name(tok):
    q = "编纂三本图书的是哪个单位？"
    s = "今年以来，辽源市委研究室积极发挥职能优势，编纂了三本图书。"
    assert extract(q, s, "org", tok, _terms(tok, q)).text == "辽源市委研究室"


def test_quoted_name_by_its_subject(tok):
    q = "发放的警示图册叫什么？"
    s = "发放《电力设施保护条例》《电力线路外力破坏案例警示图册》等材料。"
    assert extract(q, s, "name", tok, _terms(tok, q)).text == "电力线路外力破坏案例警示图册"


def test_list_is_trimmed_to_its_items(tok):
    q = "通过联席会解决了哪些问题？"
    s = "通过联席会解决消防安全隐患、违章建筑、小区改造、供水供暖等重点难点问题1381个。"
    assert extract(q, s, "list", tok, _terms(tok, q)).text == "消防安全隐患、违章建筑、小区改造、供水供暖"


def test_list_split_where_a_verb_interrupts(tok):
    q = "宣讲深入到哪些地方？"
    s = "深入社区、农村开展对象化、分众化、通俗化宣讲1300余场次。"
    assert extract(q, s, "list", tok, _terms(tok, q)).text == "社区、农村"


def test_action_answer_is_the_rest_of_the_sentence(tok):
    q = "通过宣讲引导农民代表做什么？"
    s = "全市55名农民代表参加活动，通过宣讲引导农民代表从中汲取智慧，为乡村振兴贡献力量。"
    assert extract(q, s, "action", tok, _terms(tok, q)).text == "从中汲取智慧，为乡村振兴贡献力量"


def test_reason_clause(tok):
    q = "为什么要开展专项治理活动？"
    s = "为消除外力破坏隐患，供电公司多措并举，开展专项治理活动。"
    assert extract(q, s, "reason", tok, _terms(tok, q)).text == "为消除外力破坏隐患"


def test_no_typed_span_means_none(tok):
    q = "共配备了多少架无人机？"
    s = "利用空中优势积极探索巡逻防控警务机制。"
    assert extract(q, s, "number", tok, _terms(tok, q)) is None


def test_alignment_skips_function_words(tok):
    al = align("万人共聚在哪里？", "节日当天，万人共聚辽源市南仁东广场，活动在此开展。", "place")
    assert al.left == "万人共聚"
    assert al.gap is not None
