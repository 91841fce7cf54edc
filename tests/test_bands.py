"""Display bands (qa.bands): edges measured on (confidence, right) pairs, stored with a reader's
settings, stamped on answers by answer(), shown by the chat and the API, reported by ``qa eval``."""

from __future__ import annotations

import html
import json
import math
import re
from pathlib import Path

import pytest
from conftest import FakeReader

from qa import api, bands, build_index, load_index, render
from qa.answering import answer
from qa.bands import Bands, BandsError, BandStat, fit_bands, lowest_edge
from qa.evaluate import Question, Result, band_report, evaluate, format_report
from qa.records import Answer, Citation
from qa.report_html import report_html


def _pairs(*groups: tuple[float, int, int]) -> list[tuple[float, bool]]:
    """``(confidence, right, wrong)`` groups as pairs: ``right`` right and ``wrong`` wrong answers at each."""
    out = []
    for c, right, wrong in groups:
        out += [(c, True)] * right + [(c, False)] * wrong
    return out


# ------------------------------------------------------------------ finding the edges


T, F = True, False
LADDER = [(0.95, T), (0.93, T), (0.91, T), (0.9, T), (0.85, T), (0.8, F), (0.75, T), (0.7, T), (0.65, F), (0.6, T),
          (0.5, F), (0.45, T), (0.4, F), (0.3, F), (0.2, F)]


def test_the_lowest_edge_whose_answers_are_right_often_enough():
    # from 0.85: 5 of 5 right (from 0.8: 5 of 6 = 0.83)
    assert lowest_edge(LADDER, 0.9, min_answers=4) == 0.85
    # below 0.85, from 0.6: 3 of 5 right, the 4 nearest the edge 3 of 4 (from 0.5: 3 of 6)
    assert lowest_edge(LADDER, 0.6, min_answers=4, below=0.85) == 0.6
    assert lowest_edge(LADDER, 0.9, min_answers=6) == math.inf  # 5 answers reach 90%, not 6
    assert lowest_edge([], 0.9) == math.inf
    with pytest.raises(ValueError, match="target"):
        lowest_edge(LADDER, 0.0)
    with pytest.raises(ValueError, match="min_answers"):
        lowest_edge(LADDER, 0.9, min_answers=0)


def test_right_answers_far_above_do_not_carry_a_tail_of_wrong_ones_into_a_band():
    pairs = _pairs((0.9, 30, 0)) + [(0.2 + i / 100, False) for i in range(10)]
    # From 0.2 the band is right 30 of 40 times (0.75), but its 10 answers nearest the edge never are;
    # from 0.26 those 10 are 6 right of 10 (4 wrong below 0.3, then 0.9's right ones).
    assert lowest_edge(pairs, 0.6, min_answers=10) == pytest.approx(0.26)
    assert lowest_edge(pairs, 0.9, min_answers=10) == pytest.approx(0.29)  # 1 wrong of the 10 nearest


def test_a_lucky_few_at_the_top_do_not_set_an_edge():
    pairs = _pairs((0.99, 3, 0), (0.7, 15, 5))
    # 3 of 3 at 0.99 are right, but fewer than min_answers; from 0.7: 18 of 23 = 0.78
    assert lowest_edge(pairs, 0.9, min_answers=20) == math.inf
    assert lowest_edge(pairs, 0.75, min_answers=20) == 0.7


def test_fit_bands_finds_both_edges_and_measures_each_band():
    b = fit_bands(LADDER, source="dev", min_answers=4)
    assert (b.high, b.mid, b.source) == (0.85, 0.6, "dev")
    assert b.measured == (BandStat("high", 5, 5), BandStat("mid", 5, 3), BandStat("low", 5, 1))
    assert b.stat("high").share_right >= 0.9 and b.stat("mid").share_right >= 0.6
    assert [b.band(c) for c in (0.95, 0.85, 0.84, 0.6, 0.59, 0.0)] == ["high", "high", "mid", "mid", "low", "low"]


