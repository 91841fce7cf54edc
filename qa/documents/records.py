"""The records a document is read into: :class:`Document` (articles of blocks, with exact
``spans`` into the decoded text), :class:`Source` (a file's decoded text and what its format
says), and :class:`DocumentError`, the one error a reader raises (its reason has a kind, so the
app can say it in Chinese: see :mod:`qa.messages`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..messages import ReasonedError
from ..records import Span

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp")  # read through OCR
SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".docx", ".pdf", *IMAGE_SUFFIXES)
MARKDOWN_SUFFIXES = (".md", ".markdown")
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
BODY_KINDS = ("paragraph", "item", "code")


class DocumentError(ReasonedError, ValueError):
    """A document that can't be read: its ``reason`` (a :class:`qa.messages.Reason`) names the
    file and why; ``str()`` is the English."""


class ReaderUnavailable(DocumentError):
    """A document that this installation cannot read (a missing extra, system library or
    decryption library), not a fault of the file: the same file may read elsewhere, or
    here once it is installed, so the failure is never remembered as the file's."""


class OcrFailed(DocumentError):
    """The OCR engine failed on a page (an exception inside it). That may be the page or the
    moment (memory, another process), so it is remembered as the file's failure only when it
    happens again on the next reading (:data:`.images.OCR_TRIES`)."""


@dataclass(frozen=True)
class Block:
    """A piece of an article.

    ``kind`` is subtitle, byline, heading, paragraph, item (a list item or table row,
    without its marker), code or caption; ``level`` is a Markdown heading's level.
    """

    kind: str
    text: str
    spans: tuple[Span, ...]
    level: int = 0


@dataclass(frozen=True)
class Article:
    number: int  # 1-based within the document
    title: str
    title_spans: tuple[Span, ...]
    subtitle: Block | None
    byline: Block | None
    blocks: tuple[Block, ...]  # headings, body blocks and captions in reading order

    @property
    def paragraphs(self) -> list[Block]:
        """Body blocks: paragraphs, list items and table rows, code blocks."""
        return [b for b in self.blocks if b.kind in BODY_KINDS]

    @property
    def captions(self) -> list[Block]:
        return [b for b in self.blocks if b.kind == "caption"]

    @property
    def headings(self) -> list[Block]:
        return [b for b in self.blocks if b.kind == "heading"]


@dataclass(frozen=True)
class TextLine:
    """A line that OCR read on a scanned page: where it stands on the page and in the text.

    ``page`` is 1-based (a PDF's page number, a TIFF's frame); ``box`` is ``(x0, y0, x1, y1)``
    in the pixels of the page image as read (before any scaling for OCR); ``start``/``end``
    are offsets into the document's text; ``confidence`` is OCR's (0-1).
    """

    page: int
    box: tuple[int, int, int, int]
    start: int
    end: int
    confidence: float

    def to_json(self) -> list:
        return [self.page, list(self.box), self.start, self.end, round(self.confidence, 4)]

    @classmethod
    def from_json(cls, d: list) -> TextLine:
        page, box, start, end, conf = d
        return cls(int(page), tuple(int(v) for v in box), int(start), int(end), float(conf))


@dataclass(frozen=True)
class Document:
    """A structured document.  ``title``, ``date`` (ISO, as precise as known), ``source``
    (publisher or site) and ``author`` are for citations; any of them may be empty."""

    name: str  # file name relative to the seeds folder
    text: str  # the decoded source text that all offsets refer to
    sha256: str  # of the raw file bytes
    articles: tuple[Article, ...]
    encoding: str = "utf-8"
    warnings: tuple[str, ...] = field(default=())
    title: str = ""
    date: str = ""
    source: str = ""
    author: str = ""
    lines: tuple[TextLine, ...] = ()  # a scanned document's recognised lines, in text order


@dataclass(frozen=True)
class Source:
    """A file's decoded text and what its format says about it."""

    text: str
    encoding: str
    markdown: bool = False  # list items, tables and code fences are syntax
    title: str = ""
    date: str = ""
    source: str = ""
    author: str = ""
    lines: tuple[TextLine, ...] = ()  # what OCR read, when the text was recognised on page images
    pages: int = 0  # pages read through OCR
