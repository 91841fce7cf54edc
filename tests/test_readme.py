"""The README says what the code does: its examples are run and their results compared with it.

In the README's Python examples, a line ``expression  # value`` promises that the expression
gives that value: a string ending in ``…`` is a prefix, a float is met to ±0.01 (the README
rounds to two decimals), ``{'k': v, ...}`` holds for those keys.  The examples run with the
real models (slow tests).  The band figures the README gives for the shipped reader are
checked against its meta.json (fast).
"""

from __future__ import annotations

import ast
import json
import re
import shutil

import pytest
from conftest import ROOT

README = ROOT / "README.md"
SHIPPED_META = ROOT / "qa" / "reader" / "shipped" / "meta.json"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def block_with(marker: str) -> str:
    [block] = [b for b in python_blocks() if marker in b]
    return block


def split_comment(line: str) -> tuple[str, str]:
    """``code  # comment`` as its two parts ("" when there is no comment)."""
    code, sep, comment = line.partition("  # ")
    return code.rstrip(), comment.strip() if sep else ""


def expected_value(comment: str) -> tuple[object, bool]:
    """The value a comment promises, and whether it is a dict that only some keys of must match."""
    subset = comment.endswith(", ...}")
    return ast.literal_eval(comment[: -len(", ...}")] + "}" if subset else comment), subset


def matches(actual: object, expected: object, subset: bool = False) -> bool:
    if isinstance(expected, str) and expected.endswith("…"):
        return isinstance(actual, str) and actual.startswith(expected[:-1])
    if isinstance(expected, float):
        return isinstance(actual, (int, float)) and abs(actual - expected) <= 0.01
    if isinstance(expected, tuple):
        return (isinstance(actual, tuple) and len(actual) == len(expected)
                and all(matches(a, e) for a, e in zip(actual, expected)))
    if isinstance(expected, dict):
        return (isinstance(actual, dict) and (subset or set(actual) == set(expected))
                and all(k in actual and matches(actual[k], v) for k, v in expected.items()))
    return type(actual) is type(expected) and actual == expected


def test_the_checker_can_fail():
    assert matches((True, "1300余场次", 0.56), (True, "1300余场次", 0.561))
    assert not matches((True, "1300余场次", 0.56), (True, "1300余场次", 0.9))
    assert matches("立足群众主体，辽源市", "立足群众主体，…") and not matches("立足", "辽源…")
    assert matches({"found": True, "level": "sure", "x": 1}, *expected_value("{'found': True, 'level': 'sure', ...}"))
    assert not matches({"found": True, "level": "possible"}, *expected_value("{'found': True, 'level': 'sure', ...}"))
    assert not matches(1, True) and not matches((1,), (1, 2))


@pytest.fixture
def project_answer(real_reader, tmp_path, monkeypatch):
    """``qa.answer`` as the README calls it: the default index (built here from a copy of the
    project's seeds/) and the shipped reader."""
    import qa.answering

    seeds = tmp_path / "seeds"
    shutil.copytree(ROOT / "seeds", seeds)
    monkeypatch.setenv("QA_SEEDS", str(seeds))
    monkeypatch.setenv("QA_INDEX", str(tmp_path / "embeddings"))
    for name in ("_default", "_default_key", "_folder"):
        if hasattr(qa.answering, name):
            monkeypatch.setattr(qa.answering, name, None)
    monkeypatch.setattr(qa.answering, "_reader", real_reader)
    return qa.answering.answer


@pytest.mark.slow
def test_the_headline_example_returns_what_the_readme_says(project_answer):
    block = block_with("from qa import answer")
    scope: dict = {}
    checked = 0
    for line in block.splitlines():
        code, comment = split_comment(line)
        if not code:
            continue
        if not comment:
            exec(code, scope)
            continue
        got = eval(code, scope)
        want, subset = expected_value(comment)
        assert matches(got, want, subset), f"README: {code}  # {comment}\nthe code gives: {got!r}"
        checked += 1
    assert checked >= 3


@pytest.mark.slow
def test_the_api_example_returns_what_the_readme_says(project_answer):
    """What ``/ask`` returns is api.answer_to_dict of the answer (plus ``indexed``)."""
    from qa import api

    block = block_with('api_name="/ask"')
    q1 = ast.literal_eval(re.search(r"^q1 = (.+)$", block, re.M).group(1))
    [line] = [x for x in block.splitlines() if x.startswith("a1 = client.predict(q1")]
    want, subset = expected_value(split_comment(line)[1])
    got = api.answer_to_dict(project_answer(q1))
    assert matches(got, want, subset), f"README: {line}\nthe code gives: {got!r}"


def test_the_readmes_band_figures_are_the_shipped_readers():
    """The README's figures for the shipped reader's bands are those in its meta.json."""
    from qa.bands import Bands

    bands = Bands.of(json.loads(SHIPPED_META.read_text(encoding="utf-8")).get("answering"))
    text = " ".join(README.read_text(encoding="utf-8").split())
    m = re.search(r"The shipped reader's bands: 高 (?:none \(on the (\d+) dev answers [^)]*\)|from ([\d.]+) "
                  r"\(([\d.]+)% of (\d+) dev answers right\)), 中 from ([\d.]+) \(([\d.]+)% of (\d+) dev answers "
                  r"right\); below that, shown as not found: (\d+) dev answers(?:, of which ([\d.]+)% were right)?", text)
    assert m, "README: the shipped reader's band figures are missing or worded otherwise"
    high, mid, low = bands.stat("high"), bands.stat("mid"), bands.stat("low")
    if m[1]:  # no 高 band
        assert bands.high == float("inf") and int(m[1]) == high.n + mid.n + low.n
    else:
        assert (float(m[2]), float(m[3]), int(m[4])) == (round(bands.high, 2), round(100 * high.share_right, 1), high.n)
    assert (float(m[5]), float(m[6]), int(m[7])) == (round(bands.mid, 2), round(100 * mid.share_right, 1), mid.n)
    assert int(m[8]) == low.n
    assert (m[9] is None) == (low.n == 0), "a share right is given exactly when there are such answers"
    if low.n:
        assert float(m[9]) == round(100 * low.share_right, 1)
