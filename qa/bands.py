"""Display bands: how sure an answer is shown, 高 / 中 / "not found", from its calibrated confidence.

A band's label has to hold: answers shown 高 are right (F1 ≥ 0.5) at least
:data:`HIGH_TARGET` of the time, answers shown 中 at least :data:`MID_TARGET`.  The edges are
measured, not chosen by hand: :func:`fit_bands` takes ``(confidence, right)`` pairs of the
answers given on dev questions and finds, for each band, the lowest edge whose answers are
right at least the target share, all of them and those nearest the edge alike.  ``scripts/tune_answering.py`` runs it for a reader on the
project's dev question sets and stores the result in the reader's ``meta.json``
(``answering.bands``, with the measured share right and the count per band).

An answer below the 中 edge is shown as "not found" with the closest passages: a span that
is more likely wrong than right is not shown.  A reader without measured bands gets
:data:`DEFAULT`, whose edges are the targets themselves (right for a calibrated confidence).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

HIGH_TARGET = 0.9  # 高: answers right at least this share of the time
MID_TARGET = 0.6  # 中: likewise
MIN_ANSWERS = 20  # a band edge is set by at least this many dev answers, not by a lucky few

HIGH, MID, LOW = "high", "mid", "low"  # LOW: shown as "not found"
LABELS = {HIGH: "高", MID: "中", LOW: "未找到"}


class BandsError(ValueError):
    """Malformed ``answering.bands`` in a reader's meta.json; the message says what is wrong."""


@dataclass(frozen=True)
class BandStat:
    """What dev measured for one band: its answers, how many were right, and the share."""

    band: str
    n: int
    right: int

    @property
    def share_right(self) -> float | None:
        return self.right / self.n if self.n else None


