"""Building or updating an index: which documents are read, reused or embedded, and whether
the change is appended as a new segment or merged into one (see :func:`build_index`); the
generation itself is written by :mod:`qa.index.write`."""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..chunking import ChunkSettings, chunk_document
from ..documents import Document, DocumentError, list_documents, read_document
from ..documents.images import is_kept, prune_recognised, reading_key
from ..embedding import BATCH_SIZE, Embedder, make_embedder
from ..messages import Reason
from ..precision import FLOAT32
from ..records import Passage
from ..vectorstore import StoreSpec, parse_store
from .dense import COMPRESS_LIMIT, FLAT_LIMIT
from .files import _sha256_file, build_lock
from .load import (
    BM25_META,
    Index,
    IndexError_,
    IndexMissing,
    _current_store,
    _precision,
    check_folder,
    index_precision,
    indexed_documents,
    load_index,
    recognised_dir,
)
from .write import _append_generation, _DocPart, _full_build, _remove_leftovers

log = logging.getLogger(__name__)


# Incremental builds (see _can_append): below APPEND_MIN live passages a full build takes
# seconds; an appended segment holds at most APPEND_SHARE of the live passages (and at most
# FLAT_LIMIT, searched exactly); MAX_SEGMENTS and MAX_DELETED_SHARE bound what a query pays.
APPEND_MIN = 10_000
APPEND_SHARE = 0.25
MAX_SEGMENTS = 8
MAX_DELETED_SHARE = 0.2
EMBED_BATCH = BATCH_SIZE  # texts per model call, longest first (see qa/embedding.py)


_MODE_WORDS = {
    "full": "full (one segment written)",
    "append": "incremental (new segment appended, unchanged files kept)",
    "unchanged": "nothing changed",
}


@dataclass
class BuildReport:
    index_dir: Path
    model: str
    documents: int = 0
    articles: int = 0
    passages: int = 0
    sentences: int = 0
    embedded: int = 0  # passages whose vectors were computed in this build
    reused: int = 0  # passages whose vectors came from the previous index
    seconds: float = 0.0
    skipped_reasons: list[Reason] = field(default_factory=list)  # why each skipped file was skipped
    unchanged: bool = False
    mode: str = ""  # "full" (one segment written), "append" (a segment added) or "unchanged"
    segments: int = 1
    deleted: int = 0  # rows of removed or changed documents kept until the next full build
    precision: str = FLOAT32  # what the vectors were computed in (qa.precision)

    @property
    def skipped(self) -> list[str]:
        """One line per skipped file, in English (the app words :attr:`skipped_reasons` in Chinese)."""
        return [str(r) for r in self.skipped_reasons]

    def summary(self) -> str:
        lines = [
            f"index: {self.index_dir}",
            f"model: {self.model} ({self.precision})",
            f"documents: {self.documents}, articles: {self.articles}, passages: {self.passages}, "
            f"sentences: {self.sentences}",
            f"passages embedded: {self.embedded}, reused: {self.reused}",
            f"build: {_MODE_WORDS.get(self.mode, self.mode)}"
            + (f", {self.segments} segments, {self.deleted} deleted rows" if self.segments > 1 or self.deleted else ""),
            f"seconds: {self.seconds:.1f}",
        ]
        lines += [f"skipped: {m}" for m in self.skipped]
        return "\n".join(lines)


def _check_writable(root: Path) -> None:
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".write-probe-{os.getpid()}-{threading.get_ident()}"  # unique per thread too
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        reason = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        raise IndexError_(f"cannot write the index folder {root}: {reason}") from exc


def _embed_texts(embedder: Embedder, texts: list[str], bar, batch: int = EMBED_BATCH) -> np.ndarray:
    """Embed in batches of ``batch``, longest first (even padding), updating a progress bar."""
    if not texts:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    for lo in range(0, len(order), batch):
        idx = order[lo : lo + batch]
        out[idx] = embedder.embed([texts[i] for i in idx], kind="document")
        if bar is not None:
            bar.update(len(idx))
    return out


def passage_embedding_text(p: Passage) -> str:
    """What the dense model sees for a passage: the article headline gives it context."""
    if p.kind == "header":
        return p.text
    return f"{p.title}\n{p.text}"


