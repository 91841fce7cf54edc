"""How well a scanned page was read: character accuracy and reading order against the truth
that ``data/scans/make_scans.py`` writes (``truth.json``: each page's articles, each with its
title, header lines and blocks in reading order).

- ``accuracy``: 1 − (edit distance / truth length) between the page's recognised text and the
  truth, both without white space and in NFKC form (a full-width bracket is its ASCII form),
  without the ``# `` that marks a headline,
  the truth's articles and blocks in order: recognition and reading order together.
- ``bag_accuracy``: the share of the truth's characters found, ignoring their order
  (recognition alone).
- Reading order, from where the recognised text's pieces stand in the truth: a truth paragraph is
  *in order* when its characters come as one run, after the run of the paragraph before it;
  a recognised paragraph (block of the structure recovery) *crosses articles* when its
  characters come from two truth articles, and *joins* truth blocks when they come from two
  truth blocks (a paragraph's end missed, or a heading run into its paragraph); a truth block
  is *split* when its characters fall in two recognised paragraphs (an end found too early).
  A few stray characters (OCR noise that happens to align elsewhere) are ignored.

:func:`index_of` indexes scans the way ``qa index`` does (``scripts/bench_scans.py --questions``,
``qa bench --sections ocr``).
"""

from __future__ import annotations

import re
import shutil
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .documents.records import Article

if TYPE_CHECKING:
    from .embedding import Embedder
    from .index import Index

ANCHOR = 5  # characters of the recognised text that match the truth uniquely place them there
STRAY = 3  # runs of at most this many aligned characters are noise, not a reading-order slip


@dataclass(frozen=True)
class PageScore:
    """The scores of one page (see the module's description)."""

    accuracy: float
    bag_accuracy: float
    paragraphs: int  # truth blocks (headlines, header lines, paragraphs, headings, captions)
    in_order: int  # of those, read as one run in order
    articles: int  # truth articles on the page
    articles_found: int  # recognised articles whose title matches a truth article's
    blocks: int  # recognised body blocks
    crossing: int  # of those, blocks with characters of two truth articles
    joined: int = 0  # of those, blocks with characters of two truth blocks
    split: int = 0  # truth blocks whose characters fall in two recognised blocks

    @property
    def order(self) -> float:
        return self.in_order / self.paragraphs if self.paragraphs else 1.0


def squash(text: str) -> str:
    """``text`` without white space (line breaks and indents are layout, not characters), in
    NFKC form (a full-width bracket or digit and its ASCII form are one character)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions and substitutions all cost 1)."""
    if not a or not b:
        return len(a) + len(b)
    bb = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    prev = np.arange(len(b) + 1)
    cols = np.arange(len(b) + 1)
    for i, ca in enumerate(a, 1):
        cost = (bb != ord(ca)).astype(np.int64)
        # Without the insertion term, then insertions as a running minimum along the row.
        t = np.empty(len(b) + 1, dtype=np.int64)
        t[0] = i
        t[1:] = np.minimum(prev[1:] + 1, prev[:-1] + cost)
        prev = np.minimum.accumulate(t - cols) + cols
    return int(prev[-1])


def truth_blocks(page: list[dict]) -> list[tuple[int, str]]:
    """A page's truth as ``(article index, text)`` per block: title, header lines, blocks."""
    out: list[tuple[int, str]] = []
    for a, article in enumerate(page):
        out.append((a, article["title"]))
        out += [(a, h) for h in article["header"]]
        out += [(a, text) for _, text in article["blocks"]]
    return [(a, squash(t)) for a, t in out if squash(t)]


def _alignment(text: str, truth: str, n: int = ANCHOR) -> list[int]:
    """For each character of ``text``, the position of the truth character it stands for, or -1.

    Not a monotone alignment (that would hide text read out of order): every ``n``-gram of
    ``text`` that occurs exactly once in the truth anchors its characters there.
    """
    where: dict[str, int] = {}
    for j in range(len(truth) - n + 1):
        gram = truth[j : j + n]
        where[gram] = -1 if gram in where else j
    out = [-1] * len(text)
    for i in range(len(text) - n + 1):
        j = where.get(text[i : i + n], -1)
        if j >= 0:
            for k in range(n):
                if out[i + k] < 0:
                    out[i + k] = j + k
    return out


