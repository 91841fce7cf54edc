"""Structure recovery on the real seed page and on small inline documents."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qa.documents import (
    DocumentError,
    _pdf_page_text,
    _without_page_furniture,
    decode_bytes,
    parse_text,
    read_document,
)
from qa.records import join_spans

TITLES = [
    "唱响时代主旋律",
    "龙山区探索党建引领基层治理新途径",
    "推进「人+车+机」联动新模式",
    "国网辽源供电公司：筑牢电力设施保护“安全网”",
]


def test_seed_has_four_articles_with_headlines(seed_doc):
    assert [a.title for a in seed_doc.articles] == TITLES


def test_split_headline_is_joined_with_two_spans(seed_doc):
    last = seed_doc.articles[3]
    assert len(last.title_spans) == 2
    assert join_spans(seed_doc.text, last.title_spans) == TITLES[3]


def test_bylines_and_subtitle(seed_doc):
    a1, a2, a3, a4 = seed_doc.articles
    assert a1.subtitle.text == "——辽源市“强国复兴有我”群众性主题宣传教育活动记事"
    assert a1.byline.text == "本报记者 董博 赵蓓蓓 通讯员 王思博"
    assert a2.byline.text == "本报讯(记者董博)"
    assert a3.byline.text == "本报讯(记者董博 鹿智源 通讯员蔺友祥)"
    assert a4.byline.text == "本报讯(记者赵蓓蓓 通讯员张冬雪)"
    # The byline prefix is not part of the first body paragraph.
    assert a2.paragraphs[0].text.startswith("为进一步实现创新社区治理")


def test_a_line_between_the_headline_and_the_byline_is_the_subtitle():
    # As OCR writes a page: the subtitle's dash —— read as 一, so it opens with no dash.
    text = ("# 书香飘满山水城\n\n一松江市“书香满城”全民阅读活动记事\n  本报记者李明张华通讯员王芳\n\n"
            "  今年以来，松江市以“书香满城”为主题，广泛组织开展了一系列全民阅读活动。\n")
    a = parse_text(text, "p.png", "0" * 64, "ocr").articles[0]
    assert a.subtitle.text.startswith("一松江市") and a.byline.text == "本报记者李明张华通讯员王芳"
    assert [b.kind for b in a.blocks] == ["paragraph"]
    # Without a byline under it, such a line is a section heading as before.
    b = parse_text(text.replace("  本报记者李明张华通讯员王芳\n", ""), "p.png", "0" * 64, "ocr").articles[0]
    assert b.subtitle is None and b.blocks[0].kind == "heading"


def test_section_headings_are_not_body(seed_doc):
    a1 = seed_doc.articles[0]
    assert [h.text for h in a1.headings] == [
        "创新形式，让党的理论落地生根",
        "红色教育凝聚奋进力量",
        "国防教育全覆盖，拥军爱军暖军心",
        "文化活动激发群众热情",
    ]
    assert not any(p.text in {h.text for h in a1.headings} for p in a1.paragraphs)


def test_paragraph_counts(seed_doc):
    assert [len(a.paragraphs) for a in seed_doc.articles] == [18, 8, 4, 5]


def test_paragraph_cut_mid_sentence_is_repaired(seed_doc):
    a1 = seed_doc.articles[0]
    repaired = [p for p in a1.paragraphs if len(p.spans) > 1]
    assert len(repaired) == 1
    p = repaired[0]
    assert "以“勿忘国耻、时刻准备，人民防空、筑盾为民”" in p.text
    assert p.text.startswith("勿忘国耻，警钟长鸣。")
    assert p.text.endswith("共筑美好明天。")


def test_paragraph_interrupted_by_caption_is_repaired(seed_doc):
    a4 = seed_doc.articles[3]
    repaired = [p for p in a4.paragraphs if len(p.spans) > 1]
    assert len(repaired) == 1
    assert "为群众讲解电力设施保护知识，增强群众" in repaired[0].text
    assert "王闯" not in repaired[0].text
    gap = seed_doc.text[repaired[0].spans[0][1] : repaired[0].spans[1][0]]
    assert "王闯 摄" in gap


def test_captions_are_attached_to_their_articles(seed_doc):
    caps = [[c.text for c in a.captions] for a in seed_doc.articles]
    assert caps[0] == ["汲取智慧，汇聚力量。", "第九届吉林省市民文化节启动仪式暨“喜迎二十大 奋进新征程”交响音乐会。"]
    assert caps[1] == []
    assert caps[2] == ["“无人机+”联动巡控“空地智慧警务”巡逻模式。"]
    assert len(caps[3]) == 1 and caps[3][0].endswith("王闯 摄")
    for a in seed_doc.articles:
        for p in a.paragraphs:
            assert "摄" not in p.text[-3:]


def test_every_block_is_recoverable_from_its_spans(seed_doc):
    for a in seed_doc.articles:
        assert join_spans(seed_doc.text, a.title_spans) == a.title
        for b in a.blocks + tuple(x for x in (a.subtitle, a.byline) if x):
            assert join_spans(seed_doc.text, b.spans) == b.text


def test_plain_document_without_newspaper_layout():
    doc = parse_text("这是第一段。内容很短。\n\n这是第二段，没有标题。\n", "note.txt")
    assert len(doc.articles) == 1
    assert doc.articles[0].title == "note"
    assert [p.text for p in doc.articles[0].paragraphs] == ["这是第一段。内容很短。", "这是第二段，没有标题。"]


def test_markdown_inline_marks_are_left_out_of_the_spans():
    text = (
        "# 社区图书室\n\n图书室**每周二至周日**开放，时间为 *9:00—17:00*，详见[社区官网](https://example.org/a_b)。\n\n"
        "- 每证可借 __5 册__，押金`50元`，~~旧规~~。\n\n```\n**原样**\n```\n"
    )
    doc = parse_text(text, "guide.md")
    blocks = doc.articles[0].blocks
    assert [b.text for b in blocks] == [
        "图书室每周二至周日开放，时间为 9:00—17:00，详见社区官网。",
        "每证可借 5 册，押金50元，旧规。",
        "**原样**",  # code is kept as written
    ]
    for b in blocks:
        assert join_spans(doc.text, b.spans) == b.text
    first = blocks[0].spans
    assert doc.text[first[1][0] : first[1][1]] == "每周二至周日"
    # The same text in a plain .txt file keeps its asterisks.
    plain = parse_text(text, "guide.txt")
    assert any("**每周二至周日**" in b.text for a in plain.articles for b in a.blocks)


def test_markdown_headings_make_articles():
    text = "# 第一篇\n\n正文一。\n\n## 小节\n\n正文二。\n\n# 第二篇\n\n正文三。\n"
    doc = parse_text(text, "a.md")
    assert [a.title for a in doc.articles] == ["第一篇", "第二篇"]
    assert [h.text for h in doc.articles[0].headings] == ["小节"]


def test_hard_wrapped_lines_join_into_one_paragraph():
    text = "标题行\n\n本报讯(记者张三)第一行没有结束\n接着第二行。\n\n另一段。\n"
    doc = parse_text(text, "w.txt")
    art = doc.articles[0]
    assert art.title == "标题行"
    assert art.paragraphs[0].text == "第一行没有结束接着第二行。"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk", "utf-16"])
def test_encodings_are_detected(encoding):
    text = "辽源市开展宣讲1300余场次，受众6万余人。"
    decoded, _ = decode_bytes(text.encode(encoding))
    assert decoded == text


def test_binary_junk_is_refused():
    with pytest.raises(DocumentError):
        decode_bytes(bytes(range(256)) * 20)


def test_unsupported_type_names_the_file(tmp_path):
    p = tmp_path / "x.exe"
    p.write_bytes(b"MZ")
    with pytest.raises(DocumentError, match="x.exe: unsupported file type"):
        read_document(p)


def test_html_document_keeps_headings_and_drops_scripts(tmp_path):
    p = tmp_path / "page.html"
    p.write_text(
        "<html><head><title>t</title><script>var x=1;</script></head><body>"
        "<h1>龙山区新闻</h1><p>本报讯(记者张三)龙山区举办读书会12场。</p><p>参加群众3000余人。</p>"
        "</body></html>",
        encoding="utf-8",
    )
    doc = read_document(p)
    art = doc.articles[0]
    assert art.title == "龙山区新闻"
    assert art.byline.text == "本报讯(记者张三)"
    assert [b.text for b in art.paragraphs] == ["龙山区举办读书会12场。", "参加群众3000余人。"]
    assert "var x" not in doc.text


def test_docx_document(tmp_path):
    import docx

    d = docx.Document()
    d.add_heading("辽源新闻", level=1)
    d.add_paragraph("辽源市举办读书会12场。")
    d.add_paragraph("参加群众3000余人。")
    p = tmp_path / "news.docx"
    d.save(p)
    doc = read_document(p)
    assert doc.articles[0].title == "辽源新闻"
    assert [b.text for b in doc.articles[0].paragraphs] == ["辽源市举办读书会12场。", "参加群众3000余人。"]


def _tiny_pdf(text: str) -> bytes:
    """A one-page PDF with a text layer (Helvetica, ASCII), written by hand."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return out


