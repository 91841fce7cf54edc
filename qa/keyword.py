"""Okapi BM25 over jieba tokens, stored as a compressed postings matrix.

Tokens come from :meth:`qa.text.Tokenizer.words`, which tokenises the folded text
(:func:`qa.text.fold`: traditional to simplified, full-width to half-width, numbers in
Arabic digits) of passages at index time and of questions at query time, so ``图书馆``
finds ``圖書館`` and ``3万`` finds ``三万``.

Postings are kept column-wise (term -> passages), so a query touches only the
postings of its own terms: cost grows with the matches, not the corpus.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np


class KeywordIndex:
    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self.vocab: dict[str, int] = {}
        self.indptr = np.zeros(1, dtype=np.int64)
        self.doc_ids = np.zeros(0, dtype=np.int32)
        self.tfs = np.zeros(0, dtype=np.float32)
        self.doc_len = np.zeros(0, dtype=np.float32)
        self.idf = np.zeros(0, dtype=np.float32)

    @property
    def n_docs(self) -> int:
        return len(self.doc_len)

    def fit(self, docs: list[list[str]]) -> KeywordIndex:
        postings: dict[str, list[tuple[int, int]]] = {}
        for i, toks in enumerate(docs):
            for term, tf in Counter(toks).items():
                postings.setdefault(term, []).append((i, tf))
        terms = sorted(postings)
        self.vocab = {t: j for j, t in enumerate(terms)}
        lengths = [len(postings[t]) for t in terms]
        self.indptr = np.zeros(len(terms) + 1, dtype=np.int64)
        np.cumsum(lengths, out=self.indptr[1:])
        flat = [p for t in terms for p in postings[t]]
        self.doc_ids = np.array([p[0] for p in flat], dtype=np.int32)
        self.tfs = np.array([p[1] for p in flat], dtype=np.float32)
        self.doc_len = np.array([len(d) for d in docs], dtype=np.float32)
        self._compute_idf()
        return self

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

    def scores(self, query: list[str]) -> np.ndarray:
        """BM25 score of every document for the (de-duplicated) query terms."""
        out = np.zeros(self.n_docs, dtype=np.float32)
        if not self.n_docs:
            return out
        avgdl = float(self.doc_len.mean()) or 1.0
        for term in dict.fromkeys(query):
            j = self.vocab.get(term)
            if j is None:
                continue
            lo, hi = self.indptr[j], self.indptr[j + 1]
            ids, tf = self.doc_ids[lo:hi], self.tfs[lo:hi]
            norm = self.k1 * (1.0 - self.b + self.b * self.doc_len[ids] / avgdl)
            out[ids] += self.idf[j] * tf * (self.k1 + 1.0) / (tf + norm)
        return out

    def search(self, query: list[str], k: int = 10) -> list[tuple[int, float]]:
        """Top-``k`` ``(document index, score)`` with a positive score, best first."""
        s = self.scores(query)
        nz = np.flatnonzero(s > 0)
        if not len(nz):
            return []
        if len(nz) > k:
            nz = nz[np.argpartition(-s[nz], k - 1)[:k]]
        order = nz[np.lexsort((nz, -s[nz]))]
        return [(int(i), float(s[i])) for i in order[:k]]

    # ------------------------------------------------------------ persistence

    def save(self, folder: Path) -> list[str]:
        terms = sorted(self.vocab, key=self.vocab.__getitem__)
        (folder / "keyword_vocab.json").write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")
        with open(folder / "keyword.npz", "wb") as f:
            np.savez(f, indptr=self.indptr, doc_ids=self.doc_ids, tfs=self.tfs, doc_len=self.doc_len)
        return ["keyword_vocab.json", "keyword.npz"]

    @classmethod
    def load(cls, folder: Path, k1: float, b: float) -> KeywordIndex:
        self = cls(k1, b)
        terms = json.loads((folder / "keyword_vocab.json").read_text(encoding="utf-8"))
        self.vocab = {t: j for j, t in enumerate(terms)}
        with np.load(folder / "keyword.npz") as z:
            self.indptr, self.doc_ids = z["indptr"], z["doc_ids"]
            self.tfs, self.doc_len = z["tfs"], z["doc_len"]
        if len(self.indptr) != len(terms) + 1:
            raise ValueError("keyword index does not match its vocabulary")
        self._compute_idf()
        return self
