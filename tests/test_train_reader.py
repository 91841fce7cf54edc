"""``qa train-reader``: native-data preparation (traditional copies, same-article negatives,
source weights) and a run that stops and resumes exactly where it left off."""

from __future__ import annotations

import json
import random

import pytest

from qa.cli import main
from qa.reader.data import MRCExample, article_negatives, fold_simplified, split_examples, term_swaps
from qa.reader.train import ResumeError, read_resume, train
from qa.reader.trainset import TrainConfig, source_weight, weighted

TRAD = "臺灣大學圖書館於一九二八年設立，館藏圖書四百萬冊。總館位於臺北市。"


def _ex(i, ctx, q, ans=None, source="drcd", article="A"):
    answers = ((ans, ctx.index(ans)),) if ans else ()
    return MRCExample(f"q{i}", source, article, ctx, q, answers)


def test_traditional_examples_get_a_simplified_copy_with_answers_found_again():
    exs = [_ex(1, TRAD, "圖書館於哪一年設立？", "一九二八年"), _ex(2, TRAD, "總館位於哪裡？", "臺北市"),
           _ex(3, "辽源市开展宣讲一千三百余场次。", "开展了多少场次？", "一千三百余场次", source="cmrc")]
    copies = fold_simplified(exs)
    assert [c.id for c in copies] == ["q1#s", "q2#s"], "only the traditional context is copied"
    q2 = copies[1]
    assert q2.source == "drcd-s" and q2.article == "A" and q2.question == "总馆位于哪里？"
    assert q2.context.startswith("台湾大学图书馆于") and q2.answers == (("台北市", q2.context.index("台北市")),)


def test_same_article_negatives_pair_a_question_with_a_paragraph_of_its_article_that_lacks_the_answer():
    p1 = "甲厂去年产钢三百万吨，比前年增长一成。"
    p2 = "甲厂的工人有两千人，多数来自本市。"
    p3 = "甲厂去年产钢三百万吨的消息见报后，股价上涨。"  # holds the answer too: never a negative
    exs = [_ex(1, p1, "甲厂去年产钢多少？", "三百万吨"), _ex(2, p2, "工人有多少？", "两千人"),
           _ex(3, p3, "什么上涨了？", "股价"), _ex(4, "别的文章。", "问？", "文章", article="B")]
    negs = article_negatives(exs, 1.0, random.Random(0))
    by_id = {n.id: n for n in negs}
    assert set(by_id) == {"q1#other", "q2#other", "q3#other"}, "article B has one paragraph: no negative"
    assert by_id["q1#other"].context == p2, "p3 also says 三百万吨, so only p2 is a negative for q1"
    assert all(n.impossible and n.source == "drcd+other" and n.article == "A" for n in negs)
    assert len(article_negatives(exs, 0.34, random.Random(0))) == 1


def test_a_swapped_question_names_a_rare_noun_its_paragraph_lacks_and_keeps_the_rest():
    p1 = "桂林市林科所的试验田亩产油茶81公斤，比上年增加两成。会议的地点在市政府。"
    p2 = "柳州市农科院的示范园亩产油茶65公斤。会议的地点在农科院。"
    p3 = "梧州市苗圃去年育苗两百万株。会议的地点在苗圃。"
    exs = [_ex(1, p1, "桂林市林科所的试验田亩产油茶多少？", "81公斤"),
           _ex(2, p2, "柳州市农科院的示范园亩产油茶多少？", "65公斤"),
           _ex(3, p3, "梧州市苗圃去年育苗多少？", "两百万株"),
           _ex(4, p1, "会议的地点在哪里？", "市政府"), _ex(5, p2, "会议的地点在哪？", "农科院"),
           _ex(6, p3, "会议的地点是？", "苗圃"), _ex(7, p1, "哪里没有说？")]
    pairs = term_swaps(exs, 1.0, random.Random(0))
    assert pairs, "the place and institute names are rare and can be swapped"
    for swapped, orig in pairs:
        assert swapped.impossible and swapped.id == orig.id + "#swap" and swapped.source == "drcd+swap"
        assert swapped.context == orig.context and swapped.question != orig.question
        # One word out (it is in the paragraph), one word in (it is not), the rest as it was.
        head = next(i for i, (a, b) in enumerate(zip(orig.question, swapped.question)) if a != b)
        tail = next(i for i, (a, b) in enumerate(zip(orig.question[::-1], swapped.question[::-1])) if a != b)
        out, put = orig.question[head : len(orig.question) - tail], swapped.question[head : len(swapped.question) - tail]
        assert out and put and out in orig.context and put not in orig.context, (out, put)
        assert "地点" in swapped.question or "地点" not in orig.question, "地点 is in three questions: never swapped"
    assert {o.id for _, o in pairs} <= {"q1", "q2", "q3"}
    assert pairs == term_swaps(exs, 1.0, random.Random(0)), "a pure function of the data and the generator"


