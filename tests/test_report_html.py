"""``qa eval --html``: the self-contained HTML report."""

from __future__ import annotations

import html
import re

from qa.evaluate import Report, calibration
from qa.report_html import report_html, write_html

PAYLOAD = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def _report() -> Report:
    cal = calibration([0.95, 0.9, 0.55, 0.3], [True, False, True, False])
    overall = {"n": 5, "answerable": 4, "unanswerable": 1, "em": 0.5, "f1": 0.625, "sentence_accuracy": 0.75,
               "citation@1": 0.75, "citations_valid": 1.0, "abstain_precision": 1.0, "abstain_recall": 1.0,
               "false_refusal": 0.0, "latency_p50_ms": 12.3, "latency_p95_ms": 40.0, "calibration": cal}
    by_type = {"number": {"n": 3, "f1": 0.9, "em": 0.66}, f"type{PAYLOAD}": {"n": 1, "f1": 0.2, "em": 0.0}}
    failures = [{"id": "q2", "type": "number", "stage": "extraction miss", "question": f"多少场{PAYLOAD}？",
                 "expected": ["1300余场次", "1300"], "got": f"6万{PAYLOAD}", "confidence": 0.9}]
    results = [{"id": "q2", "sentence": f"宣讲1300余场次，受众6万余人次{PAYLOAD}。"}]
    return Report(questions=f"test{PAYLOAD}.jsonl", overall=overall, retrieval={}, by_type=by_type,
                  failures=failures, results=results)


def test_the_report_has_metrics_charts_and_failures(tmp_path):
    path = write_html(_report(), tmp_path / "out" / "report.html")
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 2
    assert "answer F1 (CMRC 2018)" in page and "62.5%" in page and "exact match" in page
    assert "By question type" in page and "(n=3)" in page
    buckets = _report().overall["calibration"]["table"]
    assert "expected calibration error" in page and page.count("<circle") == len(buckets) == 3  # a dot per bucket
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    assert f"多少场{PAYLOAD}？" in text and f"6万{PAYLOAD}" in text and "1300余场次 / 1300" in text
    assert f"宣讲1300余场次，受众6万余人次{PAYLOAD}。" in text  # the cited sentence
    assert "extraction miss" in text


def test_everything_is_escaped_and_self_contained():
    page = report_html(_report())
    assert "<script" not in page and "<img" not in page and "onerror=alert(2)>" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)  # no external assets


def test_an_empty_report_still_renders():
    rep = Report(questions="x", overall={"n": 0}, retrieval={}, by_type={}, failures=[])
    page = report_html(rep)
    assert "no failures" in page and "no question types" in page


def test_qa_eval_writes_the_html_report(seeds, tmp_path, fake_embedder, capsys):
    """``qa eval FILE --html OUT`` (fake embedder and reader)."""
    import json

    from qa import build_index, cli

    build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    questions = tmp_path / "q.jsonl"
    rows = [{"id": "q1", "type": "number", "question": "辽源市“七讲七进”宣讲开展了多少场次？", "answers": ["1300余场次"]},
            {"id": "q2", "type": "person", "question": "谁是总经理？", "answers": ["王五"]}]
    questions.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    out = tmp_path / "report.html"
    assert cli.main(["eval", str(questions), "--index", str(tmp_path / "ix"), "--html", str(out), "--quiet"]) == 0
    page = out.read_text(encoding="utf-8")
    assert "HTML report written to" in capsys.readouterr().out
    assert page.count("<svg") == 2 and "谁是总经理？" in page and "王五" in page
