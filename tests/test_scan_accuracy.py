"""The measures of a scanned page's reading against its truth (qa.scan_accuracy)."""

from __future__ import annotations

import pytest

from qa.documents import parse_text
from qa.scan_accuracy import edit_distance, score_page, squash

PAGE = [
    {"title": "第一篇标题", "header": ["本报讯(记者甲)"],
     "blocks": [["paragraph", "第一段讲的是春天来了，花都开了。"], ["paragraph", "第二段讲的是夏天很热，大家游泳。"]]},
    {"title": "第二篇标题", "header": [], "blocks": [["paragraph", "秋天的果子熟了，农民忙着收割庄稼。"]]},
]


@pytest.mark.parametrize(("a", "b", "d"), [("", "", 0), ("abc", "", 3), ("kitten", "sitting", 3), ("春天来了", "春天未了", 1),
                                          ("甲乙丙", "乙丙甲", 2)])
def test_edit_distance(a, b, d):
    assert edit_distance(a, b) == d == edit_distance(b, a)


def test_squash_folds_width_and_drops_white_space():
    assert squash(" 本报讯（记者甲）\n 1２ ") == "本报讯(记者甲)12"


def test_a_page_read_right():
    text = ("# 第一篇标题\n\n  本报讯（记者甲）第一段讲的是春天来了，花都开了。\n  第二段讲的是夏天很热，大家游泳。\n\n"
            "# 第二篇标题\n\n  秋天的果子熟了，农民忙着收割庄稼。\n")
    s = score_page(text, PAGE, parse_text(text, "p.png", "0" * 64, "ocr").articles)
    assert (s.accuracy, s.bag_accuracy, s.in_order, s.paragraphs) == (1.0, 1.0, 6, 6)
    assert (s.articles_found, s.articles, s.crossing, s.joined, s.split) == (2, 2, 0, 0, 0) and s.order == 1.0


def test_two_paragraphs_read_as_one_are_counted():
    # The first paragraph's 。 lost: the structure recovery runs it into the second.
    text = ("# 第一篇标题\n\n  本报讯（记者甲）第一段讲的是春天来了，花都开了\n第二段讲的是夏天很热，大家游泳。\n\n"
            "# 第二篇标题\n\n  秋天的果子熟了，农民忙着收割庄稼。\n")
    s = score_page(text, PAGE, parse_text(text, "p.png", "0" * 64, "ocr").articles)
    assert s.in_order == s.paragraphs and s.crossing == 0 and s.joined == 1 and s.split == 0


def test_a_paragraph_read_as_two_is_counted():
    # The first paragraph cut after 春天来了: its characters lie in two recognised paragraphs.
    text = ("# 第一篇标题\n\n  本报讯（记者甲）第一段讲的是春天来了。\n  花都开了。\n  第二段讲的是夏天很热，大家游泳。\n\n"
            "# 第二篇标题\n\n  秋天的果子熟了，农民忙着收割庄稼。\n")
    s = score_page(text, PAGE, parse_text(text, "p.png", "0" * 64, "ocr").articles)
    assert s.accuracy < 1.0 and s.split == 1 and s.joined == 0


def test_lines_read_across_two_articles_are_caught():
    # Column by column gone wrong: the lines of the two articles' paragraphs interleaved.
    text = ("# 第一篇标题\n\n  本报讯（记者甲）第一段讲的是春天来了，秋天的果子熟了，花都开了。农民忙着收割庄稼。\n"
            "  第二段讲的是夏天很热，大家游泳。\n\n# 第二篇标题\n")
    s = score_page(text, PAGE, parse_text(text, "p.png", "0" * 64, "ocr").articles)
    assert s.accuracy < 0.8 and s.bag_accuracy == 1.0
    assert s.in_order < s.paragraphs and s.crossing == 1
