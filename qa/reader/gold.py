"""A reader evaluated on gold paragraphs: its best span and margin for each question, EM/F1 and
no-answer accuracy, the dev no-answer threshold, and the calibration (Platt scaling) of its margins."""

from __future__ import annotations

import math

import numpy as np

from . import windows as W
from .data import MRCExample


def predict_gold(reader, examples: list[MRCExample], batch: int = 64, progress=None) -> list[tuple[str, float]]:
    """Best span text and its margin (span − null) for each example, read with its own context."""
    from .model import _strip

    _, tok, _ = reader.loaded
    out: list[tuple[str, float]] = []
    for b in range(0, len(examples), batch):
        chunk = examples[b : b + batch]
        wins = W.make_windows(tok, [e.question for e in chunk], [e.context for e in chunk], max_len=reader.max_len, stride=reader.stride)
        logits = reader.logits(wins)
        best: dict[int, tuple[float, int, int]] = {}
        null: dict[int, float] = {}
        for w, (s, e) in zip(wins, logits):
            null[w.text] = min(null.get(w.text, float("inf")), float(s[0] + e[0]))
            spans = W.best_spans(w, s, e, top_n=5)
            if spans and spans[0][0] > best.get(w.text, (float("-inf"),))[0]:
                best[w.text] = spans[0]
        for i, ex in enumerate(chunk):
            if i in best:
                score, a, c = best[i]
                a, c = _strip(ex.context, a, c)
                out.append((ex.context[a:c], score - null[i]))
            else:
                out.append(("", float("-inf")))
        if progress is not None:
            progress.update(len(chunk))
    return out


def gold_metrics(examples: list[MRCExample], preds: list[tuple[str, float]], threshold: float | None) -> dict:
    """EM/F1 (CMRC 2018 style) with the gold paragraph; no-answer accuracy when there are unanswerables."""
    from ..evaluate import best_em, best_f1

    ans = [(e, p) for e, p in zip(examples, preds) if not e.impossible]
    imp = [(e, p) for e, p in zip(examples, preds) if e.impossible]
    t = float("-inf") if threshold is None else threshold

    def said(p: tuple[str, float]) -> str:
        return p[0] if p[1] >= t else ""

    f1 = [best_f1(said(p), e.answer_texts) for e, p in ans]
    em = [best_em(said(p), e.answer_texts) for e, p in ans]
    out = {
        "questions": len(examples),
        "answerable": len(ans),
        "f1": round(float(np.mean(f1)), 4) if f1 else None,
        "em": round(float(np.mean(em)), 4) if em else None,
    }
    if imp:
        right = [(said(p) == "") for _, p in imp] + [(said(p) != "") for _, p in ans]
        out["unanswerable"] = len(imp)
        out["no_answer_accuracy"] = round(float(np.mean(right)), 4)
        out["unanswerable_refused"] = round(float(np.mean([said(p) == "" for _, p in imp])), 4)
    return out


def choose_threshold(examples: list[MRCExample], preds: list[tuple[str, float]]) -> float:
    """The margin above which a span is given, maximising dev F1 with unanswerables scored 1/0."""
    from ..evaluate import best_f1

    items = []
    for e, (text, m) in zip(examples, preds):
        if e.impossible:
            items.append((m, 0.0, 1.0))  # (margin, score if answered, score if refused)
        else:
            items.append((m, best_f1(text, e.answer_texts), 0.0))
    items.sort(key=lambda x: x[0])
    # Threshold below every margin: answer all.
    total = sum(a for _, a, _ in items)
    best_total, best_t = total, items[0][0] - 1.0 if items else 0.0
    for i, (m, a, r) in enumerate(items):
        total += r - a
        nxt = items[i + 1][0] if i + 1 < len(items) else m + 1.0
        if total > best_total and nxt > m:
            best_total, best_t = total, (m + nxt) / 2
    return float(best_t)


def platt(xs: list[float], ys: list[float], weights: list[float] | None = None) -> tuple[float, float]:
    """Logistic regression of ``ys`` (0/1) on one feature: ``P = σ(a·x + b)``.

    Fitted on the standardised feature by gradient descent (Newton steps diverge when the
    classes separate), then mapped back to the raw feature.  ``weights`` weigh the examples
    (for instance so that every question set counts the same).
    """
    x, y = np.asarray(xs, float), np.asarray(ys, float)
    if len(x) == 0 or y.min() == y.max():
        return 0.0, float(np.log((y.mean() + 1e-3) / (1 - y.mean() + 1e-3))) if len(y) else 0.0
    wt = np.ones_like(x) if weights is None else np.asarray(weights, float)
    wt = wt / wt.mean()
    mu = float(np.average(x, weights=wt))
    sd = float(np.sqrt(np.average((x - mu) ** 2, weights=wt)) or 1.0)
    z = np.clip((x - mu) / sd, -10, 10)
    w = c = 0.0
    for _ in range(3000):
        p = 1 / (1 + np.exp(-np.clip(w * z + c, -50, 50)))
        w -= 0.5 * float(np.mean(wt * (p - y) * z)) + 1e-4 * w
        c -= 0.5 * float(np.mean(wt * (p - y)))
    return w / sd, c - w * mu / sd


def fit_calibration(examples: list[MRCExample], preds: list[tuple[str, float]]) -> dict:
    """Platt scaling: P(the given span is right, F1 ≥ 0.5) = σ(a·margin + b), fitted on dev."""
    from ..evaluate import best_f1

    xs, ys = [], []
    for e, (text, m) in zip(examples, preds):
        if not math.isfinite(m):
            continue
        xs.append(m)
        ys.append(0.0 if e.impossible else float(best_f1(text, e.answer_texts) >= 0.5))
    a, b = platt(xs, ys)
    return {"a": round(float(a), 5), "b": round(float(b), 5), "target": "F1>=0.5", "n": len(xs)}


def held_out(reader, examples: list[MRCExample], preds: list[tuple[str, float]], threshold: float) -> dict:
    from ..evaluate import best_f1, calibration

    out: dict = {}
    for src in sorted({e.source for e in examples}):
        sel = [(e, p) for e, p in zip(examples, preds) if e.source == src]
        es, ps = [e for e, _ in sel], [p for _, p in sel]
        out[src] = {"gold_no_threshold": gold_metrics(es, ps, None), "gold_at_threshold": gold_metrics(es, ps, threshold)}
    probs = [reader.probability(m) if math.isfinite(m) else 0.0 for _, m in preds]
    correct = [(not e.impossible) and best_f1(t, e.answer_texts) >= 0.5 for e, (t, _) in zip(examples, preds)]
    out["calibration"] = calibration(probs, correct, buckets=10)
    return out
