"""Question + context → model windows with character offsets, and spans back out.

A context longer than the model's input is cut into overlapping windows (``stride``
tokens shared), as the reference SQuAD recipes do; every context token keeps its
character offsets, so a predicted token span maps back to an exact substring.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_LEN = 256
STRIDE = 96
MAX_QUESTION_TOKENS = 48
MAX_ANSWER_TOKENS = 40


@dataclass(frozen=True)
class Window:
    text: int  # which context (index into the list given)
    input_ids: tuple[int, ...]
    offsets: tuple[tuple[int, int] | None, ...]  # char offsets of context tokens, None elsewhere

    @property
    def context_range(self) -> tuple[int, int]:
        """First and last+1 token positions that belong to the context."""
        idx = [i for i, o in enumerate(self.offsets) if o is not None]
        return (idx[0], idx[-1] + 1) if idx else (0, 0)

    def token_span(self, start_char: int, end_char: int) -> tuple[int, int] | None:
        """Token positions (inclusive) covering ``[start_char, end_char)``, or None if outside."""
        lo, hi = self.context_range
        if lo == hi:
            return None
        first, last = self.offsets[lo], self.offsets[hi - 1]
        assert first is not None and last is not None
        if start_char < first[0] or end_char > last[1]:
            return None
        s = lo
        while s + 1 < hi and self.offsets[s + 1][0] <= start_char:  # type: ignore[index]
            s += 1
        e = hi - 1
        while e - 1 >= s and self.offsets[e - 1][1] >= end_char:  # type: ignore[index]
            e -= 1
        return s, e


def truncate_question(tokenizer, question: str, max_tokens: int = MAX_QUESTION_TOKENS) -> str:
    """The question cut at a token boundary so that it leaves room for the context."""
    enc = tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)
    offs = enc["offset_mapping"]
    if len(offs) <= max_tokens:
        return question
    return question[: offs[max_tokens - 1][1]]


def make_windows(
    tokenizer,
    questions: list[str],
    contexts: list[str],
    *,
    max_len: int = MAX_LEN,
    stride: int = STRIDE,
) -> list[Window]:
    """Windows for each (question, context) pair, in order; ``Window.text`` says which pair."""
    if not contexts:
        return []
    qs = [truncate_question(tokenizer, q) for q in questions]
    enc = tokenizer(
        qs,
        contexts,
        truncation="only_second",
        max_length=max_len,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding=False,
    )
    out: list[Window] = []
    for w, ids in enumerate(enc["input_ids"]):
        seq = enc.sequence_ids(w)
        offs = tuple(
            (int(o[0]), int(o[1])) if seq[i] == 1 else None for i, o in enumerate(enc["offset_mapping"][w])
        )
        out.append(Window(int(enc["overflow_to_sample_mapping"][w]), tuple(int(x) for x in ids), offs))
    return out


def best_spans(
    window: Window,
    start_logits,
    end_logits,
    *,
    top_n: int = 20,
    max_answer_tokens: int = MAX_ANSWER_TOKENS,
) -> list[tuple[float, int, int]]:
    """``(score, start_char, end_char)`` of the best context spans of one window, best first."""
    lo, hi = window.context_range
    if lo == hi:
        return []
    s = [float(x) for x in start_logits[lo:hi]]
    e = [float(x) for x in end_logits[lo:hi]]
    starts = sorted(range(len(s)), key=lambda i: -s[i])[:top_n]
    ends = sorted(range(len(e)), key=lambda i: -e[i])[:top_n]
    found: dict[tuple[int, int], float] = {}
    for i in starts:
        for j in ends:
            if j < i or j - i + 1 > max_answer_tokens:
                continue
            a, b = window.offsets[lo + i], window.offsets[lo + j]
            assert a is not None and b is not None
            key = (a[0], b[1])
            score = s[i] + e[j]
            if key[1] > key[0] and score > found.get(key, float("-inf")):
                found[key] = score
    ranked = sorted(((v, k[0], k[1]) for k, v in found.items()), key=lambda x: -x[0])
    return ranked[:top_n]
