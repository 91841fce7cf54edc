"""Documents in the wild: wrapped text, Big5, web pages, Markdown, docx tables, PDFs, notices.

Every conversion is checked with exact offsets: joining ``source[s:e]`` over a block's
or passage's spans gives its text.
"""

from __future__ import annotations

import datetime as dt

import pytest

from qa.chunking import chunk_document
from qa.documents import DocumentError, decode_bytes, parse_text, read_document, read_text
from qa.records import join_spans


def _exact(doc) -> None:
    """Every block and passage is exactly its spans in the decoded source."""
    for a in doc.articles:
        assert join_spans(doc.text, a.title_spans) == (a.title if a.title_spans else "")
        for b in a.blocks + tuple(x for x in (a.subtitle, a.byline) if x):
            assert join_spans(doc.text, b.spans) == b.text
    for p in chunk_document(doc):
        assert join_spans(doc.text, p.spans) == p.text


def _body(doc) -> list[str]:
    return [b.text for a in doc.articles for b in a.paragraphs]


# ------------------------------------------------------------------ wrapped text

INDENTED = (
    "长白山自然保护区概况\n"
    "　　长白山自然保护区位于吉林省东南部，是中国最早建立的自然保护区之一，\n"
    "总面积约十九万公顷，区内森林覆盖率高达百分之八十七，被联合国教科文组\n"
    "织列入国际生物圈保护区网络。\n"
    "　　保护区内有野生植物两千多种，野生动物一千五百余种，其中国家一级保\n"
    "护动物包括东北虎、紫貂等。\n"
    "气候特点\n"
    "　　长白山属于温带大陆性山地气候，冬季漫长寒冷，夏季短暂温凉，年平均\n"
    "气温在零下七度到三度之间。\n"
)


def test_wrapped_indented_paragraphs_are_rejoined_one_span_per_line():
    doc = parse_text(INDENTED, "长白山.txt")
    _exact(doc)
    art = doc.articles[0]
    assert art.title == "长白山自然保护区概况"
    assert [h.text for h in art.headings] == ["气候特点"]
    first = art.paragraphs[0]
    assert first.text.startswith("长白山自然保护区位于") and first.text.endswith("保护区网络。")
    assert len(first.spans) == 3
    assert [len(p.spans) for p in art.paragraphs] == [3, 2, 2]
    assert "教科文组织" in first.text  # the word cut by the line break is whole again


NO_INDENT = (
    "吉林省图书馆读者服务指南\n"
    "本馆开放时间为每周二至周日上午九时至下午五时，周一闭馆进行内部整理\n"
    "和设备维护，法定节假日开放时间另行通知。\n"
    "借阅规则\n"
    "读者凭有效证件办理借书证，每证可同时借阅图书五册，借期为三十天，可\n"
    "续借一次，续借期为十五天。\n"
    "逾期未还的图书按每册每天零点一元收取滞纳金。\n"
    "吉林省图书馆\n"
    "二〇二五年十一月二十六日\n"
)


def test_paragraphs_separated_by_line_breaks_only():
    doc = parse_text(NO_INDENT, "guide.txt")
    _exact(doc)
    art = doc.articles[0]
    assert art.title == "吉林省图书馆读者服务指南"
    assert [h.text for h in art.headings] == ["借阅规则"]
    assert _body(doc) == [
        "本馆开放时间为每周二至周日上午九时至下午五时，周一闭馆进行内部整理和设备维护，法定节假日开放时间另行通知。",
        "读者凭有效证件办理借书证，每证可同时借阅图书五册，借期为三十天，可续借一次，续借期为十五天。",
        "逾期未还的图书按每册每天零点一元收取滞纳金。",
        "吉林省图书馆",  # short lines that end the page are a signature, not headings
        "二〇二五年十一月二十六日",
    ]
    assert doc.date == "2025-11-26"