def test_copies_and_negatives_stay_on_their_questions_side_of_the_split(tmp_path):
    from qa.reader.trainset import load_data

    arts = [{"title": f"T{i}", "paragraphs": [
        {"context": f"第{i}篇。臺灣的經濟發展很快，各行各業欣欣向榮，出口增長了{i}成。", "qas": [
            {"id": f"a{i}", "question": "增長了多少？", "answers": [{"text": f"{i}成", "answer_start": 0}]}]},
        {"context": f"第{i}篇。臺灣的人口有兩千萬人，多數住在西部平原的城市裡。", "qas": [
            {"id": f"b{i}", "question": "人口有多少？", "answers": [{"text": "兩千萬人", "answer_start": 0}]}]}]}
        for i in range(40)]
    f = tmp_path / "trad.json"
    f.write_text(json.dumps({"data": arts}, ensure_ascii=False), encoding="utf-8")
    splits = load_data([f], article_share=1.0)
    side = {e.id.split("#")[0]: name for name, exs in split_examples(
        [e for exs in splits.values() for e in exs if "#" not in e.id]).items() for e in exs}
    for name, exs in splits.items():
        for e in exs:
            assert side[e.id.split("#")[0]] == name
    sources = {e.source for exs in splits.values() for e in exs}
    assert sources == {"trad", "trad-s", "trad+other", "trad-s+other"}


def test_source_weights_repeat_whole_parts_and_sample_the_rest():
    exs = [_ex(i, TRAD, "問？", None, source="a") for i in range(10)] + \
          [_ex(i, TRAD, "問？", None, source="b-s") for i in range(10)]
    out = weighted(exs, {"a": 2.5, "b": 0.3}, random.Random(0))
    assert sum(e.source == "a" for e in out) == 25
    assert sum(e.source == "b-s" for e in out) == 3, "a copy is weighed as the file it was made from"
    assert source_weight({"b": 0.3, "b-s": 2.0}, "b-s") == 2.0 and source_weight({}, "x+other") == 1.0


def test_bfloat16_is_chosen_without_timing_where_the_cpu_has_amx(monkeypatch):
    import torch

    import qa.reader.train as train_mod

    def no_timing(*_, **__):
        raise AssertionError("timed")

    monkeypatch.setattr(train_mod.P, "native_bf16", lambda: True)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    monkeypatch.setattr(torch, "randn", no_timing)  # the timing's first step
    assert train_mod.bf16_pays() is True
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    with pytest.raises(AssertionError, match="timed"):
        train_mod.bf16_pays()  # AVX512-BF16 alone (AMD EPYC emulates it slowly): timed
    monkeypatch.setattr(train_mod.P, "native_bf16", lambda: False)
    assert train_mod.bf16_pays() is False