def score_page(text: str, page: list[dict], articles: Sequence[Article] = ()) -> PageScore:
    """Score a page's recognised ``text`` against its truth ``page`` (a list of articles).

    ``articles`` are the structure recovery's articles of ``text`` (their spans point into
    it), for the article checks; without them those counts are 0.
    """
    blocks = truth_blocks(page)
    truth = "".join(t for _, t in blocks)
    owner: list[int] = []  # the truth block of each truth character
    for k, (_, t) in enumerate(blocks):
        owner += [k] * len(t)
    # A headline's Markdown marker is layout, not a recognised character (offsets kept).
    text = re.sub(r"(?m)^#{1,6} ", lambda m: " " * len(m.group()), text)
    where: list[int] = []  # position in ``got`` -> position in ``text``
    got = ""
    for i, ch in enumerate(text):
        folded = squash(ch)
        got += folded
        where += [i] * len(folded)
    accuracy = 1 - edit_distance(got, truth) / len(truth) if truth else 0.0
    bag = sum((Counter(got) & Counter(truth)).values()) / len(truth) if truth else 0.0
    align = _alignment(got, truth)
    # Runs of recognised characters by truth block, stray runs left out.
    runs: list[list[int]] = []  # [block, length]
    for j in align:
        if j < 0:
            continue
        k = owner[j]
        if runs and runs[-1][0] == k:
            runs[-1][1] += 1
        else:
            runs.append([k, 1])
    merged: list[int] = []
    for k, n in runs:
        if n > STRAY and (not merged or merged[-1] != k):
            merged.append(k)
    seen = Counter(merged)
    in_order, last = 0, -1
    for k in merged:
        if seen[k] == 1 and k > last:
            in_order += 1
        last = max(last, k)
    # The truth article and block of each character of the text (-1: not aligned, or white space).
    article_at = [-1] * len(text)
    block_at = [-1] * len(text)
    for g, j in enumerate(align):
        if j >= 0:
            article_at[where[g]] = blocks[owner[j]][0]
            block_at[where[g]] = owner[j]
    titles = [squash(a["title"]) for a in page]
    found = crossing = joined = n_blocks = 0
    pieces: Counter[int] = Counter()  # truth block -> recognised blocks holding its characters
    for art in articles:
        title = squash(art.title)
        if title and any(1 - edit_distance(title, t) / len(t) >= 0.8 for t in titles):
            found += 1
        for b in art.paragraphs:
            n_blocks += 1
            counts = Counter(article_at[i] for s, e in b.spans for i in range(s, e) if article_at[i] >= 0)
            if sum(1 for c in counts.values() if c > STRAY) > 1:
                crossing += 1
            owners = Counter(block_at[i] for s, e in b.spans for i in range(s, e) if block_at[i] >= 0)
            if sum(1 for c in owners.values() if c > STRAY) > 1:
                joined += 1
            pieces.update(k for k, c in owners.items() if c > STRAY)
    return PageScore(
        round(accuracy, 4), round(bag, 4), len(blocks), in_order, len(page), found, n_blocks, crossing, joined,
        sum(1 for n in pieces.values() if n > 1),
    )


def index_of(files: list[Path], folder: Path, embedder: Embedder | None = None) -> Index:
    """``files`` copied into ``folder``/documents (only those, once) and indexed in ``folder``/index
    (with ``embedder``, default: the index's model)."""
    from .index import build_index, load_index

    docs = folder / "documents"
    docs.mkdir(parents=True, exist_ok=True)
    for old in docs.iterdir():
        if old.name not in {f.name for f in files}:
            old.unlink()
    for f in files:
        if not (docs / f.name).exists() or (docs / f.name).read_bytes() != f.read_bytes():
            shutil.copyfile(f, docs / f.name)
    build_index(docs, folder / "index", embedder=embedder)
    return load_index(folder / "index", embedder=embedder)
