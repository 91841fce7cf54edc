"""Okapi BM25 over jieba tokens, stored as a compressed postings matrix.

Tokens come from :meth:`qa.text.Tokenizer.words`, which tokenises the folded text
(:func:`qa.text.fold`: traditional to simplified, full-width to half-width, numbers in
Arabic digits) of passages at index time and of questions at query time, so ``图书馆``
finds ``圖書館`` and ``5万`` finds ``五万``.

Postings are kept column-wise (term -> passages), so a query touches only the
postings of its own terms: cost grows with the matches, not the corpus.  Each posting
stores its final BM25 weight (IDF and length normalisation applied at fit time), so a
query only adds up weights.  On disk the arrays are ``.npy`` files, memory-mapped when
loaded: start-up reads the vocabulary only, and a query pages in its own postings.
"""

from __future__ import annotations

import json
import math
from array import array
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np

FILES = ("keyword_vocab.json", "keyword_indptr.npy", "keyword_docs.npy", "keyword_weights.npy", "keyword_doclen.npy")


class KeywordIndex:
    """BM25 over token lists: ``fit(docs) -> self``, ``search(query, k) -> [(doc, score)]``."""

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self.vocab: dict[str, int] = {}
        self.indptr = np.zeros(1, dtype=np.int64)
        self.doc_ids = np.zeros(0, dtype=np.int32)
        self.weights = np.zeros(0, dtype=np.float32)  # BM25 weight of each posting
        self.doc_len = np.zeros(0, dtype=np.float32)
        self.idf = np.zeros(0, dtype=np.float32)

    @property
    def n_docs(self) -> int:
        return len(self.doc_len)

    def fit(self, docs: Iterable[list[str]], *, avgdl: float | None = None) -> KeywordIndex:
        """Index token lists (one per document); documents are numbered in order.

        ``avgdl`` replaces the mean length in the length normalisation (an appended segment
        uses the corpus-wide mean; see :mod:`qa.segments`).
        """
        vocab: dict[str, int] = {}
        terms_seen = array("q")  # per posting, in document order: first-seen term id, count
        counts = array("f")
        uniq = array("q")  # per document: distinct terms, tokens
        lengths = array("f")
        for toks in docs:
            c = Counter(toks)
            terms_seen.extend(vocab.setdefault(t, len(vocab)) for t in c)
            counts.extend(c.values())
            uniq.append(len(c))
            lengths.append(len(toks))
        n_docs = len(uniq)
        terms = sorted(vocab)
        rank = np.empty(len(vocab), dtype=np.int64)  # first-seen id -> sorted id
        rank[[vocab[t] for t in terms]] = np.arange(len(terms))
        self.vocab = {t: j for j, t in enumerate(terms)}
        term = rank[np.frombuffer(terms_seen, dtype=np.int64)] if terms_seen else np.zeros(0, np.int64)
        doc = np.repeat(np.arange(n_docs, dtype=np.int32), np.frombuffer(uniq, dtype=np.int64) if uniq else np.zeros(0, np.int64))
        tf = np.frombuffer(counts, dtype=np.float32) if counts else np.zeros(0, np.float32)
        order = np.argsort(term, kind="stable")  # by term, then document (stable)
        self.doc_ids, tf = doc[order], tf[order]
        self.indptr = np.zeros(len(terms) + 1, dtype=np.int64)
        np.cumsum(np.bincount(term, minlength=len(terms)), out=self.indptr[1:])
        self.doc_len = np.array(lengths, dtype=np.float32)
        self._compute_idf()
        self.weights = self._weights(tf, avgdl)
        return self

    def _weights(self, tf: np.ndarray, avgdl: float | None = None) -> np.ndarray:
        """Per-posting BM25 weights: idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avgdl))."""
        if not len(tf):
            return np.zeros(0, dtype=np.float32)
        avgdl = avgdl or float(self.doc_len.mean()) or 1.0
        idf = np.repeat(self.idf, np.diff(self.indptr))
        norm = self.k1 * (1.0 - self.b + self.b * self.doc_len[self.doc_ids] / avgdl)
        return (idf * tf * (self.k1 + 1.0) / (tf + norm)).astype(np.float32)

    def _compute_idf(self) -> None:
        n = max(self.n_docs, 1)
        df = np.diff(self.indptr).astype(np.float64)
        self.idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)

    def term_idf(self, term: str) -> float:
        """IDF of a term; an unseen term gets the IDF of a term in no document."""
        j = self.vocab.get(term)
        if j is not None:
            return float(self.idf[j])
        return math.log(1.0 + (self.n_docs + 0.5) / 0.5)

    def scores(self, query: list[str], scale: dict[str, float] | None = None) -> np.ndarray:
        """BM25 score of every document for the (de-duplicated) query terms.

        ``scale`` multiplies a term's weights (the corpus-wide IDF over this one's).
        """
        out = np.zeros(self.n_docs, dtype=np.float32)
        for term in dict.fromkeys(query):
            j = self.vocab.get(term)
            if j is None:
                continue
            lo, hi = int(self.indptr[j]), int(self.indptr[j + 1])
            w = self.weights[lo:hi]
            if scale is not None and term in scale:
                w = w * np.float32(scale[term])
            out[self.doc_ids[lo:hi]] += w
        return out

    def search(self, query: list[str], k: int = 10) -> list[tuple[int, float]]:
        """Top-``k`` ``(document index, score)`` with a positive score, best first."""
        s = self.scores(query)
        nz = np.flatnonzero(s > 0)
        if not len(nz) or k <= 0:
            return []
        if len(nz) > k:
            nz = nz[np.argpartition(-s[nz], k - 1)[:k]]
        order = nz[np.lexsort((nz, -s[nz]))]
        return [(int(i), float(s[i])) for i in order[:k]]

    # ------------------------------------------------------------ persistence

    def save(self, folder: Path) -> list[str]:
        """Write the vocabulary (JSON, readable) and the arrays (``.npy``); returns the file names."""
        terms = sorted(self.vocab, key=self.vocab.__getitem__)
        (folder / FILES[0]).write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")
        for name, a in zip(FILES[1:], (self.indptr, self.doc_ids, self.weights, self.doc_len)):
            np.save(folder / name, np.ascontiguousarray(a))
        return list(FILES)

    @classmethod
    def load(cls, folder: Path, k1: float, b: float) -> KeywordIndex:
        """Load what :meth:`save` wrote (arrays memory-mapped); ``k1``/``b`` are those it was fitted with."""
        self = cls(k1, b)
        terms = json.loads((folder / FILES[0]).read_text(encoding="utf-8"))
        self.vocab = {t: j for j, t in enumerate(terms)}
        self.indptr, self.doc_ids, self.weights, self.doc_len = (
            np.load(folder / name, mmap_mode="r") for name in FILES[1:]
        )
        if len(self.indptr) != len(terms) + 1:
            raise ValueError("keyword index does not match its vocabulary")
        if len(self.doc_ids) != len(self.weights) or (len(terms) and int(self.indptr[-1]) != len(self.doc_ids)):
            raise ValueError("keyword postings do not match their weights")
        self._compute_idf()
        return self