@pytest.mark.parametrize("args, message", [
    (["--oversample", "cmrc=zero"], "SOURCE=W"),
    (["--oversample", "cmrc=0"], "SOURCE=W"),
    (["--article-negatives", "1.5"], "between 0 and 1"),
    (["--swap-negatives", "-0.1"], "--swap-negatives is a share between 0 and 1"),
    (["--freeze-layers", "-1"], "--freeze-layers is a count of the encoder's lowest layers (0 or more)"),
    (["--freeze-share", "2"], "--freeze-share is a share between 0 and 1"),
])
def test_train_reader_refuses_bad_settings(tmp_path, capsys, args, message):
    assert main(["train-reader", "--data", str(tmp_path / "x.json"), "--out", str(tmp_path / "r"), *args]) == 2
    assert message in capsys.readouterr().err


def test_resume_of_a_folder_without_a_saved_run_says_so(tmp_path, capsys):
    assert main(["train-reader", "--resume", str(tmp_path / "nope")]) == 2
    assert "not a folder" in capsys.readouterr().err
    (tmp_path / "run").mkdir()
    assert main(["train-reader", "--resume", str(tmp_path / "run")]) == 2
    assert "nothing to resume" in capsys.readouterr().err


# ------------------------------------------------------------------ a whole run, stopped and resumed


@pytest.fixture()
def tiny_training(monkeypatch, tmp_path, tiny_reader_dir):
    """train() on the tiny random model, over a small SQuAD file written from the seed's characters."""
    import qa.reader.model as model_mod
    import qa.reader.train as train_mod

    monkeypatch.setattr(model_mod, "base_model_folder", lambda: tiny_reader_dir)
    monkeypatch.setattr(train_mod, "bf16_pays", lambda: False)
    arts = []
    for i in range(30):
        ctx = f"辽源市开展宣讲活动{i}场，群众参与。第四届琵琶文化艺术周于8月{i % 28 + 1}日开幕。"
        arts.append({"title": f"T{i}", "paragraphs": [{"context": ctx, "qas": [
            {"id": f"q{i}", "question": "开展了多少场？", "answers": [{"text": f"{i}场", "answer_start": ctx.index(f"{i}场")}]},
            {"id": f"u{i}", "question": "谁主持了会议？", "answers": [], "is_impossible": True}]}]})
    data = tmp_path / "mini.json"
    data.write_text(json.dumps({"data": arts}, ensure_ascii=False), encoding="utf-8")
    cfg = TrainConfig(epochs=2.0, lr=1e-3, batch_size=4, max_len=48, stride=16, dev_limit=4, save_every=0.0,
                      bf16=False, threads=1)
    return data, cfg


def _weights(folder):
    from safetensors.torch import load_file

    return load_file(str(folder / "reader.safetensors"))