def test_short_line_inside_a_wrapped_paragraph_is_not_a_heading():
    text = (
        "活动简介\n"
        "今年以来，全市各级图书馆共举办读书会一百二十场，吸引读者三万余人次参\n"
        "加读书会由馆长主持\n"  # short, no punctuation, followed by a line: but it ends a paragraph
        "每场邀请一位本地作家分享创作经历，读者反响热烈，纷纷表示收获很大。\n"
    )
    doc = parse_text(text, "t.txt")
    _exact(doc)
    assert doc.articles[0].headings == []
    assert _body(doc)[0].startswith("今年以来") and "三万余人次参加读书会由馆长主持" in _body(doc)[0]


def test_label_lines_are_not_joined_or_headings():
    text = "会议通知\n\n定于下周一召开全体会议，请准时参加。\n\n联系人：张三\n电话：12345678\n地址：人民大街1号\n"
    doc = parse_text(text, "notice.txt")
    _exact(doc)
    assert _body(doc)[1:] == ["联系人：张三", "电话：12345678", "地址：人民大街1号"]
    assert doc.articles[0].headings == []


def test_heading_directly_above_its_paragraph():
    text = "读书会指南\n活动安排\n读书会每月举办一次，每次两个小时，地点在市图书馆三楼报告厅。\n"
    doc = parse_text(text, "t.txt")
    _exact(doc)
    assert doc.articles[0].title == "读书会指南"
    assert [h.text for h in doc.articles[0].headings] == ["活动安排"]
    passages = chunk_document(doc)
    assert [p.section for p in passages if p.kind == "body"] == ["活动安排"]


def test_wrapped_latin_lines_keep_a_space():
    text = "Liaoyuan library report\n" + "The city library held twelve reading sessions this\nyear and more than three\nthousand readers came.\n"
    doc = parse_text(text, "r.txt")
    _exact(doc)
    assert _body(doc) == ["The city library held twelve reading sessions this\nyear and more than three\nthousand readers came."]


# ------------------------------------------------------------------ encodings


def test_big5_file_is_detected(tmp_path):
    text = "臺北市立圖書館概況\n\n臺北市立圖書館今年舉辦讀書會十二場，參加讀者三萬人次。\n"
    p = tmp_path / "台北.txt"
    p.write_bytes(text.encode("big5"))
    decoded, enc = read_text(p)
    assert (decoded, enc) == (text, "big5")
    doc = read_document(p)
    _exact(doc)
    assert doc.articles[0].title == "臺北市立圖書館概況"
    assert doc.encoding == "big5"


@pytest.mark.parametrize(
    "text",
    ["辽源市开展宣讲1300余场次，受众6万余人。", "图书馆今年举办读书会12场，参加的读者有三百多人。", "台北市立图书馆举办讲座"],
)
def test_gb_text_is_not_taken_for_big5(text):
    assert decode_bytes(text.encode("gbk")) == (text, "gb18030")


# ------------------------------------------------------------------ web pages

PAGE = """<html><head><title>龙山区举办读书会 - 辽源日报</title>
<meta name="author" content="张三"><meta property="article:published_time" content="2025-11-26T08:00:00+08:00">
<meta property="og:site_name" content="辽源日报"></head><body>
<nav><ul><li><a href="/">首页</a></li><li><a href="/news">新闻</a></li><li><a href="/about">关于我们</a></li></ul></nav>
<div class="ad">广告：买房找我们，电话123456</div>
<article><h1>龙山区举办读书会</h1>
<p>本报讯(记者张三)龙山区今年举办读书会12场，参加群众3000余人。活动由区图书馆主办，邀请本地作家分享创作经历。</p>
<h2>活动安排</h2>
<ul><li>第一场：十一月二十六日</li><li>第二场：十二月三日</li></ul>
<table><tr><th>姓名</th><th>职务</th></tr><tr><td>王五</td><td>馆长</td></tr><tr><td>赵六</td><td>副馆长</td></tr></table>
<p>参加群众普遍表示，读书会让大家收获很多，希望明年继续举办更多场次，让更多的人爱上阅读。</p>
</article>
<footer>版权所有 © 辽源日报社 联系我们 京ICP备00000000号</footer></body></html>"""


