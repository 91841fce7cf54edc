"""A training run's data: the split, the source weights, the negatives and the labelled windows.

Everything here is a pure function of the data files and the :class:`TrainConfig` (and the
tokenizer), so a run, its resumption and a pack for the GPU (:mod:`qa.reader.pack`) see the same windows.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from pathlib import Path

from . import windows as W
from .data import (
    SPLITS,
    MRCExample,
    answer_cut,
    article_negatives,
    cross_lingual,
    fold_simplified,
    load_squad,
    split_examples,
    term_swaps,
)


@dataclass
class TrainConfig:
    epochs: float = 2.0
    lr: float = 8e-5
    batch_size: int = 16
    warmup: float = 0.06
    weight_decay: float = 0.01
    max_len: int = W.MAX_LEN
    stride: int = W.STRIDE
    negatives: float = 0.4  # no-answer windows kept per answer window
    # source -> its weight: repeats per epoch (2.0 twice, 0.5 a random half); "drcd-dev" also weighs
    # its simplified copy "drcd-dev-s" and its article negatives "drcd-dev+other" unless they are named
    oversample: dict[str, float] = field(default_factory=dict)
    seed: int = 13
    bf16: bool = True
    max_minutes: float = 0.0  # stop early (and still save/evaluate) after this long; 0 = no limit
    threads: int = 0
    eval_every: int = 0  # steps between dev evaluations (0 = once per epoch)
    dev_limit: int = 600  # dev questions used for the learning curve
    limit: int = 0  # use only this many questions per split (a smoke test of the whole command)
    init: str = ""  # start from this reader folder instead of the bare base encoder
    average: list[str] = field(default_factory=list)  # or from the uniform average of these (a model soup)
    cut_answers: float = 0.0  # share of answerable train questions also trained on their context minus the answer
    article_negatives: float = 0.0  # share of answerable questions also put over another paragraph of their article
    swap_negatives: float = 0.0  # share of answerable train questions also asked with a rare noun swapped (no answer)
    save_every: float = 10.0  # minutes between resumable checkpoints (OUT/resume/)
    # The embeddings and the lowest ``freeze_layers`` encoder layers are not trained for the first
    # ``freeze_share`` of the schedule: no backward pass through them, so a step costs less.
    freeze_layers: int = 0
    freeze_share: float = 1.0
    device: str = "auto"  # auto (a GPU when torch sees one), cpu or cuda; a run may resume on another


@dataclass(frozen=True)
class Feature:
    input_ids: tuple[int, ...]
    start: int
    end: int


def features(tok, examples: list[MRCExample], cfg: TrainConfig, rng: random.Random) -> list[Feature]:
    """Labelled windows: the answer's token span, or (0, 0) when the window has no answer."""
    pos: list[Feature] = []
    neg: list[Feature] = []  # windows of unanswerable questions: hard, question-specific negatives
    off: list[Feature] = []  # windows of answerable questions that miss the answer
    B = 256
    for b in range(0, len(examples), B):
        chunk = examples[b : b + B]
        wins = W.make_windows(tok, [e.question for e in chunk], [e.context for e in chunk], max_len=cfg.max_len, stride=cfg.stride)
        for w in wins:
            ex = chunk[w.text]
            label = None
            for text, start in ex.answers:
                label = w.token_span(start, start + len(text))
                if label is not None:
                    break
            if label is None:
                (neg if ex.impossible else off).append(Feature(w.input_ids, 0, 0))
            else:
                pos.append(Feature(w.input_ids, label[0], label[1]))
    rng.shuffle(neg)
    rng.shuffle(off)
    # Half of the no-answer budget goes to unanswerable questions when there are enough:
    # they teach the null score what a plausible but wrong paragraph looks like.
    keep = int(cfg.negatives * len(pos))
    hard = min(len(neg), keep // 2 if off else keep)
    return pos + neg[:hard] + (off + neg[hard:])[: keep - hard]


def _file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_data(files: list[Path], *, article_share: float = 0.0, seed: int = 13) -> dict[str, list[MRCExample]]:
    """The split data: each split also holds simplified copies of its traditional examples and,
    with ``article_share``, same-article negatives (both made per split, so never across one)."""
    examples: list[MRCExample] = []
    for f in files:
        examples += load_squad(f)
    splits = split_examples(cross_lingual(examples))
    for i, name in enumerate(SPLITS):
        exs = splits[name]
        exs += fold_simplified(exs)
        if article_share > 0:
            exs += article_negatives(exs, article_share, random.Random(seed * 101 + i))
    return splits


def source_weight(weights: dict[str, float], source: str) -> float:
    """A source's weight: named itself, else by the file it was made from (``drcd-dev-s``, ``x+other``)."""
    if source in weights:
        return weights[source]
    base = source.split("+", 1)[0]
    if base in weights:
        return weights[base]
    return weights.get(base[:-2] if base.endswith("-s") else base, 1.0)


def weighted(examples: list[MRCExample], weights: dict[str, float], rng: random.Random) -> list[MRCExample]:
    """Each source repeated by its weight: the whole part of it in full, the rest as a random share."""
    out: list[MRCExample] = []
    for src in sorted({e.source for e in examples}):
        exs = [e for e in examples if e.source == src]
        w = source_weight(weights, src)
        whole = int(w)
        out += exs * whole
        out += rng.sample(exs, round((w - whole) * len(exs)))
    return out


def _features_sha(feats: list[Feature]) -> str:
    h = hashlib.sha256()
    for f in feats:
        h.update(repr((f.input_ids, f.start, f.end)).encode())
    return h.hexdigest()


@dataclass
class Prepared:
    """A run's data: the split, the weighted training questions and their labelled windows."""

    splits: dict[str, list[MRCExample]]
    train_ex: list[MRCExample]
    feats: list[Feature]
    cut: list[MRCExample]
    rng: random.Random  # as left after drawing them: the run's batches come from it next
    swap: list[MRCExample] = field(default_factory=list)


def prepare(files: list[Path], cfg: TrainConfig, tok) -> Prepared:
    """The training windows of ``files`` under ``cfg``: a pure function of both (and the tokenizer)."""
    rng = random.Random(cfg.seed)
    splits = load_data(files, article_share=cfg.article_negatives, seed=cfg.seed)
    if cfg.limit:
        splits = {k: random.Random(cfg.seed).sample(v, min(cfg.limit, len(v))) for k, v in splits.items()}
    train_ex = weighted(splits["train"], cfg.oversample, rng)
    feats = features(tok, train_ex, cfg, rng)
    cut: list[MRCExample] = []
    if cfg.cut_answers > 0:
        pool = [c for e in splits["train"] if (c := answer_cut(e)) is not None]
        cut = rng.sample(pool, min(len(pool), int(cfg.cut_answers * sum(not e.impossible for e in splits["train"]))))
        # All their windows, beyond the no-answer budget: each is a "no" over a text of the right topic.
        feats += [Feature(w.input_ids, 0, 0) for w in
                  W.make_windows(tok, [e.question for e in cut], [e.context for e in cut], max_len=cfg.max_len, stride=cfg.stride)]
    swap: list[MRCExample] = []
    if cfg.swap_negatives > 0:
        # Their own generator, so adding them leaves every other draw of the run as it was.
        pairs = term_swaps(splits["train"], cfg.swap_negatives, random.Random(cfg.seed * 7 + 1))
        swap = [s for s, _ in pairs]
        # Only the windows that held the original answer: the near miss is a span of the right kind there.
        for b in range(0, len(pairs), 256):
            chunk = pairs[b : b + 256]
            for w in W.make_windows(tok, [s.question for s, _ in chunk], [s.context for s, _ in chunk],
                                    max_len=cfg.max_len, stride=cfg.stride):
                orig = chunk[w.text][1]
                if any(w.token_span(start, start + len(text)) is not None for text, start in orig.answers):
                    feats.append(Feature(w.input_ids, 0, 0))
    return Prepared(splits, train_ex, feats, cut, rng, swap)