def test_a_stopped_run_resumes_to_the_same_weights_as_an_unbroken_one(tiny_training, tmp_path):
    import torch

    data, cfg = tiny_training
    whole = train([data], tmp_path / "whole", cfg, log=lambda *_: None)
    assert whole["steps"] == whole["total_steps"] > 2 and "test" in whole

    # Stopped after its first step (max_minutes ~ 0): dev chooses a threshold, test stays unread.
    cut = train([data], tmp_path / "cut", TrainConfig(**{**cfg.__dict__, "max_minutes": 1e-9}), log=lambda *_: None)
    assert cut["steps"] == 1 and cut["stopped_early"] and "test" not in cut
    saved_cfg, files, info = read_resume(tmp_path / "cut")
    assert info["step"] == 1 and files == [data.resolve()] and saved_cfg.lr == cfg.lr

    done = train([], tmp_path / "cut", TrainConfig(), log=lambda *_: None, resume=True)
    assert done["steps"] == whole["steps"] and not done["stopped_early"] and "test" in done
    a, b = _weights(tmp_path / "whole"), _weights(tmp_path / "cut")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_a_reader_started_from_an_average_of_two_holds_their_mean_and_both_histories(tiny_training, tmp_path):
    import torch

    data, cfg = tiny_training
    quiet = {"log": lambda *_: None}
    first = TrainConfig(**{**cfg.__dict__, "epochs": 1.0})
    train([data], tmp_path / "a", first, **quiet)
    train([data], tmp_path / "b", TrainConfig(**{**first.__dict__, "init": str(tmp_path / "a")}), **quiet)
    soup = train([data], tmp_path / "soup",
                 TrainConfig(**{**cfg.__dict__, "epochs": 0.0, "average": [str(tmp_path / "a"), str(tmp_path / "b")]}),
                 **quiet)
    a, b, mean = _weights(tmp_path / "a"), _weights(tmp_path / "b"), _weights(tmp_path / "soup")
    assert a.keys() == mean.keys()
    assert any(not torch.equal(a[k], b[k]) for k in a)  # two different readers
    for k in a:
        assert torch.equal(mean[k], ((a[k].float() + b[k].float()) / 2).half()), k
    # Its meta names both, with their checksums, training and curves; the second names its own
    # start, which is the first: named by its place in the list, its history not repeated.
    named = soup["average"]
    assert [n["folder"] for n in named] == [str(tmp_path / "a"), str(tmp_path / "b")]
    assert named[0]["sha256"] == json.loads((tmp_path / "a" / "meta.json").read_text())["sha256"]
    assert named[0]["curve"]
    assert named[1]["init"] == {"folder": str(tmp_path / "a"), "sha256": named[0]["sha256"], "see": "average[0]"}
    assert all(n["config"]["epochs"] == 1.0 and n["steps"] > 0 and n["data"] == [data.name] for n in named)
    assert "init" not in soup and soup["steps"] == 0 and "test" in soup


def test_train_reader_refuses_an_init_that_is_no_reader(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "meta.json").write_text("{}")
    code = main(["train-reader", "--data", str(tmp_path / "x.json"), "--out", str(tmp_path / "o"),
                 "--init", str(tmp_path / "a"), str(tmp_path / "missing"), "--epochs", "0"])
    assert code == 2 and "missing is not a reader folder" in capsys.readouterr().err


def test_a_run_whose_data_changed_is_not_resumed(tiny_training, tmp_path):
    data, cfg = tiny_training
    train([data], tmp_path / "r", TrainConfig(**{**cfg.__dict__, "max_minutes": 1e-9}), log=lambda *_: None)
    data.write_text(data.read_text(encoding="utf-8").replace("辽源市", "长春市"), encoding="utf-8")
    with pytest.raises(ResumeError, match="changed since the run started"):
        train([], tmp_path / "r", TrainConfig(), log=lambda *_: None, resume=True)


# ------------------------------------------------------------------ the GPU path, checked on the CPU


def test_a_run_trains_each_swapped_question_as_no_answer_over_the_window_that_held_the_answer(tiny_training, tmp_path):
    import qa.reader.model as model_mod
    from qa.reader.trainset import prepare

    _, cfg = tiny_training
    places = ["桂林市", "柳州市", "梧州市", "玉林市", "百色市", "贺州市"]
    from qa.reader.data import _bucket

    title = next(t for t in map(str, range(100)) if _bucket(f"places\x00{t}") == "train")
    arts = [{"title": title, "paragraphs": [
        {"context": (ctx := f"据统计，今年{p}林科所的试验田亩产油茶{60 + i}公斤，比去年增长一成。"),
         "qas": [{"id": f"q{i}", "question": f"{p}林科所的试验田亩产油茶多少？",
                  "answers": [{"text": f"{60 + i}公斤", "answer_start": ctx.index(f"{60 + i}公斤")}]}]}
        for i, p in enumerate(places)]}]
    data = tmp_path / "places.json"
    data.write_text(json.dumps({"data": arts}, ensure_ascii=False), encoding="utf-8")
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_mod.base_model_folder()))
    cfg = TrainConfig(**{**cfg.__dict__, "max_len": 64})
    plain = prepare([data], cfg, tok)
    swapped = prepare([data], TrainConfig(**{**cfg.__dict__, "swap_negatives": 1.0}), tok)
    assert swapped.swap and {s.source for s in swapped.swap} == {"places+swap"}
    extra = swapped.feats[len(plain.feats):]
    assert swapped.feats[: len(plain.feats)] == plain.feats, "the other windows are the run's as before"
    assert len(extra) == len(swapped.swap) and all((f.start, f.end) == (0, 0) for f in extra)
    def within(part: str, ids: tuple[int, ...]) -> bool:
        sub = tok(part, add_special_tokens=False)["input_ids"]
        return any(list(ids[i : i + len(sub)]) == sub for i in range(len(ids)))

    by_id = {e.id: e for e in plain.splits["train"]}
    for f, s in zip(extra, swapped.swap):
        assert within(s.question, f.input_ids) and within(by_id[s.id[: -len("#swap")]].answer_texts[0], f.input_ids)


