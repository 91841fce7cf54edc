"""One language per reply: the question's (English for an English question, else Chinese); every
other message the app shows is Chinese, uploads of other file types included."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from conftest import FakeReader

import app
from qa import build_index, load_index, messages, render
from qa.answering import answer, read
from qa.library import Library
from qa.records import Answer, Citation

ENGLISH_WORDS = re.compile(r"[A-Za-z]{2,} [A-Za-z]{2,}")
CJK = re.compile(r"[\u3400-\u9fff]")
EN_QUESTION = "How many sessions did the Liaoyuan campaign hold?"
ZH_QUESTION = "辽源市“七讲七进”宣讲开展了多少场次？"


def _text(out: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", out))


def _chinese_not_quoted(shown: str, *sources: str) -> list[str]:
    """Runs of Chinese in ``shown`` that are not the documents' own words (``sources``)."""
    return [run for run in re.findall(r"[\u3400-\u9fff]+", shown) if not any(run in s for s in sources)]


@pytest.mark.parametrize(("question", "lang"), [
    (EN_QUESTION, "en"), (ZH_QUESTION, "zh"), ("What did 辽源市 do in 2023?", "en"), ("辽源市的 GDP 是多少？", "zh"),
    ("hi", "zh"), ("", "zh"), (None, "zh"), ("1234", "zh"), ("Сколько книг?", "zh"),
])
def test_the_language_of_a_question(question, lang):
    assert messages.language(question) == lang


def test_every_message_has_both_languages_and_neither_mixes():
    found = [m for m in vars(messages).values() if isinstance(m, messages.Message)]
    found += [m for m in vars(render).values() if isinstance(m, messages.Message)]
    assert len(found) > 20
    for m in found:
        assert CJK.search(m.zh) and not ENGLISH_WORDS.search(m.zh.replace("read()", "").replace("answer()", "")), m
        assert not CJK.search(m.en), m


class Blank(FakeReader):
    """Finds nothing: every question is "not found"."""

    def read(self, question, texts, *, top_k=5):
        super().read(question, texts, top_k=top_k)
        return []


@pytest.fixture
def seed_index(seeds, tmp_path, fake_embedder):
    build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    return load_index(tmp_path / "ix", embedder=fake_embedder)


def test_not_found_is_worded_in_the_questions_language_only(seed_index):
    zh = answer(ZH_QUESTION, index=seed_index, reader=Blank())
    en = answer(EN_QUESTION, index=seed_index, reader=Blank())
    assert not zh.found and not en.found
    assert zh.message == messages.NOT_ANSWERED("zh") and not ENGLISH_WORDS.search(zh.message)
    assert en.message == messages.NOT_ANSWERED("en") and not CJK.search(en.message)


def test_the_chat_reply_is_in_the_questions_language(seed_index, seeds):
    document = next(seeds.iterdir()).read_text(encoding="utf-8")
    for question, lang in ((ZH_QUESTION, "zh"), (EN_QUESTION, "en")):
        nf = answer(question, index=seed_index, reader=Blank())
        out = _text(render.answer_html(nf, render.paragraphs_for(seed_index)))
        assert render.NOT_FOUND_TITLE(lang) in out and render.RELATED_TITLE(lang) in out and nf.related
        if lang == "en":  # Chinese only where the documents' own words are shown
            assert _chinese_not_quoted(out, document) == []
        else:
            assert not ENGLISH_WORDS.search(out), out


def test_an_english_question_gets_an_english_answer_around_the_chinese_span():
    cit = Citation(doc="x.txt", title="标题", paragraph=2, quote="第二部分有12场活动。", start=0, end=11, score=0.9,
                   passage_id="x.txt#a1.p2.0")
    for band in ("high", "mid"):
        a = Answer(question=EN_QUESTION, found=True, text="12", sentence=cit.quote, confidence=0.9, citations=[cit],
                   text_start=5, band=band)
        shown = _text(render.answer_html(a))
        assert "Confidence:" in shown and "paragraph 2" in shown and "Sources" in shown
        assert _chinese_not_quoted(shown, cit.quote, cit.title) == []


