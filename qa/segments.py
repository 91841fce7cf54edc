"""An index made of segments: one large base and small appended ones, with deleted rows.

An incremental build does not rewrite what is unchanged (see :func:`qa.index.build_index`):
the files of the previous generation are hard-linked into the new one, the new and changed
documents go into a new *segment* (its own passages, FAISS and BM25 files), and the rows of
removed or changed documents are listed in ``deleted.npy``.  A full build merges everything
back into one segment.

Rows.  Every segment's passages have *global* rows, base + position, that never change
while the segment lives; deleted rows keep their number.  The index shows only *live*
rows, numbered 0..n-1 without gaps, so ``index.passages[i]``, the search results and
meta.json's ``first_row`` mean what they meant with one segment.

BM25 across segments.  Each segment stores weights with its own IDF.  A query rescales
them by the IDF over all segments (document frequencies summed, deleted passages still
counted until the next merge, as Lucene does), so scores are comparable across segments.
An appended segment is fitted with the corpus-wide mean length.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np

from .keyword import KeywordIndex
from .records import Passage
from .store import PassageStore


class RowMap:
    """Live rows <-> global rows, given the segments' sizes and the sorted deleted rows."""

    def __init__(self, sizes: Sequence[int], deleted: np.ndarray) -> None:
        self.sizes = [int(s) for s in sizes]
        self.bases = np.concatenate([[0], np.cumsum(self.sizes)]).astype(np.int64)
        self.total = int(self.bases[-1])
        self.deleted = np.asarray(deleted, dtype=np.int64)
        self.n_live = self.total - len(self.deleted)
        # for live -> global: the k-th deleted row has D[k] - k live rows before it
        self._gaps = self.deleted - np.arange(len(self.deleted), dtype=np.int64)

    def to_global(self, live: np.ndarray | int) -> np.ndarray | int:
        if not len(self.deleted):
            return live
        return live + np.searchsorted(self._gaps, live, side="right")

    def to_live(self, glob: np.ndarray | int) -> np.ndarray | int:
        """Live row of a global row that is not deleted."""
        if not len(self.deleted):
            return glob
        return glob - np.searchsorted(self.deleted, glob, side="left")

    def is_deleted(self, glob: np.ndarray) -> np.ndarray:
        glob = np.asarray(glob, dtype=np.int64)
        if not len(self.deleted):
            return np.zeros(glob.shape, dtype=bool)
        pos = np.minimum(np.searchsorted(self.deleted, glob), len(self.deleted) - 1)
        return self.deleted[pos] == glob

    def segment_of(self, glob: int) -> int:
        return int(np.searchsorted(self.bases, glob, side="right")) - 1

    def deleted_in(self, segment: int) -> int:
        lo, hi = self.bases[segment], self.bases[segment + 1]
        return int(np.searchsorted(self.deleted, hi) - np.searchsorted(self.deleted, lo))


@dataclass
class Segment:
    """One segment's parts, as loaded (``vectors``: float32 rows beside IVF codes, else None)."""

    store: PassageStore
    dense: object
    keyword: KeywordIndex
    vectors: np.ndarray | None = None


class SegmentedPassages(Sequence[Passage]):
    """The live passages of all segments, in row order (see :class:`qa.store.PassageStore`)."""

    def __init__(self, stores: Sequence[PassageStore], rows: RowMap) -> None:
        self.stores = list(stores)
        self.rows = rows

    def __len__(self) -> int:
        return self.rows.n_live

    def _at_global(self, g: int) -> Passage:
        s = self.rows.segment_of(g)
        return self.stores[s][g - int(self.rows.bases[s])]

    @overload
    def __getitem__(self, i: int) -> Passage: ...

    @overload
    def __getitem__(self, i: slice) -> list[Passage]: ...

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = int(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"passage {i} out of range (the index has {len(self)})")
        if len(self.stores) == 1 and not len(self.rows.deleted):
            return self.stores[0][i]
        return self._at_global(int(self.rows.to_global(i)))

    def __iter__(self) -> Iterator[Passage]:
        """Every live passage in order (parsed as it goes)."""
        dead = set(self.rows.deleted.tolist())
        for s, store in enumerate(self.stores):
            base = int(self.rows.bases[s])
            for j, p in enumerate(store):
                if base + j not in dead:
                    yield p

    def row(self, passage_id: str) -> int:
        """Live row of ``passage_id``; ``KeyError`` when no live passage has it.

        A changed document's passages keep their ids, so the newest segment is asked first
        and a deleted copy is passed over.
        """
        for s in range(len(self.stores) - 1, -1, -1):
            try:
                local = self.stores[s].row(passage_id)
            except KeyError:
                continue
            g = int(self.rows.bases[s]) + local
            if not self.rows.is_deleted(np.int64(g)):
                return int(self.rows.to_live(g))
        raise KeyError(passage_id)

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, Passage):
            return False
        try:
            return self[self.row(item.id)] == item
        except KeyError:
            return False