def test_bands_no_edge_satisfies_are_empty():
    b = fit_bands(_pairs((0.9, 10, 10), (0.3, 0, 10)), min_answers=5)
    assert b.high == math.inf and b.mid == math.inf and b.band(1.0) == "low"
    assert b.stat("high") == BandStat("high", 0, 0) and b.stat("high").share_right is None
    b = fit_bands(_pairs((0.9, 10, 0), (0.3, 0, 10)), min_answers=5)
    assert b.high == 0.9 and b.mid == 0.9 and b.band(0.5) == "low"  # no 中 band: below 高 is not found


def test_bands_round_trip_through_meta_json():
    b = fit_bands(LADDER, source="seeds/dev.jsonl", min_answers=4)
    stored = json.loads(json.dumps(b.to_meta()))
    assert stored["high"] == 0.85 and stored["measured"]["mid"] == {"n": 5, "right": 3, "share_right": 0.6}
    assert Bands.from_meta(stored) == b
    empty = fit_bands(_pairs((0.5, 1, 1)), min_answers=5)
    assert empty.to_meta()["high"] is None and Bands.from_meta(json.loads(json.dumps(empty.to_meta()))) == empty


def test_a_reader_without_bands_gets_the_defaults_and_bad_ones_are_refused():
    assert Bands.of({}) is bands.DEFAULT and Bands.of(None) is bands.DEFAULT
    assert (bands.DEFAULT.high, bands.DEFAULT.mid) == (bands.HIGH_TARGET, bands.MID_TARGET)
    for bad, why in (([], "must be an object"), ({"mid": 0.5}, "malformed"), ({"high": 0.5, "mid": 0.7}, "mid ≤ high"),
                     ({"high": "x", "mid": 0.1}, "malformed")):
        with pytest.raises(BandsError, match=why):
            Bands.of({"bands": bad})
    with pytest.raises(ValueError, match="between 0 and 1"):
        fit_bands([(1.5, True)])


# ------------------------------------------------------------------ answer() and the display


class BandedReader(FakeReader):
    """The fake reader (confidence 0.9 for its first span: no calibration) with bands in its settings."""

    def __init__(self, high: float, mid: float) -> None:
        super().__init__()
        self.answering = {"bands": Bands(high=high, mid=mid).to_meta()}


@pytest.fixture
def seed_index(seeds, tmp_path, fake_embedder):
    build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    return load_index(tmp_path / "ix", embedder=fake_embedder)


QUESTION = "辽源市“七讲七进”宣讲开展了多少场次？"


@pytest.mark.parametrize(("high", "mid", "band", "level"), [
    (0.85, 0.5, "high", "sure"), (0.95, 0.5, "mid", "possible"), (0.95, 0.92, "low", "not_found"),
])
def test_answer_takes_its_band_from_the_readers_measured_edges(seed_index, high, mid, band, level):
    a = answer(QUESTION, index=seed_index, reader=BandedReader(high, mid))
    assert a.found and a.confidence == pytest.approx(0.9) and a.band == band
    d = api.answer_to_dict(a)
    assert d["level"] == level and d["found"] and d["text"] == a.text
    assert (render.NOT_SURE("zh") in d["message"]) == (band == "low")


def test_an_answer_below_the_mid_band_is_shown_as_not_found_with_the_closest_passages(seed_index):
    a = answer(QUESTION, index=seed_index, reader=BandedReader(0.95, 0.92))
    assert a.found and a.band == "low" and a.related
    out = render.answer_html(a)
    assert "qa-notfound" in out and "未找到答案" in out and render.NOT_SURE("zh") in out
    assert "并非答案" in out and out.count("<details") == len(a.related)
    assert "qa-answer" not in out and "可能的答案" not in out and "qa-conf" not in out  # no span, no badge
    text = html.unescape(re.sub(r"<[^>]+>", " ", out))
    assert a.related[0].quote[:20] in text


