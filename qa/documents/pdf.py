"""PDF files through pypdf: each page's text layer (tables as item lines), running headers,
footers and page numbers left out, metadata kept.  A page without a text layer (a scan) is
read through OCR (:mod:`.images`), so a mixed PDF is read page by page."""

from __future__ import annotations

import logging
import re
from dataclasses import replace

from .images import Pages, Progress, recognise_page, scanned_text
from .layout import _without_page_furniture
from .records import DocumentError, OcrFailed, ReaderUnavailable, Source, TextLine
from .tables import _squash, _table_lines

log = logging.getLogger(__name__)


def _join_wrapped(lines: list[str]) -> str:
    """A wrapped table cell's lines as one: joined directly, with a space between Latin words."""
    out = lines[0].strip()
    for line in lines[1:]:
        t = line.strip()
        gap = " " if out and t and out[-1].isascii() and out[-1].isalnum() and t[0].isascii() and t[0].isalnum() else ""
        out += gap + t
    return out


def _pdf_page_text(page) -> tuple[str, bool]:
    """A page's text, with its tables' rows as ``- 表头：格；…`` item lines, and whether it has any.

    pypdf writes each table cell on lines of its own (a wrapped cell: lines that start at
    one x, one under the other); the cells of one row are those whose first lines share a
    baseline, left to right.  Two or more such rows of as many cells, one after
    the other, make a table.
    """
    chunks: list[tuple[str, float, float]] = []

    def visit(text, cm, tm, font, size) -> None:
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        chunks.append((text, x, y))

    plain = page.extract_text(visitor_text=visit) or ""
    if "".join(c[0] for c in chunks) != plain:  # positions don't line up with the text
        return plain, False
    lines: list[tuple[str, tuple[float, float] | None]] = []
    buf, at = "", None
    for text, x, y in chunks:
        for part in re.split(r"(\n)", text):
            if part == "\n":
                lines.append((buf, at))
                buf, at = "", None
            elif part:
                at = at if at is not None or not part.strip() else (x, y)
                buf += part
    if buf:
        lines.append((buf, at))
    # A cell: a line and the lines under it that start at the same x (a wrapped cell).
    cells: list[list[int]] = []
    for i, (_, pos) in enumerate(lines):
        last = lines[i - 1][1] if i else None
        if cells and pos is not None and last is not None and lines[i - 1][0].strip():
            if abs(last[0] - pos[0]) < 1 and 0 < last[1] - pos[1] < 40:
                cells[-1].append(i)
                continue
        cells.append([i])
    rows: list[list[int]] = []  # runs of cells whose first lines share a baseline, left to right
    for c, cell in enumerate(cells):
        pos = lines[cell[0]][1]
        ppos = lines[cells[c - 1][0]][1] if c else None
        if rows and pos is not None and ppos is not None and abs(ppos[1] - pos[1]) < 2 and pos[0] > ppos[0]:
            rows[-1].append(c)
        else:
            rows.append([c])
    out: list[str] = []
    found = False
    k = 0
    while k < len(rows):
        j = k
        while j < len(rows) and len(rows[j]) >= 2 and len(rows[j]) == len(rows[k]):
            j += 1
        if j - k >= 2:  # a table
            table = [[_squash(_join_wrapped([lines[n][0] for n in cells[c]])) for c in row] for row in rows[k:j]]
            out.extend(["", *_table_lines(table, len(table[0]) > 2), ""])
            found, k = True, j
            continue
        out.extend(lines[n][0] for c in rows[k] for n in cells[c])
        k += 1
    return ("\n".join(out) if found else plain), found


def _page_image(page):
    """The largest image on a page without a text layer (a scan), or None."""
    try:
        images = [im.image for im in page.images]
    except Exception as exc:  # an image filter pypdf cannot decode
        log.warning("cannot read the images of a PDF page: %s: %s", type(exc).__name__, exc)
        return None
    images = [im for im in images if im is not None]
    return max(images, key=lambda im: im.size[0] * im.size[1]) if images else None


def _pdf_source(data: bytes, progress: Progress | None = None, boxes: Pages | None = None) -> Source:
    """A PDF's text; a page without a text layer is read through OCR, or from ``boxes`` when
    read before (by page number; the pages read now are added to it)."""
    import io

    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:  # many PDFs only restrict editing: their user password is empty
        try:
            opened = reader.decrypt("")
        except Exception as exc:  # e.g. AES without a crypto library
            raise ReaderUnavailable.of("pdf_encrypted", detail=str(exc)) from exc
        if not opened:
            raise DocumentError.of("pdf_password")
    pages, tables = [], False
    # Pages without a text layer are read through OCR: page index -> its recognised text and lines.
    scanned: dict[int, tuple[str, tuple[TextLine, ...]]] = {}
    ocr_error: DocumentError | None = None
    read = boxes if boxes is not None else {}
    for n, page in enumerate(reader.pages, 1):
        page_text, found = _pdf_page_text(page)
        if not page_text.strip() and n in read:  # read through OCR before
            scanned[len(pages)] = scanned_text([read[n]], [n])
            page_text = scanned[len(pages)][0]
        elif not page_text.strip() and ocr_error is None:
            image = _page_image(page)
            if image is not None:
                if progress is not None:
                    progress(n - 1, len(reader.pages))  # this page is read through OCR now
                try:
                    read[n] = recognise_page(image)
                except OcrFailed:  # the whole file fails and is tried again, not kept without this page
                    raise
                except DocumentError as exc:  # no OCR here: the text pages are still read
                    ocr_error = exc
                else:
                    text, lines = scanned_text([read[n]], [n])
                    scanned[len(pages)] = (text, lines)
                    page_text = text
            if progress is not None:
                progress(n, len(reader.pages))
        pages.append(page_text.strip("\n"))
        tables = tables or found
    text, lines = _joined(_without_page_furniture(pages), scanned)
    if not text.strip():
        if ocr_error is not None:
            raise ocr_error
        raise DocumentError.of("pdf_no_text")
    if ocr_error is not None:
        log.warning("pages of a PDF without a text layer were left out: %s", ocr_error)
    meta = reader.metadata
    title = author = date = ""
    if meta is not None:
        title, author = _squash(meta.title or ""), _squash(meta.author or "")
        try:
            created = meta.creation_date
        except Exception:  # an unparsable date string
            created = None
        date = created.date().isoformat() if created else ""
    # Table rows are written as list items (as .docx tables are), which only Markdown reads.
    return Source(text + "\n", "pdf", tables, title, date, "", author, lines, len(scanned))


def _joined(pages: list[str], scanned: dict[int, tuple[str, tuple[TextLine, ...]]]) -> tuple[str, tuple[TextLine, ...]]:
    """The pages' text, one after the other, and the recognised lines of scanned pages at their
    offsets in it (a line that was left out as page furniture is left out of the lines too)."""
    parts: list[str] = []
    lines: list[TextLine] = []
    pos = 0
    for i, page in enumerate(pages):
        if not page.strip():
            continue
        if parts:
            pos += 1
        if i in scanned:
            recognised, found = scanned[i]
            cursor = 0
            for ln in found:
                t = recognised[ln.start : ln.end]
                at = page.find(t, cursor)
                if at >= 0:
                    lines.append(replace(ln, start=pos + at, end=pos + at + len(t)))
                    cursor = at + len(t)
        parts.append(page)
        pos += len(page)
    return "\n".join(parts), tuple(lines)
