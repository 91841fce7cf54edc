"""Tables from any format (.html, .docx, .pdf) as Markdown-like item lines, one per row
(``- 姓名：张三；职务：经理``, the header attached to every row)."""

from __future__ import annotations


def _squash(text: str) -> str:
    return " ".join(text.split())


def _row_text(cells: list[str], header: list[str] | None) -> str:
    """A table row as one line: ``姓名：张三；职务：经理`` with a header, else ``张三；经理``."""
    if header and len(header) == len(cells):
        return "；".join(f"{h}：{c}" if h else c for h, c in zip(header, cells) if c)
    return "；".join(c for c in cells if c)


def _table_lines(rows: list[list[str]], header: bool) -> list[str]:
    """Markdown-like item lines for a table: one per row, the header row attached to each."""
    rows = [r for r in rows if any(r)]
    if not rows:
        return []
    if header and len(rows) > 1:
        head, body = rows[0], rows[1:]
        return ["- " + _row_text(r, head) for r in body if _row_text(r, head)]
    if not header and all(len(r) == 2 for r in rows):  # a two-column key-value table
        return ["- " + (f"{k}：{v}" if k and v else k or v) for k, v in rows]
    return ["- " + _row_text(r, None) for r in rows]
