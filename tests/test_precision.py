"""The models' float type: chosen per machine, recorded in the index, the same at query time."""

from __future__ import annotations

import json

import numpy as np
import pytest

import qa.embedding
import qa.index
from qa import build_index, load_index
from qa import precision as P
from qa.embedding import HashingEmbedder
from qa.index import IndexMismatch, current_generation


class Bf16Hashing(HashingEmbedder):
    """The hashing embedder, labelled as computing in bfloat16 (vectors as float32's)."""

    def __init__(self, dim: int = 64) -> None:
        super().__init__(dim)
        self.precision = P.BFLOAT16


@pytest.mark.parametrize(("native", "want"), [(True, "bfloat16"), (False, "float32")])
def test_auto_is_bfloat16_only_where_the_cpu_has_it(monkeypatch, native, want):
    monkeypatch.delenv(P.ENV, raising=False)
    monkeypatch.setattr(P, "native_bf16", lambda: native)
    assert P.resolve() == want
    assert P.resolve("auto") == want
    assert P.resolve(" AUTO ") == want


def test_env_and_argument_choose_and_the_argument_wins(monkeypatch):
    monkeypatch.setattr(P, "native_bf16", lambda: False)
    monkeypatch.setenv(P.ENV, "bf16")
    assert P.resolve() == "bfloat16"
    assert P.resolve("float32") == "float32"
    assert P.resolve("fp32") == "float32"
    monkeypatch.setenv(P.ENV, "")
    assert P.resolve() == "float32"


def test_a_bad_precision_is_refused_with_the_choices(monkeypatch):
    monkeypatch.setenv(P.ENV, "half")
    with pytest.raises(ValueError, match=r"QA_PRECISION='half' is not one of auto, float32, bfloat16"):
        P.resolve()
    with pytest.raises(ValueError, match=r"'int8' is not one of auto, float32, bfloat16"):
        P.resolve("int8")


def test_apply_casts_a_torch_module_only_for_bfloat16():
    import torch

    layer = torch.nn.Linear(4, 2)
    assert P.apply(layer, "float32").weight.dtype == torch.float32
    assert P.apply(layer, "bfloat16").weight.dtype == torch.bfloat16


def _meta(root) -> dict:
    return json.loads((current_generation(root) / "meta.json").read_text(encoding="utf-8"))


def test_the_index_records_its_precision_and_is_queried_in_it(seeds, tmp_path, monkeypatch):
    build_index(seeds, tmp_path / "ix", embedder=Bf16Hashing())
    assert _meta(tmp_path / "ix")["model"]["precision"] == "bfloat16"
    asked = []

    def make(name=None, *, precision=None):
        asked.append(precision)
        return Bf16Hashing()

    monkeypatch.setattr(qa.index.load, "make_embedder", make)
    idx = load_index(tmp_path / "ix")
    assert idx.embedder.precision == "bfloat16" and asked == ["bfloat16"]


def test_an_index_without_a_recorded_precision_is_float32(seeds, tmp_path, fake_embedder):
    build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    meta = _meta(tmp_path / "ix")
    del meta["model"]["precision"]
    assert qa.index.index_precision(meta) == "float32"


def test_an_embedder_of_another_precision_is_refused(seeds, tmp_path, fake_embedder):
    build_index(seeds, tmp_path / "ix", embedder=Bf16Hashing())
    with pytest.raises(IndexMismatch, match="holds bfloat16 vectors, but the embedder given computes in float32"):
        load_index(tmp_path / "ix", embedder=fake_embedder)
    assert len(load_index(tmp_path / "ix", embedder=Bf16Hashing()).passages) == 43


def test_a_new_precision_embeds_everything_again(seeds, tmp_path, fake_embedder):
    build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    again = HashingEmbedder(64)
    assert build_index(seeds, tmp_path / "ix", embedder=again).embedded == 0  # same precision: all reused
    other = Bf16Hashing()
    report = build_index(seeds, tmp_path / "ix", embedder=other)
    assert report.embedded == 43 and sum(other.calls) == 43
    assert "model: hashing:64 (bfloat16)" in report.summary()
    assert _meta(tmp_path / "ix")["model"]["precision"] == "bfloat16"


def test_sentence_transformer_embedder_takes_the_precision(monkeypatch):
    monkeypatch.setattr(P, "native_bf16", lambda: True)
    monkeypatch.delenv(P.ENV, raising=False)
    assert qa.embedding.SentenceTransformerEmbedder().precision == "bfloat16"
    assert qa.embedding.SentenceTransformerEmbedder(precision="float32").precision == "float32"
    assert qa.embedding.make_embedder("hashing:8", precision="bfloat16").precision == "float32"


def test_reader_in_bfloat16_scores_like_float32(tiny_reader_dir):
    import torch

    from qa.reader import TransformerReader

    r32 = TransformerReader(tiny_reader_dir, max_len=48, stride=16, precision="float32")
    r16 = TransformerReader(tiny_reader_dir, max_len=48, stride=16, precision="bfloat16")
    assert next(r16.loaded[0].parameters()).dtype == torch.bfloat16
    assert next(r32.loaded[0].parameters()).dtype == torch.float32  # cached apart: not cast by the other
    from qa.reader import windows as W

    wins = W.make_windows(r32.loaded[1], ["宣讲开展了多少场次？"], ["全市共开展宣讲1300余场次，受众达10万人。"], max_len=48, stride=16)
    (s32, e32), (s16, e16) = r32.logits(wins)[0], r16.logits(wins)[0]
    assert s16.dtype == np.float32 and e16.dtype == np.float32
    assert np.allclose(s32, s16, atol=0.05) and np.allclose(e32, e16, atol=0.05)
    assert not np.array_equal(s32, s16)  # it did compute in bfloat16


@pytest.mark.slow
def test_real_embedder_in_bfloat16_gives_float32_unit_vectors_close_to_float32():
    from qa.embedding import SentenceTransformerEmbedder

    texts = ["辽源市开展宣讲1300余场次。", "query 与 passage 的向量", "The reader picks the span."]
    v32 = SentenceTransformerEmbedder(precision="float32").embed(texts)
    v16 = SentenceTransformerEmbedder(precision="bfloat16").embed(texts)
    assert v16.dtype == np.float32
    assert np.allclose(np.linalg.norm(v16, axis=1), 1.0, atol=1e-5)
    assert (v16 * v32).sum(1).min() > 0.99


def test_a_bad_qa_precision_is_an_error_message_not_a_traceback(monkeypatch, capsys, seeds, tmp_path):
    from qa.cli import main

    monkeypatch.setenv(P.ENV, "half")
    assert main(["index", "--seeds", str(seeds), "--index", str(tmp_path / "ix")]) == 2
    assert "error: precision QA_PRECISION='half' is not one of auto, float32, bfloat16" in capsys.readouterr().err


def test_the_app_refuses_a_bad_qa_precision_at_start(monkeypatch):
    import app

    monkeypatch.setenv(P.ENV, "int4")
    with pytest.raises(SystemExit, match="QA_PRECISION='int4' is not one of auto, float32, bfloat16"):
        app.main([])