@dataclass(frozen=True)
class Bands:
    """Band edges on the calibrated confidence (``inf``: the band is empty) and, when they were
    measured, what dev showed per band (``measured``) and on which sets (``source``)."""

    high: float
    mid: float
    measured: tuple[BandStat, ...] = ()
    source: str = "default"
    targets: tuple[float, float] = (HIGH_TARGET, MID_TARGET)
    min_answers: int = MIN_ANSWERS

    def __post_init__(self) -> None:
        if not (0.0 <= self.mid <= self.high) or math.isnan(self.mid) or math.isnan(self.high):
            raise BandsError(f"band edges must satisfy 0 ≤ mid ≤ high, got mid {self.mid}, high {self.high}")

    def band(self, confidence: float) -> str:
        """:data:`HIGH`, :data:`MID` or :data:`LOW` for a found answer's confidence."""
        if confidence >= self.high:
            return HIGH
        if confidence >= self.mid:
            return MID
        return LOW

    def stat(self, band: str) -> BandStat | None:
        return next((s for s in self.measured if s.band == band), None)

    def to_meta(self) -> dict:
        """The form stored in ``meta.json`` (``answering.bands``); ``None`` for an empty band's edge."""
        return {
            "high": _edge_out(self.high),
            "mid": _edge_out(self.mid),
            "targets": {HIGH: self.targets[0], MID: self.targets[1]},
            "right": "F1>=0.5; an answer to an unanswerable question is wrong",
            "min_answers": self.min_answers,
            "measured": {
                s.band: {"n": s.n, "right": s.right,
                         "share_right": round(s.share_right, 4) if s.share_right is not None else None}
                for s in self.measured
            },
            "source": self.source,
        }

    @classmethod
    def from_meta(cls, d: object) -> Bands:
        """The bands stored by :meth:`to_meta`; :class:`BandsError` when malformed."""
        if not isinstance(d, Mapping):
            raise BandsError(f"answering.bands must be an object, got {type(d).__name__}")
        try:
            measured = tuple(
                BandStat(band, int(m["n"]), int(m["right"])) for band, m in (d.get("measured") or {}).items()
            )
            targets = d.get("targets") or {}
            return cls(
                high=_edge_in(d["high"]), mid=_edge_in(d["mid"]), measured=measured,
                source=str(d.get("source", "")),
                targets=(float(targets.get(HIGH, HIGH_TARGET)), float(targets.get(MID, MID_TARGET))),
                min_answers=int(d.get("min_answers", MIN_ANSWERS)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, BandsError):
                raise
            raise BandsError(f"answering.bands is malformed ({exc!r}); expected high, mid and measured") from exc

    @classmethod
    def of(cls, answering: Mapping | None) -> Bands:
        """The bands in a reader's ``answering`` settings; :data:`DEFAULT` when it has none."""
        stored = (answering or {}).get("bands")
        return DEFAULT if stored is None else cls.from_meta(stored)


def _edge_out(x: float) -> float | None:
    return None if math.isinf(x) else round(x, 4)


def _edge_in(x: object) -> float:
    return math.inf if x is None else float(x)


DEFAULT = Bands(high=HIGH_TARGET, mid=MID_TARGET)


def lowest_edge(pairs: Sequence[tuple[float, bool]], target: float, min_answers: int = MIN_ANSWERS,
                below: float = math.inf) -> float:
    """The lowest confidence ``c`` such that the answers with ``c ≤ confidence < below`` number at
    least ``min_answers`` and are right at least ``target`` of the time, both all of them and the
    ``min_answers`` nearest the edge; ``inf`` when none is.

    The second condition keeps the label true at the edge: without it, many right answers far
    above could carry a tail of mostly wrong ones into the band (on the shipped reader's dev
    answers, the whole range down to 0.15 was right 60% of the time, its lowest part far less).
    ``c`` is one of the given confidences, so the answers at or above it are exactly those counted.
    """
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target must be a share in (0, 1], got {target}")
    if min_answers < 1:
        raise ValueError(f"min_answers must be at least 1, got {min_answers}")
    inside = sorted((c, bool(ok)) for c, ok in pairs if c < below)  # at a tie, the wrong ones first
    n, right = len(inside), sum(ok for _, ok in inside)
    for i, (c, ok) in enumerate(inside):  # answers inside[i:] are those at or above c
        if i == 0 or c != inside[i - 1][0]:  # only where a confidence value starts
            nearest = sum(x for _, x in inside[i : i + min_answers])
            if n - i >= min_answers and right >= target * (n - i) and nearest >= target * min_answers:
                return c
        right -= ok
    return math.inf


def fit_bands(pairs: Sequence[tuple[float, bool]], *, source: str = "", high_target: float = HIGH_TARGET,
              mid_target: float = MID_TARGET, min_answers: int = MIN_ANSWERS) -> Bands:
    """Band edges from the ``(confidence, right)`` pairs of the answers given on dev questions.

    高 starts at the lowest edge whose answers are right ≥ ``high_target``; 中 at the lowest edge
    below it whose answers (up to the 高 edge) are right ≥ ``mid_target``.  A band no edge
    satisfies is empty (its edge is ``inf``, or 中's equals 高's).  ``measured`` records each
    band's answers and how many were right, the "not found" band (below 中) included.
    """
    pairs = [(float(c), bool(ok)) for c, ok in pairs]
    if any(not 0.0 <= c <= 1.0 for c, _ in pairs):
        raise ValueError("confidences must be between 0 and 1")
    high = lowest_edge(pairs, high_target, min_answers)
    mid = min(lowest_edge(pairs, mid_target, min_answers, below=high), high)

    def stat(band: str, lo: float, hi: float) -> BandStat:
        inside = [ok for c, ok in pairs if lo <= c < hi]
        return BandStat(band, len(inside), sum(inside))

    measured = (stat(HIGH, high, math.inf), stat(MID, mid, high), stat(LOW, -math.inf, mid))
    return Bands(high=high, mid=mid, measured=measured, source=source, targets=(high_target, mid_target),
                 min_answers=min_answers)
