"""Passage records on disk, read on demand.

``passages.jsonl`` keeps one :class:`~qa.records.Passage` per line (``ensure_ascii=False``,
readable Chinese); two small arrays beside it make it random-access without loading it:

    passages.offsets.npy   int64, n + 1 byte offsets: line i is bytes [off[i], off[i+1])
    passages.ids.npy       int64, shape (2, n): 64-bit hashes of the passage ids, sorted,
                           and the row of each (for ``row(passage_id)``)

All three are memory-mapped when loaded, so start-up time and memory do not grow with
the corpus: a passage is parsed when it is asked for (the last few thousand are cached).
A mapping outlives its file, so a loaded store keeps working after a rebuild deletes
its generation folder.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import overload

import numpy as np

from .records import Passage

JSONL, OFFSETS, IDS = "passages.jsonl", "passages.offsets.npy", "passages.ids.npy"
FILES = (JSONL, OFFSETS, IDS)
CACHE_SIZE = 4096  # parsed passages kept (retrieval asks for the same top passages again)


def id_hash(passage_id: str) -> int:
    """A signed 64-bit hash of a passage id (stable across processes)."""
    return int.from_bytes(hashlib.blake2b(passage_id.encode("utf-8"), digest_size=8).digest(), "little", signed=True)


def write_passages(folder: Path, passages: Iterable[Passage]) -> list[str]:
    """Write ``passages.jsonl`` and its two index arrays into ``folder``; returns the file names."""
    offsets = [0]
    hashes: list[int] = []
    with open(folder / JSONL, "wb") as f:
        for p in passages:
            line = (json.dumps(p.to_json(), ensure_ascii=False) + "\n").encode("utf-8")
            f.write(line)
            offsets.append(offsets[-1] + len(line))
            hashes.append(id_hash(p.id))
    h = np.asarray(hashes, dtype=np.int64)
    order = np.argsort(h, kind="stable")
    np.save(folder / OFFSETS, np.asarray(offsets, dtype=np.int64))
    np.save(folder / IDS, np.stack([h[order], order.astype(np.int64)]) if len(h) else np.zeros((2, 0), np.int64))
    return list(FILES)


class PassageStore(Sequence[Passage]):
    """A read-only sequence of passages backed by ``passages.jsonl`` (see the module docstring).

    Supports ``store[i]``, ``store[a:b]``, ``len(store)``, iteration and ``store.row(passage_id)``.
    Raises ``ValueError`` on open when the three files disagree (a corrupt store).
    """

    def __init__(self, folder: Path) -> None:
        folder = Path(folder)
        self.offsets = np.load(folder / OFFSETS, mmap_mode="r")
        self._ids = np.load(folder / IDS, mmap_mode="r")
        n = len(self.offsets) - 1
        size = (folder / JSONL).stat().st_size
        if n < 0 or self._ids.shape != (2, n) or (n and int(self.offsets[-1]) != size) or (not n and size):
            raise ValueError(f"{JSONL} does not match {OFFSETS}/{IDS} ({size} bytes, {n} offsets)")
        self._n = n
        self._map: mmap.mmap | bytes = b""
        if size:
            with open(folder / JSONL, "rb") as f:
                self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            if hasattr(mmap, "MADV_RANDOM"):  # a passage is a few hundred bytes: no read-ahead
                self._map.madvise(mmap.MADV_RANDOM)
        self._cache: OrderedDict[int, Passage] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._n

    def raw(self, i: int) -> bytes:
        """The JSON line of passage ``i`` (with its newline)."""
        return self._map[int(self.offsets[i]) : int(self.offsets[i + 1])]

    def _get(self, i: int) -> Passage:
        with self._lock:
            p = self._cache.get(i)
            if p is not None:
                self._cache.move_to_end(i)
                return p
        p = Passage.from_json(json.loads(self.raw(i)))
        with self._lock:
            self._cache[i] = p
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return p

    @overload
    def __getitem__(self, i: int) -> Passage: ...

    @overload
    def __getitem__(self, i: slice) -> list[Passage]: ...

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._get(j) for j in range(*i.indices(self._n))]
        i = int(i)
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(f"passage {i} out of range (the index has {self._n})")
        return self._get(i)

    def __iter__(self) -> Iterator[Passage]:
        """Every passage in order (parsed as it goes; the cache is left alone)."""
        lo = 0
        data = self._map
        for i in range(self._n):
            hi = int(self.offsets[i + 1])
            yield Passage.from_json(json.loads(data[lo:hi]))
            lo = hi

    def row(self, passage_id: str) -> int:
        """The position of ``passage_id``; ``KeyError`` when the index has no such passage."""
        h = id_hash(passage_id)
        keys = self._ids[0]
        lo = int(np.searchsorted(keys, h, side="left"))
        while lo < self._n and int(keys[lo]) == h:
            r = int(self._ids[1, lo])
            if self._get(r).id == passage_id:
                return r
            lo += 1
        raise KeyError(passage_id)

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, Passage):
            return False
        try:
            return self._get(self.row(item.id)) == item
        except KeyError:
            return False
