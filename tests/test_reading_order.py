"""The reading order of a scanned page, on synthetic OCR boxes (no OCR model).

The boxes are laid out like ``data/scans``' renders: 20-pixel lines every 33 pixels, 22 pixels a
character, columns 440 pixels wide with 44-pixel gutters, headlines in larger type.
"""

from __future__ import annotations

import re

import pytest

from qa.documents import parse_text
from qa.documents.ocr import split_at_gutters
from qa.documents.reading_order import TextBox, is_vertical, order_boxes, page_lines, page_text

H, STEP, PITCH, COL, GUTTER = 20, 33, 22, 440, 44
X1, X2, X3 = 48, 48 + COL + GUTTER, 48 + 2 * (COL + GUTTER)


def line(x: float, y: float, mark: str, chars: int, indent: bool = False, end: str = "") -> TextBox:
    """A body line of ``chars`` characters from ``mark`` to ``end`` (indented two characters)."""
    x0 = x + (2 * PITCH if indent else 0)
    width = sum(0.5 if ch.isascii() else 1 for ch in mark + end)  # a letter or digit is half a character wide
    return TextBox((x0, y, x0 + chars * PITCH, y + H), mark + "文" * round(chars - width) + end)


def headline(x0: float, y: float, text: str, size: int = 36) -> TextBox:
    """A headline in ``size``-pixel type (OCR's boxes of 30- and 36-pixel type are 30 high)."""
    return TextBox((x0, y, x0 + size * len(text), y + 30), text)


