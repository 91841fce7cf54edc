"""8. OCR (only when asked for, ``--sections ocr``: minutes of OCR): a few scans of data/scans
indexed the way ``qa index`` reads them, pages per minute, and a second build of the
unchanged files, which must not run OCR again.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Iterable
from pathlib import Path

from ..embedding import Embedder
from .common import ROOT, _machine, _timed

OCR_FILES = ("seed_p1.png", "seed_noisy_p1.jpg", "seed_scan.pdf")  # a clean page, a noisy JPEG, the 2-page PDF


def _ort_threads() -> int | None:
    """The intra-op threads the loaded OCR engine's onnxruntime session was given (0: onnxruntime's
    default, one per physical core); None without a loaded engine."""
    from ..documents import ocr

    try:
        return int(ocr._engine.text_det.infer.session.get_session_options().intra_op_num_threads)
    except AttributeError:
        return None


def bench_ocr(embedder: Embedder, work: Path, files: Iterable[Path] | None = None) -> dict:
    """Pages per minute of OCR as a build reads scans: ``files`` (default :data:`OCR_FILES` of
    data/scans) indexed under ``work`` by :func:`qa.scan_accuracy.index_of` (what
    ``scripts/bench_scans.py --questions`` builds with), then again unchanged: that second build
    must take its text from the recognised store, without OCR.  Every page the engine reads is
    counted and timed (``ocr.recognise``, wrapped for the section).  Skipped, with the reason,
    where OCR is not installed."""
    from ..documents import ocr
    from ..index import recognised_dir
    from ..scan_accuracy import index_of

    paths = [ROOT / "data" / "scans" / n for n in OCR_FILES] if files is None else list(files)
    if not ocr.available():  # loads the engine (outside the timings)
        return {"skipped": f"OCR is not installed here (the extra: {ocr.INSTALL_HINT}, and OpenCV's system libraries)"}
    engine = ocr.recognise
    seconds: list[float] = []  # one per page read through OCR

    def counted(image):
        s, boxes = _timed(lambda: engine(image))
        seconds.append(s)
        return boxes

    load_start = os.getloadavg()[0]
    ocr.recognise = counted
    try:
        first_s = _timed(lambda: index_of(paths, work, embedder))[0]
        pages = len(seconds)
        second_s = _timed(lambda: index_of(paths, work, embedder))[0]
    finally:
        ocr.recognise = engine
    return {
        "engine": ocr.ENGINE, "files": [p.name for p in paths], "pages": pages,
        "first_build_s": first_s, "pages_per_minute": 60.0 * pages / first_s,
        "seconds_per_page": first_s / max(pages, 1),
        "ocr_seconds_per_page": statistics.median(seconds[:pages]) if pages else None,
        "second_build_s": second_s, "second_over_first": second_s / first_s,
        "second_ocr_pages": len(seconds) - pages,
        "recognised_kept": len(list(recognised_dir(work / "index").glob("*.json"))),
        "cpu": _machine()["cpu"], "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "ort_intra_op_threads": _ort_threads(), "loadavg_start": load_start, "loadavg_end": os.getloadavg()[0],
    }