def test_the_badge_says_the_band_not_a_percentage():
    cit = Citation(doc="x.txt", title="标题", paragraph=2, quote="第二部分有12场活动。", start=0, end=11, score=0.9,
                   passage_id="x.txt#a1.p2.0")
    a = Answer(question="有多少场活动？", found=True, text="12", sentence=cit.quote, confidence=0.56,
               citations=[cit], text_start=5, band="high")
    out = render.answer_html(a)
    assert "qa-answer" in out and "把握 高" in out and "56%" not in out  # the band answer() measured decides
    assert render.shown_band(Answer(question="q", found=True, text="1", confidence=0.95)) == "high"  # defaults
    assert render.shown_band(Answer(question="q", found=True, text="1", confidence=0.5)) == "low"
    assert render.shown_band(Answer(question="q", found=False, confidence=0.99)) == "low"


@pytest.mark.parametrize(("text", "sentence", "shown"), [
    ("14个乡镇的86支", "全市组建了覆盖14个乡镇的86支宣讲队伍。", "14个乡镇的86支"),
    ("14个乡镇的86", "全市组建了覆盖14个乡镇的86支宣讲队伍。", "14个乡镇的86"),  # not a bare number: no unit
    ("第3", "这是第3次会议。", "第3"),
    ("86", "全市组建了覆盖14个乡镇的86支宣讲队伍。", "86支"),
    ("2.3万", "去年全镇共砍伐病树2.3万株。", "2.3万株"),
    ("1300余", "开展了1300余场次，", "1300余场次"),
    ("三", "共有三个展区。", "三个"),
])
def test_a_unit_is_appended_to_a_bare_number_only(text, sentence, shown):
    a = Answer(question="q", found=True, text=text, sentence=sentence, confidence=0.9, text_start=sentence.find(text))
    assert render.display_text(a) == shown and a.text == text


# ------------------------------------------------------------------ qa eval


def _result(i: int, found: bool, confidence: float, f1: float, answers=("甲",), band: str = "") -> Result:
    return Result(id=f"q{i}", type="", question="问？", answers=list(answers), evidence="", found=found,
                  predicted="甲" if found else "", sentence="", confidence=confidence, f1=f1, em=f1,
                  sentence_ok=False, citation_ok=False, citations_valid=True, retrieval_rank=None, seconds=0.01,
                  band=band)


def test_band_report_counts_share_right_per_band_beside_dev():
    b = Bands(high=0.8, mid=0.5, measured=(BandStat("high", 40, 37), BandStat("mid", 20, 13), BandStat("low", 10, 3)),
              source="seeds/dev.jsonl")
    results = [
        _result(1, True, 0.9, 1.0, band="high"), _result(2, True, 0.85, 0.4, band="high"),  # 1 of 2 right
        _result(3, True, 0.6, 1.0, band="mid"),
        _result(4, True, 0.3, 0.0, band="low"), _result(5, True, 0.2, 1.0, answers=(), band="low"),  # answered an unanswerable
        _result(6, False, 0.1, 1.0, answers=()), _result(7, False, 0.1, 0.0),
    ]
    rep = band_report(results, b)
    rows = {r["band"]: r for r in rep["rows"]}
    assert (rows["high"]["n"], rows["high"]["right"], rows["high"]["share_right"]) == (2, 1, 0.5)
    assert (rows["mid"]["n"], rows["mid"]["share_right"], rows["low"]["n"], rows["low"]["right"]) == (1, 1.0, 2, 0)
    assert rows["high"]["dev_share_right"] == 0.925 and rows["high"]["dev_n"] == 40 and rows["high"]["target"] == 0.9
    assert (rows["high"]["from"], rows["high"]["to"], rows["low"]["from"], rows["low"]["to"]) == (0.8, None, None, 0.5)
    assert rep["refused"] == {"n": 2, "unanswerable": 1, "share_unanswerable": 0.5}


