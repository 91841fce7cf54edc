"""Loading and checking a built index: the format, its errors, :class:`Index`, and what is
read from the current generation without loading it (its meta.json, its documents, stale ones).

Loading verifies the checksums and the model fingerprint: a corrupt, truncated or
mismatched index is refused with a message, never used.  Passage records, postings and
``vectors.npy`` are memory-mapped, so loading reads little beyond the FAISS index.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..documents import DocumentError, Source, TextLine, list_documents, read_text
from ..documents.images import load_recognised
from ..embedding import Embedder, make_embedder
from ..keyword import KeywordIndex
from ..messages import ReasonedError
from ..precision import FLOAT32
from ..segments import RowMap, Segment, SegmentedKeyword, SegmentedPassages, dense_search
from ..store import PassageStore
from ..text import TOKENIZER_VERSION, Tokenizer
from ..vectorstore import MilvusVectors, StoreError, StoreSpec
from .dense import faiss_threads
from .files import _sha256_file

# 2: meta.json carries its own checksum (meta_sha256); 3: no sentence vectors, passages
# read on demand through an offsets file, BM25 weights as .npy files, compressed vectors.
# 4: segments (an incremental build appends one) and deleted rows; a format-3 index is a
# format-4 index of one segment, and loads as such.
FORMAT_VERSION = 4
READABLE_FORMATS = (3, 4)
BM25_K1, BM25_B = 1.2, 0.75
BM25_META = {"k1": BM25_K1, "b": BM25_B, "tokenizer": f"jieba.lcut_for_search+normalize v{TOKENIZER_VERSION}"}
BUILD_ONLY_FILES = ("vectors.npy",)  # read by builds only: verified when a build reuses them
DELETED = "deleted.npy"  # rows of removed or changed documents, sorted (see qa/segments.py)
RECOGNISED = "recognised"


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
        self._query_memo: dict[str, np.ndarray] | None = None

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

    def query_vector(self, text: str) -> np.ndarray:
        """The query embedding of ``text`` (remembered only inside :meth:`remembering_queries`)."""
        memo = self._query_memo
        if memo is not None and text in memo:
            return memo[text]
        v = self.embedder.embed([text], kind="query")[0]
        if memo is not None:
            memo[text] = v
        return v

    @contextlib.contextmanager
    def remembering_queries(self) -> Iterator[None]:
        """Embed each query text once within: ``qa eval`` retrieves a question to answer it, to
        rank its evidence and once per compared mode.  Off elsewhere, so that ``answer()``'s
        timings always include the embedding."""
        self._query_memo = {}
        try:
            yield
        finally:
            self._query_memo = None

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


def index_precision(meta: dict) -> str:
    """What an index's vectors were computed in (indexes from before it was recorded: float32)."""
    return str(meta["model"].get("precision", FLOAT32))


def _precision(embedder: Embedder) -> str:
    return str(getattr(embedder, "precision", FLOAT32))


def recognised_dir(root: Path | str) -> Path:
    """Where the text that OCR read from scanned documents is kept, beside the index's
    generations, under each file's hash: a rebuild does not read an unchanged scan again, and
    a citation's offsets can be checked against the text they were taken from."""
    return Path(root) / RECOGNISED


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
