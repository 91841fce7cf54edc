"""The OCR engine: RapidOCR (PP-OCRv4 Chinese detection and recognition, ONNX Runtime).

Its models ship inside the ``rapidocr-onnxruntime`` wheel: nothing is downloaded at run
time.  It is the optional extra ``[ocr]`` (part of ``[test]``): without it, or without the
system libraries that OpenCV loads (``libGL``, ``libglib``), an image is refused with a
message that says what to install, and every other format reads as before.
"""

from __future__ import annotations

import logging
import threading

from .reading_order import TextBox
from .records import DocumentError

ENGINE = "rapidocr-onnxruntime 1.4.4 PP-OCRv4"
MAX_SIDE = 4000  # longer side, in pixels, that OCR sees (the engine's own default, 2000, blurs small print)
INSTALL_HINT = "pip install -e '.[ocr]'"

_engine = None
_lock = threading.Lock()


def _load():
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:
        if ".so" in str(exc):  # OpenCV is there, the system libraries it loads are not
            raise DocumentError(
                f"OCR cannot start: OpenCV needs a system library ({exc}); on Debian or Ubuntu: "
                "apt-get install libgl1 libglib2.0-0"
            ) from exc
        raise DocumentError(
            f"reading images needs the OCR extra ({INSTALL_HINT}, which installs rapidocr-onnxruntime)"
        ) from exc
    logging.getLogger("RapidOCR").setLevel(logging.WARNING)
    # ``max_side_len``: the engine scales larger images down before detection *and* recognition.
    return RapidOCR(max_side_len=MAX_SIDE, print_verbose=False)


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
    """The text boxes on a page image (a PIL image), in the image's pixels."""
    import numpy as np

    engine = _engine_instance()
    rgb = np.asarray(image.convert("RGB"))
    with _lock:  # one page at a time: the engine's threads already use every core
        result, _ = engine(rgb[:, :, ::-1].copy())  # the engine expects OpenCV's BGR order
    out: list[TextBox] = []
    for points, text, score in result or []:
        xs = [float(p[0]) for p in points]
        ys = [float(p[1]) for p in points]
        out.append(TextBox((min(xs), min(ys), max(xs), max(ys)), str(text), float(score)))
    return out