def test_qa_eval_reports_the_bands_in_text_and_html(seed_index):
    qs = [Question("q1", QUESTION, ("1300余场次",)), Question("q2", "辽源市的市长是谁？", ())]
    rep = evaluate(seed_index, qs, reader=BandedReader(0.85, 0.5))
    text = format_report(rep)
    assert "## Display bands (default edges, not measured for this reader)" in text and "| 高 | ≥ 0.850 |" in text
    page = html.unescape(re.sub(r"<[^>]+>", " ", report_html(rep)))
    assert "Display bands" in page and "not found (span hidden)" in page and "not found (refused)" in page
    assert sum(r["n"] for r in rep.bands["rows"]) + rep.bands["refused"]["n"] == len(qs)


# ------------------------------------------------------------------ qa ask


@pytest.mark.parametrize(("high", "mid", "shown"), [
    (0.85, 0.5, "答案: 1300余场次   (把握 高，置信度 0.90)"), (0.95, 0.5, "(把握 中，置信度 0.90)"),
    (0.95, 0.92, "没有找到答案。" + render.NOT_SURE("zh")),
])
def test_qa_ask_shows_the_band(seeds, tmp_path, fake_embedder, monkeypatch, capsys, high, mid, shown):
    import qa.answering
    from qa import cli

    build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    monkeypatch.setattr(qa.answering, "_reader", BandedReader(high, mid))
    assert cli.main(["ask", "--index", str(tmp_path / "ix"), QUESTION]) == 0
    out = capsys.readouterr().out
    assert shown in out and ("答案:" in out) == (high < 0.9 or mid < 0.9)


# ------------------------------------------------------------------ scripts/tune_answering.py


