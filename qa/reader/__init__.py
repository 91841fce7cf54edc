"""The reader stage: question + texts in, scored answer spans out.

A reader is anything with ``read(question, texts, top_k=...) -> list[SpanScore]`` and a
``null_threshold``: spans whose margin over the null ("no answer") score is below it
are not answers.  :class:`TransformerReader` is the learned one; tests use fakes.
"""

from __future__ import annotations

from typing import Protocol

from .model import ReaderError, SpanScore, TransformerReader


class Reader(Protocol):
    name: str
    null_threshold: float  # margin (span − null score) from which a span is an answer

    def read(self, question: str, texts: list[str], *, top_k: int = 5) -> list[SpanScore]:
        """The best spans over all ``texts``, best first; scores are comparable across texts."""
        ...


__all__ = ["Reader", "ReaderError", "SpanScore", "TransformerReader"]