def _reused(name: str, digest: str, info: dict, reuse: tuple[str, list[int]]) -> _DocPart:
    """A document whose passages and vectors are taken from the previous index (``info``: its
    record there; ``reuse``: its name there and its rows)."""
    return _DocPart(name, digest, info["articles"], [], None, info.get("encoding", ""), reuse, info.get("reading", ""))


def _previous(root: Path, fingerprint: str, chunk: dict, precision: str = FLOAT32) -> Index | None:
    """The previous index when its vectors can be reused (same model, precision and chunker), else None."""
    try:
        prev = load_index(root, _for_update=True)
    except IndexMissing:
        return None
    except IndexError_ as exc:
        log.warning("previous index not reusable, rebuilding everything: %s", exc)
        return None
    if prev.meta["model"]["fingerprint"] != fingerprint or prev.meta["chunker"] != chunk:
        return None
    if index_precision(prev.meta) != precision:
        log.info("the index's vectors are %s, this build computes %s: embedding everything again",
                 index_precision(prev.meta), precision)
        return None
    return prev


def _read_by_other_code(info: dict, root: Path) -> bool:
    """Whether a document of the previous index (``info``, its record in meta.json) is a scan
    whose text was read by other OCR or reading-order code than this (another
    :func:`reading_key`): then its passages are not reused, it is read again (from its kept
    boxes, without OCR, where they are this engine's), as a changed chunker reads every
    document again.  An index from before the key was recorded has none: its scans are the
    documents read through OCR, or whose recognised text is kept."""
    reading = info.get("reading")
    if reading is None:
        if info.get("encoding") != "ocr" and not is_kept(recognised_dir(root), str(info.get("sha256", ""))):
            return False
        reading = ""
    return reading != reading_key()


PageProgress = Callable[[str, int, int], None]  # (document, pages read, pages) while OCR reads a document


def _page_bar(name: str):
    """A progress callback that shows ``n of N pages read`` while a scanned document is read."""
    bar = None

    def update(page: int, pages: int) -> None:
        nonlocal bar
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=pages, desc=f"reading {name} (OCR)", unit="page", bar_format="{desc}: {n} of {total} pages read")
        bar.update(page - bar.n)
        if page >= pages:
            bar.close()

    return update


def _page_progress(name: str, bar: bool, pages: PageProgress | None) -> Callable[[int, int], None] | None:
    """The ``progress(page, pages)`` given to the reader of ``name``: the CLI's bar, ``pages``, both or neither."""
    shown = _page_bar(name) if bar else None
    if pages is None:
        return shown

    def update(page: int, total: int) -> None:
        if shown is not None:
            shown(page, total)
        pages(name, page, total)

    return update


