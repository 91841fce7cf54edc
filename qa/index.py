"""Build, update, save and load the hybrid index.

On disk the index is a folder of plain files.  Each build writes a new generation
folder ``gen-*`` and then atomically replaces the small ``CURRENT`` pointer file, so a
crash mid-build leaves the previous generation in use::

    embeddings/
      CURRENT                 name of the live generation
      gen-20261129T120000-1a2b/
        meta.json             model id and fingerprint, dims, chunker and BM25 settings,
                              per-document hashes, package version, file checksums,
                              and its own checksum (meta_sha256)
        passages.jsonl        one Passage per line (ensure_ascii=False), read on demand
        passages.offsets.npy  byte offset of each line (see qa/store.py)
        passages.ids.npy      passage id hashes, sorted, with their rows
        dense.faiss           passage vectors (inner product on unit vectors): exact, HNSW,
                              or IVF with compressed codes above COMPRESS_LIMIT passages
        vectors.npy           only with compressed codes: the float32 vectors, which
                              builds reuse (codes can't be decoded back exactly)
        keyword_vocab.json    BM25 vocabulary
        keyword_*.npy         BM25 postings and their weights (see qa/keyword.py)
        userdict.txt          corpus words added to jieba (quoted names, book titles)
        seg-1/ ...            segments appended by incremental builds: the same passage,
                              dense and keyword files for their documents (exact search)
        deleted.npy           rows of changed and removed documents (see qa/segments.py)

The files above ``seg-1`` are the base segment.  An incremental build hard-links every
unchanged file into the new generation and writes only the new segment, ``deleted.npy``,
``userdict.txt`` and ``meta.json``; a full build writes one segment (see build_index).

Only passages are embedded (the reader picks the sentence and span from the text).
Loading verifies the checksums and the model fingerprint: a corrupt, truncated or
mismatched index is refused with a message, never used.  Passage records, postings and
``vectors.npy`` are memory-mapped, so loading reads little beyond the FAISS index.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import fcntl
import hashlib
import json
import logging
import math
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .chunking import ChunkSettings, chunk_document
from .documents import Document, DocumentError, Source, TextLine, list_documents, read_document, read_text
from .documents.images import is_kept, load_recognised, prune_recognised, reading_key
from .embedding import BATCH_SIZE, Embedder, make_embedder
from .keyword import KeywordIndex
from .messages import Reason, ReasonedError
from .precision import FLOAT32
from .records import Passage
from .segments import RowMap, Segment, SegmentedKeyword, SegmentedPassages, dense_search
from .store import PassageStore, write_passages
from .text import TOKENIZER_VERSION, Tokenizer, corpus_terms
from .vectorstore import (
    MilvusVectors,
    StoreError,
    StoreSpec,
    drop_old_collections,
    generation_collection,
    parse_store,
)

log = logging.getLogger(__name__)

# 2: meta.json carries its own checksum (meta_sha256); 3: no sentence vectors, passages
# read on demand through an offsets file, BM25 weights as .npy files, compressed vectors.
# 4: segments (an incremental build appends one) and deleted rows; a format-3 index is a
# format-4 index of one segment, and loads as such.
FORMAT_VERSION = 4
READABLE_FORMATS = (3, 4)
BM25_K1, BM25_B = 1.2, 0.75
BM25_META = {"k1": BM25_K1, "b": BM25_B, "tokenizer": f"jieba.lcut_for_search+normalize v{TOKENIZER_VERSION}"}
FLAT_LIMIT = 50_000  # exact search up to here; HNSW beyond (see docs/benchmarks.md)
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 80, 512  # efSearch 128: recall@10 0.95 at 100k
COMPRESS_LIMIT = 200_000  # above: IVF with compressed codes (IVF_CODE), nprobe set from measured recall
# Incremental builds (see _can_append): below APPEND_MIN live passages a full build takes
# seconds; an appended segment holds at most APPEND_SHARE of the live passages (and at most
# FLAT_LIMIT, searched exactly); MAX_SEGMENTS and MAX_DELETED_SHARE bound what a query pays.
APPEND_MIN = 10_000
APPEND_SHARE = 0.25
MAX_SEGMENTS = 8
MAX_DELETED_SHARE = 0.2
IVF_CODE = "SQ8"  # faiss index_factory code: SQ8 = 1 byte per dimension (PQ48 etc. also work)
IVF_TRAIN = 64  # training vectors per inverted list (faiss asks for 39 to 256)
RECALL_K, RECALL_TARGET, RECALL_QUERIES = 10, 0.95, 200
QUERY_NOISE = 0.5  # recall queries: stored vectors plus Gaussian noise of this norm, renormalised
FAISS_STORE = StoreSpec("faiss")
EMBED_BATCH = BATCH_SIZE  # texts per model call, longest first (see qa/embedding.py)


class IndexError_(RuntimeError):
    """Base class: the message tells the user what is wrong and what to run."""


class IndexMissing(IndexError_):
    pass


class IndexCorrupt(IndexError_):
    pass


class IndexMismatch(IndexError_):
    pass


class FolderUnusable(ReasonedError, IndexError_):
    """The documents folder is missing or holds no document, while the index has some (its
    ``reason``: ``folder_missing`` or ``folder_empty``, see :mod:`qa.messages`)."""


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


# ------------------------------------------------------------------ helpers


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_atomic(path: Path, data: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


@contextlib.contextmanager
def build_lock(root: Path) -> Iterator[None]:
    """One build at a time per index folder (across processes)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".build.lock", "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _check_writable(root: Path) -> None:
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".write-probe-{os.getpid()}-{threading.get_ident()}"  # unique per thread too
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        reason = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        raise IndexError_(f"cannot write the index folder {root}: {reason}") from exc


