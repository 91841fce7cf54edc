"""The reading order of a scanned page, on synthetic OCR boxes (no OCR model)."""

from __future__ import annotations

from qa.documents.reading_order import TextBox, is_vertical, order_boxes, page_lines, page_text

H = 20  # line height
STEP = 30  # baseline to baseline


def column(name: str, x: float, y: float, n: int, width: float = 200, indent: tuple[int, ...] = ()) -> list[TextBox]:
    """``n`` lines named ``name1``…, one under the other on a shared grid; lines in ``indent`` start 2 characters in."""
    out = []
    for i in range(n):
        dx = 2 * H if i in indent else 0
        out.append(TextBox((x + dx, y + i * STEP, x + width, y + i * STEP + H), f"{name}{i + 1}"))
    return out


def texts(cols: list[list[TextBox]]) -> list[str]:
    return [b.text for c in cols for b in c]


def test_three_columns_under_a_headline_read_column_by_column():
    # The columns share one line grid: a top-to-bottom reading would interleave them.
    head = [TextBox((0, 0, 680, 40), "headline")]
    body = column("a", 0, 60, 5) + column("b", 240, 60, 5) + column("c", 480, 60, 3)
    order = texts(order_boxes(list(reversed(head + body))))
    assert order == ["headline", *[f"a{i}" for i in range(1, 6)], *[f"b{i}" for i in range(1, 6)], "c1", "c2", "c3"]


def test_boxes_of_several_articles():
    # Article A over columns 1-2 (headline across both), article B under it over the same
    # columns, article C down column 3: A, then B, then C.
    boxes = [TextBox((0, 0, 440, 30), "A")] + column("a", 0, 40, 4) + column("aa", 240, 40, 4)
    boxes += [TextBox((0, 200, 440, 230), "B")] + column("b", 0, 240, 3) + column("bb", 240, 240, 3)
    boxes += [TextBox((480, 0, 680, 20), "C")] + column("c", 480, 30, 10)
    order = texts(order_boxes(boxes))
    expect = ["A", "a1", "a2", "a3", "a4", "aa1", "aa2", "aa3", "aa4", "B", "b1", "b2", "b3", "bb1", "bb2", "bb3"]
    assert order == expect + ["C"] + [f"c{i}" for i in range(1, 11)]


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
    assert text == "辽源市七讲七进” 宣讲\n第二行。"
    assert [text[s:e] for s, e in offsets] == ["辽源市七讲七进” 宣讲", "第二行。"]


def test_indents_and_gaps_become_text_layout():
    boxes = column("p", 0, 0, 3, indent=(0,)) + column("q", 0, 140, 2, indent=(0,))
    text, offsets = page_text(page_lines(boxes))
    assert text == "  p1\np2\np3\n\n  q1\nq2"
    assert [text[s:e] for s, e in offsets] == ["p1", "p2", "p3", "q1", "q2"]


def test_a_new_column_gets_no_blank_line():
    # A paragraph runs on from the foot of column 1 to the top of column 2.
    boxes = column("a", 0, 0, 3) + column("b", 240, 0, 3)
    text, _ = page_text(page_lines(boxes))
    assert text == "a1\na2\na3\nb1\nb2\nb3"


def test_vertical_text_is_read_right_to_left():
    # Two vertical columns of a traditional page: tall, narrow boxes; the right one first.
    right = TextBox((200, 0, 220, 300), "第一行文字")
    left = TextBox((160, 0, 180, 300), "第二行文字")
    assert is_vertical([left, right])
    assert texts(order_boxes([left, right])) == ["第一行文字", "第二行文字"]


def test_empty_page():
    assert order_boxes([]) == [] and page_text(page_lines([])) == ("", [])
