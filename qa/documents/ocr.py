"""The OCR engine: RapidOCR (PP-OCRv4 Chinese detection and recognition, ONNX Runtime).

Its models ship inside the ``rapidocr-onnxruntime`` wheel: nothing is downloaded at run
time.  It is the optional extra ``[ocr]`` (part of ``[test]``): without it, or without the
system libraries that OpenCV loads (``libGL``, ``libglib``), an image is refused with a
message that says what to install, and every other format reads as before.
"""

from __future__ import annotations

import logging
import math
import statistics
import threading
from collections.abc import Callable
from dataclasses import replace

from .reading_order import Box, TextBox, is_vertical, page_lines
from .records import DocumentError, ReaderUnavailable

ENGINE = "rapidocr-onnxruntime 1.4.4 PP-OCRv4"
MAX_SIDE = 4000  # longer side, in pixels, that OCR sees (the engine's own default, 2000, blurs small print)
INSTALL_HINT = "pip install -e '.[ocr]'"
SPLIT_GAP = 1.2  # a gap in a recognised line this many line heights wide is a gutter, not a space
# What :func:`text_boxes` makes of the engine's result (skew, trimming, gutter splits).  The boxes
# kept beside the index are used only with this engine and this version: bump it when that
# changes, and the next build reads kept scans through OCR again (1: skew and gutter splits;
# 2: boxes trimmed to their characters, :func:`trim_to_words`; 3: a vertical page's columns
# read whole, :func:`read_columns`).
BOXES_VERSION = 3
# The confidence at most of a line of vertical text (see :func:`read_columns`): under
# :data:`.images.LOW_CONFIDENCE`, so its citations are marked and answers from it say so.
VERTICAL_CONFIDENCE = 0.75

_engine = None
_lock = threading.Lock()


def _load():
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:
        if ".so" in str(exc):  # OpenCV is there, the system libraries it loads are not
            raise ReaderUnavailable.of("ocr_no_library", detail=str(exc)) from exc
        raise ReaderUnavailable.of("ocr_not_installed", hint=INSTALL_HINT) from exc
    logging.getLogger("RapidOCR").setLevel(logging.WARNING)
    # ``max_side_len``: the engine scales larger images down before detection *and* recognition.
    # ``det_use_dilation``: off, the detector's text regions of two columns' lines at one
    # height no longer run together over a narrow gutter.
    try:
        return RapidOCR(max_side_len=MAX_SIDE, print_verbose=False, det_use_dilation=False)
    except Exception as exc:  # its model files or onnxruntime: this installation, not the page
        raise ReaderUnavailable.of("ocr_cannot_start", detail=f"{type(exc).__name__}: {exc}") from exc


def available() -> bool:
    """Whether images can be read here (the extra and OpenCV's libraries are installed)."""
    try:
        _engine_instance()
    except DocumentError:
        return False
    return True


def _engine_instance():
    global _engine
    with _lock:
        if _engine is None:
            _engine = _load()
        return _engine


def recognise(image) -> list[TextBox]:
    """The text boxes on a page image (a PIL image): see :func:`text_boxes`."""
    import numpy as np

    engine = _engine_instance()
    rgb = np.asarray(image.convert("RGB"))
    with _lock:  # one page at a time: the engine's threads already use every core
        result, _ = engine(rgb[:, :, ::-1].copy(), return_word_box=True)  # the engine expects BGR
    boxes = text_boxes(result or [])
    if is_vertical(boxes):
        boxes = read_columns(image, boxes, lambda crop: _read_line(engine, crop))
    return boxes


def _read_line(engine, crop) -> tuple[str, float]:
    """One horizontal line image (a PIL image) through the engine's recogniser alone."""
    import numpy as np

    bgr = np.asarray(crop.convert("RGB"))[:, :, ::-1].copy()
    with _lock:
        found, _ = engine.text_rec([bgr])
    return (str(found[0][0]), float(found[0][1])) if found else ("", 0.0)


def read_columns(image, boxes: list[TextBox], read: Callable[[object], tuple[str, float]]) -> list[TextBox]:
    """A page of vertical text read again a column at a time: one box per column.

    The detector cuts a column into pieces that overlap by part of a character, and the
    recogniser (trained on horizontal lines; the engine turns a tall box a quarter turn
    before reading it) reads the character they share twice or as another one.  Each
    column (the pieces :func:`.reading_order.page_lines` puts on one line) is cut from the
    ``image`` whole, a little wider than its pieces, turned a quarter turn counter-clockwise
    as the engine turns a tall box, and ``read`` (the recogniser: text and confidence); its
    old pieces' text is kept where nothing is read.  On ``data/scans/vertical.png`` this
    takes accuracy from 0.939 to 0.956, every character right; what is left is punctuation
    (the 。 set in the corner of its cell is lost), so a column's confidence is at most
    :data:`VERTICAL_CONFIDENCE`: the page is marked as read with low confidence.
    """
    out: list[TextBox] = []
    for ln in page_lines(boxes):
        x0, y0, x1, y1 = ln.shown
        pad = max(2.0, (x1 - x0) / 8)
        crop = image.crop((round(max(0.0, x0 - pad)), round(max(0.0, y0 - pad)), round(x1 + pad), round(y1 + pad)))
        text, score = read(crop.rotate(90, expand=True))
        if not text.strip():
            text = "".join(p.text for p in ln.pieces)
            score = min(p.confidence for p in ln.pieces)
        shown = ln.shown if ln.shown != ln.box else None
        out.append(TextBox(ln.box, text, min(score, VERTICAL_CONFIDENCE), shown))
    return out


