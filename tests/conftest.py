"""Shared fixtures: a deterministic fake embedder, the seed document, built indexes."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "000_2575e84d6e1eb83a.txt"
QUESTIONS = ROOT / "data" / "questions"


@pytest.fixture
def fake_embedder():
    """Character n-gram hashing: deterministic, no model, counts its calls."""
    from qa.embedding import HashingEmbedder

    return HashingEmbedder(dim=64)


@pytest.fixture
def seeds(tmp_path) -> Path:
    """A seeds folder holding a copy of the seed page."""
    d = tmp_path / "seeds"
    d.mkdir()
    shutil.copy(SEED, d / SEED.name)
    return d


@pytest.fixture
def seed_doc():
    from qa.documents import read_document

    return read_document(SEED)


@pytest.fixture(scope="session")
def real_embedder():
    """The real offline multilingual-e5-small, loaded once per test session."""
    from qa.embedding import SentenceTransformerEmbedder

    emb = SentenceTransformerEmbedder()
    emb.embed(["预热"], kind="query")
    return emb


@pytest.fixture(scope="session")
def real_index(real_embedder, tmp_path_factory):
    """The seed page indexed with the real model (built once per session)."""
    from qa import build_index, load_index

    base = tmp_path_factory.mktemp("real")
    seeds = base / "seeds"
    seeds.mkdir()
    shutil.copy(SEED, seeds / SEED.name)
    build_index(seeds, base / "index", embedder=real_embedder)
    return load_index(base / "index", embedder=real_embedder)


class ErrorLog(logging.Handler):
    """Collects ERROR records: answer() logs the exceptions it swallows."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