def build_index(
    seeds_dir: Path | str,
    index_dir: Path | str,
    model: str | None = None,
    *,
    embedder: Embedder | None = None,
    settings: ChunkSettings | None = None,
    progress: bool = False,
    compress_limit: int = COMPRESS_LIMIT,
    store: str | StoreSpec | None = None,
    full: bool = False,
    append_min: int = APPEND_MIN,
    allow_empty: bool = False,
    pages: PageProgress | None = None,
    _crash_after: str | None = None,
) -> BuildReport:
    """Build or update the index of every document in ``seeds_dir`` into ``index_dir``.

    Only documents whose content changed are chunked and embedded again; a different
    model or chunker rebuilds everything.  Unreadable files are skipped and listed in
    the report.  Above ``compress_limit`` passages the vectors are stored as IVF codes
    (see :func:`_make_faiss`).  ``store`` says where vectors live (see :mod:`qa.vectorstore`;
    default: where the current index keeps them, else FAISS files).

    An index of ``append_min`` live passages or more is updated incrementally when the
    change is small (see :func:`_can_append`): the new and changed documents become a new
    segment, the old rows of changed and removed ones are marked deleted, and nothing else
    is rewritten.  Otherwise, or with ``full``, every segment is merged into one (vectors
    reused).  ``_crash_after`` is a fault-injection hook for tests.

    An index with documents is never emptied by a missing folder or one with no documents
    (:func:`check_folder` raises :class:`FolderUnusable`) unless ``allow_empty``: the user
    removed the last document.

    Scanned documents are read through OCR once: their recognised text, or why they could not
    be read, is kept under their file's hash in :func:`recognised_dir`; what is kept there for
    files no longer in the folder (removed or replaced) is removed.  While a document is read
    through OCR, ``pages(name, pages read, pages)`` is called (``progress`` shows it as a bar).
    An unchanged scan whose text other OCR or reading-order code read (see
    :func:`_read_by_other_code`) is read again; where that needs OCR and there is none here,
    its passages are kept.
    """
    t0 = time.perf_counter()
    seeds_dir, root = Path(seeds_dir).resolve(), Path(index_dir)
    embedder = embedder or make_embedder(model)
    settings = settings or ChunkSettings()
    _check_writable(root)
    report = BuildReport(root, embedder.name, precision=_precision(embedder))
    with build_lock(root):
        if not allow_empty:
            check_folder(seeds_dir, root, len(indexed_documents(root)))
        spec = store if isinstance(store, StoreSpec) else parse_store(store) if store else _current_store(root)
        prev = _previous(root, embedder.fingerprint, settings.to_json(), _precision(embedder))
        prev_docs: dict[str, tuple[str, list[int]]] = {}
        by_hash: dict[str, str] = {}
        if prev is not None:  # a document's passages are consecutive rows, from first_row
            for name, info in prev.meta["documents"].items():
                first = int(info["first_row"])
                prev_docs[name] = (info["sha256"], list(range(first, first + int(info["passages"]))))
                by_hash.setdefault(info["sha256"], name)

        parts: list[_DocPart] = []
        seen_hash: dict[str, str] = {}
        unreadable: dict[str, str] = {}  # skipped files by hash, so they don't look stale forever
        paths = list_documents(seeds_dir)
        in_folder: set[str] | None = set()  # hashes of the folder's files (None: one could not be read)
        for path in paths:
            name = path.relative_to(seeds_dir).as_posix()
            try:
                digest = _sha256_file(path)
            except OSError as exc:
                report.skipped_reasons.append(Reason("cannot_read", {"detail": exc.strerror or str(exc)}, name))
                in_folder = None
                continue
            if in_folder is not None:
                in_folder.add(digest)
            if digest in seen_hash:
                report.skipped_reasons.append(Reason("duplicate", {"other": seen_hash[digest]}, name))
                continue
            reuse_name = name if prev_docs.get(name, ("",))[0] == digest else by_hash.get(digest)
            if prev is not None and reuse_name is not None and reuse_name != name:
                stem = Path(reuse_name).stem
                if any(prev.passages[i].title == stem for i in prev_docs[reuse_name][1]):
                    reuse_name = None  # renamed, and titled after its old file name: read it anew
            was = None  # the previous index's record of the same file, with its name there and its rows
            if prev is not None and reuse_name is not None:
                was = (prev.meta["documents"][reuse_name], (reuse_name, prev_docs[reuse_name][1]))
            if was is not None and not _read_by_other_code(was[0], root):
                parts.append(_reused(name, digest, *was))
                seen_hash[digest] = name
                continue
            try:
                doc: Document | None = read_document(
                    path, name, recognised=recognised_dir(root), progress=_page_progress(name, progress, pages),
                )
            except DocumentError as exc:  # also ReaderUnavailable: OCR missing here
                if was is None:
                    report.skipped_reasons.append(exc.reason)
                    unreadable[name] = digest
                    log.warning("skipped %s", exc)
                    continue
                doc = None  # unchanged, read again only for newer OCR code: what it had stays
                log.warning("%s could not be read again (%s): its passages from the last build are kept", name, exc)
            if was is not None and (doc is None or not doc.lines):  # (``was`` is read again only when a scan)
                # Not read again, or its scanned pages could not be (without OCR a mixed PDF gives
                # its text pages alone): keep the passages of all its pages.
                parts.append(_reused(name, digest, *was))
                seen_hash[digest] = name
                continue
            if doc.sha256 != digest:  # changed while we were reading: take what we read
                digest = doc.sha256
                if in_folder is not None:
                    in_folder.add(digest)
            passages = chunk_document(doc, settings)
            if not passages:
                report.skipped_reasons.append(Reason("empty", {}, name))
                unreadable[name] = digest
                continue
            seen_hash[digest] = name
            parts.append(_DocPart(name, digest, len(doc.articles), passages, encoding=doc.encoding,
                                  reading=reading_key() if doc.lines else ""))

        if prev is not None and all(p.reuse is not None for p in parts):
            same = {p.name: p.sha256 for p in parts} == {n: v[0] for n, v in prev_docs.items()}
            if (
                same
                and prev.meta.get("seeds_dir") == str(seeds_dir)
                and prev.meta.get("bm25") == BM25_META
                and prev.meta.get("skipped", {}) == unreadable
                and StoreSpec.from_json(prev.meta.get("dense")) == spec
            ):
                report.unchanged = True

        to_embed = [p for p in parts if p.reuse is None]
        n_new = sum(len(p.passages) for p in to_embed)
        append = (
            not report.unchanged
            and not full
            and _can_append(prev, parts, prev_docs, spec, str(seeds_dir), unreadable, append_min)
        )
        for part in parts:  # an append writes only what moves to the new segment
            if not report.unchanged and not (append and part.kept_in_place):
                part.materialise(prev)
        bar = None
        if progress and n_new:
            from tqdm import tqdm

            bar = tqdm(total=n_new, desc="embedding passages", unit="passage")
        try:
            # One pass over the passages of all new documents, sorted by length: batches stay
            # full and evenly padded (per-document calls were ~20% slower on the seed; see
            # docs/benchmarks.md).  Sentences get no vectors: the reader picks them from the text.
            texts = [passage_embedding_text(p) for part in to_embed for p in part.passages]
            vectors = _embed_texts(embedder, texts, bar)
            pos = 0
            for part in to_embed:
                part.passage_vectors = vectors[pos : pos + len(part.passages)]
                pos += len(part.passages)
            if to_embed and _crash_after == "embed":
                os._exit(17)
        finally:
            if bar is not None:
                bar.close()

        if report.unchanged:
            # A build killed after switching CURRENT, while removing the old generation, left it.
            _remove_leftovers(root, prev.folder.name)
            report.passages, report.sentences = len(prev.passages), int(prev.meta["counts"]["sentences"])
            report.segments, report.deleted = len(prev.segments), len(prev.rows.deleted)
            report.mode = "unchanged"
        elif append:
            report.passages, report.sentences, report.segments, report.deleted = _append_generation(
                root, prev, parts, prev_docs, str(seeds_dir), unreadable, _crash_after
            )
            report.mode = "append"
        else:
            report.passages, report.sentences = _full_build(
                root, prev, parts, embedder, settings, str(seeds_dir), unreadable, spec, compress_limit, _crash_after
            )
            report.mode = "full"
        if in_folder is not None:  # the recognised text of scans removed or replaced
            pruned = prune_recognised(recognised_dir(root), in_folder)
            if pruned:
                log.info("removed the recognised text of %d files no longer in %s", len(pruned), seeds_dir)
        report.documents = len(parts)
        report.articles = sum(p.articles for p in parts)
        report.embedded = n_new
        report.reused = report.passages - n_new
        report.seconds = time.perf_counter() - t0
    return report