def test_a_pack_trains_in_the_gpu_script_and_comes_back_as_a_reader_to_evaluate(tiny_training, tmp_path):
    import importlib.util
    from pathlib import Path

    import numpy as np

    import qa.reader.model as model_mod
    from qa.reader.pack import write_pack
    from qa.reader.trainset import prepare

    data, cfg = tiny_training
    info = write_pack([data], cfg, tmp_path / "pack", log=lambda *_: None)
    # The packed windows are the run's own, token for token, renumbered to the tokens used.
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_mod.base_model_folder()))
    feats = prepare([data], cfg, tok).feats
    w = np.load(tmp_path / "pack" / "windows.npz")
    assert info["windows"] == len(feats) == len(w["lengths"])
    assert list(w["starts"]) == [f.start for f in feats] and list(w["lengths"]) == [len(f.input_ids) for f in feats]
    used = sorted({i for f in feats for i in f.input_ids} | set(tok.all_special_ids))
    first = [used[i] for i in w["ids"][: w["lengths"][0]]]
    assert first == list(feats[0].input_ids)

    spec = importlib.util.spec_from_file_location("gpu_train", Path(__file__).parents[1] / "scripts" / "gpu_train.py")
    gpu = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu)
    assert (gpu.FORMAT, gpu.WEIGHTS, gpu.FROZEN, gpu.BASE_E5) == (
        model_mod.FORMAT, model_mod.WEIGHTS, model_mod.FROZEN, model_mod.BASE_E5)
    gpu.main(["--pack", str(tmp_path / "pack"), "--out", str(tmp_path / "gpu"), "--epochs", "1", "--cpu",
              "--batch-size", "4", "--log-every", "2"])
    meta = json.loads((tmp_path / "gpu" / "meta.json").read_text())
    assert meta["gpu_run"]["steps"] == meta["gpu_run"]["total"] > 0 and meta["gpu_run"]["curve"]

    # Evaluated here: no training step, a threshold and calibration from dev, and the test part.
    got = train([data], tmp_path / "evaluated", TrainConfig(**{**cfg.__dict__, "epochs": 0.0, "init": str(tmp_path / "gpu")}),
                log=lambda *_: None)
    assert got["steps"] == got["total_steps"] == 0 and "test" in got and "null_threshold" in got
    trained = _weights(tmp_path / "gpu")
    evaluated = _weights(tmp_path / "evaluated")
    assert all(np.array_equal(trained[k].numpy(), evaluated[k].numpy()) for k in trained)


def test_a_resumed_run_can_be_given_a_shorter_schedule(tiny_training, tmp_path):
    data, cfg = tiny_training
    first = train([data], tmp_path / "r", TrainConfig(**{**cfg.__dict__, "max_minutes": 1e-9}), log=lambda *_: None)
    assert first["total_steps"] > 4
    done = train([], tmp_path / "r", TrainConfig(), log=lambda *_: None, resume=True, epochs=cfg.epochs / 2)
    assert done["steps"] == done["total_steps"] < first["total_steps"] and "test" in done
    assert [(leg["from_step"], leg["total_steps"]) for leg in done["legs"]] == [(0, first["total_steps"]), (1, done["total_steps"])]