@pytest.fixture
def tune(monkeypatch, fake_embedder):
    """scripts/tune_answering.py as a module, building its indexes with the fake embedder."""
    import importlib.util

    from conftest import ROOT

    spec = importlib.util.spec_from_file_location("tune_answering", ROOT / "scripts" / "tune_answering.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.setattr(mod, "build_index", lambda docs, root, progress: build_index(docs, root, embedder=fake_embedder))
    monkeypatch.setattr(mod, "load_index", lambda root: load_index(root, embedder=fake_embedder))
    return mod


def test_the_tune_script_refuses_held_out_question_sets(tune):
    for item in ("data/wild/test.jsonl=data/wild/docs", "data/questions/test.jsonl=seeds"):
        with pytest.raises(SystemExit, match="held-out"):
            tune.question_sets(["data/questions/dev.jsonl=seeds", item])
    with pytest.raises(SystemExit, match="QUESTIONS.jsonl=DOCS_FOLDER"):
        tune.question_sets(["data/questions/dev.jsonl"])


def test_the_tune_script_fits_bands_on_what_answer_gives(tune, seeds, tmp_path):
    """Any reader: its answers on the sets, right or wrong by F1, give the bands (the fake answers 1300余)."""
    rows = [{"id": f"q{i}", "question": QUESTION, "answers": [gold] if gold else []}
            for i, gold in enumerate(["1300余场次"] * 22 + ["六万"] * 3 + [""] * 2)]
    qfile = tmp_path / "dev.jsonl"
    qfile.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    reader = BandedReader(0.95, 0.92)
    reader.meta = {"sha256": {"reader.safetensors": "fake"}, "answering": reader.answering}
    cache = tmp_path / "answers.json"
    b = tune.derive_bands(reader, tune.question_sets([f"{qfile}={seeds}"]), cache)
    # 27 answers at confidence 0.9, 1300余 right (F1 0.67) for 22 of them: 0.81
    assert b.high == math.inf and b.mid == pytest.approx(0.9) and b.measured[1] == BandStat("mid", 27, 22)
    assert b.source == f"seeds/{qfile.name}" and json.loads(cache.read_text())["pairs"]
    calls = len(reader.calls)
    assert tune.derive_bands(reader, tune.question_sets([f"{qfile}={seeds}"]), cache) == b
    assert len(reader.calls) == calls  # read back, not answered again


def test_example_questions_are_ones_the_chat_shows_an_answer_for(seeds, tmp_path, fake_embedder, monkeypatch):
    import qa.answering
    from qa.library import Library

    lib = Library(seeds, tmp_path / "ix", embedder=fake_embedder)
    lib.open()
    monkeypatch.setattr(qa.answering, "_reader", BandedReader(0.85, 0.5))
    shown = lib.examples(4)
    assert shown
    monkeypatch.setattr(qa.answering, "_reader", BandedReader(0.95, 0.92))  # every answer below 中
    assert lib.examples(5) == []  # (another count: not the examples made above)


def test_the_tune_script_only_chooses_settings_within_the_false_refusal_limit(tune):
    """A threshold that buys refused unanswerables with refused answerable news is not eligible."""
    def row(s, golds, margin):  # one candidate span: (passage, text, margin, literal missing, fits, start, end, money ok)
        return {"set": s, "golds": golds, "qtype": "number", "spans": [(0, "42", margin, False, True, 0, 2, True)]}

    news = [row("news", ["42"], m) for m in (5.0, 4.0, 3.0, 1.0)] + [row("news", [], 2.0)] * 3
    wiki = [row("wiki", ["42"], 0.5)] * 4  # not a project set: its refusals do not count
    rows = news + wiki
    assert tune.false_refusals(rows, 0.0, 2.5, False) == {"news": 0.25, "wiki": 1.0}
    assert tune.worst_refusal(rows, ["news"], 0.0, 2.5, False) == 0.25
    grid = [tune.Setting(0.9, 0.0, thr, False, {}, 4, 0.0) for thr in (0.0, 2.5, 4.5)]
    assert [g.threshold for g in tune.within_cap(rows, grid, ["news"], 0.25)] == [0.0, 2.5]
    assert [g.threshold for g in tune.within_cap(rows, grid, ["news"], 0.08)] == [0.0]
    with pytest.raises(SystemExit, match="refuses too much"):
        tune.within_cap(rows, grid[1:], ["news"], 0.08)


def test_the_tune_script_counts_citations_as_answer_does_and_an_early_exit_that_loses_them(tune):
    """Passage 0 wins with the rank bonus; passage 1 holds the answer whole at a higher margin
    and is the one with the evidence: answer() cites it when it is read. An early exit at 2.0
    stops at passage 0 and loses that citation; a refusal is a miss."""
    def row(golds, cite, spans):
        return {"set": "news", "golds": golds, "qtype": "name", "cite": cite, "spans": spans}

    moved = row(["龙山区"], [False, True], [(0, "龙山区", 1.5, False, True, 0, 3, True), (1, "辽源市龙山区", 2.8, False, True, 5, 11, True)])
    inside = row(["12"], [False, True], [(0, "12", 1.5, False, True, 0, 2, True), (1, "2012年", 2.8, False, True, 0, 5, True)])
    stays = row(["27场"], [True, False], [(0, "27场", 3.0, False, True, 0, 3, True)])
    refused = row(["9名"], [True, False], [(0, "9名", -3.0, False, True, 0, 2, True)])
    assert tune.cited(moved, 4.0, True) == 1 and tune.cited(inside, 4.0, True) == 0 and tune.cited(stays, 4.0, True) == 0
    assert tune.cited(moved, 4.0, True, exit_at=2.0) == 0
    rows = [moved, inside, stays, refused, row([], [], [(0, "x", 0.0, False, True, 0, 1, True)])]
    assert tune.citation_share(rows, ["news"], 4.0, 2.0, True) == 0.5  # moved, stays; not inside, not refused
    assert tune.citation_share(rows, ["news"], 4.0, 2.0, True, exit_at=2.0) == 0.25
    assert tune.citation_share(rows, ["wiki"], 4.0, 2.0, True) is None  # no row of that set records evidence


def test_the_tune_script_refuses_as_answer_does_a_money_question_answered_without_a_currency(tune):
    """With the money check on, a span shown without a currency is a refusal: right for the
    unanswerable question (投资多少钱 → 50吨), a false refusal for the answerable one whose span
    lacks it; a tightened span is judged as shown."""
    tons = {"set": "news", "golds": [], "qtype": "number", "spans": [(0, "50吨", 6.0, False, True, 0, 3, False)]}
    sum_ = {"set": "news", "golds": ["1260万元"], "qtype": "number",
            "spans": [(0, "1260万元", 6.0, False, True, 0, 6, True)]}
    bare = {"set": "news", "golds": ["10万"], "qtype": "number", "spans": [(0, "10万", 6.0, False, True, 0, 3, False)]}
    assert tune.score([tons, sum_], 0.0, 1.0, False)[0] == pytest.approx(1 / 2)  # off: the tonnage is answered
    assert tune.score([tons, sum_], 0.0, 1.0, False, money=True)[0] == pytest.approx(1.0)  # on: refused
    rows = [tons, sum_, bare]
    assert tune.false_refusals(rows, 0.0, 1.0, False, money=True) == {"news": 0.5}  # 10万 lacks its currency
    assert tune.false_refusals(rows, 0.0, 1.0, False) == {"news": 0.0}
    # Tightening shows an inner span: the check is on it.
    clause = {"set": "news", "golds": [], "qtype": "number", "spans": [
        (0, "投资1260万元建50吨冷库", 6.0, False, True, 0, 14, True), (0, "50吨", 5.5, False, True, 9, 12, False)]}
    assert tune.answered(tune.choose(clause, 0.0, False), 1.0, False, money=True)
    assert not tune.answered(tune.choose(clause, 0.0, False, tighten=(10, 1.0)), 1.0, False, money=True)


def test_cached_candidates_are_refused_when_qa_money_changed(tune, tmp_path, monkeypatch):
    """The money flags are computed when the candidates are collected: a cache written under
    other rules (or by an older version of the script) is refused, not silently reused."""
    rows = [{"set": "news", "golds": [], "qtype": "number", "spans": [(0, "50吨", 6.0, False, True, 0, 3, False)]}]
    path = tmp_path / "candidates.json"
    tune.write_candidates(path, rows)
    assert tune.read_candidates(path) == [dict(rows[0], spans=[list(rows[0]["spans"][0])])]
    monkeypatch.setattr(tune, "_money_version", lambda: "other")
    with pytest.raises(SystemExit, match="another qa/money.py"):
        tune.read_candidates(path)
    path.write_text(json.dumps(rows), encoding="utf-8")  # the format before the money flags
    with pytest.raises(SystemExit, match="older version"):
        tune.read_candidates(path)


def test_reads_floor_keeps_false_refusals_within_the_limit(tune, monkeypatch):
    """read()'s floor: refusing the two unanswerables would pay by the objective, but it would
    also refuse half of the answerable questions, which the limit forbids."""
    from qa.reader.data import MRCExample

    probs = [0.9, 0.8, 0.5, 0.3, 0.45, 0.58, 0.56, 0.55]
    exs = [MRCExample(f"q{i}", "s", "a", "甲乙丙", "问", (("甲", 0),) if i < 4 else ()) for i in range(8)]
    monkeypatch.setattr(tune, "load_squad", lambda f: exs)
    monkeypatch.setattr(tune, "predict_gold", lambda reader, e: [("甲", p) for p in probs])

    class Reader:
        probability = staticmethod(lambda m: m)

    assert tune.choose_read_floor(Reader(), [Path("x.json")], 100) == 0.6  # all four unanswerables refused
    assert tune.choose_read_floor(Reader(), [Path("x.json")], 100, cap=0.25) == 0.5  # one answerable refused
    assert tune.choose_read_floor(Reader(), [Path("x.json")], 100, cap=0.0) == 0.3