def test_pdf_text_layer_is_read(tmp_path):
    p = tmp_path / "report.pdf"
    p.write_bytes(_tiny_pdf("Liaoyuan held 12 reading sessions."))
    doc = read_document(p)
    assert "Liaoyuan held 12 reading sessions." in doc.text
    assert doc.articles[0].paragraphs[0].text == "Liaoyuan held 12 reading sessions."


def test_pdf_page_furniture_is_dropped_and_body_lines_kept():
    """Running headers, footers and page numbers go; a body line that recurs elsewhere stays."""
    pages = [
        "东河区园林局 工作报告\n第 1 页 共 2 页\n东河区公园建设情况\n 全区新建口袋公园十二座，改造提\n升社区公园5座。\n 采纳建议二百一十条。\n 每座公园平均投资约八十万元，其",
        "东河区园林局 工作报告\n第 2 页 共 2 页\n中财政补助占六成。\n 采纳建议二百一十条。\n- 2 -",
    ]
    out = _without_page_furniture(pages)
    assert out[0].split("\n") == [
        "东河区公园建设情况",
        " 全区新建口袋公园十二座，改造提",
        "升社区公园5座。",
        " 采纳建议二百一十条。",
        " 每座公园平均投资约八十万元，其",
    ]
    assert out[1].split("\n") == ["中财政补助占六成。", " 采纳建议二百一十条。"]
    assert _without_page_furniture(["第3页\n正文。"]) == ["正文。"]
    # One page: nothing repeats, so only page-number shapes go.
    assert _without_page_furniture(["报告标题\n正文第一句。"]) == ["报告标题\n正文第一句。"]