def bm25_idf(n: int, df: float) -> float:
    return math.log(1.0 + (max(n, 1) - df + 0.5) / (df + 0.5))


class SegmentedKeyword:
    """BM25 over the segments' postings with corpus-wide IDF, live rows only."""

    def __init__(self, parts: Sequence[KeywordIndex], rows: RowMap) -> None:
        self.parts = list(parts)
        self.rows = rows

    @property
    def n_docs(self) -> int:
        """Passages counted by BM25's statistics (deleted ones included until a merge)."""
        return sum(p.n_docs for p in self.parts)

    def document_frequency(self, term: str) -> int:
        """Passages whose postings hold ``term`` (deleted ones included until a merge)."""
        df = 0
        for p in self.parts:
            j = p.vocab.get(term)
            if j is not None:
                df += int(p.indptr[j + 1] - p.indptr[j])
        return df

    def term_idf(self, term: str) -> float:
        """IDF of a term over all segments (an unseen term: that of a term in no passage)."""
        if len(self.parts) == 1:
            return self.parts[0].term_idf(term)
        return bm25_idf(self.n_docs, self.document_frequency(term))

    def search(self, query: list[str], k: int = 10) -> list[tuple[int, float]]:
        """Top-``k`` ``(live row, score)`` with a positive score, best first."""
        if len(self.parts) == 1 and not len(self.rows.deleted):
            return self.parts[0].search(query, k)
        if k <= 0:
            return []
        terms = list(dict.fromkeys(query))
        n = self.n_docs
        idf = {t: bm25_idf(n, self.document_frequency(t)) for t in terms}
        found: list[tuple[float, int]] = []
        for s, part in enumerate(self.parts):
            scale = {}
            for t in terms:
                j = part.vocab.get(t)
                if j is not None:
                    scale[t] = idf[t] / float(part.idf[j])
            scores = part.scores(terms, scale)
            base = int(self.rows.bases[s])
            nz = np.flatnonzero(scores > 0)
            if len(nz):
                nz = nz[~self.rows.is_deleted(nz + base)]
            if len(nz) > k:
                nz = nz[np.argpartition(-scores[nz], k - 1)[:k]]
            live = self.rows.to_live(nz.astype(np.int64) + base)
            found += [(float(scores[j]), int(r)) for j, r in zip(nz, np.atleast_1d(live))]
        found.sort(key=lambda x: (-x[0], x[1]))
        return [(r, sc) for sc, r in found[:k]]


def dense_search(segments: Sequence[Segment], rows: RowMap, qvec: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Top-``k`` ``(live row, score)`` over every segment's vectors, deleted rows left out.

    A segment with deleted rows is asked for more than ``k``, doubling until ``k`` live rows
    come back (deleted rows cluster: a document changed five times leaves five copies of
    its passages near the same questions), so the cost follows the deleted rows near the
    query, not all of them.
    """
    q = np.ascontiguousarray(qvec.reshape(1, -1), dtype=np.float32)
    found: list[tuple[float, int]] = []
    for s, seg in enumerate(segments):
        size = rows.sizes[s]
        if not size:
            continue
        base, dead = int(rows.bases[s]), rows.deleted_in(s)
        ks = min(size, k + min(dead, k))
        while True:
            scores, ids = seg.dense.search(q, ks)
            ok = ids[0] >= 0
            g = ids[0][ok].astype(np.int64) + base
            keep = ~rows.is_deleted(g)
            if int(keep.sum()) >= k or ks >= size or not dead:
                break
            ks = min(size, 2 * ks)
        live = np.atleast_1d(rows.to_live(g[keep]))
        found += [(float(a), int(r)) for a, r in zip(scores[0][ok][keep], live)]
    found.sort(key=lambda x: (-x[0], x[1]))
    return [(r, sc) for sc, r in found[:k]]