def _can_append(
    prev: Index | None,
    parts: list[_DocPart],
    prev_docs: dict[str, tuple[str, list[int]]],
    spec: StoreSpec,
    seeds_dir: str,
    unreadable: dict[str, str],
    append_min: int,
) -> bool:
    """Whether this change can go into a new segment instead of a full build.

    Yes when the previous index has at least ``append_min`` live passages in FAISS files,
    was built from the same folder and tokenizer, and the change is small: the new segment
    stays under ``APPEND_SHARE`` of the live passages and ``FLAT_LIMIT``, there are at most
    ``MAX_SEGMENTS``, and deleted rows stay under ``MAX_DELETED_SHARE`` of all rows.
    """
    if prev is None or spec.kind != "faiss" or StoreSpec.from_json(prev.meta.get("dense")) != spec:
        return False
    if prev.meta.get("seeds_dir") != seeds_dir or prev.meta.get("bm25") != BM25_META:
        return False
    live = len(prev.passages)
    if live < max(append_min, 1):
        return False
    kept = {p.name for p in parts if p.kept_in_place}
    moved = sum(len(p.reuse[1]) if p.reuse else len(p.passages) for p in parts if not p.kept_in_place)
    dead = len(prev.rows.deleted) + sum(len(ids) for name, (_, ids) in prev_docs.items() if name not in kept)
    segments = len(prev.segments) + (1 if moved else 0)
    total = prev.rows.total + moved
    return (
        moved <= min(APPEND_SHARE * live, FLAT_LIMIT)
        and segments <= MAX_SEGMENTS
        and dead <= MAX_DELETED_SHARE * max(total, 1)
    )
