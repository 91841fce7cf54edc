"""Reading a file: by its suffix, the format's reader gives the decoded text (that all
offsets refer to), and :func:`.structure.parse_text` recovers its articles."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from ..messages import Reason
from .decoding import _text_source
from .docx import _docx_source
from .html import _html_source
from .images import (
    Pages,
    Progress,
    image_source,
    load_boxes,
    load_failure,
    load_recognised,
    open_pages,
    save_failure,
    save_recognised,
)
from .markdown import _markdown_source
from .pdf import _page_image, _pdf_source
from .records import (
    IMAGE_SUFFIXES,
    MARKDOWN_SUFFIXES,
    MAX_DOCUMENT_BYTES,
    SUPPORTED_SUFFIXES,
    Document,
    DocumentError,
    OcrFailed,
    ReaderUnavailable,
    Source,
)
from .structure import parse_text

log = logging.getLogger(__name__)


def load_source(
    path: Path, data: bytes | None = None, *, recognised: Path | None = None, progress: Progress | None = None,
) -> Source:
    """The decoded text of a file (that all offsets refer to) and its format's metadata.

    ``recognised`` is the folder where text read through OCR is kept (beside the index):
    a scanned document found there under its file's hash is not read again, and one read
    now is kept there, with its pages' boxes.  Text that other reading-order code wrote
    (another :func:`.images.reading_key`) is written anew from the kept boxes, without OCR
    (OCR runs again only for boxes of another engine or :data:`.ocr.BOXES_VERSION`).  Why a
    scanned document could not be read (corrupt, too large, no text found) is kept too: the same
    file raises the same :class:`DocumentError` without being read again, unless the failure
    was this installation's (:class:`ReaderUnavailable`).
    ``progress(page, pages)`` is called after each page read through OCR.
    """
    suffix = path.suffix.lower()
    if data is None:
        data = path.read_bytes()
    scannable = suffix in IMAGE_SUFFIXES or suffix == ".pdf"
    sha256 = hashlib.sha256(data).hexdigest() if scannable and recognised is not None else ""
    boxes: Pages = {}  # pages read through OCR: kept ones, and those read now
    if sha256:
        kept = load_recognised(recognised, sha256)
        if kept is not None:
            return kept
        failed = load_failure(recognised, sha256)
        if failed is not None:
            raise DocumentError(failed)
        boxes = load_boxes(recognised, sha256) or {}
    if boxes:  # no page is read through OCR: no progress to show
        progress = None
    try:
        if suffix in (".html", ".htm"):
            return _html_source(data)
        if suffix == ".docx":
            return _docx_source(data)
        if suffix == ".pdf":
            src = _pdf_source(data, progress, boxes)
        elif suffix in IMAGE_SUFFIXES:
            src = image_source(data, progress, boxes)
        else:
            src = None
    except ReaderUnavailable:
        raise
    except DocumentError as exc:
        _remember_failure(recognised, sha256, exc.reason, path.name, retry=isinstance(exc, OcrFailed))
        raise
    except Exception as exc:  # library-specific parse errors
        error = DocumentError.of("cannot_parse", suffix=suffix, detail=f"{type(exc).__name__}: {exc}")
        _remember_failure(recognised, sha256, error.reason, path.name)
        raise error from exc
    if src is not None:
        if sha256 and src.lines:
            try:
                save_recognised(recognised, sha256, src, boxes)
            except OSError as exc:  # the index can still be built; the next run reads it again
                log.warning("cannot keep the recognised text of %s: %s", path.name, exc)
        return src
    if suffix in MARKDOWN_SUFFIXES:
        return _markdown_source(data)
    return _text_source(data)


def _remember_failure(recognised: Path | None, sha256: str, reason: Reason, name: str, *, retry: bool = False) -> None:
    if not sha256 or recognised is None:
        return
    try:
        save_failure(recognised, sha256, reason, retry=retry)
    except OSError as exc:  # the next build reads the file again, no worse than before
        log.warning("cannot remember why %s was not read: %s", name, exc)


def read_text(path: Path, data: bytes | None = None, *, recognised: Path | None = None) -> tuple[str, str]:
    """The decoded text of a file that all offsets refer to, and how it was decoded
    (``recognised``: see :func:`load_source`)."""
    src = load_source(path, data, recognised=recognised)
    return src.text, src.encoding


def read_document(
    path: Path, name: str | None = None, *, recognised: Path | None = None, progress: Progress | None = None,
) -> Document:
    """Read and structure one file; raises :class:`DocumentError` with a clear reason
    (``recognised``, ``progress``: see :func:`load_source`)."""
    path = Path(path)
    supported = ", ".join(SUPPORTED_SUFFIXES)
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        kind, values = ("unsupported_type", {"suffix": path.suffix}) if path.suffix else ("no_suffix", {})
        raise DocumentError(Reason(kind, {**values, "supported": supported}, path.name))
    try:
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise DocumentError(Reason("too_big", {"mb": size / 1e6, "limit": MAX_DOCUMENT_BYTES // 2**20}, path.name))
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(Reason("cannot_read", {"detail": exc.strerror or str(exc)}, path.name)) from exc
    try:
        src = load_source(path, data, recognised=recognised, progress=progress)
    except DocumentError as exc:
        raise type(exc)(exc.reason.named(path.name)) from exc
    return parse_text(src.text, name or path.name, hashlib.sha256(data).hexdigest(), src.encoding, meta=src)


def page_image(path: Path, page: int):
    """The image of a scanned document's ``page`` (1-based) as OCR read it, so its lines' boxes
    are in its pixels: an image file's page (a TIFF's frame) or the scan on a PDF page; None
    when there is none or the file cannot be read (the caller shows the text alone)."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        data = path.read_bytes()
        if suffix in IMAGE_SUFFIXES:
            pages = open_pages(data)
            return pages[page - 1] if 0 < page <= len(pages) else None
        if suffix == ".pdf":
            import io

            from pypdf import PdfReader

            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted:
                reader.decrypt("")
            return _page_image(reader.pages[page - 1]) if 0 < page <= len(reader.pages) else None
    except Exception as exc:  # unreadable now (gone, corrupt, encrypted): no image, not an error
        log.warning("cannot show page %d of %s: %s: %s", page, path.name, type(exc).__name__, exc)
    return None


def list_documents(seeds_dir: Path) -> list[Path]:
    """Supported files under ``seeds_dir`` (recursive, sorted, hidden files skipped)."""
    seeds_dir = Path(seeds_dir)
    if not seeds_dir.is_dir():
        raise DocumentError.of("no_folder", folder=str(seeds_dir))
    out = []
    for p in sorted(seeds_dir.rglob("*")):
        rel = p.relative_to(seeds_dir)
        if any(part.startswith(".") for part in rel.parts) or not p.is_file():
            continue
        if p.suffix.lower() in SUPPORTED_SUFFIXES:
            out.append(p)
    return out
