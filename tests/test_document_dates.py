"""A document's date is the one it states as its own (issue 22, part 5).

A date inside the text (a registration deadline, an event) is not the document's date
unless a date field (front matter, "发布时间：") or a dateline (a signature's date) says so.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qa import answer, build_index, load_index
from qa.chunking import chunk_document
from qa.documents import parse_text, read_document
from qa.embedding import HashingEmbedder

WILD = Path(__file__).resolve().parent.parent / "data" / "wild" / "docs"
NOTICE = """# 关于举办社区读书会的通知

各位居民：

为丰富社区文化生活，社区定于6月1日在图书馆二楼举办读书会。

请于2024年5月20日前到社区服务中心报名，名额30个。

松江社区居委会
"""


def test_a_deadline_in_a_markdown_notice_is_not_its_date(tmp_path):
    doc = parse_text(NOTICE, "读书会通知.md")
    assert doc.date == ""
    assert {p.date for p in chunk_document(doc)} == {""}
    # and so its citation shows no date
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "读书会通知.md").write_text(NOTICE, encoding="utf-8")
    build_index(docs, tmp_path / "ix", embedder=HashingEmbedder(64))
    a = answer("读书会有多少个名额？", index=load_index(tmp_path / "ix", embedder=HashingEmbedder(64)))
    assert a.found and a.citations[0].doc == "读书会通知.md" and a.citations[0].date == ""


def test_the_signature_date_is_the_notice_s_date_not_the_earlier_deadline():
    doc = parse_text(NOTICE + "\n2024年5月8日\n", "读书会通知.md")
    assert doc.date == "2024-05-08"


def test_a_date_field_in_front_matter_is_the_document_s_date():
    doc = parse_text("---\ntitle: 读书会通知\ndate: 2024-05-08\n---\n\n" + NOTICE, "读书会通知.md")
    assert doc.date == "2024-05-08"


@pytest.mark.parametrize(
    ("line", "date"),
    [
        ("发布时间：2024年5月8日", "2024-05-08"),
        ("来源：松江社区　发布日期：二〇二四年五月八日", "2024-05-08"),
        ("2024年5月8日 星期三", "2024-05-08"),
        ("（2024年5月8日）", "2024-05-08"),
        ("本报记者 张三 2024-05-08 09:30 来源：松江日报", "2024-05-08"),
        ("Published: 2024-05-08T09:30:00+08:00", "2024-05-08"),
        ("本指南由社区编写，2024年5月修订。", "2024-05"),
        # dates of something else
        ("报名截止：2024年5月20日", ""),
        ("报名截止时间：2024年5月20日", ""),
        ("活动时间：2024年6月1日上午9时", ""),
        ("报名地点：社区中心 2024年5月20日", ""),
        ("新规将于2024年7月1日发布。", ""),
        ("请于2024年5月20日前报名。", ""),
    ],
)
def test_what_states_a_date_and_what_does_not(line, date):
    text = f"关于举办社区读书会的通知\n\n{line}\n\n各位居民：\n\n社区定于6月1日举办读书会，欢迎参加。\n"
    assert parse_text(text, "通知.txt").date == date


def test_a_meeting_time_dates_minutes_but_not_a_notice_that_is_signed():
    minutes = "社区工作会议纪要\n\n时间：2024年5月8日 14:00—16:00\n\n地点：社区会议室\n\n会议讨论了读书会的安排。\n"
    assert parse_text(minutes, "纪要.txt").date == "2024-05-08"
    notice = "关于召开工作会议的通知\n\n时间：2024年5月20日上午9时\n\n请各单位准时参加。\n\n松江社区居委会\n\n2024年5月8日\n"
    assert parse_text(notice, "通知.txt").date == "2024-05-08"


def test_a_notice_of_the_wild_set_is_dated_by_its_signature_not_its_event():
    doc = read_document(WILD / "notice_reading_month_gb18030.txt")
    assert "定于二〇二五年四月二十三日至五月二十三日" in doc.text  # the event, near the title
    assert doc.date == "2025-03-21"  # the signature: 二〇二五年三月二十一日
