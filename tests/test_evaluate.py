"""Evaluation: metric functions, the question-file loader, and a quality gate on the test split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.evaluate import (
    QuestionSetError,
    best_f1,
    cmrc_tokens,
    contains,
    evaluate,
    exact_match,
    f1_score,
    format_report,
    load_questions,
)

QUESTIONS = Path(__file__).resolve().parent.parent / "data" / "questions"


def test_cmrc_tokens_split_chinese_characters_and_latin_words():
    assert cmrc_tokens("1300余场次") == ["1300", "余", "场", "次"]
    assert cmrc_tokens("“5+X”服务") == ["5", "x", "服", "务"]
    assert cmrc_tokens("GDP 增长，7.5%！") == ["gdp", "增", "长", "7", "5"]
    assert cmrc_tokens("１３００") == ["1300"]  # full-width digits are normalised


@pytest.mark.parametrize(
    ("pred", "gold", "f1"),
    [
        ("1300余场次", "1300余场次", 1.0),
        ("1300", "1300余场次", 2 * (1 / 1) * (1 / 4) / (1 + 1 / 4)),  # 1 of 4 gold tokens
        ("宣讲1300余场次", "1300余场次", 2 * (4 / 6) * 1 / (4 / 6 + 1)),
        ("", "1300余场次", 0.0),
        ("", "", 1.0),
        ("。", "", 1.0),  # punctuation only is empty
        ("辽源市", "南仁东广场", 0.0),
        ("新兵文艺演出", "送新兵文艺演出", 2 * 1 * (6 / 7) / (1 + 6 / 7)),
    ],
)
def test_f1_hand_computed(pred, gold, f1):
    assert f1_score(pred, gold) == pytest.approx(f1)


def test_f1_uses_the_longest_common_substring_not_bag_of_tokens():
    # Same characters, different order: only a run of 1 matches.
    assert f1_score("甲乙丙", "丙乙甲") == pytest.approx(1 / 3)


def test_exact_match_ignores_punctuation_and_width():
    assert exact_match("“强国复兴有我”", "强国复兴有我") == 1.0
    assert exact_match("ＧＤＰ", "gdp") == 1.0
    assert exact_match("强国复兴", "强国复兴有我") == 0.0


def test_best_f1_takes_the_best_acceptable_answer():
    assert best_f1("1300", ("1300余场次", "1300")) == 1.0
    assert best_f1("x", ()) == 0.0


def test_contains_ignores_whitespace():
    assert contains("本报记者 董博 赵蓓蓓", "董博赵蓓蓓")
    assert not contains("abc", "")


def _write(tmp_path, lines):
    p = tmp_path / "q.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_loader_reads_the_format(tmp_path):
    p = _write(tmp_path, [
        json.dumps({"id": "a", "type": "number", "question": "多少？", "answers": ["1"], "evidence": "1个"},
                   ensure_ascii=False),
        "",
        json.dumps({"question": "没有的？", "answers": []}, ensure_ascii=False),
    ])
    qs = load_questions(p)
    assert [q.id for q in qs] == ["a", "line3"]
    assert qs[0].answerable and not qs[1].answerable
    assert qs[1].type == "" and qs[1].evidence == ""


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "q.jsonl:2: not valid JSON"),
        ('["a list"]', "q.jsonl:2: expected a JSON object"),
        ('{"answers": []}', "q.jsonl:2: 'question' must be a non-empty string"),
        ('{"question": "x", "answers": "1300"}', "q.jsonl:2: 'answers' must be a list of strings"),
        ('{"question": "x", "answers": [], "evidence": 3}', "q.jsonl:2: 'evidence' must be a string"),
        ('{"id": "a", "question": "y", "answers": []}', "q.jsonl:2: duplicate id 'a'"),
    ],
)
def test_loader_errors_name_the_line(tmp_path, line, message):
    p = _write(tmp_path, ['{"id": "a", "question": "x", "answers": []}', line])
    with pytest.raises(QuestionSetError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_questions(p)


def test_loader_missing_and_empty_files(tmp_path):
    with pytest.raises(QuestionSetError, match="file not found"):
        load_questions(tmp_path / "nope.jsonl")
    with pytest.raises(QuestionSetError, match="no questions"):
        load_questions(_write(tmp_path, [""]))


def test_the_project_question_set_is_well_formed():
    dev, test = load_questions(QUESTIONS / "dev.jsonl"), load_questions(QUESTIONS / "test.jsonl")
    assert len(dev) + len(test) >= 80
    qs = dev + test
    assert sum(not q.answerable for q in qs) >= 10
    assert sum(q.type == "english" for q in qs) >= 8
    assert sum(q.type == "paraphrase" for q in qs) >= 8
    assert not {q.id for q in dev} & {q.id for q in test}


def test_report_on_a_tiny_set_with_the_fake_model(seeds, tmp_path, fake_embedder):
    from qa import build_index, load_index

    build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    index = load_index(tmp_path / "ix", embedder=fake_embedder)
    p = _write(tmp_path, [
        json.dumps({"id": "n1", "type": "number", "question": "“七讲七进”宣讲开展了多少场次？",
                    "answers": ["1300余场次"], "evidence": "宣讲1300余场次"}, ensure_ascii=False),
        json.dumps({"id": "u1", "type": "unanswerable", "question": "辽源市的GDP是多少？", "answers": []},
                   ensure_ascii=False),
    ])
    rep = evaluate(index, load_questions(p), compare=True, source=str(p))
    assert set(rep.compare) == {"hybrid", "dense", "keyword"}
    assert rep.overall["n"] == 2 and rep.overall["citations_valid"] == 1.0
    assert rep.by_type["unanswerable"]["abstain_recall"] == 1.0
    text = format_report(rep)
    assert "hit@1" in text and "| number |" in text and "Retrieval modes side by side" in text
    assert rep.by_document == {} and "By document" not in text


def test_eval_embeds_each_question_once_across_answering_ranking_and_modes(seeds, tmp_path, fake_embedder):
    """``qa eval`` retrieves each question to answer it, to rank its evidence and once per
    compared mode; the query embedding is computed once.  Plain ``answer()`` never remembers."""
    from qa import answer, build_index, load_index

    build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    index = load_index(tmp_path / "ix", embedder=fake_embedder)
    rows = [
        {"id": "a", "question": "“七讲七进”宣讲开展了多少场次？", "answers": ["1300余场次"], "evidence": "宣讲1300余场次"},
        {"id": "b", "question": "受众有多少人？", "answers": ["6万余人"], "evidence": "6万余人"},
    ]
    p = _write(tmp_path, [json.dumps(r, ensure_ascii=False) for r in rows])
    fake_embedder.calls.clear()
    evaluate(index, load_questions(p), compare=True)
    assert len(fake_embedder.calls) == 2
    fake_embedder.calls.clear()
    answer(rows[0]["question"], index=index)
    answer(rows[0]["question"], index=index)
    assert len(fake_embedder.calls) == 2


def test_report_breaks_down_by_document_when_questions_name_it(seeds, tmp_path, fake_embedder):
    from qa import build_index, load_index

    build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    index = load_index(tmp_path / "ix", embedder=fake_embedder)
    rows = [
        {"id": "a", "question": "“七讲七进”宣讲开展了多少场次？", "answers": ["1300余场次"], "doc": "seed.txt"},
        {"id": "b", "question": "辽源市的GDP是多少？", "answers": [], "doc": "seed.txt"},
        {"id": "c", "question": "受众有多少人？", "answers": ["6万余人"], "doc": "other.md"},
    ]
    p = _write(tmp_path, [json.dumps(r, ensure_ascii=False) for r in rows])
    qs = load_questions(p)
    assert [q.doc for q in qs] == ["seed.txt", "seed.txt", "other.md"]
    rep = evaluate(index, qs)
    assert {d: m["n"] for d, m in rep.by_document.items()} == {"other.md": 1, "seed.txt": 2}
    assert rep.by_document["seed.txt"]["unanswerable"] == 1
    assert "| seed.txt | 2 |" in format_report(rep)


# Measured with the shipped reader on the seed page's test split (data/questions/test.jsonl):
# F1 0.638, sentence accuracy 0.85, citation@1 0.89, unanswerable refused 0.50, false
# refusals 0.045, calibration error 0.062.  The gate sits a little below, so a regression
# fails CI; answers are deterministic.
GATE = {
    "f1": 0.60,
    "sentence_accuracy": 0.80,
    "citation@1": 0.85,
    "abstain_recall": 0.40,
    "citations_valid": 1.0,
}


@pytest.mark.slow  # the real embedder and reader over the test split: minutes
def test_quality_gate_on_the_test_split(real_index, real_reader):
    rep = evaluate(real_index, load_questions(QUESTIONS / "test.jsonl"), reader=real_reader)
    o = rep.overall
    for metric, floor in GATE.items():
        assert o[metric] >= floor, f"{metric} {o[metric]:.3f} fell below {floor}\n{format_report(rep)}"
    assert o["false_refusal"] <= 0.08, format_report(rep)
    assert o["calibration"]["ece"] <= 0.10, format_report(rep)
    assert rep.retrieval["hit@5"] >= 0.92
