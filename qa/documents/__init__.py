"""Reading documents and recovering their structure.

``read_document(path)`` decodes a file and recovers its articles.  One module per stage:

- :mod:`.records`: the records (``Document``, ``Article``, ``Block``, ``Source``) and ``DocumentError``;
- :mod:`.reading`: ``read_document``, ``load_source``, ``list_documents`` (a file to its reader, by suffix);
- :mod:`.decoding`: text files, the encoding detected (UTF-8/16/32, GB18030, Big5);
- :mod:`.markdown`: Markdown syntax (headings, lists, tables, code, inline marks);
- :mod:`.html`: web pages through trafilatura (main content only, with the page's title,
  author and date; BeautifulSoup as a fallback);
- :mod:`.docx`: Word files through python-docx (tables one row per line, header cells attached);
- :mod:`.pdf`: PDF files through pypdf (metadata kept; pages without a text layer read through OCR);
- :mod:`.images`: scanned pages (.png, .jpg, .tif, .webp) read through OCR, the recognised text kept;
- :mod:`.ocr`: the OCR engine (RapidOCR, the optional extra ``[ocr]``);
- :mod:`.reading_order`: a scanned page's columns and blocks in reading order;
- :mod:`.tables`: a table of any format as one item line per row;
- :mod:`.layout`: a page's lines (hard wrapping, indents, which line continues which) and
  page furniture (running headers, footers, page numbers);
- :mod:`.structure`: blocks, their kinds and the articles, the same for every format.

HTML, docx and PDF tables are written out as Markdown-like text, and that text is the source
that offsets refer to.

Structure: a newspaper page has articles with a headline (joined when split over
lines), subtitle, byline, section headings, body paragraphs (repaired when the layout
cut them in two) and photo captions; other documents (encyclopedia entries, guides,
reports, notices) have a title, optional sections and paragraphs.  Hard-wrapped lines
(pypdf, OCR, fixed-width text) are rejoined; Markdown headings, list items, table rows
and code blocks are recognised and their markers left out.  Every piece keeps exact
``spans`` into the decoded text, so citations can be checked against the source.
"""

from .decoding import decode_bytes
from .images import LOW_CONFIDENCE
from .layout import _EDGE_LINES, MAX_HEADING, _lines, _without_page_furniture, _without_text_furniture
from .pdf import _pdf_page_text
from .reading import list_documents, load_source, read_document, read_text
from .records import (
    BODY_KINDS,
    IMAGE_SUFFIXES,
    MARKDOWN_SUFFIXES,
    MAX_DOCUMENT_BYTES,
    SUPPORTED_SUFFIXES,
    Article,
    Block,
    Document,
    DocumentError,
    Source,
    TextLine,
)
from .structure import MAX_CAPTION, article_author, parse_text

__all__ = [
    "BODY_KINDS",
    "IMAGE_SUFFIXES",
    "LOW_CONFIDENCE",
    "MARKDOWN_SUFFIXES",
    "MAX_CAPTION",
    "MAX_DOCUMENT_BYTES",
    "MAX_HEADING",
    "SUPPORTED_SUFFIXES",
    "Article",
    "Block",
    "Document",
    "DocumentError",
    "Source",
    "TextLine",
    "_EDGE_LINES",
    "_lines",
    "_pdf_page_text",
    "_without_page_furniture",
    "_without_text_furniture",
    "article_author",
    "decode_bytes",
    "list_documents",
    "load_source",
    "parse_text",
    "read_document",
    "read_text",
]