PDFTOTEXT = (
    "县水务局工作简报\n\n"
    "县水务局2025年第三季度工作简报\n"
    "第三季度，全县新建和改造农村供水管网四十二公里，受益人口一万\n"
    "二千余人。城南水厂二期扩建工程完成了主体施工，新增日供水能力\n\n"
    "第 1 页 共 2 页\n\n"
    "\f县水务局工作简报\n\n"
    "两万吨，预计年底前投入运行。\n"
    "下一步工作\n"
    "继续推进农村供水管网改造，年内再完成三十公里，确保群众喝上放心\n"
    "水。\n\n"
    "第 2 页 共 2 页\n\n\f"
)


def test_text_with_form_feeds_loses_its_page_furniture():
    """pdftotext's output: pages end with a form feed; the running header and the page footer
    go, and the paragraph cut by the page break is one paragraph again, at exact offsets."""
    doc = parse_text(PDFTOTEXT, "brief.txt")
    art = doc.articles[0]
    assert art.title == "县水务局2025年第三季度工作简报"
    assert [(b.kind, b.text) for b in art.blocks] == [
        ("paragraph", "第三季度，全县新建和改造农村供水管网四十二公里，受益人口一万二千余人。城南水厂二期扩建工程"
                      "完成了主体施工，新增日供水能力两万吨，预计年底前投入运行。"),
        ("heading", "下一步工作"),
        ("paragraph", "继续推进农村供水管网改造，年内再完成三十公里，确保群众喝上放心水。"),
    ]
    first = art.blocks[0]
    assert [PDFTOTEXT[s:e] for s, e in first.spans] == [
        "第三季度，全县新建和改造农村供水管网四十二公里，受益人口一万",
        "二千余人。城南水厂二期扩建工程完成了主体施工，新增日供水能力",
        "两万吨，预计年底前投入运行。",
    ]
    assert join_spans(doc.text, first.spans) == first.text
    # Without the form feeds nothing marks pages: the same lines are kept as text.
    plain = parse_text(PDFTOTEXT.replace("\f", ""), "brief.txt")
    assert any("第 1 页" in b.text for a in plain.articles for b in a.blocks)


