"""Extractive question answering with citations over Chinese documents."""

__version__ = "0.1.0"

from .answering import answer, read  # noqa: E402
from .index import BuildReport, Index, build_index, load_index  # noqa: E402
from .records import Answer, Citation, Hit, Passage  # noqa: E402

__all__ = ["Answer", "BuildReport", "Citation", "Hit", "Index", "Passage", "answer", "build_index", "load_index", "read"]