def test_a_resume_trusts_the_saved_weights_over_a_state_json_one_save_behind(tiny_training, tmp_path):
    """A kill between the two renames of a save leaves state.json older than state.pt."""
    import torch

    data, cfg = tiny_training
    whole = train([data], tmp_path / "whole", cfg, log=lambda *_: None)
    train([data], tmp_path / "cut", TrainConfig(**{**cfg.__dict__, "max_minutes": 1e-9}), log=lambda *_: None)
    state = tmp_path / "cut" / "resume" / "state.json"
    info = json.loads(state.read_text())
    state.write_text(json.dumps({**info, "step": 0}))
    done = train([], tmp_path / "cut", TrainConfig(), log=lambda *_: None, resume=True)
    assert done["steps"] == whole["steps"] and done["legs"][-1]["from_step"] == 1, "continued from the weights' step"
    a, b = _weights(tmp_path / "whole"), _weights(tmp_path / "cut")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_frozen_lowest_layers_keep_their_weights_for_the_share_of_the_schedule_given(tiny_training, tmp_path):
    """--freeze-layers: the embeddings and the lowest layers stay as the run began; with
    --freeze-share 0.5 they train in the second half, and a run cut in its frozen half resumes
    to the weights of an unbroken one."""
    import torch

    data, cfg = tiny_training
    quiet = {"log": lambda *_: None}
    train([data], tmp_path / "a", TrainConfig(**{**cfg.__dict__, "epochs": 1.0}), **quiet)
    start = _weights(tmp_path / "a")
    low = [k for k in start if ".embeddings." in k or ".encoder.layer.0." in k]
    assert low and "qa_outputs.weight" in start

    frozen = TrainConfig(**{**cfg.__dict__, "init": str(tmp_path / "a"), "freeze_layers": 1})
    train([data], tmp_path / "frozen", frozen, **quiet)
    after = _weights(tmp_path / "frozen")
    assert all(torch.equal(after[k], start[k]) for k in low)
    assert not torch.equal(after["qa_outputs.weight"], start["qa_outputs.weight"])

    half = TrainConfig(**{**frozen.__dict__, "freeze_share": 0.5})
    train([data], tmp_path / "half", half, **quiet)
    whole = _weights(tmp_path / "half")
    assert not all(torch.equal(whole[k], start[k]) for k in low)

    train([data], tmp_path / "cut", TrainConfig(**{**half.__dict__, "max_minutes": 1e-9}), **quiet)
    train([], tmp_path / "cut", TrainConfig(), resume=True, **quiet)
    resumed = _weights(tmp_path / "cut")
    assert all(torch.equal(resumed[k], whole[k]) for k in whole)


def test_freezing_more_layers_than_the_encoder_has_is_refused_with_its_count(tiny_training, tmp_path, capsys):
    data, _ = tiny_training
    from transformers import AutoConfig

    import qa.reader.model as model_mod

    layers = AutoConfig.from_pretrained(str(model_mod.base_model_folder())).num_hidden_layers
    args = ["train-reader", "--data", str(data), "--out", str(tmp_path / "r"), "--epochs", "0.1", "--no-bf16",
            "--max-len", "48", "--stride", "16", "--threads", "1"]
    assert main([*args, "--freeze-layers", str(layers + 1)]) == 2
    assert f"the encoder has {layers} layers (0 to {layers})" in capsys.readouterr().err
    assert not (tmp_path / "r" / "meta.json").exists()


def test_a_pack_for_the_gpu_refuses_frozen_layers_it_would_not_honour(tmp_path, capsys):
    args = ["train-reader", "--data", str(tmp_path / "x.json"), "--pack", str(tmp_path / "p"), "--freeze-layers", "6"]
    assert main(args) == 2
    assert "the GPU path (--pack, scripts/gpu_train.py) trains every layer" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()
