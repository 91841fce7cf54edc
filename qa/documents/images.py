"""Scanned pages: image files (.png, .jpg/.jpeg, .tif/.tiff with several pages, .webp)
read through OCR, and the recognised text kept beside the index.

Each page goes through the OCR engine (:mod:`.ocr`), its boxes are put in reading order
(:mod:`.reading_order`: columns and blocks, not top to bottom across the page), and the
page is written as text that the structure recovery of :mod:`.structure` reads like a
text file's (headline, byline, paragraphs, wrapped lines rejoined); pages are separated
by form feeds, so running headers and page numbers are left out and a paragraph cut by a
page break is rejoined.  That recognised text is the document's text: offsets point into
it, and every recognised line keeps its page, box and confidence (:class:`.TextLine`).

OCR is slow, and a second run need not read the same: :func:`save_recognised` keeps a
document's recognised text in a folder beside the index, under its file's SHA-256, and
:func:`load_source` reads it from there instead of running OCR again.  Kept with it are the
boxes OCR found on each page and what code read them (:func:`reading_key`): text read by
other reading-order code (:data:`.reading_order.READING_VERSION`) is written anew from the
kept boxes, without OCR; boxes of another engine, or of other code making boxes of its
result (:data:`.ocr.BOXES_VERSION`), are read through OCR again.  A file that could not
be read (corrupt, too large, no text found) is remembered there too (:func:`save_failure`),
with its reason, so an unchanged file is not read again on every build; a changed file has
another hash and is read anew.  A crash inside the OCR engine is remembered only when the
next build meets it again.  :func:`prune_recognised` removes what is kept for files that
are gone.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from ..messages import REASONS, Reason
from . import ocr, reading_order
from .reading_order import TextBox, page_lines, page_text
from .records import DocumentError, OcrFailed, Source, TextLine

log = logging.getLogger(__name__)

MAX_PIXELS = 80_000_000  # a page larger than this (in pixels) is refused: a decompression bomb, or no page
MAX_PAGES = 200
LOW_CONFIDENCE = 0.8  # a line that OCR read with less confidence than this is marked in citations
STORE_VERSION = 2  # 2: the pages' boxes are kept with the text, and what code read it (reading_key)

Progress = Callable[[int, int], None]  # (pages read, pages): (0, N) before the first is read through OCR
# A document's pages as OCR read them, page number (1-based) -> its boxes: a reader given them
# uses them instead of OCR, and adds the pages it reads through OCR.
Pages = dict[int, list[TextBox]]


def reading_key() -> str:
    """What code read a scan's text from its page images: the OCR engine, what is made of its
    result (:data:`.ocr.BOXES_VERSION`) and the reading order (:data:`.reading_order.READING_VERSION`).

    Kept text is used only under this key, and the index records it per scanned document: a
    scan indexed under another key is read again by the next build.  ``""`` is the key of
    text kept before keys were recorded.
    """
    return f"{ocr.ENGINE}; boxes v{ocr.BOXES_VERSION}; reading v{reading_order.READING_VERSION}"


def open_pages(data: bytes) -> list:
    """The pages of an image file as RGB PIL images (a TIFF's frames; one page for the rest).

    A page over :data:`ocr.MAX_SIDE` pixels on its longer side is scaled down to it (its
    boxes are scaled back); one over :data:`MAX_PIXELS` is refused, as are a corrupt
    image and a file that is no image.
    """
    from PIL import Image, ImageSequence, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            frames = getattr(img, "n_frames", 1)
            if frames > MAX_PAGES:
                raise DocumentError.of("too_many_pages", pages=frames, limit=MAX_PAGES)
            pages = []
            for frame in ImageSequence.Iterator(img):
                w, h = frame.size
                if w * h > MAX_PIXELS:
                    raise DocumentError.of("too_many_pixels", w=w, h=h, mp=w * h / 1e6, limit=MAX_PIXELS / 1e6)
                pages.append(frame.convert("RGB"))
    except DocumentError:
        raise
    except UnidentifiedImageError as exc:
        raise DocumentError.of("not_an_image") from exc
    except Image.DecompressionBombError as exc:
        raise DocumentError.of("image_bomb", detail=str(exc)) from exc
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt data
        raise DocumentError.of("image_corrupt", detail=str(exc)) from exc
    if not pages:
        raise DocumentError.of("no_pages")
    return pages


def recognise_page(image) -> list[TextBox]:
    """A page image's text boxes in the image's own pixels (scaled for OCR when it is huge)."""
    w, h = image.size
    scale = min(1.0, ocr.MAX_SIDE / max(w, h))
    if scale < 1.0:
        image = image.resize((max(1, round(w * scale)), max(1, round(h * scale))))
    try:
        boxes = ocr.recognise(image)
    except DocumentError:  # OCR missing here, or the page refused: already a reason
        raise
    except Exception as exc:  # inside the engine: tried again on the next build (save_failure)
        raise OcrFailed.of("ocr_failed", detail=f"{type(exc).__name__}: {exc}") from exc
    if scale < 1.0:
        boxes = [
            TextBox(tuple(v / scale for v in b.box), b.text, b.confidence, b.shown and tuple(v / scale for v in b.shown))
            for b in boxes
        ]
    return boxes


def scanned_text(pages: list[list[TextBox]], numbers: list[int] | None = None) -> tuple[str, tuple[TextLine, ...]]:
    """Recognised pages as one text (pages separated by a form feed) and its lines.

    ``numbers`` are the pages' 1-based numbers (default: 1, 2, …).
    """
    numbers = numbers or list(range(1, len(pages) + 1))
    parts: list[str] = []
    lines: list[TextLine] = []
    pos = 0
    for number, boxes in zip(numbers, pages):
        ordered = page_lines(boxes)
        text, offsets = page_text(ordered)
        if not text:
            continue
        if parts:
            parts.append("\n\f")
            pos += 2
        for ln, (s, e) in zip(ordered, offsets):
            box = tuple(round(v) for v in ln.shown)
            lines.append(TextLine(number, box, pos + s, pos + e, ln.confidence))
        parts.append(text)
        pos += len(text)
    return "".join(parts) + ("\n" if parts else ""), tuple(lines)


def image_source(data: bytes, progress: Progress | None = None, boxes: Pages | None = None) -> Source:
    """An image file's recognised text (see the module's description).

    ``boxes``: pages read before, used instead of OCR; the pages read now are added to it.
    ``progress`` is called for the pages read through OCR.
    """
    pages = open_pages(data)
    read = boxes if boxes is not None else {}
    found: list[list[TextBox]] = []
    if progress is not None and len(read) < len(pages):
        progress(0, len(pages))
    for i, page in enumerate(pages, 1):
        if i not in read:
            read[i] = recognise_page(page)
            if progress is not None:
                progress(i, len(pages))
        found.append(read[i])
    text, lines = scanned_text(found)
    if not text.strip():
        raise DocumentError.of("ocr_no_text")
    return Source(text, "ocr", False, lines=lines, pages=len(pages))


def lines_at(lines: Sequence[TextLine], spans: Sequence[tuple[int, int]]) -> list[TextLine]:
    """The recognised ``lines`` that text at ``spans`` (offsets into the document's text) stands on."""
    return [ln for ln in lines if any(s < ln.end and ln.start < e for s, e in spans)]


# ---------------------------------------------------------------- the recognised text beside the index


_STORED = re.compile(r"([0-9a-f]{64})(?:\.failed)?\.json")  # what the store holds: recognised text, failures


def _store_path(folder: Path, sha256: str) -> Path:
    return Path(folder) / f"{sha256}.json"


def _failure_path(folder: Path, sha256: str) -> Path:
    return Path(folder) / f"{sha256}.failed.json"


def _write_atomic(path: Path, body: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def _box_json(b: TextBox) -> list:
    return [list(b.box), b.text, b.confidence, list(b.shown) if b.shown else None]


def _box_from_json(d: list) -> TextBox:
    box, text, confidence, shown = d
    return TextBox(_four(box), str(text), float(confidence), _four(shown) if shown else None)


def _four(v: list) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = v
    return (x0, y0, x1, y1)


def save_recognised(folder: Path, sha256: str, src: Source, boxes: Pages | None = None) -> None:
    """Keep a document's recognised text (and its lines) under its file's hash, atomically,
    with the pages' ``boxes`` as OCR read them (exactly: the text can be written anew from
    them) and the key of the code that read it (:func:`reading_key`)."""
    body = {
        "version": STORE_VERSION, "engine": ocr.ENGINE, "boxes_version": ocr.BOXES_VERSION,
        "reading": reading_key(), "sha256": sha256, "encoding": src.encoding,
        "markdown": src.markdown, "title": src.title, "date": src.date, "source": src.source,
        "author": src.author, "pages": src.pages, "text": src.text, "lines": [ln.to_json() for ln in src.lines],
        "boxes": {str(n): [_box_json(b) for b in page] for n, page in sorted((boxes or {}).items())},
    }
    _write_atomic(_store_path(folder, sha256), body)
    _failure_path(folder, sha256).unlink(missing_ok=True)


# An OCR engine crash on a file is remembered (the file not read again while unchanged) once
# it has happened this many times in a row: a passing cause (memory, a signal) gets another try.
OCR_TRIES = 2


def _limits() -> list[int]:
    """What a remembered failure depends on besides the file: a failure under other limits is read again."""
    return [MAX_PIXELS, MAX_PAGES, ocr.MAX_SIDE]


def save_failure(folder: Path, sha256: str, reason: Reason, *, retry: bool = False) -> None:
    """Remember that the file with this hash could not be read, and why (the reason without
    the file's name: its kind and values, and its English for people), so that a build does
    not read it again while it is unchanged.

    ``retry``: a failure that may not be the file's (the OCR engine crashed): it counts its
    tries, and :func:`load_failure` holds it only from the :data:`OCR_TRIES`-th on.
    """
    tries = 1
    if retry:
        try:
            before = json.loads(_failure_path(folder, sha256).read_text(encoding="utf-8"))
            if isinstance(before, dict) and before.get("kind") == reason.kind and before.get("limits") == _limits():
                tries = int(before.get("tries", 1)) + 1
        except (OSError, ValueError, TypeError):
            pass
    body = {
        "version": STORE_VERSION, "engine": ocr.ENGINE, "limits": _limits(), "sha256": sha256,
        "reason": reason.named("").text("en"), "kind": reason.kind, "values": dict(reason.values),
        "retry": retry, "tries": tries,
    }
    _write_atomic(_failure_path(folder, sha256), body)


def load_failure(folder: Path | None, sha256: str) -> Reason | None:
    """Why the file with this hash could not be read, when :func:`save_failure` remembered it
    with this engine and these limits; else None (read it).  A failure remembered without a
    kind that the app can word (before kinds were kept) is read again too."""
    if folder is None:
        return None
    path = _failure_path(folder, sha256)
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(body, dict):
            raise ValueError("not a JSON object")
        if (body.get("version"), body.get("engine"), body.get("limits"), body.get("sha256")) != (
            STORE_VERSION, ocr.ENGINE, _limits(), sha256
        ):
            return None
        reason = Reason(str(body["kind"]), dict(body["values"]))
        if reason.kind not in REASONS or (body.get("retry") and int(body.get("tries", 1)) < OCR_TRIES):
            return None
        for lang in ("zh", "en"):
            reason.text(lang)  # KeyError or ValueError when the values don't fit the words: read again
        return reason
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("remembered failure %s unreadable (%s): reading the file again", path, exc)
        return None


def prune_recognised(folder: Path, keep: Iterable[str]) -> list[str]:
    """Remove the recognised text and remembered failures of files whose hash is not in
    ``keep`` (documents removed or replaced); returns the names of the files removed.
    Nothing else in ``folder`` is touched."""
    keep = set(keep)
    removed: list[str] = []
    try:
        entries = list(Path(folder).iterdir())
    except FileNotFoundError:
        return removed
    for path in entries:
        m = _STORED.fullmatch(path.name)
        if m and m.group(1) not in keep:
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:
                log.warning("cannot remove %s: %s", path, exc)
                continue
            removed.append(path.name)
    return sorted(removed)


def is_kept(folder: Path, sha256: str) -> bool:
    """Whether recognised text is kept for the file with this hash (read by any code)."""
    return _store_path(folder, sha256).is_file()


def _kept_body(folder: Path, sha256: str) -> dict | None:
    """What :func:`save_recognised` kept for this hash (or a version-1 entry), else None."""
    path = _store_path(folder, sha256)
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("recognised text %s unreadable (%s): reading the file again", path, exc)
        return None
    if not isinstance(body, dict) or body.get("version") not in (1, STORE_VERSION) or body.get("sha256") != sha256:
        return None
    return body


def load_boxes(folder: Path | None, sha256: str) -> Pages | None:
    """The pages' boxes kept with a document's recognised text when this engine and this
    version of :func:`.ocr.text_boxes` read them (its text can then be written anew without
    OCR), else None."""
    body = _kept_body(folder, sha256) if folder is not None else None
    if body is None or (body.get("engine"), body.get("boxes_version")) != (ocr.ENGINE, ocr.BOXES_VERSION):
        return None
    try:
        return {int(n): [_box_from_json(b) for b in page] for n, page in body["boxes"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("boxes kept for %s unreadable (%s): reading the file through OCR again", sha256, exc)
        return None


def load_recognised(folder: Path | None, sha256: str, reading: str | None = None) -> Source | None:
    """A document's recognised text kept by :func:`save_recognised` when the code that read it
    had the key ``reading`` (default: this code's, :func:`reading_key`; an index asks for the
    key it recorded, so its offsets point at the text they were taken from), else None."""
    if folder is None:
        return None
    path = _store_path(folder, sha256)
    body = _kept_body(folder, sha256)
    if body is None or body.get("reading", "") != (reading_key() if reading is None else reading):
        return None
    try:
        return Source(
            body["text"], body["encoding"], bool(body["markdown"]), body["title"], body["date"], body["source"],
            body["author"], tuple(TextLine.from_json(x) for x in body["lines"]), int(body["pages"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("recognised text %s unreadable (%s): reading the file again", path, exc)
        return None