def test_web_page_main_content_and_metadata(tmp_path):
    p = tmp_path / "page.html"
    p.write_text(PAGE, encoding="utf-8")
    doc = read_document(p)
    _exact(doc)
    assert doc.text == read_text(p)[0]  # what citations are checked against
    art = doc.articles[0]
    assert art.title == "龙山区举办读书会"
    assert art.byline.text == "本报讯(记者张三)"
    assert (doc.title, doc.date, doc.source, doc.author) == ("龙山区举办读书会", "2025-11-26", "辽源日报", "张三")
    body = _body(doc)
    assert "第一场：十一月二十六日" in body
    assert "姓名：王五；职务：馆长" in body and "姓名：赵六；职务：副馆长" in body
    for junk in ("首页", "广告", "版权所有"):
        assert junk not in doc.text
    passages = chunk_document(doc)
    row = next(p for p in passages if p.text == "姓名：王五；职务：馆长")
    assert row.section == "活动安排" and row.doc_title == "龙山区举办读书会"
    assert row.date == "2025-11-26" and row.source == "辽源日报"


def test_web_page_falls_back_to_beautifulsoup(tmp_path, monkeypatch):
    import qa.documents.html as documents

    def broken(html):
        raise RuntimeError("parser crashed")

    monkeypatch.setattr(documents, "_trafilatura_lines", broken)
    p = tmp_path / "page.html"
    p.write_text(PAGE, encoding="utf-8")
    doc = read_document(p)
    _exact(doc)
    assert "龙山区举办读书会" in [a.title for a in doc.articles]
    assert "首页" not in doc.text and "版权所有" not in doc.text
    assert "姓名：王五；职务：馆长" in _body(doc)
    assert doc.title == "龙山区举办读书会 - 辽源日报"  # the <title> as written


def test_page_without_a_heading_is_titled_by_its_title_tag(tmp_path):
    p = tmp_path / "x.html"
    p.write_text("<html><head><title>辽源新闻</title></head><body><p>辽源市举办读书会12场。</p><p>参加群众3000余人。</p></body></html>")
    doc = read_document(p)
    _exact(doc)
    assert doc.articles[0].title == "辽源新闻" and doc.articles[0].title_spans


# ------------------------------------------------------------------ Markdown

MARKDOWN = """# 读书会指南

来源：辽源日报  作者：张三

## 活动安排

- 第一场：十一月二十六日
- 第二场：十二月三日
  在市图书馆举行
1. 报名
2) 签到

| 姓名 | 职务 |
|------|------|
| 王五 | 馆长 |
|赵六|副馆长|

```python
x = 1
  y = 2
```

### 附录

## 结语
"""


def test_markdown_headings_lists_tables_and_code():
    doc = parse_text(MARKDOWN, "guide.md")
    _exact(doc)
    art = doc.articles[0]
    assert art.title == "读书会指南"
    assert (doc.source, doc.author) == ("辽源日报", "张三")
    items = [b.text for b in art.paragraphs if b.kind == "item"]
    assert items == ["第一场：十一月二十六日", "第二场：十二月三日在市图书馆举行", "报名", "签到", "姓名 职务 王五 馆长", "姓名 职务 赵六副馆长"]
    code = [b for b in art.paragraphs if b.kind == "code"]
    assert [c.text for c in code] == ["x = 1\n  y = 2"]
    first = art.paragraphs[0]
    assert MARKDOWN[first.spans[0][0] - 2 : first.spans[0][0]] == "- "  # the span starts after the marker
    passages = chunk_document(doc)
    assert {p.section for p in passages if p.text in items} == {"活动安排"}
    # Headings with nothing under them are still indexed.
    assert {"附录", "结语"} <= {p.text for p in passages}
    assert all(p.author == "张三" for p in passages)