def text_boxes(result: list) -> list[TextBox]:
    """The engine's ``result`` (per box: its four corners, text, confidence and, with word
    boxes, each character's corners, text and confidence) as text boxes.

    A page scanned or photographed askew has its lines at a slant: the columns' gutters
    would close up in boxes upright to the image.  The boxes are turned by the page's skew
    (:func:`skew`) about the image's corner, so lines lie level for the reading order; each
    keeps in ``shown`` where it stands in the image's pixels.  A box that the detector drew
    past the end of its text is cut back to its characters (:func:`trim_to_words`), and one
    that it ran over a gutter is cut there (:func:`split_at_gutters`).
    """
    angle = skew([r[0] for r in result])
    out: list[TextBox] = []
    for points, text, score, *rest in result:
        box = _bounds(_turn(points, angle))
        words: list[tuple[str, Box, float]] = []
        if len(rest) >= 3 and len(rest[0]) == len(rest[1]) == len(rest[2]):
            words = [(str(w), _bounds(_turn(q, angle)), float(c)) for q, w, c in zip(rest[0], rest[1], rest[2])]
        box = trim_to_words(box, [b for _, b, _ in words])
        for piece in split_at_gutters(box, str(text), float(score), words):
            x0, y0, x1, y1 = piece.box
            shown = _bounds(_turn([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], -angle)) if angle else None
            out.append(replace(piece, shown=shown))
    return out


def skew(quads: list) -> float:
    """The page's skew in radians (positive: lines fall to the right), the median slant of
    its long boxes' top edges; 0 under a tenth of a degree or without long boxes."""
    slants = []
    for q in quads:
        (x0, y0), (x1, y1) = q[0][:2], q[1][:2]
        (x3, y3) = q[3][:2]
        length, height = math.hypot(x1 - x0, y1 - y0), math.hypot(x3 - x0, y3 - y0)
        if length > 4 * height:
            slants.append(math.atan2(y1 - y0, x1 - x0))
    angle = statistics.median(slants) if slants else 0.0
    return angle if abs(angle) >= math.radians(0.1) else 0.0


def _bounds(points) -> Box:
    xs = [float(p[0]) for p in points]
    ys = [float(p[1]) for p in points]
    return (min(xs), min(ys), max(xs), max(ys))


def _turn(points, angle: float) -> list[tuple[float, float]]:
    """``points`` turned by ``-angle`` about the origin (a slanted line comes level)."""
    if not angle:
        return [(float(p[0]), float(p[1])) for p in points]
    c, s = math.cos(angle), math.sin(angle)
    return [(float(p[0]) * c + float(p[1]) * s, -float(p[0]) * s + float(p[1]) * c) for p in points]


def trim_to_words(box: Box, words: list[Box]) -> Box:
    """``box`` cut back, along its line, to the characters in it (their boxes ``words``) where it
    runs on past them by more than a line height (a character and more of white).

    The detector now and then draws a line's box from the gutter before it (on a grey page of
    small type, the box of a column's first line has been seen to start at the end of the
    line beside it in the column to the left), which would join two columns' lines; the
    characters' own boxes say where the text is.  A box without them is kept as it is.
    """
    if not words:
        return box
    vertical = box[3] - box[1] > 1.5 * (box[2] - box[0])
    a = 1 if vertical else 0  # along the line
    height = (box[2] - box[0]) if vertical else (box[3] - box[1])
    first, last = min(w[a] for w in words), max(w[a + 2] for w in words)
    out = list(box)
    if first - box[a] > height:
        out[a] = max(box[a], first)
    if box[a + 2] - last > height:
        out[a + 2] = min(box[a + 2], last)
    return (out[0], out[1], out[2], out[3]) if out[a] < out[a + 2] else box


def split_at_gutters(box: Box, text: str, confidence: float, words: list[tuple[str, Box, float]]) -> list[TextBox]:
    """A recognised box as pieces, cut where two of its ``words`` (characters, Latin words:
    ``(text, box, confidence)``) stand :data:`SPLIT_GAP` line heights or more apart.

    The detector now and then takes two lines of neighbouring columns, set at the same
    height, as one: their text comes joined, and the gutter between them is a gap in the
    line far wider than a space.  Each piece keeps the confidence of its words.
    """
    vertical = box[3] - box[1] > 1.5 * (box[2] - box[0])
    a = 1 if vertical else 0  # along the line
    height = (box[2] - box[0]) if vertical else (box[3] - box[1])
    cuts = [
        i for i in range(1, len(words)) if words[i][1][a] - words[i - 1][1][a + 2] >= SPLIT_GAP * height
    ]
    if not cuts or not text:
        return [TextBox(box, text, confidence)]
    # Where each word stands in the text (its words, in order; spaces between Latin words).
    at: list[int] = []
    pos = 0
    for w, _, _ in words:
        k = text.find(w, pos)
        if k < 0:
            return [TextBox(box, text, confidence)]
        at.append(k)
        pos = k + len(w)
    out: list[TextBox] = []
    for lo, hi in zip([0, *cuts], [*cuts, len(words)]):
        part = words[lo:hi]
        piece = text[at[lo] if lo else 0 : at[hi] if hi < len(words) else len(text)].strip()
        if not piece:
            continue
        across = (box[0], box[2]) if vertical else (box[1], box[3])
        first, last = part[0][1], part[-1][1]
        if vertical:
            b = (across[0], first[1], across[1], last[3])
        else:
            b = (first[0], across[0], last[2], across[1])
        out.append(TextBox(b, piece, sum(c for *_, c in part) / len(part)))
    return out
