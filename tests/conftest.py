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


class FakeReader:
    """A deterministic stand-in for the learned reader.

    Its answer in each text is the first number with the character after it (``1300余``…):
    margin 5 over a null score of 0.  Texts without a digit have no span, so questions over
    them are "not found".  Counts its calls so tests can check batching.
    """

    name = "fake"
    null_threshold = 1.0

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def read(self, question: str, texts: list[str], *, top_k: int = 5):
        import re

        from qa.reader import SpanScore

        self.calls.append((question, len(texts)))
        out = []
        for i, t in enumerate(texts):
            m = re.search(r"\d+[^\d\s，。、；：]?", t)
            if m:
                out.append(SpanScore(i, m.start(), m.end(), score=5.0 - 0.1 * i, null=0.0, prob=0.9 - 0.01 * i))
        return out[:top_k]


@pytest.fixture(autouse=True)
def _fake_default_reader(request, monkeypatch):
    """Unit tests answer with :class:`FakeReader` unless they ask for ``real_reader``."""
    if "real_reader" in request.fixturenames:
        return
    import qa.answering

    monkeypatch.setattr(qa.answering, "_reader", FakeReader())


@pytest.fixture
def fake_reader():
    return FakeReader()


@pytest.fixture(scope="session")
def real_reader():
    """The shipped reader (real weights), loaded once per test session."""
    from qa.reader import TransformerReader

    r = TransformerReader()
    r.read("预热？", ["预热"])
    return r


@pytest.fixture(scope="session")
def tiny_reader_dir(tmp_path_factory) -> Path:
    """A tiny randomly initialised Hugging Face QA model with a character tokenizer, saved as a folder."""
    import torch
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors
    from transformers import BertConfig, BertForQuestionAnswering, PreTrainedTokenizerFast

    chars = sorted(set(SEED.read_text(encoding="utf-8")) - set(" \n\t\u3000"))
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *chars])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(Regex("."), behavior="isolated")]
    )
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]"
    )
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=512,
    )
    model = BertForQuestionAnswering(config)
    folder = tmp_path_factory.mktemp("tiny-reader")
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder
