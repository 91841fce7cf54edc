"""Reading a file: by its suffix, the format's reader gives the decoded text (that all
offsets refer to), and :func:`.structure.parse_text` recovers its articles."""

from __future__ import annotations

import hashlib
from pathlib import Path

from .decoding import _text_source
from .docx import _docx_source
from .html import _html_source
from .markdown import _markdown_source
from .pdf import _pdf_source
from .records import (
    MARKDOWN_SUFFIXES,
    MAX_DOCUMENT_BYTES,
    SUPPORTED_SUFFIXES,
    Document,
    DocumentError,
    Source,
)
from .structure import parse_text


def load_source(path: Path, data: bytes | None = None) -> Source:
    """The decoded text of a file (that all offsets refer to) and its format's metadata."""
    suffix = path.suffix.lower()
    if data is None:
        data = path.read_bytes()
    try:
        if suffix in (".html", ".htm"):
            return _html_source(data)
        if suffix == ".docx":
            return _docx_source(data)
        if suffix == ".pdf":
            return _pdf_source(data)
    except DocumentError:
        raise
    except Exception as exc:  # library-specific parse errors
        raise DocumentError(f"cannot parse {suffix} file: {type(exc).__name__}: {exc}") from exc
    if suffix in MARKDOWN_SUFFIXES:
        return _markdown_source(data)
    return _text_source(data)


def read_text(path: Path, data: bytes | None = None) -> tuple[str, str]:
    """The decoded text of a file that all offsets refer to, and how it was decoded."""
    src = load_source(path, data)
    return src.text, src.encoding


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
        src = load_source(path, data)
    except DocumentError as exc:
        raise DocumentError(f"{path.name}: {exc}") from exc
    return parse_text(src.text, name or path.name, hashlib.sha256(data).hexdigest(), src.encoding, meta=src)


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
