"""The reading order of a scanned page, from the boxes that OCR found on it.

A newspaper page has several columns, headlines across some of them and boxes of several
articles: reading top to bottom across the page mixes them.  :func:`order_boxes` cuts the
page recursively (an XY cut): first at white columns that run down the whole region
(gutters), else at white rows, where the rows that span the region (a headline, a
subtitle) are set apart from the bands of columns between them; the bands are then cut
at their gutters.  A region that no longer has a gutter is one column, read top to
bottom.  Vertical text (traditional-Chinese papers) is detected by its tall boxes and read
in columns from right to left.

:func:`page_lines` then joins the pieces of one printed line (OCR cuts a line at wide
spaces and some quotation marks), and :func:`page_text` writes the page as text that the
same structure recovery as a text file's reads: a line per printed line, a blank line
where the page leaves a gap, an indent where a line starts right of its column's edge.
Pure geometry, no OCR: unit-tested on synthetic boxes.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

Box = tuple[float, float, float, float]  # x0, y0, x1, y1: left, top, right, bottom, in pixels


@dataclass(frozen=True)
class TextBox:
    """A piece of text that OCR recognised on a page: its box, text and confidence (0-1)."""

    box: Box
    text: str
    confidence: float = 1.0

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]


@dataclass(frozen=True)
class PageLine:
    """One printed line, in reading order: its pieces left to right (top to bottom when
    vertical), the column it stands in (``column``: the left edge, or the top for vertical
    text) and the gap above it in line heights (``gap``; 0 for the first line of a column)."""

    pieces: tuple[TextBox, ...]
    column: float
    gap: float
    new_column: bool

    @property
    def box(self) -> Box:
        return (
            min(p.box[0] for p in self.pieces), min(p.box[1] for p in self.pieces),
            max(p.box[2] for p in self.pieces), max(p.box[3] for p in self.pieces),
        )

    @property
    def confidence(self) -> float:
        """The line's confidence: its pieces', weighted by their lengths."""
        n = sum(len(p.text) for p in self.pieces)
        return sum(p.confidence * len(p.text) for p in self.pieces) / n if n else 0.0


GUTTER = 0.8  # a white column at least this many line heights wide separates columns
BLOCK_GAP = 0.8  # a white row this many line heights high (beyond line spacing) starts a block
SPAN_SHARE = 0.7  # a row as wide as this share of its region spans it (a headline)


def is_vertical(boxes: list[TextBox]) -> bool:
    """Vertical text: most of the boxes with several characters are tall and narrow."""
    long = [b for b in boxes if len(b.text) >= 3]
    return bool(long) and sum(b.height > 1.5 * b.width for b in long) > len(long) / 2


def _unit(boxes: list[TextBox], vertical: bool) -> float:
    """The typical line height (for vertical text: the line's width)."""
    sizes = [b.width if vertical else b.height for b in boxes]
    return statistics.median(sizes) if sizes else 1.0


def _gaps(intervals: list[tuple[float, float]], min_gap: float) -> list[tuple[float, float]]:
    """White intervals of at least ``min_gap`` between the covered ``intervals``."""
    out: list[tuple[float, float]] = []
    intervals = sorted(intervals)
    reach = intervals[0][1]
    for lo, hi in intervals[1:]:
        if lo - reach >= min_gap:
            out.append((reach, lo))
        reach = max(reach, hi)
    return out


def _gutters(boxes: list[TextBox], axis: int, min_gap: float) -> list[tuple[float, float]]:
    """White columns (rows, for vertical text) at least ``min_gap`` wide down the region.

    OCR's detector now and then runs a line of body text over a narrow gutter (a closing
    。 taken with the next column's line): a gutter may be crossed by at most one in twenty
    of the region's boxes of body-text size (each goes to the side of its centre), never by
    a larger one (a headline over the columns).
    """
    lo = min(b.box[axis] for b in boxes)
    hi = max(b.box[axis + 2] for b in boxes)
    step = max(1.0, min_gap / 4)
    n = int((hi - lo) / step) + 1
    small, large = [0] * n, [0] * n
    size = statistics.median(b.box[3 - axis] - b.box[1 - axis] for b in boxes)  # across the line
    for b in boxes:
        cover = large if b.box[3 - axis] - b.box[1 - axis] > 1.3 * size else small
        for i in range(int((b.box[axis] - lo) / step), min(n, int((b.box[axis + 2] - lo) / step) + 1)):
            cover[i] += 1
    allowed = len(boxes) // 20
    out: list[tuple[float, float]] = []
    i = 0
    while i < n:
        if small[i] <= allowed and not large[i] and 0 < i:
            j = i
            while j < n and small[j] <= allowed and not large[j]:
                j += 1
            if j < n and (j - i) * step >= min_gap:
                out.append((lo + i * step, lo + j * step))
            i = j
        else:
            i += 1
    return out


def _split(boxes: list[TextBox], axis: int, gaps: list[tuple[float, float]]) -> list[list[TextBox]]:
    """``boxes`` cut at ``gaps`` along ``axis`` (0: x, 1: y), in order."""
    parts: list[list[TextBox]] = [[] for _ in range(len(gaps) + 1)]
    for b in boxes:
        centre = (b.box[axis] + b.box[axis + 2]) / 2
        parts[sum(1 for g in gaps if centre > g[0])].append(b)
    return [p for p in parts if p]


def _cut(boxes: list[TextBox], unit: float, vertical: bool) -> list[list[TextBox]]:
    """The region's columns (each a list of boxes), in reading order."""
    # Across the columns: x for horizontal text, y for vertical text (whose columns are rows).
    across, down = (1, 0) if vertical else (0, 1)
    rows = _split(boxes, down, _gaps([(b.box[down], b.box[down + 2]) for b in boxes], 1e-6))
    if len(rows) == 1:
        return [boxes]  # one printed line: a wide space in it is no gutter

    def gutters(part: list[TextBox]) -> list[tuple[float, float]]:
        return _gutters(part, across, GUTTER * unit)

    found = gutters(boxes)
    strips = _split(boxes, across, found) if found else []
    if len(strips) > 1:
        if vertical:
            strips.reverse()  # vertical columns are read from right to left
        return [col for s in strips for col in _cut(s, unit, vertical)]
    # No gutter runs down the whole region: a row that spans it (a headline across the
    # columns) stands apart from the bands of columns between such rows.  Runs of rows
    # without gutters (spanning rows, a single column) are read as one column.
    lo = min(b.box[across] for b in boxes)
    hi = max(b.box[across + 2] for b in boxes)

    def spans(row: list[TextBox]) -> bool:
        extent = max(b.box[across + 2] for b in row) - min(b.box[across] for b in row)
        return extent >= SPAN_SHARE * (hi - lo) and not gutters(row)

    runs: list[tuple[bool, list[list[TextBox]]]] = []  # (spanning, its rows)
    for row in rows:
        s = spans(row)
        if runs and runs[-1][0] == s:
            runs[-1][1].append(row)
        else:
            runs.append((s, [row]))
    groups: list[tuple[bool, list[TextBox]]] = []  # (columns to cut, boxes)
    for s, run in runs:
        part = [b for row in run for b in row]
        found = gutters(part) if not s and len(run) > 1 else []
        multi = bool(found) and len(_split(part, across, found)) > 1
        if groups and not multi and not groups[-1][0]:
            groups[-1][1].extend(part)
        else:
            groups.append((multi, part))
    if len(groups) == 1 and not groups[0][0]:
        return [boxes]
    out: list[list[TextBox]] = []
    for multi, part in groups:
        out += _cut(part, unit, vertical) if multi and len(part) < len(boxes) else [part]
    return out


def order_boxes(boxes: list[TextBox]) -> list[list[TextBox]]:
    """The page's columns in reading order, each with its boxes in reading order."""
    boxes = [b for b in boxes if b.text.strip() and b.width > 0 and b.height > 0]
    if not boxes:
        return []
    vertical = is_vertical(boxes)
    unit = _unit(boxes, vertical)
    down = 0 if vertical else 1
    cols = _cut(boxes, unit, vertical)
    if vertical:
        return [sorted(c, key=lambda b: (b.box[1], -b.box[2])) for c in cols]
    return [sorted(c, key=lambda b: ((b.box[down] + b.box[down + 2]) / 2, b.box[0])) for c in cols]


def _same_line(a: TextBox, b: TextBox, vertical: bool) -> bool:
    """``b`` continues ``a``'s printed line: they overlap across the line by half the smaller one."""
    i = 0 if vertical else 1
    overlap = min(a.box[i + 2], b.box[i + 2]) - max(a.box[i], b.box[i])
    return overlap >= 0.5 * min(a.box[i + 2] - a.box[i], b.box[i + 2] - b.box[i])


def page_lines(boxes: list[TextBox]) -> list[PageLine]:
    """The page's printed lines in reading order (see :func:`order_boxes`)."""
    boxes = [b for b in boxes if b.text.strip() and b.width > 0 and b.height > 0]
    if not boxes:
        return []
    vertical = is_vertical(boxes)
    unit = _unit(boxes, vertical)
    out: list[PageLine] = []
    for col in order_boxes(boxes):
        lines: list[list[TextBox]] = []
        for b in col:
            if lines and _same_line(lines[-1][-1], b, vertical):
                lines[-1].append(b)
            else:
                lines.append([b])
        edge = min(b.box[1] if vertical else b.box[0] for b in col)
        prev: Box | None = None
        for i, pieces in enumerate(lines):
            pieces.sort(key=lambda b: b.box[1] if vertical else b.box[0])
            line = PageLine(tuple(pieces), edge, 0.0, i == 0)
            box = line.box
            gap = 0.0
            if prev is not None:  # the white between the lines, in line heights, less the usual spacing
                gap = ((prev[0] - box[2]) if vertical else (box[1] - prev[3])) / unit
            out.append(PageLine(line.pieces, edge, gap, i == 0))
            prev = box
    return out


def _join_pieces(line: PageLine, unit: float, vertical: bool) -> str:
    """A line's text: its pieces joined, with a space where the page leaves one (a wide gap)."""
    out = line.pieces[0].text.strip()
    for a, b in zip(line.pieces, line.pieces[1:]):
        gap = (b.box[1] - a.box[3]) if vertical else (b.box[0] - a.box[2])
        out += (" " if gap > 0.6 * unit else "") + b.text.strip()
    return out


def page_text(lines: list[PageLine]) -> tuple[str, list[tuple[int, int]]]:
    """The page as text, and each line's ``(start, end)`` in it.

    A blank line where the gap above a line is wider than the page's usual line spacing
    (by :data:`BLOCK_GAP` line heights), none at a column's top (a paragraph runs on from
    the foot of the previous column; its indent says whether it starts a new one), and
    two spaces before a line that starts right of its column's edge by a character or more.
    """
    if not lines:
        return "", []
    vertical = is_vertical([p for ln in lines for p in ln.pieces])
    unit = _unit([p for ln in lines for p in ln.pieces], vertical)
    spacing = [ln.gap for ln in lines if not ln.new_column and 0 <= ln.gap < 1.5]
    usual = statistics.median(spacing) if spacing else 0.0
    parts: list[str] = []
    offsets: list[tuple[int, int]] = []
    pos = 0
    for i, ln in enumerate(lines):
        if i:
            sep = "\n\n" if not ln.new_column and ln.gap - usual > BLOCK_GAP else "\n"
            parts.append(sep)
            pos += len(sep)
        start = ln.box[1] if vertical else ln.box[0]
        indent = "  " if start - ln.column >= 0.8 * unit else ""
        text = _join_pieces(ln, unit, vertical)
        parts.append(indent + text)
        offsets.append((pos + len(indent), pos + len(indent) + len(text)))
        pos += len(indent) + len(text)
    return "".join(parts), offsets