def test_pdftotext_output_of_a_wild_pdf_parses_like_the_pdf():
    """``pdftotext pdf_report_library_annual.pdf`` (poppler 22, kept in tests/data): the same
    title, headings and paragraphs as reading the PDF itself, the header and footers gone."""
    wild = Path(__file__).resolve().parent.parent / "data" / "wild" / "docs"
    txt = read_document(Path(__file__).resolve().parent / "data" / "pdftotext" / "pdf_report_library_annual.txt")
    pdf = read_document(wild / "pdf_report_library_annual.pdf")

    def blocks(doc):
        return [(a.title, [(b.kind, b.text) for b in a.blocks]) for a in doc.articles]

    assert blocks(txt) == blocks(pdf)
    texts = [b.text for a in txt.articles for b in a.blocks]
    assert len(texts) == 14 and not any("第1页" in t or t == "青禾县图书馆年度工作报告" for t in texts)
    for a in txt.articles:
        for b in a.blocks:
            assert join_spans(txt.text, b.spans) == b.text


class _FakePdfPage:
    """What pypdf's extract_text hands a visitor: text chunks and where they start (x, y)."""

    def __init__(self, chunks):
        self.chunks = chunks

    def extract_text(self, visitor_text=None):
        for text, x, y in self.chunks:
            visitor_text(text, [1, 0, 0, 1, 0, 0], [1, 0, 0, 1, x, y], None, 10)
        return "".join(c[0] for c in self.chunks)


def test_pdf_table_cells_on_one_baseline_become_rows():
    page = _FakePdfPage([
        ("游泳馆调整开放时间，具体如下。\n", 72, 750),
        ("项目\n", 80, 700), ("开放时间\n", 140, 700), ("票价\n", 220, 700),
        ("成人游泳\n", 80, 680), ("每天9:00-21:00\n", 140, 680), ("30元/次\n", 220, 680),
        ("儿童（身高1.2米\n", 80, 660), ("以下）\n", 80, 648), ("周末\n", 140, 660), ("15元/次\n", 220, 660),
        ("市体育中心\n", 72, 600), ("2025年11月25日\n", 300, 600),
    ])
    text, found = _pdf_page_text(page)
    assert found
    assert text.split("\n") == [
        "游泳馆调整开放时间，具体如下。", "",
        "- 项目：成人游泳；开放时间：每天9:00-21:00；票价：30元/次",
        "- 项目：儿童（身高1.2米以下）；开放时间：周末；票价：15元/次", "",
        "市体育中心", "2025年11月25日",
    ]
    # One row on a baseline (a signature and a date) is not a table.
    text, found = _pdf_page_text(_FakePdfPage(page.chunks[:1] + page.chunks[-2:]))
    assert not found and text == "游泳馆调整开放时间，具体如下。\n市体育中心\n2025年11月25日\n"


WILD_PDFS = ["pdf_report_library_annual.pdf", "pdf_notice_heating_cid.pdf", "pdf_guide_recycling.pdf",
             "pdf_minutes_village_cid.pdf"]


@pytest.mark.parametrize("name", WILD_PDFS)
def test_wild_pdf_keeps_every_line_and_drops_page_furniture(name):
    """Embedded-TrueType and CID-font PDFs (data/wild): every line of the laid-out text is in
    the title or a block (table cells in their row's item), and no header, footer or page
    number is."""
    import importlib.util

    wild = Path(__file__).resolve().parents[1] / "data" / "wild"
    spec = importlib.util.spec_from_file_location("make_pdf", wild / "scripts" / "make_pdf.py")
    make_pdf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_pdf)
    doc = read_document(wild / "docs" / name)
    texts = [a.title for a in doc.articles] + [b.text for a in doc.articles for b in a.blocks]
    flat = "\n".join("".join(t.split()) for t in texts)
    for line in make_pdf.logical_text(name).split("\n"):
        body = re.sub(r"^(?:\d{1,3}[.)、]|[●•*-])\s*", "", line)  # items are kept without their markers
        assert "".join(body.split()) in flat, line
    pages = make_pdf.DOCUMENTS[name][1]["pages"]
    for page in range(1, pages + 1):
        for furniture in filter(None, make_pdf.furniture(name, page, pages)):
            assert all("".join(furniture.split()) not in "".join(t.split()) for t in texts), furniture