def current_generation(root: Path) -> Path:
    root = Path(root)
    pointer = root / "CURRENT"
    if not pointer.is_file():
        raise IndexMissing(f"no index in {root}: run `python -m qa index --index {root}`")
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except (OSError, ValueError) as exc:  # unreadable or not UTF-8 (a flipped bit)
        raise IndexCorrupt(f"index pointer {pointer} is unreadable ({exc}): rebuild the index") from exc
    folder = root / name
    if not name.startswith("gen-") or "/" in name or not folder.is_dir():
        raise IndexCorrupt(f"index pointer {pointer} names a missing generation {name!r}: rebuild the index")
    return folder


@contextlib.contextmanager
def faiss_threads(n: int) -> Iterator[None]:
    """Run FAISS with ``n`` OpenMP threads in this thread, then restore the setting.

    One interactive query is faster on one thread: the parallel region costs more than
    it saves (10k vectors: 0.6 ms vs 0.8-20 ms on two threads; see docs/benchmarks.md).
    """
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


# ------------------------------------------------------------------ the loaded index


class Index:
    """A loaded index: passages (read on demand), FAISS vectors, BM25 and tokenizer.

    ``passages`` is a sequence (``passages[i]``, ``len``, iteration) of the live passages,
    whose rows are those of :meth:`dense_search`, :meth:`keyword_search` and :meth:`vectors`,
    over every segment (see :mod:`qa.segments`).  ``dense`` is the first segment's FAISS
    index (or Milvus collection).
    """

    def __init__(
        self,
        root: Path,
        folder: Path,
        meta: dict,
        segments: list[Segment],
        rows: RowMap,
        tokenizer: Tokenizer,
        embedder: Embedder | None = None,
    ) -> None:
        self.root = root
        self.folder = folder
        self.meta = meta
        self.segments = segments
        self.rows = rows
        self.passages = SegmentedPassages([s.store for s in segments], rows)
        self.dense = segments[0].dense
        self.keyword = SegmentedKeyword([s.keyword for s in segments], rows)
        self.tokenizer = tokenizer
        self._embedder = embedder
        self._sources: dict[str, str] = {}
        self._scan_lines: dict[str, tuple[TextLine, ...]] = {}
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        return self.meta["model"]["name"]

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            emb = make_embedder(self.model_name, precision=index_precision(self.meta))
            if emb.fingerprint != self.meta["model"]["fingerprint"]:
                raise IndexMismatch(
                    f"index was built with {self.meta['model']['fingerprint']}, "
                    f"but {self.model_name} is now {emb.fingerprint}: rebuild the index"
                )
            self._embedder = emb
        return self._embedder

    def documents(self) -> dict[str, dict]:
        return self.meta["documents"]

    def row(self, passage_id: str) -> int:
        """Position of a passage in the vector arrays (``KeyError`` when absent)."""
        return self.passages.row(passage_id)

    def vectors(self, rows: np.ndarray | list[int]) -> np.ndarray:
        """The exact float32 vectors of ``rows`` (for reuse by the next build)."""
        glob = np.asarray(self.rows.to_global(np.asarray(rows, dtype=np.int64)), dtype=np.int64)
        out = np.zeros((len(glob), int(self.meta["model"]["dim"])), dtype=np.float32)
        seg = np.searchsorted(self.rows.bases, glob, side="right") - 1
        for s in np.unique(seg):
            pick = np.flatnonzero(seg == s)
            local = glob[pick] - self.rows.bases[s]
            part = self.segments[s]
            if part.vectors is not None:
                out[pick] = part.vectors[local]
            else:
                out[pick] = part.dense.reconstruct_batch(local)
        return out

    def source_text(self, doc: str) -> str:
        """The decoded source that offsets refer to (read from the seeds folder, cached).

        Raises ``OSError`` when the file is gone and :class:`DocumentError` when it is
        undecodable or no longer the file this index was built from (its offsets would
        point at other text).
        """
        with self._lock:
            if doc not in self._sources:
                path = Path(self.meta["seeds_dir"]) / doc
                data = path.read_bytes()
                expected = self.meta["documents"].get(doc, {}).get("sha256")
                if expected and hashlib.sha256(data).hexdigest() != expected:
                    raise DocumentError.of("changed", doc=doc)
                kept = self._kept_scan(doc)
                text = kept.text if kept is not None else read_text(path, data, recognised=recognised_dir(self.root))[0]
                self._sources[doc] = text
            return self._sources[doc]

    def scan_lines(self, doc: str) -> tuple[TextLine, ...]:
        """The lines OCR read in a scanned document (page, box, offsets, confidence), from the
        text kept beside the index; ``()`` for a text document (never runs OCR)."""
        with self._lock:
            if doc not in self._scan_lines:
                kept = self._kept_scan(doc)
                self._scan_lines[doc] = kept.lines if kept is not None else ()
            return self._scan_lines[doc]

    def _kept_scan(self, doc: str) -> Source | None:
        """A scanned document's text kept beside the index as this index read it (by the code
        whose key it recorded: its passages' offsets point into that text), else None."""
        info = self.meta["documents"].get(doc, {})
        sha = info.get("sha256", "")
        return load_recognised(recognised_dir(self.root), sha, reading=info.get("reading", "")) if sha else None

    def dense_search(self, qvec: np.ndarray, k: int) -> list[tuple[int, float]]:
        if not self.passages:
            return []
        k = min(k, len(self.passages))
        with faiss_threads(1):
            if len(self.segments) > 1 or len(self.rows.deleted):
                return dense_search(self.segments, self.rows, qvec, k)
            scores, ids = self.dense.search(np.ascontiguousarray(qvec.reshape(1, -1), dtype=np.float32), k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def keyword_search(self, tokens: list[str], k: int) -> list[tuple[int, float]]:
        return self.keyword.search(tokens, k)

    def has_term(self, token: str) -> bool:
        """Whether any passage holds this keyword token."""
        return self.keyword.document_frequency(token) > 0


# ------------------------------------------------------------------ load


def _read_meta(folder: Path) -> dict:
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise IndexCorrupt(f"{folder}: meta.json is missing: rebuild the index") from exc
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"{folder}: meta.json is unreadable ({exc}): rebuild the index") from exc
    if not isinstance(meta, dict):
        raise IndexCorrupt(f"{folder}: meta.json is not an object: rebuild the index")
    if meta.get("format_version") not in READABLE_FORMATS:
        raise IndexMismatch(
            f"{folder}: index format {meta.get('format_version')} is not one this version of qa reads "
            f"({', '.join(map(str, READABLE_FORMATS))}): rebuild the index"
        )
    # meta.json holds the other files' checksums, so it carries its own: a flipped bit in
    # a setting (BM25 k1, a key name, the file list) must not load as a different index.
    if meta.get("meta_sha256") != _meta_digest(meta):
        raise IndexCorrupt(f"{folder}: meta.json does not match its checksum (corrupt or modified): rebuild the index")
    return meta


