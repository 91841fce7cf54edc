"""One e5 encoder per process: the default embedder and the shipped reader hold one word-embedding
matrix and one tokenizer, in each precision, whichever loads first; loading prints nothing.

A tiny random BERT stands in for the offline e5 conversion (``ensure_offline_e5`` returns its
folder), with a tiny shipped reader built on it, so the real loading code runs in seconds.
"""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

import qa.offline_model
from qa import embedding as E
from qa import precision as P
from qa.answering import read
from qa.embedding import SentenceTransformerEmbedder
from qa.reader import TransformerReader
from qa.reader.model import BASE_E5, save_shipped

TEXTS = ["辽源市“七讲七进”宣讲开展了1300余场次，受众6万余人。", "龙山区把小区分成了17个片区。"]
QUESTION = "宣讲开展了多少场次？"


def _write_json(path, obj) -> None:
    path.write_text(json.dumps(obj), encoding="utf-8")


@pytest.fixture(scope="module")
def tiny_e5(tiny_reader_dir, tmp_path_factory):
    """A sentence-transformers folder laid out like the offline e5 one, with a tiny random BERT."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    tok = AutoTokenizer.from_pretrained(tiny_reader_dir)
    folder = tmp_path_factory.mktemp("tiny-e5")
    torch.manual_seed(1)
    config = BertConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=512)
    BertModel(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    _write_json(folder / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    _write_json(folder / "sentence_bert_config.json", {"max_seq_length": 512, "do_lower_case": False})
    (folder / "1_Pooling").mkdir()
    _write_json(folder / "1_Pooling" / "config.json", {"word_embedding_dimension": 16, "pooling_mode_mean_tokens": True})
    (folder / "2_Normalize").mkdir()
    _write_json(folder / "config_sentence_transformers.json",
                {"prompts": {"query": "query: ", "document": "passage: "}, "default_prompt_name": None})
    return folder


@pytest.fixture(scope="module")
def tiny_shipped(tiny_e5, tmp_path_factory):
    """A shipped reader folder on the tiny base: its trained layers stored, the word matrix left out."""
    import torch
    from transformers import AutoConfig, BertForQuestionAnswering

    torch.manual_seed(2)
    model = BertForQuestionAnswering(AutoConfig.from_pretrained(tiny_e5))
    return save_shipped(model, tmp_path_factory.mktemp("tiny-shipped") / "reader", {"base": BASE_E5})


@pytest.fixture
def fresh(monkeypatch, tiny_e5):
    """The tiny base as the default model, and empty model caches; returns a function that empties them again."""
    monkeypatch.setattr(qa.offline_model, "ensure_offline_e5", lambda *a, **k: tiny_e5)

    def empty() -> None:
        monkeypatch.setattr(SentenceTransformerEmbedder, "_cache", {})
        monkeypatch.setattr(TransformerReader, "_cache", {})
        monkeypatch.setattr(E, "_shared", {})
        monkeypatch.setattr(E, "_tokenizer_locks", {})

    empty()
    return empty


def _word(model):
    """The word-embedding weight of an embedder's SentenceTransformer or of a reader's model."""
    if hasattr(model, "bert"):
        return model.bert.embeddings.word_embeddings.weight
    return model[0].auto_model.get_input_embeddings().weight


def _base_word(tiny_e5):
    from safetensors.torch import load_file

    return load_file(str(tiny_e5 / "model.safetensors"))["embeddings.word_embeddings.weight"]


def _spans(reader) -> list:
    return [(s.text, s.start, s.end, s.score, s.null) for s in reader.read(QUESTION, TEXTS, top_k=10)]


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
@pytest.mark.parametrize("reader_first", [False, True])
def test_reader_and_embedder_hold_one_word_matrix_and_one_tokenizer(fresh, tiny_e5, tiny_shipped, precision, reader_first):
    import torch

    # Each alone first: what sharing must not change.
    alone_vectors = SentenceTransformerEmbedder(precision=precision).embed(TEXTS)
    fresh()
    alone_spans = _spans(TransformerReader(tiny_shipped, max_len=48, stride=16, precision=precision))
    fresh()

    emb = SentenceTransformerEmbedder(precision=precision)
    reader = TransformerReader(tiny_shipped, max_len=48, stride=16, precision=precision)
    _ = (reader.loaded, emb.model) if reader_first else (emb.model, reader.loaded)  # loads them in this order
    model, tok, _ = reader.loaded
    mine, theirs = _word(model), _word(emb.model)
    assert mine.data_ptr() == theirs.data_ptr(), "one word-embedding matrix, not two"
    assert mine is not theirs, "each model has its own Parameter over it"
    assert mine.dtype == theirs.dtype == getattr(torch, precision)
    assert tok is emb.model[0].tokenizer, "one tokenizer"
    want = _base_word(tiny_e5).to(getattr(torch, precision))
    assert torch.equal(mine, want), "the base model's values, cast once"
    assert next(p for n, p in model.named_parameters() if "encoder" in n).dtype == mine.dtype

    assert _spans(reader) == alone_spans
    assert np.array_equal(emb.embed(TEXTS), alone_vectors)


def test_the_reader_works_without_the_embedder(fresh, tiny_e5, tiny_shipped):
    import torch

    reader = TransformerReader(tiny_shipped, max_len=48, stride=16, precision="float32")
    a = read(QUESTION, "第一段没有答案。\n\n" + TEXTS[0], reader=reader)
    assert a.question == QUESTION and isinstance(a.found, bool)
    assert SentenceTransformerEmbedder._cache == {}, "no embedder was loaded"
    assert torch.equal(_word(reader.loaded[0]), _base_word(tiny_e5))


def test_a_refused_reader_loads_nothing_of_the_base(fresh, tiny_shipped, tmp_path):
    import shutil

    from qa.reader import ReaderError

    folder = shutil.copytree(tiny_shipped, tmp_path / "tampered")
    data = bytearray((folder / "reader.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (folder / "reader.safetensors").write_bytes(bytes(data))
    with pytest.raises(ReaderError, match="checksum"):
        TransformerReader(folder).read(QUESTION, TEXTS)
    assert E._shared == {}, "refused before the base's matrix or tokenizer was read"


def test_different_precisions_share_nothing(fresh, tiny_shipped):
    import torch

    emb = SentenceTransformerEmbedder(precision="float32")
    emb.embed(TEXTS)
    reader = TransformerReader(tiny_shipped, max_len=48, stride=16, precision="bfloat16")
    assert _spans(reader)
    mine, theirs = _word(reader.loaded[0]), _word(emb.model)
    assert mine.data_ptr() != theirs.data_ptr()
    assert (mine.dtype, theirs.dtype) == (torch.bfloat16, torch.float32)
    assert torch.equal(mine, theirs.to(torch.bfloat16))


def test_a_non_default_embedder_shares_nothing(fresh, tiny_e5, tiny_shipped):
    emb = SentenceTransformerEmbedder(str(tiny_e5), precision="float32")  # the same weights, named by path
    emb.embed(TEXTS)
    reader = TransformerReader(tiny_shipped, max_len=48, stride=16, precision="float32")
    assert _spans(reader)
    assert _word(reader.loaded[0]).data_ptr() != _word(emb.model).data_ptr()
    assert reader.loaded[1] is not emb.model[0].tokenizer


def test_casting_one_model_later_leaves_the_other_as_it_was(fresh, tiny_shipped):
    import torch

    emb = SentenceTransformerEmbedder(precision="float32")
    before = emb.embed(TEXTS)
    reader = TransformerReader(tiny_shipped, max_len=48, stride=16, precision="float32")
    P.apply(reader.loaded[0], "bfloat16")
    assert _word(reader.loaded[0]).dtype == torch.bfloat16
    assert _word(emb.model).dtype == torch.float32
    assert np.array_equal(emb.embed(TEXTS), before)


def test_the_shared_tokenizer_is_only_used_under_its_lock(fresh, tiny_shipped):
    """Every encode of the shared tokenizer, by the embedder or the reader, holds its lock."""

    class Depth:
        def __init__(self) -> None:
            self.inner = threading.RLock()
            self.depth = 0

        def __enter__(self):
            self.inner.acquire()
            self.depth += 1

        def __exit__(self, *exc):
            self.depth -= 1
            self.inner.release()

    emb = SentenceTransformerEmbedder(precision="float32")
    reader = TransformerReader(tiny_shipped, max_len=48, stride=16, precision="float32")
    tok = reader.loaded[1]
    assert tok is emb.model[0].tokenizer
    lock = Depth()
    E._tokenizer_locks[id(tok)] = lock
    held: list[bool] = []
    real = tok.set_truncation_and_padding  # called before every encode of a fast tokenizer

    def spy(*args, **kwargs):
        held.append(lock.depth > 0)
        return real(*args, **kwargs)

    tok.set_truncation_and_padding = spy
    emb.embed(TEXTS, kind="query")
    n_embed = len(held)
    _spans(reader)
    assert n_embed > 0 and len(held) > n_embed, "both models tokenized through the spy"
    assert all(held), f"{held.count(False)} of {len(held)} tokenizer calls without the lock"


def test_loading_and_first_use_print_nothing(fresh, tiny_shipped, capfd):
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    emb = SentenceTransformerEmbedder(precision="float32")
    emb.embed(TEXTS, kind="query")
    reader = TransformerReader(tiny_shipped, max_len=48, stride=16, precision="float32")
    _spans(reader)
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    assert hf_logging.is_progress_bar_enabled() == bars, "the library's settings are restored after loading"


def test_overlapping_quiet_loads_restore_the_settings_when_the_last_one_leaves():
    """Two threads loading at once may leave in either order: the first out must not restore
    the noise under the other, nor the last out leave it silenced."""
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.enable_progress_bar()
    hf_logging.set_verbosity_warning()
    filters = list(warnings.filters)
    a, b = E.quiet_loading(), E.quiet_loading()
    a.__enter__()
    b.__enter__()
    a.__exit__(None, None, None)  # the first in leaves first
    assert not hf_logging.is_progress_bar_enabled() and hf_logging.get_verbosity() == hf_logging.ERROR
    assert warnings.filters[0][0] == "ignore"
    b.__exit__(None, None, None)
    assert hf_logging.is_progress_bar_enabled() and hf_logging.get_verbosity() == hf_logging.WARNING
    assert list(warnings.filters) == filters


def test_loading_an_extractive_qa_folder_prints_nothing(fresh, tiny_reader_dir, capfd):
    reader = TransformerReader(tiny_reader_dir, max_len=48, stride=16, precision="float32")
    _spans(reader)
    assert capfd.readouterr() == ("", "")


@pytest.mark.slow
def test_the_real_embedder_and_reader_hold_one_word_matrix(real_embedder, real_reader):
    if real_embedder.precision != real_reader.precision:
        pytest.skip("embedder and reader in different precisions: nothing to share")
    model, tok, _ = real_reader.loaded
    assert _word(model).data_ptr() == _word(real_embedder.model).data_ptr()
    assert _word(model).shape == (250037, 384)
    assert tok is real_embedder.model[0].tokenizer