def test_wild_pdf_table_rows_and_page_break():
    wild = Path(__file__).resolve().parents[1] / "data" / "wild" / "docs"
    notice = read_document(wild / "pdf_notice_heating_cid.pdf").articles[0]
    items = [b.text for b in notice.blocks if b.kind == "item"]
    assert len(items) == 4 and all(t.startswith("用户类别：") and "；收费标准：" in t for t in items)
    assert "用户类别：居民住宅（已装热计量表）；计费方式：基本热价＋计量热价" in items[1]
    report = read_document(wild / "pdf_report_library_annual.pdf").articles[0]
    crossing = [b for b in report.blocks if b.text.startswith("一是馆舍建于1998年")]
    assert len(crossing) == 1 and "二是部分乡镇分馆" in crossing[0].text  # one paragraph over the break


def test_encrypted_pdf_is_read_without_a_password_or_refused_by_name(tmp_path):
    from pypdf import PdfReader, PdfWriter

    def encrypted(user: str, algorithm: str = "RC4-128") -> bytes:
        import io

        w = PdfWriter()
        w.append(PdfReader(io.BytesIO(_tiny_pdf("Liaoyuan held 12 reading sessions."))))
        w.encrypt(user_password=user, owner_password="owner", algorithm=algorithm)
        out = io.BytesIO()
        w.write(out)
        return out.getvalue()

    open_pdf = tmp_path / "restricted.pdf"
    open_pdf.write_bytes(encrypted(""))  # editing restricted, no password to read
    assert "Liaoyuan held 12 reading sessions." in read_document(open_pdf).text
    aes = tmp_path / "aes.pdf"  # what current tools write; needs the cryptography package
    aes.write_bytes(encrypted("", "AES-256"))
    assert "Liaoyuan held 12 reading sessions." in read_document(aes).text
    locked = tmp_path / "locked.pdf"
    locked.write_bytes(encrypted("secret"))
    with pytest.raises(DocumentError, match="locked.pdf: the PDF is protected by a password"):
        read_document(locked)


def test_small_web_page_keeps_its_table_and_drops_its_menu(tmp_path):
    """On a page this small trafilatura returns the body in one piece; the page's own blocks
    stand in for it: a data table's rows too, but not the menu (links and separators only)."""
    html = (
        '<html><head><meta charset="gbk"><title>城区公交线路调整公告</title></head><body>'
        '<div class="nav"><a href="/">首页</a> | <a href="/news">新闻中心</a> | <a href="/gk">政务公开</a></div>'
        "<div><h1>城区公交线路调整公告</h1><p>自2025年12月1日起对城区3条公交线路进行调整，详见<a href='/t'>附表</a>。</p>"
        "<table><tr><th>线路</th><th>调整内容</th></tr><tr><td>5路</td><td>延伸至高铁东站</td></tr>"
        "<tr><td>K3路</td><td>新开通，票价2元</td></tr></table>"
        "<p>市民如有疑问，可拨打公交服务热线12328咨询。</p></div></body></html>"
    )
    p = tmp_path / "bus.html"
    p.write_bytes(html.encode("gbk"))
    doc = read_document(p)
    texts = [b.text for a in doc.articles for b in a.blocks]
    assert "线路：5路；调整内容：延伸至高铁东站" in texts
    assert "线路：K3路；调整内容：新开通，票价2元" in texts
    assert "自2025年12月1日起对城区3条公交线路进行调整，详见附表。" in texts  # one link in a sentence stays
    assert not any("新闻中心" in t for t in texts)


def test_seed_page_is_read_as_before(seed_doc):
    """Regression: the newspaper recovery on the seed page (4 articles, 2 repaired paragraphs, 4 captions)."""
    assert [a.title for a in seed_doc.articles] == TITLES
    repaired = [p for a in seed_doc.articles for p in a.paragraphs if len(p.spans) > 1]
    assert [len(p.spans) for p in repaired] == [2, 2]
    assert sum(len(a.captions) for a in seed_doc.articles) == 4
    assert all(b.kind != "item" and b.kind != "code" for a in seed_doc.articles for b in a.blocks)
    assert seed_doc.title == TITLES[0]


def test_big5_is_detected():
    text = "臺北市立圖書館今年舉辦讀書會十二場，參加讀者三萬人次。"
    assert decode_bytes(text.encode("big5")) == (text, "big5")


def test_pdf_without_text_layer_is_refused_by_name(tmp_path):
    p = tmp_path / "scan.pdf"
    p.write_bytes(_tiny_pdf(""))  # a page that shows no text
    with pytest.raises(DocumentError, match="scan.pdf: the PDF has no text layer"):
        read_document(p)
