"""Folding for matching: traditional/simplified, full-width forms, numbers in every notation."""

from __future__ import annotations

import pytest

from qa.keyword import KeywordIndex
from qa.records import Passage
from qa.text import fold, fold_numbers, normalize, parse_number, to_simplified


def test_traditional_folds_to_simplified():
    assert to_simplified("臺北市立圖書館舉辦讀書會") == "台北市立图书馆举办读书会"
    assert fold("圖書館") == fold("图书馆") == "图书馆"


def test_full_width_forms_fold():
    assert fold("１３００余场次（共计）") == "1300余场次(共计)"
    assert normalize("ＧＤＰ　增长") == "gdp 增长"


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("五万册", "50000册"),
        ("六千二百余名", "6200余名"),
        ("百分之二十七", "27%"),
        ("百分之二十七点五", "27.5%"),
        ("二〇二五年", "2025年"),
        ("二零二五年十一月二十六日", "2025年11月26日"),
        ("十一月二十六日", "11月26日"),
        ("两千", "2000"),
        ("两千多人", "2000多人"),
        ("３万", "30000"),
        ("5万册", "50000册"),
        ("1.5万人", "15000人"),
        ("6万余人", "60000余人"),
        ("三点五亿元", "350000000元"),
        ("三点五十分", "3点50分"),
        ("第四届", "第4届"),
        ("第一百零五条", "第105条"),
        ("三个中心广场", "3个中心广场"),
        ("每年一月", "每年1月"),
        ("一九九八年", "1998年"),
    ],
)
def test_numbers_fold_to_arabic(text, folded):
    assert fold_numbers(text) == folded


@pytest.mark.parametrize(
    "text",
    ["一起", "一些", "万一", "十分重要", "三明治", "一带一路", "统一年度", "唯一一次", "七八个人", "一点点",
     "千万", "一五一十", "九九八十一", "两岸", "一行人", "一道", "十全十美"],
)
def test_words_made_of_numeral_characters_stay(text):
    assert fold_numbers(text) == text


def test_notations_fold_to_the_same_form():
    assert fold("五万册") == fold("5万册") == fold("50000册")
    assert fold("二〇二五年") == fold("2025年")
    assert fold("百分之二十七") == fold("27%")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1300余场次", 1300.0), ("五万", 50000.0), ("5万", 50000.0), ("百分之二十七", 27.0), ("27%", 27.0),
        ("二〇二五年", 2025.0), ("１２", 12.0), ("两千", 2000.0), ("一", 1.0), ("1,300人", 1300.0),
        ("约3.5万", 35000.0), ("第四届", 4.0), ("一起", None), ("十分", None), ("abc", None), ("", None),
    ],
)
def test_parse_number(text, value):
    assert parse_number(text) == value


def test_fold_is_idempotent():
    for t in ["臺北五萬冊", "二〇二五年十一月", "百分之二十七点五", "一起去看5万人"]:
        assert fold(fold(t)) == fold(t)


# ------------------------------------------------------------------ keyword matching across forms

DOCS = [
    "臺北市立圖書館今年舉辦讀書會十二場，參加讀者三萬人次。",
    "辽源市图书馆二〇二五年藏书达到五万册。",
    "龙山区开展宣讲，百分之二十七的群众参加了活动。",
]


@pytest.fixture(scope="module")
def keyword():
    from qa.text import Tokenizer

    tok = Tokenizer()
    return tok, KeywordIndex().fit([tok.words(d) for d in DOCS])


@pytest.mark.parametrize(
    ("question", "doc"),
    [
        ("台北市立图书馆举办了多少场读书会？", 0),  # simplified question, traditional document
        ("遼源市圖書館藏書多少冊？", 1),  # traditional question, simplified document
        ("2025年藏书多少？", 1),
        ("藏书5万册", 1),
        ("27%的群众", 2),
        ("参加读者30000人次", 0),
    ],
)
def test_keyword_search_matches_across_notations(keyword, question, doc):
    tok, index = keyword
    assert index.search(tok.words(question), 3)[0][0] == doc


def test_passage_text_is_never_folded():
    from qa.chunking import chunk_document
    from qa.documents import parse_text

    text = "圖書館概況\n\n臺北市立圖書館藏書五萬冊。\n"
    passages = chunk_document(parse_text(text, "t.txt"))
    body = [p for p in passages if p.kind == "body"][0]
    assert body.text == "臺北市立圖書館藏書五萬冊。"
    assert text[body.start : body.end] == body.text


def test_passage_json_round_trip_and_old_records():
    p = Passage(
        id="a#a1.p1.0", doc="a.txt", article=1, title="标题", kind="body", paragraph=1, part=0, text="正文。",
        spans=((3, 6),), sentences=((0, 3),), section="小节", doc_title="文档", date="2025-11-26",
        source="辽源日报", author="张三",
    )
    assert Passage.from_json(p.to_json()) == p
    old = {k: v for k, v in p.to_json().items() if k not in ("doc_title", "date", "source", "author")}
    q = Passage.from_json(old)
    assert (q.doc_title, q.date, q.source, q.author) == ("", "", "", "")
