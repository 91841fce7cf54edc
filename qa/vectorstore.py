"""Where the passage vectors live: FAISS files in the index folder (default), or Milvus.

A store is named by a string, on the command line (``qa index --store …``) or in Python
(``build_index(..., store=…)``)::

    faiss                              FAISS files beside the other index files (default)
    milvus://HOST:PORT/COLLECTION      a Milvus server or cluster (token: $QA_MILVUS_TOKEN)
    PATH.db  or  PATH.db#COLLECTION    a local milvus-lite file (embedded, no server)

Only the vectors move to Milvus.  Passages, the BM25 postings and the tokenizer stay in
the index folder: citations and offsets come from there whatever the store.  Each index
generation writes its own collection (``COLLECTION_<generation>``), so a crashed or
concurrent build never changes the collection a running app searches; the generation
before the live one is kept for readers that still hold it, older ones are dropped.

:class:`MilvusVectors` answers the calls :class:`qa.index.Index` makes of a FAISS index
(``d``, ``ntotal``, ``search``, ``reconstruct_batch``), so retrieval needs no branch.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_COLLECTION = "qa_passages"
INSERT_BATCH = 2_000
HNSW = {"M": 32, "efConstruction": 80}
HNSW_EF = 512
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,180}$")


class StoreError(RuntimeError):
    """A store that cannot be named, reached or trusted; the message says what to do."""


@dataclass(frozen=True)
class StoreSpec:
    kind: str  # "faiss" or "milvus"
    uri: str = ""  # http://host:port for a server, an absolute *.db path for milvus-lite
    collection: str = ""

    @property
    def lite(self) -> bool:
        return self.kind == "milvus" and not self.uri.startswith(("http://", "https://"))

    @classmethod
    def from_json(cls, d: dict | None) -> StoreSpec:
        """The store a ``meta.json`` ``dense`` entry names (FAISS when there is none)."""
        if d and d.get("backend") == "milvus":
            return cls("milvus", d["uri"], d["collection"])
        return cls("faiss")

    def to_json(self) -> dict:
        return {"backend": self.kind, "uri": self.uri, "collection": self.collection} if self.kind != "faiss" else {"backend": "faiss"}

    def __str__(self) -> str:
        if self.kind == "faiss":
            return "faiss"
        return f"{self.uri}#{self.collection}" if self.lite else f"milvus://{self.uri.split('://', 1)[1]}/{self.collection}"


STORE_HELP = "faiss (default), milvus://HOST:PORT/COLLECTION, or PATH.db[#COLLECTION] for a milvus-lite file"


def parse_store(text: str | None) -> StoreSpec:
    """Parse a store name (see the module docstring); raises :class:`StoreError` with the allowed forms."""
    text = (text or "faiss").strip()
    if text.lower() == "faiss":
        return StoreSpec("faiss")
    m = re.fullmatch(r"milvus://([^/\s]+?)(?::(\d+))?(?:/([^/\s]*))?/?", text)
    if m:
        host, port, coll = m.group(1), m.group(2) or "19530", m.group(3) or DEFAULT_COLLECTION
        return StoreSpec("milvus", f"http://{host}:{port}", _collection(coll, text))
    path, _, coll = text.partition("#")
    if path.startswith("milvus-lite:"):
        path = path[len("milvus-lite:") :]
    if path.endswith(".db"):
        return StoreSpec("milvus", str(Path(path).expanduser().resolve()), _collection(coll or DEFAULT_COLLECTION, text))
    raise StoreError(f"unknown vector store {text!r}: use {STORE_HELP}")


def _collection(name: str, text: str) -> str:
    if not _NAME.match(name):
        raise StoreError(f"bad Milvus collection name in {text!r}: letters, digits and _ only, starting with a letter or _")
    return name


# ------------------------------------------------------------------ Milvus


_clients: dict[str, object] = {}
_clients_lock = threading.Lock()


def _client(spec: StoreSpec):
    """One client per URI and process (a milvus-lite file admits one process at a time)."""
    try:
        from pymilvus import MilvusClient
    except ImportError as exc:
        raise StoreError(
            "the Milvus store needs pymilvus (and milvus-lite for a local .db file): "
            "pip install 'qa[milvus]', or use --store faiss"
        ) from exc
    with _clients_lock:
        client = _clients.get(spec.uri)
        if client is None:
            token = os.environ.get("QA_MILVUS_TOKEN", "")
            if spec.lite:  # milvus-lite's embedded server logs calls it does not implement; harmless
                logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
            try:
                client = MilvusClient(spec.uri, token=token) if token else MilvusClient(spec.uri)
            except Exception as exc:  # pymilvus raises its own exception types, by transport
                if spec.lite:
                    raise StoreError(
                        f"cannot open the milvus-lite file {spec.uri} ({type(exc).__name__}: {exc}). "
                        "A milvus-lite file is used by one process at a time: stop the other qa process "
                        "(the app, a build), or use a Milvus server"
                    ) from exc
                raise StoreError(f"cannot reach Milvus at {spec.uri} ({type(exc).__name__}: {exc})") from exc
            _clients[spec.uri] = client
        return client


def close_clients() -> None:
    """Close every client this process opened (tests; a milvus-lite file is then free again)."""
    with _clients_lock:
        for client in _clients.values():
            try:
                client.close()
            except Exception:  # closing a dead connection: nothing left to do
                pass
        _clients.clear()


def generation_collection(spec: StoreSpec, generation: str) -> str:
    return f"{spec.collection}_{re.sub(r'[^A-Za-z0-9_]', '_', generation)}"


def probe_rows(n: int) -> list[int]:
    return sorted({0, n // 2, n - 1}) if n else []


def vectors_digest(vectors: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(vectors, dtype=np.float32).tobytes()).hexdigest()


class MilvusVectors:
    """A Milvus collection of passage vectors, keyed by row, searched by inner product."""

    def __init__(self, spec: StoreSpec, collection: str, dim: int, count: int, kind: str = "FLAT", ef: int = HNSW_EF) -> None:
        self.spec, self.collection, self.d = spec, collection, dim
        self.ntotal = count  # checked against the collection when opened
        self.client = _client(spec)
        self._params: dict = {"metric_type": "IP", "params": {"ef": ef}} if kind == "HNSW" else {"metric_type": "IP"}

    @classmethod
    def create(cls, spec: StoreSpec, collection: str, vectors: np.ndarray, *, exact: bool) -> tuple[MilvusVectors, dict]:
        """Write ``vectors`` (row i = passage i) to a new collection: ``FLAT`` when ``exact``, else HNSW."""
        from pymilvus import DataType

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, dim = vectors.shape
        kind = "FLAT" if exact else "HNSW"
        store = cls(spec, collection, dim, n, kind)
        c = store.client
        try:
            if c.has_collection(collection):
                c.drop_collection(collection)
            schema = c.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("row", DataType.INT64, is_primary=True)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
            params = c.prepare_index_params()
            params.add_index(field_name="vector", index_type=kind, metric_type="IP", params={} if kind == "FLAT" else HNSW)
            c.create_collection(collection, schema=schema, index_params=params)
            for lo in range(0, n, INSERT_BATCH):
                chunk = vectors[lo : lo + INSERT_BATCH]
                c.insert(collection, [{"row": lo + i, "vector": v} for i, v in enumerate(chunk.tolist())])
            c.flush(collection)
            c.load_collection(collection)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"cannot write vectors to Milvus {spec} ({type(exc).__name__}: {exc})") from exc
        rows = probe_rows(n)
        info = dict(
            spec.to_json(),
            generation_collection=collection,
            index=kind,
            count=n,
            dim=dim,
            probe_rows=rows,
            probe_sha256=vectors_digest(vectors[rows]) if rows else "",
        )
        if kind == "HNSW":
            info["ef"] = HNSW_EF
        return store, info

    @classmethod
    def open(cls, info: dict, dim: int) -> MilvusVectors:
        """Open the collection that ``meta.json`` names; refuses one that is gone or differs."""
        spec = StoreSpec.from_json(info)
        store = cls(spec, info["generation_collection"], dim, int(info["count"]), info.get("index", "FLAT"),
                    int(info.get("ef", HNSW_EF)))
        c = store.client
        name = store.collection
        try:
            if not c.has_collection(name):
                raise StoreError(f"Milvus {spec} has no collection {name}: rebuild the index (qa index)")
            c.load_collection(name)
            count = int(c.get_collection_stats(name).get("row_count", -1))
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"cannot read collection {name} from Milvus {spec} ({type(exc).__name__}: {exc})") from exc
        if count != int(info["count"]):
            raise StoreError(f"Milvus collection {name} holds {count} vectors, the index has {info['count']}: rebuild the index")
        rows = list(info.get("probe_rows") or [])
        if rows and vectors_digest(store.reconstruct_batch(rows)) != info.get("probe_sha256"):
            raise StoreError(f"Milvus collection {name} holds other vectors than this index was built with: rebuild the index")
        return store

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        try:
            res = self.client.search(
                self.collection, data=queries.tolist(), limit=k, search_params=self._params, output_fields=["row"]
            )
        except Exception as exc:
            raise StoreError(f"Milvus search failed on {self.collection} ({type(exc).__name__}: {exc})") from exc
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        for qi, hits in enumerate(res):
            for j, h in enumerate(list(hits)[:k]):
                ids[qi, j] = int(h["row"] if "row" in h else h["id"])
                scores[qi, j] = float(h["distance"])
        return scores, ids

    def reconstruct_batch(self, rows) -> np.ndarray:
        rows = [int(r) for r in np.asarray(rows).reshape(-1)]
        out = np.zeros((len(rows), self.d), dtype=np.float32)
        if not rows:
            return out
        pos = {r: i for i, r in enumerate(rows)}
        for lo in range(0, len(rows), INSERT_BATCH):
            got = self.client.get(self.collection, ids=rows[lo : lo + INSERT_BATCH], output_fields=["vector"])
            for g in got:
                out[pos[int(g["row"])]] = np.asarray(g["vector"], dtype=np.float32)
        return out


def drop_old_collections(spec: StoreSpec, keep: set[str]) -> None:
    """Drop this store's generation collections other than ``keep`` (best effort)."""
    try:
        c = _client(spec)
        for name in c.list_collections():
            if name.startswith(spec.collection + "_gen_") and name not in keep:
                c.drop_collection(name)
    except Exception:  # the next build tries again; a stale collection costs only space
        pass