def _meta_digest(meta: dict) -> str:
    body = {k: v for k, v in meta.items() if k != "meta_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


BUILD_ONLY_FILES = ("vectors.npy",)  # read by builds only: verified when a build reuses them
DELETED = "deleted.npy"  # rows of removed or changed documents, sorted (see qa/segments.py)


def _verify_files(folder: Path, meta: dict, *, for_update: bool = False) -> None:
    for name, digest in meta.get("files", {}).items():
        if name.rsplit("/", 1)[-1] in BUILD_ONLY_FILES and not for_update:
            continue
        path = folder / name
        if not path.is_file():
            raise IndexCorrupt(f"{folder}: {name} is missing: rebuild the index")
        if _sha256_file(path) != digest:
            raise IndexCorrupt(f"{folder}: {name} does not match its checksum (corrupt or modified): rebuild the index")


def load_index(
    index_dir: Path | str, *, embedder: Embedder | None = None, verify: bool = True, _for_update: bool = False
) -> Index:
    """Load the index in ``index_dir``; refuses (raises ``IndexError_``) a corrupt or mismatched one.

    ``embedder`` overrides the model named in meta.json; it must have the same fingerprint.
    """
    import faiss

    root = Path(index_dir)
    folder = current_generation(root)
    meta = _read_meta(folder)
    if verify:
        _verify_files(folder, meta, for_update=_for_update)
    if meta.get("bm25") != BM25_META and not _for_update:
        raise IndexMismatch(
            f"index in {root} was tokenised by another version of qa ({meta.get('bm25', {}).get('tokenizer')}): "
            "rebuild it with `python -m qa index` (vectors are reused)"
        )
    if embedder is not None and embedder.fingerprint != meta["model"]["fingerprint"]:
        raise IndexMismatch(
            f"index in {root} was built with model {meta['model']['name']} ({meta['model']['fingerprint']}), "
            f"not {embedder.name} ({embedder.fingerprint}): rebuild it with this model or query it with its own"
        )
    if embedder is not None and _precision(embedder) != index_precision(meta):
        raise IndexMismatch(
            f"index in {root} holds {index_precision(meta)} vectors, but the embedder given computes in "
            f"{_precision(embedder)}: query it in its own precision (or rebuild it)"
        )
    dense_info = meta.get("dense") or {"backend": "faiss"}
    dim = meta["model"]["dim"]
    segments: list[Segment] = []
    problems = []
    try:
        for seg_info in segment_list(meta):
            sub = folder / seg_info["dir"] if seg_info["dir"] else folder
            prefix = f"{seg_info['dir']}/" if seg_info["dir"] else ""
            store = PassageStore(sub)
            if dense_info["backend"] == "milvus":
                dense = MilvusVectors.open(dense_info, int(dim))
            else:
                dense = faiss.read_index(str(sub / "dense.faiss"))
            has_vectors = f"{prefix}vectors.npy" in meta.get("files", {})
            vectors = np.load(sub / "vectors.npy", mmap_mode="r") if has_vectors else None
            keyword = KeywordIndex.load(sub, meta["bm25"]["k1"], meta["bm25"]["b"])
            faiss_info = seg_info.get("faiss", {})
            if "nprobe" in faiss_info:
                faiss.extract_index_ivf(dense).nprobe = int(faiss_info["nprobe"])
            n = len(store)
            if dense.ntotal != n or dense.d != dim:
                where = f"{prefix}dense.faiss" if dense_info["backend"] == "faiss" else f"Milvus collection {dense.collection}"
                problems.append(f"{where} has {dense.ntotal}x{dense.d} vectors for {n}x{dim}")
            if vectors is not None and vectors.shape != (n, dim):
                problems.append(f"{prefix}vectors.npy is {vectors.shape}, expected {(n, dim)}")
            if keyword.n_docs != n:
                problems.append(f"{prefix}keyword index has {keyword.n_docs} passages, expected {n}")
            if "rows" in seg_info and n != int(seg_info["rows"]):
                problems.append(f"{prefix}passages.jsonl has {n} passages, meta.json says {seg_info['rows']}")
            segments.append(Segment(store, dense, keyword, vectors))
        deleted = np.load(folder / DELETED) if DELETED in meta.get("files", {}) else np.zeros(0, np.int64)
        words = (folder / "userdict.txt").read_text(encoding="utf-8").split("\n")
    except StoreError as exc:
        raise IndexCorrupt(str(exc)) from exc
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise IndexCorrupt(f"{folder}: cannot read the index ({type(exc).__name__}: {exc}): rebuild it") from exc
    rows = RowMap([len(seg.store) for seg in segments], deleted)
    if len(deleted) and (
        deleted.ndim != 1 or np.any(np.diff(deleted) <= 0) or deleted[0] < 0 or deleted[-1] >= rows.total
    ):
        problems.append(f"{DELETED} is not a sorted list of rows below {rows.total}")
    counted = meta.get("counts", {}).get("passages")
    if counted is not None and counted != rows.n_live:
        problems.append(f"{rows.n_live} live passages, meta.json says {counted}")
    if problems:
        raise IndexCorrupt(f"{folder}: inconsistent index ({'; '.join(problems)}): rebuild it")
    tokenizer = Tokenizer([w for w in words if w])
    return Index(root, folder, meta, segments, rows, tokenizer, embedder)


def segment_list(meta: dict) -> list[dict]:
    """meta.json's segments: the base (files at the top of the generation) first.

    An index of format 3 has only the base, described by ``faiss`` and ``counts``.
    """
    if "segments" in meta:
        return meta["segments"]
    return [{"dir": "", "faiss": meta.get("faiss", {})}]



# ------------------------------------------------------------------ build


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


def _make_faiss(
    vectors: np.ndarray, *, exact: bool | None = None, compress_limit: int = COMPRESS_LIMIT
) -> tuple[object, dict]:
    """The FAISS index for ``vectors`` and its description for meta.json.

    Exact inner-product search up to ``FLAT_LIMIT`` vectors, HNSW up to ``compress_limit``,
    IVF with ``IVF_CODE`` codes beyond (``exact`` forces flat or HNSW).  IVF's ``nprobe``
    is the smallest power of two whose measured recall@10 against exact search reaches
    ``RECALL_TARGET`` (see :func:`_tune_nprobe`).
    """
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    if exact is None and n > compress_limit:
        return _make_ivf(vectors)
    if exact is None:
        exact = n <= FLAT_LIMIT
    if exact:
        index = faiss.IndexFlatIP(dim)
        info: dict = {"type": "IndexFlatIP"}
    else:
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
        info = {"type": "IndexHNSWFlat", "M": HNSW_M, "efSearch": HNSW_EF_SEARCH}
    if n:
        index.add(vectors)
    return index, info


def _make_ivf(vectors: np.ndarray, code: str = IVF_CODE) -> tuple[object, dict]:
    """IVF over ``sqrt(n)`` lists with compressed codes, trained on a sample, ``nprobe`` tuned."""
    import faiss

    n, dim = vectors.shape
    nlist = max(1, int(math.sqrt(n)))
    rng = np.random.default_rng(n)
    n_train = min(n, max(IVF_TRAIN * nlist, 10_000))
    sample = vectors[np.sort(rng.choice(n, n_train, replace=False))] if n_train < n else vectors
    index = faiss.index_factory(dim, f"IVF{nlist},{code}", faiss.METRIC_INNER_PRODUCT)
    t0 = time.perf_counter()
    index.train(sample)
    index.add(vectors)
    build_s = time.perf_counter() - t0
    nprobe, recall, sweep = _tune_nprobe(index, vectors, rng)
    faiss.extract_index_ivf(index).nprobe = nprobe
    return index, {
        "type": type(index).__name__,
        "factory": f"IVF{nlist},{code}",
        "nlist": nlist,
        "nprobe": nprobe,
        "train_size": int(n_train),
        "recall_at_10": recall,
        "recall_target": RECALL_TARGET,
        "recall_queries": min(RECALL_QUERIES, n),
        "recall_sweep": sweep,
        "bytes_per_vector": faiss.extract_index_ivf(index).code_size + 8,  # code + its id in the list
        "build_s": round(build_s, 2),
    }


def _tune_nprobe(index, vectors: np.ndarray, rng: np.random.Generator) -> tuple[int, float, dict]:
    """Smallest power-of-two ``nprobe`` with recall@10 >= ``RECALL_TARGET`` against exact search.

    Queries are ``RECALL_QUERIES`` stored vectors plus Gaussian noise of norm ``QUERY_NOISE``
    (near the data, not on it).  Recall is tie-aware: a result scoring at least the exact
    10th score counts.  Returns ``(nprobe, recall, {nprobe: recall})``; when no setting
    reaches the target, every list is probed.
    """
    import faiss

    n, dim = vectors.shape
    rows = rng.choice(n, min(RECALL_QUERIES, n), replace=False)
    noise = rng.standard_normal((len(rows), dim)).astype(np.float32)
    queries = vectors[rows] + QUERY_NOISE * noise / np.linalg.norm(noise, axis=1, keepdims=True)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    k = min(RECALL_K, n)
    exact = faiss.IndexFlatIP(dim)
    exact.add(vectors)
    kth = exact.search(queries, k)[0][:, -1]
    ivf = faiss.extract_index_ivf(index)
    sweep: dict[str, float] = {}
    nprobe = 1
    while True:
        ivf.nprobe = nprobe
        found = index.search(queries, k)[1]
        good = [
            int((vectors[ids[ids >= 0]] @ q >= t - 1e-5).sum()) for q, ids, t in zip(queries, found, kth)
        ]
        recall = float(np.mean(np.minimum(good, k)) / k)
        sweep[str(nprobe)] = round(recall, 4)
        if recall >= RECALL_TARGET or nprobe >= ivf.nlist:
            return nprobe, recall, sweep
        nprobe = min(2 * nprobe, ivf.nlist)


@dataclass
class _DocPart:
    name: str
    sha256: str
    articles: int
    passages: list[Passage]
    passage_vectors: np.ndarray | None = None  # None: to embed
    encoding: str = ""
    reuse: tuple[str, list[int]] | None = None  # from the previous index: its name there, its live rows
    reading: str = ""  # a scan's: the key of the code that read its text (images.reading_key)

    @property
    def kept_in_place(self) -> bool:
        """Unchanged, under the same name: an incremental build leaves its rows where they are."""
        return self.reuse is not None and self.reuse[0] == self.name

    def materialise(self, prev: Index) -> None:
        """Read a reused document's passages and vectors from the previous index."""
        if self.reuse is None or self.passage_vectors is not None:
            return
        old_name, ids = self.reuse
        old = [prev.passages[i] for i in ids]
        self.passages = old if old_name == self.name else [_rename(p, old_name, self.name) for p in old]
        self.passage_vectors = prev.vectors(ids)


def _reused(name: str, digest: str, info: dict, reuse: tuple[str, list[int]]) -> _DocPart:
    """A document whose passages and vectors are taken from the previous index (``info``: its
    record there; ``reuse``: its name there and its rows)."""
    return _DocPart(name, digest, info["articles"], [], None, info.get("encoding", ""), reuse, info.get("reading", ""))


def index_precision(meta: dict) -> str:
    """What an index's vectors were computed in (indexes from before it was recorded: float32)."""
    return str(meta["model"].get("precision", FLOAT32))


def _precision(embedder: Embedder) -> str:
    return str(getattr(embedder, "precision", FLOAT32))


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


RECOGNISED = "recognised"


def recognised_dir(root: Path | str) -> Path:
    """Where the text that OCR read from scanned documents is kept, beside the index's
    generations, under each file's hash: a rebuild does not read an unchanged scan again, and
    a citation's offsets can be checked against the text they were taken from."""
    return Path(root) / RECOGNISED


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



def _full_build(
    root: Path,
    prev: Index | None,
    parts: list[_DocPart],
    embedder: Embedder,
    settings: ChunkSettings,
    seeds_dir: str,
    unreadable: dict[str, str],
    spec: StoreSpec,
    compress_limit: int,
    _crash_after: str | None,
) -> tuple[int, int]:
    """Write every document into a new generation of one segment; returns (passages, sentences)."""
    passages = [p for part in parts for p in part.passages]
    # The model is loaded only when something needs embedding.
    dim = embedder.dim if any(p.reuse is None for p in parts) or prev is None else int(prev.meta["model"]["dim"])
    pvecs = [part.passage_vectors for part in parts if part.passage_vectors is not None and len(part.passages)]
    passage_vectors = np.concatenate(pvecs) if pvecs else np.zeros((0, dim), np.float32)
    n_sentences = sum(len(p.sentences) for p in passages)
    words = corpus_terms(p.text for p in passages)
    tokenizer = Tokenizer(words)
    keyword = KeywordIndex(BM25_K1, BM25_B).fit(tokenizer.words(p.text) for p in passages)
    meta = {
        "format_version": FORMAT_VERSION,
        "package_version": __version__,
        "built_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "seeds_dir": str(seeds_dir),
        "model": {"name": embedder.name, "fingerprint": embedder.fingerprint, "dim": int(dim),
                  "precision": _precision(embedder)},
        "chunker": settings.to_json(),
        "bm25": BM25_META,
        "counts": {"passages": len(passages), "sentences": n_sentences},
        "skipped": unreadable,
        "documents": _documents_meta(parts),
    }
    keep = {(prev.meta.get("dense") or {}).get("generation_collection", "")} if prev is not None else set()
    _write_generation(
        root, meta, passages, passage_vectors, keyword, words, _crash_after,
        compress_limit=compress_limit, store=spec, keep_collections=keep,
    )
    return len(passages), n_sentences


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


def _link(src: Path, dst: Path) -> None:
    """Hard-link an unchanged file into the new generation (a copy where links fail)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise
        shutil.copyfile(src, dst)


def _append_generation(
    root: Path,
    prev: Index,
    parts: list[_DocPart],
    prev_docs: dict[str, tuple[str, list[int]]],
    seeds_dir: str,
    unreadable: dict[str, str],
    crash_after: str | None,
) -> tuple[int, int, int, int]:
    """Write a generation that links the previous one's files, adds a segment, marks deleted rows.

    Returns (live passages, sentences, segments, deleted rows).  Documents unchanged under the same name keep their
    rows; new, changed and renamed ones go into the new segment; the old rows of changed,
    renamed and removed ones are added to ``deleted.npy``.
    """
    import faiss

    rows = prev.rows
    kept = [p for p in parts if p.kept_in_place]
    moved = [p for p in parts if not p.kept_in_place]
    kept_names = {p.name for p in kept}
    gone = [np.asarray(rows.to_global(np.asarray(ids, dtype=np.int64)), dtype=np.int64)
            for name, (_, ids) in prev_docs.items() if name not in kept_names and ids]
    gone_sentences = sum(
        len(prev.passages[i].sentences) for name, (_, ids) in prev_docs.items() if name not in kept_names for i in ids
    )
    deleted = np.unique(np.concatenate([rows.deleted, *gone])).astype(np.int64)
    passages = [p for part in moved for p in part.passages]
    dim = int(prev.meta["model"]["dim"])
    pvecs = [part.passage_vectors for part in moved if part.passage_vectors is not None and len(part.passages)]
    vectors = np.concatenate(pvecs) if pvecs else np.zeros((0, dim), np.float32)

    old_words = [w for w in (prev.folder / "userdict.txt").read_text(encoding="utf-8").split("\n") if w]
    words = sorted(set(old_words) | set(corpus_terms(p.text for p in passages)))
    tokenizer = Tokenizer(words)
    tokens = [tokenizer.words(p.text) for p in passages]
    old_len = sum(float(np.asarray(seg.keyword.doc_len, dtype=np.float64).sum()) for seg in prev.segments)
    avgdl = (old_len + sum(map(len, tokens))) / max(rows.total + len(passages), 1)

    segments = [dict(s, rows=rows.sizes[k]) for k, s in enumerate(segment_list(prev.meta))]
    files = {k: v for k, v in prev.meta["files"].items() if k not in (DELETED, "userdict.txt")}
    name, tmp = _new_generation(root)
    try:
        tmp.mkdir(parents=True)
        for f in files:
            _link(prev.folder / f, tmp / f)
        if passages:
            used = {s["dir"] for s in segments}
            sub = next(f"seg-{k}" for k in range(1, len(segments) + 2) if f"seg-{k}" not in used)
            (tmp / sub).mkdir()
            new_files = write_passages(tmp / sub, passages)
            dense, info = _make_faiss(vectors, exact=True)
            with open(tmp / sub / "dense.faiss", "wb") as fh:
                fh.write(faiss.serialize_index(dense))
            new_files.append("dense.faiss")
            new_files += KeywordIndex(BM25_K1, BM25_B).fit(tokens, avgdl=avgdl).save(tmp / sub)
            files.update({f"{sub}/{f}": _sha256_file(tmp / sub / f) for f in new_files})
            segments.append({"dir": sub, "rows": len(passages), "faiss": info})
        if len(deleted):
            np.save(tmp / DELETED, deleted)
            files[DELETED] = _sha256_file(tmp / DELETED)
        (tmp / "userdict.txt").write_text("\n".join(words), encoding="utf-8")
        files["userdict.txt"] = _sha256_file(tmp / "userdict.txt")
        if crash_after == "files":
            os._exit(17)

        live_after = rows.total + len(passages) - len(deleted)
        documents: dict[str, dict] = {}
        for part in kept:  # same rows, renumbered around the deleted ones
            first_global = int(rows.to_global(int(prev.meta["documents"][part.name]["first_row"])))
            first = first_global - int(np.searchsorted(deleted, first_global))
            documents[part.name] = dict(prev.meta["documents"][part.name], first_row=first)
        start = rows.total - len(deleted)  # every deleted row lies before the new segment
        for doc_name, info in _documents_meta(moved).items():
            documents[doc_name] = dict(info, first_row=info["first_row"] + start)
        sentences = int(prev.meta["counts"]["sentences"]) - gone_sentences + sum(len(p.sentences) for p in passages)
        meta = dict(
            prev.meta,
            package_version=__version__,
            built_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            format_version=FORMAT_VERSION,
            seeds_dir=seeds_dir,
            counts={"passages": live_after, "sentences": sentences},
            skipped=unreadable,
            documents=documents,
            segments=segments,
            files=files,
        )
        meta.pop("meta_sha256", None)
        meta["meta_sha256"] = _meta_digest(meta)
        _publish(root, tmp, name, meta, crash_after)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        reason = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        raise IndexError_(f"cannot write the index to {root}: {reason}") from exc
    _remove_leftovers(root, name)
    return live_after, sentences, len(segments), len(deleted)


def _documents_meta(parts: list[_DocPart]) -> dict[str, dict]:
    """meta.json's per-document record; ``first_row`` is the row of its first passage."""
    out, row = {}, 0
    for p in parts:
        arts: dict[int, list] = {}
        for q in p.passages:
            arts.setdefault(q.article, [q.title, 0])[1] += 1
        out[p.name] = {
            "sha256": p.sha256,
            "articles": p.articles,
            "passages": len(p.passages),
            "first_row": row,
            "encoding": p.encoding,
            # for the documents list, which then reads no passage
            "title": next((q.doc_title for q in p.passages if q.doc_title), ""),
            "article_titles": [[n, t, c] for n, (t, c) in sorted(arts.items())],
        }
        if p.reading:  # a scan: read by the code with this key (see _read_by_other_code)
            out[p.name]["reading"] = p.reading
        row += len(p.passages)
    return out


def _rename(p: Passage, old: str, new: str) -> Passage:
    from dataclasses import replace

    return replace(p, doc=new, id=new + p.id[len(old) :])


def _write_generation(
    root: Path,
    meta: dict,
    passages: list[Passage],
    passage_vectors: np.ndarray,
    keyword: KeywordIndex,
    words: list[str],
    crash_after: str | None,
    *,
    compress_limit: int = COMPRESS_LIMIT,
    store: StoreSpec = FAISS_STORE,
    keep_collections: frozenset[str] | set[str] = frozenset(),
) -> None:
    """Write a new generation folder, then point ``CURRENT`` at it (the old one is removed).

    Sets ``meta["faiss"]`` (the FAISS index chosen and, for IVF, its measured recall),
    ``meta["dense"]`` (where the vectors are) and ``meta["files"]`` (checksums).  With a
    Milvus store the vectors go to a new collection of this generation instead of
    ``dense.faiss``; the collection of the generation replaced is kept for readers still
    holding it, older ones are dropped.
    """
    import faiss

    name, tmp = _new_generation(root)
    try:
        tmp.mkdir(parents=True)
        files = write_passages(tmp, passages)
        if crash_after == "passages":
            os._exit(17)
        if store.kind == "milvus":
            _, dense_info = MilvusVectors.create(
                store, generation_collection(store, name), passage_vectors, exact=len(passage_vectors) <= FLAT_LIMIT
            )
            faiss_info: dict = {}
        else:
            # Written by Python, not faiss.write_index: on a full disk faiss raises RuntimeError,
            # or only prints a warning when the failure comes at close, leaving a truncated file.
            dense, faiss_info = _make_faiss(passage_vectors, compress_limit=compress_limit)
            with open(tmp / "dense.faiss", "wb") as f:
                f.write(faiss.serialize_index(dense))
            files.append("dense.faiss")
            dense_info = store.to_json()
        if "nprobe" in faiss_info:  # codes can't be decoded exactly: keep the vectors for the next build
            np.save(tmp / "vectors.npy", np.ascontiguousarray(passage_vectors, dtype=np.float32))
            files.append("vectors.npy")
        files += keyword.save(tmp)
        (tmp / "userdict.txt").write_text("\n".join(words), encoding="utf-8")
        files.append("userdict.txt")
        segments = [{"dir": "", "rows": len(passages), "faiss": faiss_info}]
        meta = dict(
            meta, faiss=faiss_info, dense=dense_info, segments=segments, files={f: _sha256_file(tmp / f) for f in files}
        )
        meta["meta_sha256"] = _meta_digest(meta)
        if crash_after == "files":
            os._exit(17)
        _publish(root, tmp, name, meta, crash_after)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        reason = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        raise IndexError_(f"cannot write the index to {root}: {reason}") from exc
    except StoreError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise IndexError_(str(exc)) from exc
    _remove_leftovers(root, name)
    if store.kind == "milvus":
        drop_old_collections(store, {generation_collection(store, name), *keep_collections})



def _new_generation(root: Path) -> tuple[str, Path]:
    """A new generation's name and the temporary folder it is written in."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    name = f"gen-{stamp}-{os.getpid()}"
    return name, root / f".tmp-{name}"


def _publish(root: Path, tmp: Path, name: str, meta: dict, crash_after: str | None) -> None:
    """Write ``meta.json``, make the folder durable, rename it to ``name`` and point ``CURRENT`` at it."""
    (tmp / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    for f in tmp.rglob("*"):
        if f.is_file():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
    os.replace(tmp, root / name)
    _fsync_dir(root)
    if crash_after == "generation":
        os._exit(17)
    _write_atomic(root / "CURRENT", name + "\n")

def current_meta(root: Path | str) -> dict:
    """The current generation's meta.json as it is, unchecked ({} when there is none or it is unreadable).

    For what a build or an open needs to know before loading: the store, the documents
    folder the index was built from, its documents.
    """
    try:
        meta = json.loads((current_generation(Path(root)) / "meta.json").read_text(encoding="utf-8"))
    except (IndexError_, OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _current_store(root: Path) -> StoreSpec:
    """Where the current index keeps its vectors (FAISS when there is none or it is unreadable)."""
    try:
        return StoreSpec.from_json(current_meta(root).get("dense"))
    except (KeyError, TypeError, AttributeError):
        return StoreSpec("faiss")


def indexed_documents(root: Path | str) -> dict[str, str]:
    """The documents of the index in ``root``, name -> sha256, from its meta.json ({} when none)."""
    docs = current_meta(root).get("documents")
    if not isinstance(docs, dict):
        return {}
    return {str(n): str(d.get("sha256", "")) for n, d in docs.items() if isinstance(d, dict)}


def check_folder(seeds_dir: Path | str, index_dir: Path | str, documents: int) -> None:
    """Refuse to sync an index of ``documents`` documents to a folder that would drop them all.

    A missing folder (moved, renamed, a disk not mounted) or one that holds no supported
    document raises :class:`FolderUnusable`, saying why: syncing would empty the index.
    Nothing is checked for an index without documents.
    """
    seeds_dir, root = Path(seeds_dir), Path(index_dir)
    if documents <= 0:
        return
    if not seeds_dir.is_dir():
        raise FolderUnusable.of("folder_missing", folder=str(seeds_dir), index=str(root), documents=documents)
    if not list_documents(seeds_dir):
        raise FolderUnusable.of("folder_empty", folder=str(seeds_dir), index=str(root), documents=documents)


def _remove_leftovers(root: Path, live: str) -> None:
    """Remove old generations and what crashed builds left (called under the build lock)."""
    for old in root.iterdir():
        if old.name != live and (old.name.startswith("gen-") or old.name.startswith(".tmp-gen-")):
            shutil.rmtree(old, ignore_errors=True)
        elif old.name.startswith(".CURRENT.") and old.name.endswith(".tmp"):  # a pointer write cut short
            old.unlink(missing_ok=True)


def stale_documents(index: Index, seeds_dir: Path | str) -> list[str]:
    """Names of documents added, changed or removed since the index was built."""
    seeds_dir = Path(seeds_dir)
    try:
        paths = list_documents(seeds_dir)
    except DocumentError:
        return ["(seeds folder missing)"]
    indexed = index.meta["documents"]
    current: dict[str, str] = {}
    for p in paths:
        with contextlib.suppress(OSError):
            current[p.relative_to(seeds_dir).as_posix()] = _sha256_file(p)
    hashes = {v["sha256"] for v in indexed.values()}
    skipped = index.meta.get("skipped", {})
    out = [
        n
        for n, h in current.items()
        if indexed.get(n, {}).get("sha256") != h and h not in hashes and skipped.get(n) != h
    ]
    out += [n for n in indexed if n not in current]
    return sorted(out)
