"""The reading order of a scanned page, from the boxes that OCR found on it.

A newspaper page has several columns, headlines across some of them and boxes of several
articles: reading top to bottom across the page mixes them.  :func:`order_boxes` cuts the
page recursively (an XY cut): first at white columns that run down the whole region
(gutters; a headline or a line alone at its height closes the gutters it runs over);
else into bands of columns, parted by the rows that cross the body text's gutters (the
headline over an article's columns, a subtitle), by a line centred under a headline and
by wide white rows; each band is cut at its own gutters.  A region that no longer has a
gutter is one column, read top to bottom.  Each column says whether it opens a block (an
article's own column, a band under its headline) or continues the column before it (a
paragraph runs on from the foot of a column to the top of the next).  Headlines are told
from the body by their type: taller lines *and* wider characters (:class:`Scale`).
Vertical text (traditional-Chinese papers) is detected by its tall boxes and read in
columns from right to left.

:func:`page_lines` then joins the pieces of one printed line (OCR cuts a line at wide
spaces and some quotation marks), and :func:`page_text` writes the page as text for the
same structure recovery as a text file's: the page's geometry says where a paragraph goes
on (a line that reaches its column's right edge, followed by one that is not indented),
so a paragraph is one line of text; headlines are Markdown headings; blank lines where
the page leaves a gap.  Pure geometry, no OCR: unit-tested on synthetic boxes.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from ..text import has_cjk

Box = tuple[float, float, float, float]  # x0, y0, x1, y1: left, top, right, bottom, in pixels

# The version of the code that turns a page's boxes into its text: the reading order here, how
# :mod:`.images` writes pages as one text and :mod:`.pdf` puts them among text pages.  A scan's
# text kept beside the index records it: bump it when that code reads a page otherwise, and
# the next build writes kept scans' text anew from their kept boxes, without OCR, and
# re-indexes them (1: before it was recorded; 2: a gutter needs two lines side by side, _pairs).
# Structure recovery (:mod:`.structure`) runs on every read and is not kept: its changes bump
# :attr:`qa.chunking.ChunkSettings.version` instead.
READING_VERSION = 2


@dataclass(frozen=True)
class TextBox:
    """A piece of text that OCR recognised on a page: its box, text and confidence (0-1)."""

    box: Box
    text: str
    confidence: float = 1.0
    shown: Box | None = None  # where it stands in the image, when ``box`` is turned level (a skewed page)

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
    opens: bool = False  # the first line of a column that starts a block (not the next column of a band)
    right: float = 0.0  # the column's right edge (its foot, vertical)

    @property
    def box(self) -> Box:
        return (
            min(p.box[0] for p in self.pieces), min(p.box[1] for p in self.pieces),
            max(p.box[2] for p in self.pieces), max(p.box[3] for p in self.pieces),
        )

    @property
    def shown(self) -> Box:
        """Where the line stands in the page image (its box, unless the page was turned level)."""
        boxes = [p.shown or p.box for p in self.pieces]
        return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))

    @property
    def confidence(self) -> float:
        """The line's confidence: its pieces', weighted by their lengths."""
        n = sum(len(p.text) for p in self.pieces)
        return sum(p.confidence * len(p.text) for p in self.pieces) / n if n else 0.0


GUTTER = 0.8  # a white column at least this many line heights wide separates columns
MIN_PAIRS = 2  # lines side by side across a gutter that parts a band of columns (see _pairs)
BLOCK_GAP = 0.8  # a white row this many line heights high (beyond line spacing) starts a block
BAND_GAP = 2.0  # a white row this many line heights high across a region parts its bands of columns
LARGE = 1.15  # lines this many times the body's line height, with characters WIDE times the
WIDE = 1.2  # body's pitch apart, are set in a headline's type


def is_vertical(boxes: list[TextBox]) -> bool:
    """Vertical text: most of the boxes with several characters are tall and narrow."""
    long = [b for b in boxes if len(b.text) >= 3]
    return bool(long) and sum(b.height > 1.5 * b.width for b in long) > len(long) / 2


def _unit(boxes: list[TextBox], vertical: bool) -> float:
    """The typical line height (for vertical text: the line's width)."""
    sizes = [b.width if vertical else b.height for b in boxes]
    return statistics.median(sizes) if sizes else 1.0


def _chars(text: str) -> float:
    """How many characters wide ``text`` is set: a Latin letter, digit or space counts half."""
    return sum(0.5 if ch.isascii() else 1.0 for ch in text.strip())


@dataclass(frozen=True)
class Scale:
    """The body text's type on a page: line height (``unit``; a line's width, vertical) and
    the distance from one character to the next along the line (``pitch``)."""

    unit: float
    pitch: float
    vertical: bool

    @classmethod
    def of(cls, boxes: list[TextBox]) -> Scale:
        vertical = is_vertical(boxes)
        unit = _unit(boxes, vertical)
        pitches = [(b.height if vertical else b.width) / _chars(b.text) for b in boxes if _chars(b.text) >= 4]
        return cls(unit, statistics.median(pitches) if pitches else unit, vertical)

    def large(self, box: Box, text: str) -> bool:
        """Set in larger type than the body (a headline): taller lines *and* wider characters.

        Height alone would not do: OCR draws a line with an ellipsis or low quotation marks
        a third taller than its neighbours."""
        height = box[2] - box[0] if self.vertical else box[3] - box[1]
        length = box[3] - box[1] if self.vertical else box[2] - box[0]
        n = _chars(text)
        return height > LARGE * self.unit and (n == 0 or length / n > WIDE * self.pitch)


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


def _gutters(boxes: list[TextBox], axis: int, scale: Scale, spanned: bool = False) -> list[tuple[float, float]]:
    """White columns (rows, for vertical text) at least :data:`GUTTER` lines wide down the region.

    OCR's detector now and then runs a line of body text over a narrow gutter (a closing
    。 taken with the next column's line): a gutter may be crossed by one in twenty of the
    region's boxes of body-text size (each goes to the side of its centre), or by one box
    with another line beside it (see :func:`_spanners`), never by a larger one (a headline
    over the columns) nor by a line alone at its height that runs over the whole gutter
    (a subtitle over the columns), unless ``spanned``: then the gutters are those of bands
    of columns that such lines part.
    """
    min_gap = GUTTER * scale.unit
    lo = min(b.box[axis] for b in boxes)
    hi = max(b.box[axis + 2] for b in boxes)
    step = max(1.0, min_gap / 4)
    n = int((hi - lo) / step) + 1
    spanners = {id(b) for b in _spanners(boxes, axis, scale)}
    small, lone, large = [0] * n, [0] * n, [0] * n
    for b in boxes:
        big = scale.large(b.box, b.text)
        for i in range(int((b.box[axis] - lo) / step), min(n, int((b.box[axis + 2] - lo) / step) + 1)):
            if big:
                large[i] += 1
            else:
                small[i] += 1
                lone[i] += id(b) in spanners
    allowed = len(boxes) // 20

    def white(i: int) -> bool:
        if large[i]:
            return False
        if spanned:  # lines alone at their height part bands; the others may slip over once
            return small[i] - lone[i] <= max(1, allowed)
        return small[i] <= allowed or small[i] == 1 and not lone[i]

    found: list[tuple[float, float]] = []
    i = 0
    while i < n:
        if 0 < i and white(i):
            j = i
            while j < n and white(j):
                j += 1
            if j < n and (j - i) * step >= min_gap:
                found.append((lo + i * step, lo + j * step))
            i = j
        else:
            i += 1
    if spanned:  # a gutter between columns has lines of both beside one another
        return [g for g in found if _pairs(boxes, g, axis) >= MIN_PAIRS]
    across = [b for b in boxes if id(b) in spanners]
    return [g for g in found if not any(_crosses(b, g, axis, scale) for b in across)]


def _pairs(boxes: list[TextBox], gutter: tuple[float, float], axis: int) -> int:
    """How many boxes clear of ``gutter`` on its near side have a box clear of it on the far
    side at the same height (overlapping down the page): the lines of two columns side by side.

    A single column whose lines OCR cut in two now and then (a character it could not read
    leaves a gap) shows a white strip where the cuts happen to line up, with lines alone at
    their height running over it; no lines stand beside one another across it.
    """
    down = 1 - axis
    near = [b for b in boxes if b.box[axis + 2] <= gutter[0]]
    far = [b for b in boxes if b.box[axis] >= gutter[1]]
    return sum(
        1 for b in near
        if any(min(b.box[down + 2], o.box[down + 2]) > max(b.box[down], o.box[down]) for o in far)
    )


def _crosses(b: TextBox, gutter: tuple[float, float], axis: int, scale: Scale) -> bool:
    """``b`` runs over the whole ``gutter``, a line height and more on both sides."""
    return b.box[axis] < gutter[0] - scale.unit and b.box[axis + 2] > gutter[1] + scale.unit


def _spanners(boxes: list[TextBox], across: int, scale: Scale) -> list[TextBox]:
    """The boxes that join the columns whose gutter they cross: headlines (larger type),
    and lines of body size alone at their height (a subtitle or byline over the columns).
    A line with another line beside it at its height is one that OCR ran over a gutter into
    the next column's line: a slip, not a line across the columns."""
    down = 1 - across
    out = []
    for b in boxes:
        if not scale.large(b.box, b.text):
            lo, hi = b.box[down], b.box[down + 2]
            beside = False
            for o in boxes:
                overlap = min(hi, o.box[down + 2]) - max(lo, o.box[down])
                along = min(b.box[across + 2], o.box[across + 2]) - max(b.box[across], o.box[across])
                if overlap >= 0.5 * min(hi - lo, o.box[down + 2] - o.box[down]) and along < scale.pitch:
                    beside = True
                    break
            if beside:
                continue
        out.append(b)
    return out


def _split(boxes: list[TextBox], axis: int, gaps: list[tuple[float, float]]) -> list[list[TextBox]]:
    """``boxes`` cut at ``gaps`` along ``axis`` (0: x, 1: y), in order."""
    parts: list[list[TextBox]] = [[] for _ in range(len(gaps) + 1)]
    for b in boxes:
        centre = (b.box[axis] + b.box[axis + 2]) / 2
        parts[sum(1 for g in gaps if centre > g[0])].append(b)
    return [p for p in parts if p]


def _one_line(boxes: list[TextBox], down: int) -> bool:
    """All the boxes stand on one printed line (they share a band down the page)."""
    return max(b.box[down] for b in boxes) < min(b.box[down + 2] for b in boxes)


Column = tuple[list[TextBox], bool]  # a column's boxes, and whether it opens a block


def _cut(boxes: list[TextBox], scale: Scale, opens: bool = True) -> list[Column]:
    """The region's columns in reading order, each with whether it opens a block (``opens``
    for the first) or continues the text of the column before it (the next column of a band)."""
    # Across the columns: x for horizontal text, y for vertical text (whose columns are rows).
    vertical, unit = scale.vertical, scale.unit
    across, down = (1, 0) if vertical else (0, 1)
    if _one_line(boxes, down):
        return [(boxes, opens)]  # one printed line: a wide space in it is no gutter

    def gutters(part: list[TextBox]) -> list[tuple[float, float]]:
        return _gutters(part, across, scale)

    def headed(part: list[TextBox]) -> bool:
        """The part starts with a headline."""
        first = min(part, key=lambda b: b.box[down])
        return scale.large(first.box, first.text)

    found = gutters(boxes)
    strips = _split(boxes, across, found) if found else []
    if len(strips) > 1:
        if vertical:
            strips.reverse()  # vertical columns are read from right to left
        out: list[Column] = []
        for k, strip in enumerate(strips):
            out += _cut(strip, scale, opens if k == 0 else headed(strip))
        return out
    # No gutter runs down the whole region: it holds bands of columns under one another,
    # set apart by rows that cross the body text's gutters (a headline over the columns of
    # its article) or by a wide white row.  The gutters of the body text are found without
    # the larger boxes (headlines) that cross them.
    body = [b for b in boxes if not scale.large(b.box, b.text)]
    inner = _gutters(body, across, scale, spanned=True) if len(body) > 1 else []
    spanners = {id(b) for b in _spanners(boxes, across, scale)} if inner else set()

    def crosses(b: TextBox) -> bool:
        return id(b) in spanners and any(_crosses(b, g, across, scale) for g in inner)

    rows = _split(boxes, down, _gaps([(b.box[down], b.box[down + 2]) for b in boxes], 1e-6))
    lo = min(b.box[across] for b in boxes)
    hi = max(b.box[across + 2] for b in boxes)

    def centred(row: list[TextBox]) -> bool:
        """One printed line alone at its height, centred over the region (a byline under a
        headline, narrower than a column)."""
        a, z = min(b.box[across] for b in row), max(b.box[across + 2] for b in row)
        whole = not _gaps([(b.box[across], b.box[across + 2]) for b in row], GUTTER * unit)
        return _one_line(row, down) and whole and abs((a + z) - (lo + hi)) / 2 <= 2 * unit

    groups: list[tuple[bool, list[TextBox]]] = []  # (spanning rows, boxes), top to bottom
    end = None
    for row in rows:
        # Under a headline, before the columns start, a centred line belongs to the headline.
        leading = not groups or groups[-1][0]
        spanning = any(crosses(b) for b in row) or bool(inner) and leading and centred(row)
        top = min(b.box[down] for b in row)
        wide = end is not None and top - end >= BAND_GAP * unit
        if groups and groups[-1][0] == spanning and not wide:
            groups[-1][1].extend(row)
        else:
            groups.append((spanning, list(row)))
        end = max(b.box[down + 2] for b in row)
    if len(groups) == 1:
        return [(boxes, opens)]
    out = []
    for k, (spanning, part) in enumerate(groups):
        first = opens if k == 0 else True
        out += [(part, first)] if spanning else _cut(part, scale, first)
    return out


def _columns(boxes: list[TextBox]) -> tuple[list[Column], Scale]:
    """The page's columns in reading order, each with its boxes in reading order (line by
    line; right to left for vertical text) and whether it opens a block; the page's scale."""
    boxes = [b for b in boxes if b.text.strip() and b.width > 0 and b.height > 0]
    if not boxes:
        return [], Scale(1.0, 1.0, False)
    scale = Scale.of(boxes)
    out: list[Column] = []
    for col, opens in _cut(boxes, scale):
        if scale.vertical:
            col = sorted(col, key=lambda b: (-(b.box[0] + b.box[2]) / 2, b.box[1]))
        else:
            col = sorted(col, key=lambda b: ((b.box[1] + b.box[3]) / 2, b.box[0]))
        out.append((col, opens))
    return out, scale


def order_boxes(boxes: list[TextBox]) -> list[list[TextBox]]:
    """The page's columns in reading order, each with its boxes in reading order."""
    return [col for col, _ in _columns(boxes)[0]]


def _same_line(a: TextBox, b: TextBox, vertical: bool) -> bool:
    """``b`` continues ``a``'s printed line: they overlap across the line by half the smaller one."""
    i = 0 if vertical else 1
    overlap = min(a.box[i + 2], b.box[i + 2]) - max(a.box[i], b.box[i])
    return overlap >= 0.5 * min(a.box[i + 2] - a.box[i], b.box[i + 2] - b.box[i])


def _edge(starts: list[float], unit: float) -> float:
    """A column's left edge (top, vertical) from where its lines start: the leftmost start
    that a quarter of the lines share (a punctuation mark that hangs out of the column, or
    one line that OCR read a little wide, does not move it; first lines are indented).
    The right edge is the same of the lines' ends, negated."""
    ordered = sorted(starts)
    need = min(len(ordered), max(2, len(ordered) // 4))
    for s in ordered:
        if sum(1 for t in ordered if abs(t - s) <= 0.4 * unit) >= need:
            return s
    return ordered[0]


def page_lines(boxes: list[TextBox]) -> list[PageLine]:
    """The page's printed lines in reading order (see :func:`order_boxes`)."""
    columns, scale = _columns(boxes)
    vertical, unit = scale.vertical, scale.unit
    out: list[PageLine] = []
    for col, opens in columns:
        lines: list[list[TextBox]] = []
        for b in col:
            if lines and _same_line(lines[-1][-1], b, vertical):
                lines[-1].append(b)
            else:
                lines.append([b])
        edge = _edge([min(b.box[1] if vertical else b.box[0] for b in pieces) for pieces in lines], unit)
        right = -_edge([-max(b.box[3] if vertical else b.box[2] for b in pieces) for pieces in lines], unit)
        prev: Box | None = None
        for i, pieces in enumerate(lines):
            pieces.sort(key=lambda b: b.box[1] if vertical else b.box[0])
            box = PageLine(tuple(pieces), edge, 0.0, i == 0).box
            gap = 0.0
            if prev is not None:  # the white between the lines, in line heights
                gap = ((prev[0] - box[2]) if vertical else (box[1] - prev[3])) / unit
            out.append(PageLine(tuple(pieces), edge, gap, i == 0, opens and i == 0, right))
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

    The page's geometry says where a paragraph goes on: a line that reaches its column's
    right edge runs on to the next line (in the column, or at the top of the next column of
    its band) unless that one is indented, set apart or in another type; they are joined
    into one line of text (a space between two Latin words).  So the text has a line per
    paragraph, heading or caption, the layout of an unwrapped text file, for the structure
    recovery.  Two spaces before a line indented by a character or more; a blank line where
    the gap above a line is wider than the page's usual line spacing (by :data:`BLOCK_GAP`
    line heights) and before a column that opens a block.  A headline (a line set in larger
    type) is written as a Markdown heading (``# ``), its lines joined: it starts an article.
    """
    if not lines:
        return "", []
    scale = Scale.of([p for ln in lines for p in ln.pieces])
    vertical, unit = scale.vertical, scale.unit
    spacing = [ln.gap for ln in lines if not ln.new_column and 0 <= ln.gap < 1.5]
    usual = statistics.median(spacing) if spacing else 0.0

    def size(ln: PageLine) -> float:
        box = ln.box
        return (box[2] - box[0]) if vertical else (box[3] - box[1])

    def large(ln: PageLine) -> bool:
        return scale.large(ln.box, "".join(p.text for p in ln.pieces))

    def indented(ln: PageLine) -> bool:
        return (ln.box[1] if vertical else ln.box[0]) - ln.column >= 0.8 * unit

    def full(ln: PageLine) -> bool:
        return (ln.box[3] if vertical else ln.box[2]) >= ln.right - 1.5 * scale.pitch

    parts: list[str] = []
    offsets: list[tuple[int, int]] = []
    pos = 0
    for i, ln in enumerate(lines):
        big = large(ln)
        text = _join_pieces(ln, unit, vertical)
        sep = ""
        if i:
            before = lines[i - 1]
            was_big = large(before)
            apart = ln.opens or (not ln.new_column and ln.gap - usual > BLOCK_GAP) or big != was_big
            if big and was_big and not ln.new_column and ln.gap < 1 and abs(size(ln) - size(before)) < 0.2 * size(ln):
                sep = ""  # the headline's next line
            elif not big and not apart and full(before) and not indented(ln):
                tail, head = parts[-1][-16:], text[:1]
                latin = tail[-1:].isascii() and tail[-1:].isalnum() and head.isascii() and head.isalnum()
                sep = " " if latin and not has_cjk(tail) else ""  # two words of Latin text
            else:
                sep = "\n\n" if apart else "\n"
            parts.append(sep)
            pos += len(sep)
        lead = ""
        if i == 0 or "\n" in sep:  # the line starts a line of text
            lead = "# " if big else "  " if indented(ln) else ""
        parts.append(lead + text)
        offsets.append((pos + len(lead), pos + len(lead) + len(text)))
        pos += len(lead) + len(text)
    return "".join(parts), offsets