def flow(mark: str, paragraphs: list[int], columns: list[float], y: float, rows: int) -> list[TextBox]:
    """Paragraphs of the given numbers of lines down ``columns`` from ``y``, ``rows`` lines a
    column.  Line ``j`` of paragraph ``p`` starts with ``{mark}{p}{j}`` (``j`` a letter): its
    first line is indented, its last one short and ends with 。, the others fill the column."""
    out: list[TextBox] = []
    k = 0
    for p, n in enumerate(paragraphs):
        for j in range(n):
            x, yy = columns[k // rows], y + (k % rows) * STEP
            chars = 9 if j == n - 1 else 18 if j == 0 else 20
            end = "。" if j == n - 1 else ""
            out.append(line(x, yy, f"{mark}{p}{'abcdefghijklmnop'[j]}", chars, indent=j == 0, end=end))
            k += 1
    return out


def marks(boxes: list[TextBox]) -> list[str]:
    """The marks of ``boxes`` (a headline's text whole)."""
    return [re.sub("文+。?$", "", b.text) for b in boxes]


def texts(cols: list[list[TextBox]]) -> list[str]:
    return marks([b for c in cols for b in c])


def page_two() -> tuple[list[TextBox], list[str]]:
    """The layout of ``data/scans/seed_p2.png``: article 甲 in a box over columns 1-2 (its
    headline across both), article 乙 in a box under it over the same columns (a narrower
    headline), article 丙 down column 3 under a headline of two lines.  And the expected order."""
    a = flow("甲", [4, 5, 3], [X1, X2], 120, 6)
    # OCR's boxes are not exact: a column-2 line that starts with a comma hangs into the
    # gutter, a column-1 line reaches into it.
    a[7] = TextBox((a[7].box[0] - 22, *a[7].box[1:]), "，" + a[7].text)
    a[3] = TextBox((*a[3].box[:2], a[3].box[2] + 18, a[3].box[3]), a[3].text)
    b_top = 120 + 6 * STEP + 70
    b = flow("乙", [3, 3], [X1, X2], b_top + 60, 3)
    c = flow("丙", [5, 4, 5, 2], [X3], 156, 20)
    boxes = [headline(224, 55, "龙山区探索党建引领基层治理新途径")]
    boxes += [headline(275, b_top, "推进人车机联动新模式")]
    boxes += [headline(1088, 53, "国网辽源供电公司筑", 30), headline(1056, 96, "牢电力设施保护安全网", 30)]
    boxes += a + b + c
    expect = ["龙山区探索党建引领基层治理新途径", *marks(a), "推进人车机联动新模式", *marks(b)]
    expect += ["国网辽源供电公司筑", "牢电力设施保护安全网", *marks(c)]
    return boxes, expect


def test_three_columns_under_a_headline_read_column_by_column():
    # The columns share one line grid: a top-to-bottom reading would interleave them.
    body = flow("甲", [6, 6, 5], [X1, X2, X3], 80, 6)
    boxes = [headline(400, 10, "唱响时代主旋律")] + body
    assert texts(order_boxes(list(reversed(boxes)))) == ["唱响时代主旋律", *marks(body)]


def test_boxes_of_several_articles_page_two():
    boxes, expect = page_two()
    assert texts(order_boxes(list(reversed(boxes)))) == expect


def test_page_two_as_text_keeps_articles_and_paragraphs_apart():
    boxes, _ = page_two()
    text, offsets = page_text(page_lines(boxes))
    assert text.count("# ") == 3
    assert "# 国网辽源供电公司筑牢电力设施保护安全网\n" in text  # a headline of two lines is one
    doc = parse_text(text, "p2.png", "0" * 64, "ocr")
    assert [a.title for a in doc.articles] == [
        "龙山区探索党建引领基层治理新途径", "推进人车机联动新模式", "国网辽源供电公司筑牢电力设施保护安全网",
    ]
    for article, mark, sizes in zip(doc.articles, "甲乙丙", ([4, 5, 3], [3, 3], [5, 4, 5, 2])):
        # Each paragraph whole (its lines in order, from one article), and nothing else.
        got = [re.findall(r"[甲乙丙]\d[a-p]", p.text) for p in article.paragraphs]
        assert got == [[f"{mark}{p}{'abcdefghijklmnop'[j]}" for j in range(n)] for p, n in enumerate(sizes)]
    for s, e in offsets:  # every printed line is a piece of the text
        assert text[s:e].strip() and "\n" not in text[s:e]


def test_a_subtitle_and_byline_over_the_columns_are_read_before_them():
    # Headline, then a subtitle of body size over all three columns (alone at its height):
    # it closes the gutters.  Then a byline centred over the page, no wider than a column and
    # close above the columns: it belongs to the headline, not to the top of column 2.
    body = flow("甲", [6, 6, 5], [X1, X2, X3], 170, 6)
    mid = (X1 + X3 + COL) / 2
    boxes = [headline(400, 10, "唱响时代主旋律"), line(mid - 440, 80, "副题", 40), line(mid - 176, 120, "本报记者", 16)]
    boxes += body
    assert texts(order_boxes(boxes)) == ["唱响时代主旋律", "副题", "本报记者", *marks(body)]


def test_a_line_that_ocr_ran_over_a_gutter_does_not_join_the_columns():
    # The detector took column 2's line with the start of column 3's: the box crosses the
    # gutter, but column 1's line stands beside it, so it is a slip, not a line over the columns.
    body = flow("甲", [6, 6, 6], [X1, X2, X3], 80, 6)
    slip = body[7]
    body[7] = TextBox((slip.box[0], slip.box[1], X3 + 60, slip.box[3]), slip.text)
    order = texts(order_boxes(body))
    assert order[:6] == marks(body[:6]) and order[6:12] == marks(body[6:12])


def test_ocr_boxes_over_a_gutter_are_split():
    # Per-character boxes: a gap of two characters after 神 is a gutter; the space in
    # 建功 奉 is not.
    chars = [(c, (i * 22, 0, i * 22 + 20, 22)) for i, c in enumerate("青春建功 奉献")]
    words = [(c, b, 0.9) for c, b in chars if c != " "]
    words += [(c, (200 + i * 22, 0, 220 + i * 22, 22), 0.5) for i, c in enumerate("松江")]
    text = "青春建功 奉献松江"
    pieces = split_at_gutters((0, 0, 244, 22), text, 0.8, words)
    assert [(p.text, p.box, round(p.confidence, 2)) for p in pieces] == [
        ("青春建功 奉献", (0, 0, 152, 22), 0.9), ("松江", (200, 0, 242, 22), 0.5),
    ]
    assert split_at_gutters((0, 0, 152, 22), "青春建功 奉献", 0.8, words[:6])[0].text == "青春建功 奉献"
    assert split_at_gutters((0, 0, 152, 22), "青春", 0.8, [])[0].confidence == 0.8  # no character boxes


def test_one_line_cut_in_pieces_is_one_line():
    # OCR cut the line at a space and at a quotation mark; a wide space is kept.
    boxes = [
        TextBox((0, 0, 60, 20), "辽源市"),
        TextBox((70, 1, 170, 21), "七讲七进”"),
        TextBox((200, 0, 300, 20), "宣讲"),
        TextBox((0, 30, 300, 50), "第二行。"),
    ]
    lines = page_lines(boxes)
    assert [len(ln.pieces) for ln in lines] == [3, 1]
    text, offsets = page_text(lines)
    assert text == "辽源市七讲七进” 宣讲第二行。"  # the first line fills the column: the paragraph goes on
    assert [text[s:e] for s, e in offsets] == ["辽源市七讲七进” 宣讲", "第二行。"]


def test_indents_gaps_and_short_lines_become_text_layout():
    # A paragraph: an indented first line, full lines, a short last one.  Then a heading,
    # then a paragraph set apart by a gap.
    boxes = flow("甲", [3], [0], 0, 10) + [line(0, 3 * STEP, "小标题", 7)] + flow("乙", [2], [0], 6 * STEP, 10)
    text, offsets = page_text(page_lines(boxes))
    lines = [re.sub("文+", "", t) for t in text.split("\n")]
    assert lines == ["  甲0a甲0b甲0c。", "小标题", "", "  乙0a乙0b。"]
    assert [re.sub("文+", "", text[s:e]) for s, e in offsets] == ["甲0a", "甲0b", "甲0c。", "小标题", "乙0a", "乙0b。"]


def test_a_paragraph_runs_on_to_the_next_column():
    # No blank line at the top of column 2: the paragraph cut at the foot of column 1 goes on.
    boxes = flow("甲", [4], [X1, X2], 0, 2)
    text, _ = page_text(page_lines(boxes))
    assert re.sub("文+", "", text) == "  甲0a甲0b甲0c甲0d。"


def test_latin_words_are_joined_with_a_space_chinese_without():
    boxes = [TextBox((0, 0, 200, 20), "reading the"), TextBox((0, 30, 100, 50), "page")]
    assert page_text(page_lines(boxes))[0] == "reading the page"
    boxes = [TextBox((0, 0, 200, 20), "全区1"), TextBox((0, 30, 100, 50), "16个")]
    assert page_text(page_lines(boxes))[0] == "全区116个"


def test_vertical_text_is_read_right_to_left():
    # Vertical columns of a traditional page: tall, narrow boxes; the right one first, an
    # indented one (a paragraph's first line starts lower) in its place.
    right = TextBox((200, 40, 220, 300), "第一行文字")
    middle = TextBox((170, 0, 190, 300), "第二行文字")
    left = TextBox((140, 0, 160, 300), "第三行文字")
    assert is_vertical([left, middle, right])
    assert texts(order_boxes([left, right, middle])) == ["第一行文字", "第二行文字", "第三行文字"]


def test_vertical_columns_cut_in_pieces_read_right_to_left_top_to_bottom():
    # A vertical page as the detector cuts it: each column in pieces (overlapping by part of a
    # character), the title alone on the right; a horizontal page is not taken for one.
    title = TextBox((340, 50, 370, 220), "古城春日记")
    col1 = [TextBox((278, 98, 302, 300), "清晨的古城"), TextBox((278, 290, 302, 430), "还笼罩")]
    col2 = [TextBox((245, 51, 269, 122), "石板路"), TextBox((247, 114, 267, 219), "上已经有"),
            TextBox((245, 209, 269, 430), "了早起的行人。")]
    col3 = [TextBox((212, 51, 236, 123), "两旁的"), TextBox((212, 110, 237, 250), "店铺。")]
    boxes = [*col3, title, *col2[::-1], *col1]
    assert is_vertical(boxes) and not is_vertical([line(X1, 100, "甲", 20), line(X1, 133, "乙", 20)])
    lines = page_lines(boxes)
    assert ["".join(p.text for p in ln.pieces) for ln in lines] == [
        "古城春日记", "清晨的古城还笼罩", "石板路上已经有了早起的行人。", "两旁的店铺。"]
    assert [ln.gap for ln in lines[2:]] == pytest.approx([9 / 24, 8 / 24])  # the white between columns


def test_empty_page():
    assert order_boxes([]) == [] and page_text(page_lines([])) == ("", [])


def test_a_box_drawn_past_its_text_is_cut_back_to_its_characters():
    # On a grey page of small type the detector drew a column's first line from the end of the
    # line beside it (x 413), 45 pixels before its first character (x 458).
    from qa.documents.ocr import trim_to_words

    words = [(458 + 18 * i, 104, 476 + 18 * i, 123) for i in range(20)]
    assert trim_to_words((413, 104, 832, 123), words) == (458, 104, 832, 123)  # 14 pixels after 818: kept
    assert trim_to_words((413, 104, 870, 123), words) == (458, 104, 818, 123)
    assert trim_to_words((455, 104, 822, 123), words) == (455, 104, 822, 123)  # a few pixels of margin kept
    assert trim_to_words((413, 104, 832, 123), []) == (413, 104, 832, 123)  # no character boxes


def test_one_column_with_lines_cut_in_two_is_one_column():
    # A one-column notice (a title, three paragraphs, a signature set flush right) where OCR
    # cut two lines in two at characters it could not read, near the same place across the
    # page: the white strip there is no gutter, no two lines stand side by side across it.
    boxes = [
        TextBox((198, 54, 516, 85), "關於暫停供水的通知"),
        TextBox((51, 127, 662, 148), "甲a" + "文" * 26),
        TextBox((51, 161, 420, 179), "甲b" + "文" * 15),
        TextBox((442, 161, 662, 179), "甲c" + "文" * 8),
        TextBox((50, 193, 189, 214), "甲d" + "文" * 4 + "。"),
        TextBox((93, 227, 663, 247), "乙a" + "文" * 24),
        TextBox((50, 260, 662, 279), "乙b" + "文" * 26),
        TextBox((50, 292, 165, 314), "乙c" + "文" * 3 + "。"),
        TextBox((93, 325, 379, 346), "丙a" + "文" * 11),
        TextBox((413, 325, 662, 346), "丙b" + "文" * 9),
        TextBox((50, 357, 317, 380), "丙c" + "文" * 9 + "。"),
        TextBox((490, 425, 662, 445), "東區自來水管理處"),
        TextBox((446, 457, 660, 477), "二〇二六年十二月十日"),
    ]
    lines = page_lines(boxes)
    # The title, the text (one column: no line starts another), the signature under a wide gap.
    assert [ln.new_column for ln in lines] == [True, True] + [False] * 7 + [True, False]
    text, _ = page_text(lines)
    assert [re.sub("文+。?", "", t) for t in text.split("\n")] == [
        "# 關於暫停供水的通知", "", "甲a甲b 甲c甲d", "  乙a乙b乙c", "  丙a 丙b丙c", "",
        "  東區自來水管理處二〇二六年十二月十日",
    ]