def test_markdown_table_rows_carry_their_header_with_exact_spans():
    text = "# 价目\n\n| 项目 | 单价 |\n| --- | ---: |\n| 黑白打印 | 0.5元 |\n| 彩色打印 | 2元 |\n\n| 只有表头 | 没有行 |\n|---|---|\n"
    doc = parse_text(text, "prices.md")
    _exact(doc)
    rows = [b for b in doc.articles[0].paragraphs if b.kind == "item"]
    assert [r.text for r in rows] == ["项目 单价 黑白打印 0.5元", "项目 单价 彩色打印 2元", "只有表头 没有行"]
    head = rows[0].spans[:2]
    assert [text[a:b] for a, b in head] == ["项目 ", "单价 "] and rows[1].spans[:2] == head
    assert [text[a:b] for a, b in rows[0].spans[2:]] == ["黑白打印 ", "0.5元"]
    passages = chunk_document(doc)
    assert any(p.text == "项目 单价 彩色打印 2元" and len(p.spans) == 4 for p in passages)


def test_markdown_sections_nest():
    text = "# 指南\n\n## 借阅\n\n### 规则\n\n每证借五册。\n\n## 开放时间\n\n每天九点开门。\n"
    passages = chunk_document(parse_text(text, "a.md"))
    assert [(p.section, p.text) for p in passages if p.kind == "body"] == [
        ("借阅 / 规则", "每证借五册。"),
        ("开放时间", "每天九点开门。"),
    ]


# ------------------------------------------------------------------ docx


def test_docx_tables_and_core_properties(tmp_path):
    import docx

    d = docx.Document()
    d.core_properties.title = "辽源市图书馆工作人员名单"
    d.core_properties.author = "辽源市图书馆"
    d.core_properties.created = dt.datetime(2025, 11, 26, 9, 0)
    d.add_heading("工作人员", level=1)
    d.add_paragraph("以下为本馆主要工作人员。")
    t = d.add_table(rows=3, cols=3)
    for r, row in enumerate([["姓名", "职务", "电话"], ["张三", "馆长", "1234"], ["李四", "副馆长", "5678"]]):
        for c, value in enumerate(row):
            t.cell(r, c).text = value
    kv = d.add_table(rows=2, cols=2)
    for r, row in enumerate([["地址", "人民大街1号"], ["邮编", "136200"]]):
        for c, value in enumerate(row):
            kv.cell(r, c).text = value
    p = tmp_path / "staff.docx"
    d.save(p)
    doc = read_document(p)
    _exact(doc)
    assert (doc.title, doc.author, doc.date) == ("辽源市图书馆工作人员名单", "辽源市图书馆", "2025-11-26")
    assert _body(doc) == [
        "以下为本馆主要工作人员。",
        "姓名：张三；职务：馆长；电话：1234",
        "姓名：李四；职务：副馆长；电话：5678",
        "地址：人民大街1号",
        "邮编：136200",
    ]
    assert len([p for p in chunk_document(doc) if p.kind == "body"]) == 5


# ------------------------------------------------------------------ PDF


def _pdf(lines: list[str], info: dict[str, str] | None = None) -> bytes:
    """A one-page PDF with one text line per entry (Helvetica, ASCII); no lines: no text layer."""
    ops = "".join(f"({t}) Tj 0 -14 Td " for t in lines)
    stream = (f"BT /F1 12 Tf 72 720 Td {ops}ET" if lines else "0 0 m 100 100 l S").encode()
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    if info:
        objs.append(("<< " + " ".join(f"/{k} ({v})" for k, v in info.items()) + " >>").encode())
    out, offsets = b"%PDF-1.4\n", []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    info_ref = b" /Info %d 0 R" % len(objs) if info else b""
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, info_ref, xref)
    return out