def test_the_question_cut_note_is_in_the_questions_language(seed_index):
    zh = answer("辽源" * 400 + "？", index=seed_index)
    en = answer("how many books " * 100, index=seed_index)
    assert messages.QUESTION_CUT("zh", limit=300) in zh.message and not ENGLISH_WORDS.search(zh.message)
    assert messages.QUESTION_CUT("en", limit=300) in en.message and not CJK.search(en.message)


def test_read_answers_in_the_questions_language(fake_reader):
    assert read("What does the text say?", "", reader=fake_reader).message == messages.NO_TEXT("en")
    assert read("这段文字说了什么？", "", reader=fake_reader).message == messages.NO_TEXT("zh")


def test_api_history_errors_are_in_the_questions_language():
    with pytest.raises(render.HistoryError) as zh:
        render.history_from_api([["只有问题"]], messages.language(ZH_QUESTION))
    with pytest.raises(render.HistoryError) as en:
        render.history_from_api([["only a question"]], messages.language(EN_QUESTION))
    assert "[问题, 回答]" in str(zh.value) and not ENGLISH_WORDS.search(str(zh.value))
    assert "[question, answer]" in str(en.value) and not CJK.search(str(en.value))


# ------------------------------------------------------------------ uploads


@pytest.mark.parametrize("name", ["bad.xlsx", "report.DOC", "noext", "page.html.exe"])
def test_other_file_types_are_refused_in_chinese_naming_the_allowed_ones(name):
    why = app.unsupported_upload(name)
    assert why.startswith(f"不能上传 {name}") and ".txt、.md" in why and ".pdf" in why
    assert not ENGLISH_WORDS.search(why)


@pytest.mark.parametrize("name", ["a.txt", "B.MD", "报告.docx", "x.pdf", "p.html"])
def test_supported_file_types_pass(name):
    assert app.unsupported_upload(name) == ""


def _fn(demo, name: str):
    return next(f.fn for f in demo.fns.values() if getattr(f.fn, "__name__", "") == name)


def test_an_xlsx_upload_gets_a_chinese_message_from_the_app_not_gradios_toast(seeds, tmp_path, fake_embedder):
    """The upload button accepts any file (Gradio's own type check shows an English toast); the
    app refuses other types itself, in Chinese, and still saves the supported ones."""
    lib = Library(seeds, tmp_path / "ix", embedder=fake_embedder)
    lib.open()
    demo = app.build_ui(lib)
    [button] = [b for b in demo.blocks.values() if type(b).__name__ == "UploadButton"]
    assert not button.file_types  # no Gradio type check
    bad = tmp_path / "up" / "bad.xlsx"
    good = tmp_path / "up" / "新文章.txt"
    bad.parent.mkdir()
    bad.write_bytes(b"PK\x03\x04 not a document")
    good.write_text("新增文章\n\n本报讯(记者李四)松江市图书馆今年举办读书会27场。\n", encoding="utf-8")
    upload = _fn(demo, "upload")
    steps = list(upload([str(bad)], False))
    log = _text(steps[-1][0])
    assert "不能上传 bad.xlsx" in log and ".txt" in log and not ENGLISH_WORDS.search(log)
    assert not (lib.seeds / "bad.xlsx").exists()
    steps = list(upload([str(bad), str(good)], False))
    log = _text(steps[-1][0])
    assert "不能上传 bad.xlsx" in log and "已保存：新文章.txt" in log and (lib.seeds / "新文章.txt").is_file()


def test_the_intro_is_chinese_only():
    assert not ENGLISH_WORDS.search(_text(app.INTRO))
    assert Path(app.__file__).read_text(encoding="utf-8").count("file_types=") == 0
