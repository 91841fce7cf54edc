"""Reading documents and recovering the structure of a newspaper page.

``read_document(path)`` decodes a file (text encodings are detected; .html, .docx and
.pdf go through their libraries) and recovers articles: headline (joined when split
over lines), subtitle, byline, section headings, body paragraphs (repaired when the
layout cut them in two) and photo captions.  Every piece keeps exact ``spans`` into
the decoded text, so citations can be checked against the source.
"""

from __future__ import annotations

import hashlib
import logging
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from .records import Span, join_spans
from .text import PARAGRAPH_END

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".docx", ".pdf")
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024


class DocumentError(ValueError):
    """A document that can't be read; the message names the file and the reason."""


@dataclass(frozen=True)
class Block:
    """A piece of an article: ``kind`` is headline, subtitle, byline, heading, paragraph or caption."""

    kind: str
    text: str
    spans: tuple[Span, ...]


@dataclass(frozen=True)
class Article:
    number: int  # 1-based within the document
    title: str
    title_spans: tuple[Span, ...]
    subtitle: Block | None
    byline: Block | None
    blocks: tuple[Block, ...]  # headings, paragraphs and captions in reading order

    @property
    def paragraphs(self) -> list[Block]:
        return [b for b in self.blocks if b.kind == "paragraph"]

    @property
    def captions(self) -> list[Block]:
        return [b for b in self.blocks if b.kind == "caption"]

    @property
    def headings(self) -> list[Block]:
        return [b for b in self.blocks if b.kind == "heading"]


@dataclass(frozen=True)
class Document:
    name: str  # file name relative to the seeds folder
    text: str  # the decoded source text that all offsets refer to
    sha256: str  # of the raw file bytes
    articles: tuple[Article, ...]
    encoding: str = "utf-8"
    warnings: tuple[str, ...] = field(default=())


# ---------------------------------------------------------------- decoding


def _looks_like_text(text: str) -> bool:
    if not text:
        return True
    bad = sum(1 for ch in text if (ord(ch) < 32 and ch not in "\t\n\r\f\v") or ch == "\ufffd")
    return bad / len(text) < 0.01


