"""Word documents (.docx) through python-docx: headings and list items as Markdown-like
lines, tables one row per line with the header cells attached."""

from __future__ import annotations

from .html import _join_lines
from .records import Source
from .tables import _squash, _table_lines


def _docx_source(data: bytes) -> Source:
    import io

    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    d = docx.Document(io.BytesIO(data))
    lines: list[str] = []
    for child in d.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            p = Paragraph(child, d)
            t = p.text.strip()
            if not t:
                continue
            style = (p.style.name or "").lower() if p.style is not None else ""
            if style.startswith("title"):
                t = "# " + t
            elif style.startswith("heading") and style[-1:].isdigit():
                t = "#" * min(int(style[-1]), 6) + " " + t
            elif style.startswith("list"):
                t = "- " + _squash(t)
            lines.append(t)
        elif tag == "tbl":
            table = Table(child, d)
            rows = []
            for row in table.rows:
                cells, seen = [], set()
                for cell in row.cells:  # a merged cell is repeated: keep it once
                    if id(cell._tc) not in seen:
                        seen.add(id(cell._tc))
                        cells.append(_squash(cell.text))
                rows.append(cells)
            first = table.rows[0] if table.rows else None
            marked = first is not None and (
                first._tr.trPr is not None and first._tr.trPr.find(docx.oxml.ns.qn("w:tblHeader")) is not None
                or all(r.bold for c in first.cells for p in c.paragraphs for r in p.runs if r.text.strip())
                and any(r.text.strip() for c in first.cells for p in c.paragraphs for r in p.runs)
            )
            lines.extend(_table_lines(rows, marked or bool(rows and len(rows[0]) > 2)))
    props = d.core_properties
    # ``created`` is when the file was made; a generator's template keeps its own
    # (created == modified, nobody named as the last editor): not the document's date.
    saved = props.created is not None and (props.modified != props.created or bool(props.last_modified_by))
    date = props.created.date().isoformat() if saved else ""
    return Source(_join_lines(lines), "docx", True, _squash(props.title or ""), date, "", _squash(props.author or ""))