def test_pdf_lines_are_rejoined_and_metadata_kept(tmp_path):
    lines = [
        "Liaoyuan Library Annual Report",
        "The city library held twelve reading sessions in the",
        "past year, and more than three thousand readers took",
        "part in them across all of its branches.",
        "Opening hours",
        "The library opens from nine in the morning until five",
        "in the afternoon, every day except Monday.",
    ]
    p = tmp_path / "report.pdf"
    p.write_bytes(_pdf(lines, {"Title": "Liaoyuan Library Report 2025", "Author": "Liaoyuan Library",
                               "CreationDate": "D:20251126090000+08'00'"}))
    doc = read_document(p)
    _exact(doc)
    art = doc.articles[0]
    assert art.title == "Liaoyuan Library Annual Report"
    assert [h.text for h in art.headings] == ["Opening hours"]
    assert [len(b.spans) for b in art.paragraphs] == [3, 2]
    assert art.paragraphs[0].text.endswith("took\npart in them across all of its branches.")
    assert (doc.title, doc.author, doc.date) == ("Liaoyuan Library Report 2025", "Liaoyuan Library", "2025-11-26")


def test_pdf_without_text_layer_is_reported_by_name_and_skipped(tmp_path):
    from qa import build_index
    from qa.embedding import HashingEmbedder

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "scan.pdf").write_bytes(_pdf([]))
    (seeds / "note.txt").write_text("读书会\n\n辽源市图书馆今年举办读书会12场。\n", encoding="utf-8")
    with pytest.raises(DocumentError, match=r"^scan\.pdf: the PDF has no text layer"):
        read_document(seeds / "scan.pdf")
    report = build_index(seeds, tmp_path / "ix", embedder=HashingEmbedder(16))
    assert report.documents == 1
    assert any(m.startswith("scan.pdf: the PDF has no text layer") for m in report.skipped)


# ------------------------------------------------------------------ documents that are not newspaper pages

ENTRY = """长白山

长白山位于吉林省东南部，是中朝两国的界山，主峰海拔两千六百九十一米。

地理

长白山是一座休眠火山，山顶的天池是中国最深的高山湖泊，平均水深两百零四米。

历史

长白山自古被视为满族的发祥地，清代曾长期封禁。
"""


def test_encyclopedia_entry_has_title_sections_and_no_byline():
    doc = parse_text(ENTRY, "3f9a1c.txt")
    _exact(doc)
    assert len(doc.articles) == 1 and doc.title == "长白山"
    art = doc.articles[0]
    assert art.title == "长白山" and art.byline is None
    assert [h.text for h in art.headings] == ["地理", "历史"]
    passages = chunk_document(doc)
    assert all(p.doc_title == "长白山" for p in passages)
    assert [p.section for p in passages if p.kind == "body"] == ["", "地理", "历史"]


def test_untitled_document_uses_its_file_title(tmp_path):
    doc = parse_text("辽源市图书馆今年举办读书会12场。参加群众3000余人。\n", "读书会简报.txt")
    assert doc.title == doc.articles[0].title == "读书会简报"


def test_notice_with_source_and_date():
    text = (
        "关于举办冬季读书会的通知\n\n来源：辽源市图书馆　发布时间：2025年11月20日\n\n"
        "各位读者：\n\n本馆定于十二月三日举办冬季读书会，欢迎报名参加。\n\n辽源市图书馆\n\n二〇二五年十一月二十六日\n"
    )
    doc = parse_text(text, "a1b2.txt")
    _exact(doc)
    assert doc.title == "关于举办冬季读书会的通知"
    assert doc.source == "辽源市图书馆"
    assert doc.date == "2025-11-20"  # near the title first
    assert _body(doc)[-2:] == ["辽源市图书馆", "二〇二五年十一月二十六日"]