def _mostly_chinese(text: str) -> bool:
    """Latin-1, CJK ideographs, kana and CJK/general/full-width punctuation: >= 90% of ``text``."""
    ok = sum(
        1
        for ch in text
        if ord(ch) < 0x100 or 0x2000 <= ord(ch) < 0x2070 or 0x3000 <= ord(ch) < 0x3100
        or 0x3400 <= ord(ch) < 0xA000 or 0xFF00 <= ord(ch) < 0xFFF0
    )
    return ok >= 0.9 * len(text)


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode text bytes, detecting the encoding; returns ``(text, encoding)``.

    Order: byte-order marks (UTF-8/16/32), UTF-16 without BOM (many NULs), strict UTF-8,
    UTF-16 without BOM (a few NULs, decoding to Chinese), strict GB18030 (covers
    GBK/GB2312), then charset-normalizer's best guess.  Raises :class:`DocumentError`
    when nothing yields plausible text (binary junk).
    """
    boms = [
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\xff\xfe\x00\x00", "utf-32"),
        (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ]
    candidates: list[str] = [enc for bom, enc in boms if data.startswith(bom)][:1]
    guarded = ""  # a guess that must also decode to mostly Chinese text
    if not candidates:
        head = data[:2000]
        even, odd = head[0::2].count(0), head[1::2].count(0)
        utf16 = "utf-16-be" if even > odd else "utf-16-le"
        if even + odd > len(head) // 4:
            candidates.append(utf16)
        candidates.append("utf-8")
        if 0 < even + odd <= len(head) // 4:
            # Chinese UTF-16 has NULs only where it has ASCII (a headline and a newline: 1-2);
            # UTF-8 and GB text have none.  Too few for charset-normalizer to be sure.
            guarded = utf16
            candidates.append(utf16)
        candidates.append("gb18030")
    for enc in candidates:
        try:
            text = data.decode(enc)
        except (UnicodeDecodeError, LookupError):
            continue
        if _looks_like_text(text) and (enc != guarded or _mostly_chinese(text)):
            return text, enc
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
    except Exception:  # pragma: no cover - detector failure is treated as undecodable
        best = None
    if best is not None:
        text = str(best)
        if _looks_like_text(text):
            return text, best.encoding
    raise DocumentError("cannot detect a text encoding (binary file, or an unsupported encoding)")


def _html_to_text(data: bytes) -> str:
    from bs4 import BeautifulSoup

    html, _ = decode_bytes(data)
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "head"]):
        tag.decompose()
    blocks = []
    block_tags = ["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "figcaption", "blockquote", "pre", "td", "div"]
    for el in soup.find_all(block_tags):
        if el.find(block_tags):  # only leaf-level blocks, so text is not repeated
            continue
        t = " ".join(el.get_text(" ", strip=True).split())
        if t:
            prefix = "# " if el.name == "h1" else ("## " if el.name in ("h2", "h3") else "")
            blocks.append(prefix + t)
    if not blocks:
        blocks = [line.strip() for line in soup.get_text("\n").splitlines() if line.strip()]
    return "\n\n".join(blocks) + "\n"


def _docx_to_text(data: bytes) -> str:
    import io

    import docx

    d = docx.Document(io.BytesIO(data))
    out = []
    for p in d.paragraphs:
        t = p.text.strip()
        if not t:
            continue
        style = (p.style.name or "").lower() if p.style is not None else ""
        if style.startswith("title") or style == "heading 1":
            t = "# " + t
        elif style.startswith("heading"):
            t = "## " + t
        out.append(t)
    return "\n\n".join(out) + "\n"


def _pdf_to_text(data: bytes) -> str:
    import io

    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    pages = [(page.extract_text() or "").strip() for page in reader.pages]
    text = "\n".join(p for p in pages if p)
    if not text.strip():
        raise DocumentError("the PDF has no text layer (scanned images are not supported)")
    return text + "\n"


def read_text(path: Path, data: bytes | None = None) -> tuple[str, str]:
    """The decoded text of a file that all offsets refer to, and how it was decoded."""
    suffix = path.suffix.lower()
    if data is None:
        data = path.read_bytes()
    try:
        if suffix in (".html", ".htm"):
            return _html_to_text(data), "html"
        if suffix == ".docx":
            return _docx_to_text(data), "docx"
        if suffix == ".pdf":
            return _pdf_to_text(data), "pdf"
    except DocumentError:
        raise
    except Exception as exc:  # library-specific parse errors
        raise DocumentError(f"cannot parse {suffix} file: {type(exc).__name__}: {exc}") from exc
    text, enc = decode_bytes(data)
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text, enc


# ---------------------------------------------------------------- structure

_BYLINE_LINE = re.compile(r"^(本报记者|本报通讯员|记者|通讯员|特约记者|文[/／:：]|图[/／:：]|作者[:：]|来源[:：])")
_BYLINE_PREFIX = re.compile(r"^(本报讯|本报[^\s，。]{1,6}电|[^\s，。]{1,8}讯)\s*[（(][^）)\n]{1,40}[）)]")
_CAPTION_END = re.compile(r"(摄|摄影|供图|图源[^。]{0,20})\s*[）)]?$")
_MD_HEADING = re.compile(r"^(#{1,6})\s+")
_SENT_INSIDE = re.compile(r"[。！？!?；;]")
MAX_HEADING = 40
MAX_CAPTION = 160


@dataclass
class _Raw:
    text: str
    spans: tuple[Span, ...]
    gap_before: int  # blank lines before this block
    md_level: int = 0
    kind: str = ""


def _raw_blocks(text: str) -> list[_Raw]:
    lines = []
    pos = 0
    for line in text.split("\n"):
        lines.append((pos, line))
        pos += len(line) + 1
    items: list[tuple[int, int, int]] = []  # (start, end, blank lines before)
    blank = 0
    for start, line in lines:
        stripped = line.strip()
        if not stripped:
            blank += 1
            continue
        s = start + (len(line) - len(line.lstrip()))
        e = s + len(stripped)
        items.append((s, e, blank))
        blank = 0
    if not items:
        return []
    gaps = [g for _, _, g in items[1:]]
    blank_separated = bool(gaps) and statistics.median(gaps) >= 1
    raws: list[_Raw] = []
    for s, e, g in items:
        if blank_separated and raws and g == 0:  # a hard-wrapped line continues its block
            prev = raws[-1]
            prev.spans = prev.spans + ((s, e),)
            prev.text += text[s:e]
            continue
        raws.append(_Raw(text[s:e], ((s, e),), g))
    for r in raws:
        m = _MD_HEADING.match(r.text)
        if m:
            cut = m.end()
            s, e = r.spans[0]
            r.spans = ((s + cut, e),) + r.spans[1:]
            r.text = r.text[cut:]
            r.md_level = len(m.group(1))
    return [r for r in raws if r.text.strip()]


def _is_heading_like(t: str) -> bool:
    return (
        len(t) <= MAX_HEADING
        and not t.endswith(("。", "！", "？", "!", "?", "；", ";", "…", "，", ",", "、", "."))
        and not _SENT_INSIDE.search(t)
    )


def _ends_complete(t: str) -> bool:
    return t.rstrip().endswith(PARAGRAPH_END)


def _classify(raws: list[_Raw]) -> None:
    gaps = [r.gap_before for r in raws[1:]]
    typical = statistics.median(gaps) if gaps else 0
    for i, r in enumerate(raws):
        t = r.text
        nxt = raws[i + 1] if i + 1 < len(raws) else None
        if r.md_level:
            r.kind = "heading"
        elif _BYLINE_LINE.match(t) and len(t) <= 60 and not _SENT_INSIDE.search(t):
            r.kind = "byline"
        elif t.startswith(("——", "—", "--")) and len(t) <= 80:
            r.kind = "subtitle"
        elif len(t) <= MAX_CAPTION and _CAPTION_END.search(t) and not _BYLINE_PREFIX.match(t):
            r.kind = "caption"
        elif _is_heading_like(t):
            r.kind = "heading"
        elif (
            i > 0
            and r.gap_before > typical >= 1
            and len(t) <= MAX_CAPTION
            and nxt is not None
            and nxt.gap_before <= r.gap_before
        ):
            # Set apart by a wider gap than the page's paragraphs: a photo caption.
            r.kind = "caption"
        else:
            r.kind = "paragraph"
    # A short line between the two halves of a cut paragraph is a caption too.
    for i in range(1, len(raws) - 1):
        prev, mid, nxt = raws[i - 1], raws[i], raws[i + 1]
        if (
            mid.kind == "paragraph"
            and prev.kind == "paragraph"
            and nxt.kind == "paragraph"
            and not _ends_complete(prev.text)
            and len(mid.text) <= MAX_CAPTION // 2
            and len(mid.text) < len(prev.text)
        ):
            mid.kind = "caption"


def _starts_article(raws: list[_Raw], i: int) -> int:
    """If an article header starts at ``i``, return how many heading lines form its headline."""
    j = i
    while j < len(raws) and raws[j].kind == "heading" and not raws[j].md_level:
        j += 1
    n = j - i
    if n == 0 or n > 3:
        return 0
    k = j
    if k < len(raws) and raws[k].kind == "subtitle":
        k += 1
    if k < len(raws) and (raws[k].kind == "byline" or _BYLINE_PREFIX.match(raws[k].text)):
        return n
    return 0


def _blocks_to_articles(raws: list[_Raw], fallback_title: str, source: str) -> list[Article]:
    # Article starts: markdown level-1 headings if present, else headline + byline pattern.
    starts: dict[int, int] = {}
    if any(r.md_level == 1 for r in raws):
        for i, r in enumerate(raws):
            if r.md_level == 1:
                starts[i] = 1
    else:
        i = 0
        while i < len(raws):
            n = _starts_article(raws, i)
            if n:
                starts[i] = n
                i += n
            else:
                i += 1
        if 0 not in starts and raws and raws[0].kind == "heading":
            n = 1
            while n < len(raws) and n < 3 and raws[n].kind == "heading" and not raws[n].md_level:
                n += 1
            # Only the first line is the headline unless the next ones lead to a byline.
            starts[0] = n if n > 1 and _starts_article(raws, 0) else 1
    if not starts:
        starts[0] = 0
    order = sorted(starts)
    if order[0] != 0:  # text before the first headline becomes an untitled article
        starts[0] = 0
        order.insert(0, 0)
    articles: list[Article] = []
    for a, start in enumerate(order):
        end = order[a + 1] if a + 1 < len(order) else len(raws)
        n_head = starts[start]
        head = raws[start : start + n_head]
        rest = raws[start + n_head : end]
        title_spans = tuple(s for r in head for s in r.spans)
        title = join_spans(source, title_spans) if head else fallback_title
        subtitle = byline = None
        body: list[Block] = []
        for r in rest:
            if r.kind == "subtitle" and subtitle is None and not body and head:
                subtitle = Block("subtitle", r.text, r.spans)
                continue
            if r.kind == "byline" and byline is None and not body:
                byline = Block("byline", r.text, r.spans)
                continue
            m = _BYLINE_PREFIX.match(r.text) if r.kind == "paragraph" and not body else None
            if m and byline is None:
                cut = m.end()
                s0, e0 = r.spans[0]
                byline = Block("byline", r.text[:cut], ((s0, s0 + cut),))
                rest_spans = ((s0 + cut, e0),) + r.spans[1:]
                rest_text = join_spans(source, rest_spans)
                if rest_text.strip():
                    body.append(Block("paragraph", rest_text, rest_spans))
                continue
            kind = r.kind if r.kind in ("heading", "caption") else "paragraph"
            body.append(Block(kind, r.text, r.spans))
        articles.append(
            Article(a + 1, title, title_spans, subtitle, byline, tuple(_repair(body, source)))
        )
    return [a for a in articles if a.blocks or a.title_spans or a.byline]


def _repair(blocks: list[Block], source: str) -> list[Block]:
    """Join paragraphs that the layout cut mid-sentence (skipping captions in between)."""
    out: list[Block] = []
    pending: int | None = None  # index in out of a paragraph waiting for its continuation
    for b in blocks:
        if b.kind == "paragraph" and pending is not None:
            prev = out[pending]
            spans = prev.spans + b.spans
            out[pending] = Block("paragraph", join_spans(source, spans), spans)
            pending = pending if not _ends_complete(b.text) else None
            continue
        if b.kind == "heading":
            pending = None
        out.append(b)
        if b.kind == "paragraph" and not _ends_complete(b.text):
            pending = len(out) - 1
    return out


def parse_text(text: str, name: str, sha256: str = "", encoding: str = "utf-8") -> Document:
    """Recover articles from decoded text (the structure step, separate from I/O)."""
    raws = _raw_blocks(text)
    _classify(raws)
    fallback = Path(name).stem
    articles = _blocks_to_articles(raws, fallback, text)
    return Document(name, text, sha256, tuple(articles), encoding)


def read_document(path: Path, name: str | None = None) -> Document:
    """Read and structure one file; raises :class:`DocumentError` with a clear reason."""
    path = Path(path)
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise DocumentError(
            f"{path.name}: unsupported file type {path.suffix or '(none)'}; "
            f"supported: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    try:
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise DocumentError(
                f"{path.name}: {size / 1e6:.1f} MB is over the {MAX_DOCUMENT_BYTES // 2**20} MiB limit per document"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"{path.name}: cannot read: {exc.strerror or exc}") from exc
    try:
        text, enc = read_text(path, data)
    except DocumentError as exc:
        raise DocumentError(f"{path.name}: {exc}") from exc
    return parse_text(text, name or path.name, hashlib.sha256(data).hexdigest(), enc)


def list_documents(seeds_dir: Path) -> list[Path]:
    """Supported files under ``seeds_dir`` (recursive, sorted, hidden files skipped)."""
    seeds_dir = Path(seeds_dir)
    if not seeds_dir.is_dir():
        raise DocumentError(f"seeds folder not found: {seeds_dir}")
    out = []
    for p in sorted(seeds_dir.rglob("*")):
        rel = p.relative_to(seeds_dir)
        if any(part.startswith(".") for part in rel.parts) or not p.is_file():
            continue
        if p.suffix.lower() in SUPPORTED_SUFFIXES:
            out.append(p)
    return out
