"""Writing a generation: a full build's one segment or an incremental build's appended one,
then publishing it (meta.json, fsync, rename, ``CURRENT``) and removing the old ones.

Each build writes a new generation folder ``gen-*`` and then atomically replaces the small
``CURRENT`` pointer file, so a crash mid-build leaves the previous generation in use.  An
incremental build hard-links every unchanged file into the new generation and writes only
the new segment, ``deleted.npy``, ``userdict.txt`` and ``meta.json``; a full build writes
one segment.
"""

from __future__ import annotations

import datetime as _dt
import errno
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from ..chunking import ChunkSettings
from ..embedding import Embedder
from ..keyword import KeywordIndex
from ..records import Passage
from ..store import write_passages
from ..text import Tokenizer, corpus_terms
from ..vectorstore import MilvusVectors, StoreError, StoreSpec, drop_old_collections, generation_collection
from .dense import COMPRESS_LIMIT, FLAT_LIMIT, _make_faiss
from .files import _fsync_dir, _link, _sha256_file, _write_atomic
from .load import (
    BM25_B,
    BM25_K1,
    BM25_META,
    DELETED,
    FORMAT_VERSION,
    Index,
    IndexError_,
    _meta_digest,
    _precision,
    segment_list,
)

FAISS_STORE = StoreSpec("faiss")


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


def _rename(p: Passage, old: str, new: str) -> Passage:
    from dataclasses import replace

    return replace(p, doc=new, id=new + p.id[len(old) :])


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


def _remove_leftovers(root: Path, live: str) -> None:
    """Remove old generations and what crashed builds left (called under the build lock)."""
    for old in root.iterdir():
        if old.name != live and (old.name.startswith("gen-") or old.name.startswith(".tmp-gen-")):
            shutil.rmtree(old, ignore_errors=True)
        elif old.name.startswith(".CURRENT.") and old.name.endswith(".tmp"):  # a pointer write cut short
            old.unlink(missing_ok=True)
