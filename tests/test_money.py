"""Questions about a sum of money, and spans that name one (qa.money), in answer()."""

from __future__ import annotations

import re

import pytest

from qa import build_index, load_index
from qa.answering import answer
from qa.money import asks_money, money_at, names_money
from qa.reader import SpanScore


@pytest.mark.parametrize("question", [
    "合作社筹建的蔬菜预冷库计划投资多少钱？", "受表彰的组织获得多少奖金？", "这次供水工程的总投资是多少？",
    "门票收入是多少？", "每晚收费多少？", "一审法院判处罚金人民币多少元？", "每次車費是多少？",
    "整修廠房一共花了多少錢？", "How much does the villager earn per month?", "How much did the bridge cost?",
    "台风给湛江造成了多少直接经济损失？", "每平方米收多少热费？",  # the noun after 多少
    "这幅画价值多少？", "项目耗资多少？", "他的年薪是多少？", "公司注册资本是多少？", "投资几亿元？", "门票几元？",
    "How much was the fine?", "What is the price of a ticket?",
])
def test_a_question_about_a_sum_of_money(question):
    assert asks_money(question)


@pytest.mark.parametrize("question", [
    "民间投资同比增长多少？",  # a growth rate: a percentage
    "收入占人均可支配收入的比例是多少？",  # a share
    "借款的利息是多少？",  # usually a rate (月利率1%)
    "森林损失了多少平方公里？", "工程花了多少时间？", "投资了多少个项目？",  # another unit
    "人口的历史最高值是多少？", "调研组走访了多少户？", "How many buses run on the line?",
    "一共有多少个项目获得投资？", "多少人的工资上涨了？",  # a count of things or people that money is said of
    "多少企业获得补贴？", "有多少万人受损失？", "损失了多少架飞机？",
    "花了多少小时？", "耗费多少精力？", "浪费了多少粮食？", "费了多少口舌？", "水由多少元素组成？",
])
def test_a_question_about_something_else(question):
    assert not asks_money(question)


@pytest.mark.parametrize(("span", "before", "after", "money"), [
    ("9800万元", "", "", True), ("八十六万元", "", "", True), ("0.2元/张", "", "", True),
    ("50", "投资", "万元建设", True),  # the reader stopped at the number: its unit follows
    ("3", "$", "", True), ("600万里拉", "", "", True), ("2000億金馬克", "", "", True),
    ("3,650萬港幣", "", "", True), ("12澳門元", "", "", True),  # traditional characters
    ("12％", "", "", True),  # a share of a sum: 华沙生产波兰多少国民收入
    ("5万", "人民币", "", True), ("300", "", "余万元", True), ("￥300", "", "", True), ("300RMB", "", "", True),
    ("3亿", "总投资", "，", True), ("三亿", "", "。", True),  # news often leaves the 元 out of a sum in 亿
    ("4.6万", "", "人次", False), ("14.6万", "", "群众", False),  # but not when another unit follows
    ("50吨", "投资1260万元建", "", False),  # a currency of an earlier sum is not this one's
    ("50吨", "", "", False), ("4.6万人次", "", "", False), ("兩年時間", "", "", False), ("8间", "", "", False),
    ("1200", "过火面积约", "平方米", False), ("墨西哥", "", "", False),
])
def test_a_span_names_a_sum_of_money(span, before, after, money):
    assert names_money(span, before, after) is money


def test_money_at_reads_the_characters_around_the_span():
    text = "计划投资50万元建设冷库，日处理能力50吨。"
    assert money_at(text, text.index("50"), text.index("50") + 2)
    at = text.rindex("50")
    assert not money_at(text, at, at + 3)


DOC = "绿源合作社去年销售蔬菜3200吨。\n\n合作社正在筹建一座日处理能力50吨的蔬菜预冷库，计划投资1260万元。\n"


class _FirstNumber:
    """Answers with the first match of ``pattern`` in each passage, at a high margin."""

    name, null_threshold = "first-number", 0.0

    def __init__(self, pattern: str, money: bool) -> None:
        self.pattern = pattern
        self.answering = {"retrieval_bonus": 0.0, "threshold": 0.0, "read_passages": 3, "money": money}

    def read(self, question, texts, *, top_k=5):
        out = []
        for i, t in enumerate(texts):
            m = re.search(self.pattern, t)
            if m:
                out.append(SpanScore(i, m.start(), m.end(), score=8.0 - i, null=0.0, prob=0.9))
        return out


@pytest.fixture(scope="module")
def money_index(tmp_path_factory):
    from qa.embedding import HashingEmbedder

    base = tmp_path_factory.mktemp("money")
    (base / "docs").mkdir()
    (base / "docs" / "coop.txt").write_text("合作社的冷库\n\n" + DOC, encoding="utf-8")
    emb = HashingEmbedder(64)
    build_index(base / "docs", base / "ix", embedder=emb, progress=False)
    return load_index(base / "ix", embedder=emb)


def test_a_money_question_is_not_answered_with_a_figure_of_another_kind(money_index):
    q = "预冷库计划投资多少钱？"
    tons = r"\d+吨"
    refused = answer(q, index=money_index, reader=_FirstNumber(tons, money=True))
    assert not refused.found and "不是金额" in refused.message and "吨" in refused.message
    assert refused.related  # the closest passages are still listed
    # Without the check (a reader whose dev did not choose it), the tonnage is shown.
    shown = answer(q, index=money_index, reader=_FirstNumber(tons, money=False))
    assert shown.found and shown.text.endswith("吨")
    # A sum of money is answered, also when the span stops before its unit (1260 | 万元).
    for pattern in (r"\d+万元", r"\d+(?=万元)"):
        a = answer(q, index=money_index, reader=_FirstNumber(pattern, money=True))
        assert a.found and a.text.startswith("1260")
    # A question about something else is not checked.
    assert answer("预冷库的日处理能力是多少？", index=money_index, reader=_FirstNumber(tons, money=True)).found


def test_the_refusal_speaks_the_questions_language(money_index):
    a = answer("How much will the cold store cost?", index=money_index, reader=_FirstNumber(r"\d+吨", money=True))
    assert not a.found and "no sum of money" in a.message


class _ClauseAndTons:
    """A clause that ends in the sum, and the tonnage inside it scored a little lower."""

    name, null_threshold = "clause", 0.0

    def __init__(self, tighten: dict | None) -> None:
        self.answering = {"retrieval_bonus": 0.0, "threshold": 0.0, "read_passages": 3, "money": True}
        if tighten:
            self.answering["tighten"] = tighten

    def read(self, question, texts, *, top_k=5):
        out = []
        for i, t in enumerate(texts):
            if "50吨" in t:
                start, tons = t.index("日处理能力"), t.index("50吨")
                out += [SpanScore(i, start, t.index("万元") + 2, score=8.0, null=0.0, prob=0.9),
                        SpanScore(i, tons, tons + 3, score=7.5, null=0.0, prob=0.8)]
        return out


def test_the_span_shown_is_checked_not_the_one_the_decision_was_made_on(money_index):
    """Tightening shows the tonnage inside a clause that ends in the sum: that is not a sum."""
    q = "预冷库计划投资多少钱？"
    clause = answer(q, index=money_index, reader=_ClauseAndTons(None))
    assert clause.found and clause.text.endswith("1260万元")
    tight = answer(q, index=money_index, reader=_ClauseAndTons({"delta": 1.0, "min_chars": 10, "types": ["number"]}))
    assert not tight.found and "50吨" in tight.message
