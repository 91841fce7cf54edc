"""One language per reply: the question's (English for an English question, else Chinese); every
other message the app shows is Chinese, uploads of other file types included."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FakeReader

import app
from qa import api, build_index, library_html, load_index, messages, render
from qa.answering import answer, read
from qa.library import Library, UpdateResult
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
    found += [m for m in vars(api).values() if isinstance(m, messages.Message)]
    found += list(messages.REASONS.values())  # why a file was skipped or refused, why a folder can't be used
    assert len(found) > 40
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
    with pytest.raises(api.HistoryError) as zh:
        api.history_from_api([["只有问题"]], messages.language(ZH_QUESTION))
    with pytest.raises(api.HistoryError) as en:
        api.history_from_api([["only a question"]], messages.language(EN_QUESTION))
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


# ------------------------------------------------------------------ why a file was skipped or refused

NOTE = "江城消息\n\n江城市今年新建口袋公园42个。\n"


def _jpeg_cut() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (400, 300), 255).save(buf, "JPEG")
    return buf.getvalue()[: len(buf.getvalue()) // 2]


def _blank_pdf(password: str = "") -> bytes:
    """A one-page PDF with no text layer and no image; with ``password``, locked by it."""
    import io

    from pypdf import PdfWriter

    w = PdfWriter()
    w.add_blank_page(200, 200)
    if password:
        w.encrypt(user_password=password, owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def _no_opencv_library(monkeypatch) -> None:
    """OpenCV is installed but its system library is not: importing the OCR engine fails on a .so."""
    import sys
    import types

    from qa.documents import ocr

    def missing(name):
        raise ImportError("libGL.so.1: cannot open shared object file: No such file or directory")

    fake = types.ModuleType("rapidocr_onnxruntime")
    fake.__getattr__ = missing
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", fake)
    monkeypatch.setattr(ocr, "_engine", None)


def _no_ocr_extra(monkeypatch) -> None:
    import sys

    from qa.documents import ocr

    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)  # import fails: not installed
    monkeypatch.setattr(ocr, "_engine", None)


def _ocr_reads_nothing(monkeypatch) -> None:
    from qa.documents import ocr

    monkeypatch.setattr(ocr, "recognise", lambda image: [])


def _ocr_crashes(monkeypatch) -> None:
    from qa.documents import ocr

    def crash(image):
        raise RuntimeError("onnxruntime: bad allocation")

    monkeypatch.setattr(ocr, "recognise", crash)


def _ocr_cannot_start(monkeypatch) -> None:
    """The engine is there but does not start (a model file missing, onnxruntime failing)."""
    import sys
    import types

    from qa.documents import ocr

    class RapidOCR:
        def __init__(self, **kwargs):
            raise OSError("det model file not found")

    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", types.SimpleNamespace(RapidOCR=RapidOCR))
    monkeypatch.setattr(ocr, "_engine", None)


def _pdf_needs_a_crypto_library(monkeypatch) -> None:
    import pypdf

    def decrypt(self, password):
        raise pypdf.errors.DependencyError("cryptography>=3.1 is required for AES algorithm")

    monkeypatch.setattr(pypdf.PdfReader, "decrypt", decrypt)


def _image(size: tuple[int, int], frames: int = 1) -> Callable:
    def make(path: Path) -> None:
        from PIL import Image

        pages = [Image.new("L", size, 255) for _ in range(frames)]
        pages[0].save(path, save_all=frames > 1, append_images=pages[1:])

    return make


# kind -> (file name, its content or a function that writes it, what else the case needs)
SKIPPED_BY_A_BUILD: dict[str, tuple[str, bytes | Callable, Callable | None]] = {
    "no_encoding": ("junk.txt", bytes(range(256)) * 16, None),
    "too_big": ("大文件.txt", ("很长的文字。" * 40).encode(), lambda mp: mp.setattr("qa.documents.reading.MAX_DOCUMENT_BYTES", 200)),
    "empty": ("空.txt", b"", None),
    "duplicate": ("副本.txt", NOTE.encode(), None),
    "cannot_parse": ("坏.docx", b"PK\x03\x04" + b"\x00" * 100, None),
    "not_an_image": ("page.png", "这不是图片".encode(), None),
    "image_corrupt": ("cut.jpg", _jpeg_cut(), None),
    "image_bomb": ("bomb.png", _image((100, 100)), lambda mp: mp.setattr("PIL.Image.MAX_IMAGE_PIXELS", 1000)),
    "too_many_pixels": ("huge.png", _image((1200, 1000)), lambda mp: mp.setattr("qa.documents.images.MAX_PIXELS", 10**6)),
    "too_many_pages": ("多页.tif", _image((60, 40), frames=3), lambda mp: mp.setattr("qa.documents.images.MAX_PAGES", 2)),
    "ocr_no_text": ("空白扫描.png", _image((500, 80)), _ocr_reads_nothing),
    "ocr_failed": ("扫描.png", _image((500, 80)), _ocr_crashes),
    "ocr_cannot_start": ("扫描.png", _image((500, 80)), _ocr_cannot_start),
    "ocr_not_installed": ("扫描.png", _image((500, 80)), _no_ocr_extra),
    "ocr_no_library": ("扫描.jpg", _image((500, 80)), _no_opencv_library),
    "pdf_password": ("加密.pdf", _blank_pdf("secret"), None),
    "pdf_encrypted": ("加密.pdf", _blank_pdf("secret"), _pdf_needs_a_crypto_library),
    "pdf_no_text": ("扫描件.pdf", _blank_pdf(), None),
}
# Reasons read_document gives but a build never meets (it lists supported files it could hash), and
# reasons that are not about one file (the documents folder, an index whose file changed, free text).
SKIPPED_BY_READ_DOCUMENT = ("unsupported_type", "no_suffix", "cannot_read")
NOT_ABOUT_ONE_FILE = ("no_folder", "changed", "folder_missing", "folder_empty", "folder_mismatch", messages.OTHER)


def test_every_reason_is_covered_below():
    """A new kind of reason needs a case here, so that the app's words for it are checked."""
    covered = {*SKIPPED_BY_A_BUILD, *SKIPPED_BY_READ_DOCUMENT, *NOT_ABOUT_ONE_FILE, "no_pages"}  # no_pages: unreachable
    assert covered == set(messages.REASONS)


@pytest.mark.parametrize("kind", list(SKIPPED_BY_A_BUILD))
def test_why_a_file_was_skipped_is_shown_in_chinese_and_the_cli_keeps_english(kind, tmp_path, fake_embedder,
                                                                              monkeypatch):
    """Each reason a reader or the build gives reaches the app as a kind and values: the documents tab
    says it in Chinese, naming the file; the CLI's summary and the log keep the English."""
    name, content, needs = SKIPPED_BY_A_BUILD[kind]
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "note.txt").write_text(NOTE, encoding="utf-8")
    if callable(content):
        content(seeds / name)
    else:
        (seeds / name).write_bytes(content)
    if needs is not None:
        needs(monkeypatch)
    report = build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    [reason] = report.skipped_reasons
    assert (reason.kind, reason.name, report.documents) == (kind, name, 1)
    shown = _text(library_html.update_html(UpdateResult(report=report)))
    assert f"已跳过：{name}：{messages.REASONS[kind]('zh', **reason.values)}" in shown, shown
    assert not ENGLISH_WORDS.search(shown), shown
    [line] = report.skipped  # the CLI's words, as before
    assert line == f"{name}: {messages.REASONS[kind]('en', **reason.values)}" and not CJK.search(line[len(name):])
    assert f"skipped: {line}" in report.summary()


def test_what_read_document_refuses_is_worded_in_both_languages(tmp_path):
    from qa.documents import DocumentError, read_document

    (tmp_path / "表格.xlsx").write_bytes(b"PK")
    (tmp_path / "README").write_text("x", encoding="utf-8")
    (tmp_path / "目录.txt").mkdir()  # read as a file: cannot be read
    for name, kind, english in (("表格.xlsx", "unsupported_type", "unsupported file type .xlsx; supported: .txt"),
                                ("README", "no_suffix", "unsupported file type (none)"),
                                ("目录.txt", "cannot_read", "cannot read: Is a directory")):
        with pytest.raises(DocumentError) as err:
            read_document(tmp_path / name)
        assert err.value.reason.kind == kind and str(err.value).startswith(f"{name}: {english}")
        zh = err.value.reason.text("zh")
        assert zh.startswith(f"{name}：") and not ENGLISH_WORDS.search(zh), zh


def test_an_upload_that_cannot_be_read_is_refused_in_chinese(seeds, tmp_path, fake_embedder):
    lib = Library(seeds, tmp_path / "ix", embedder=fake_embedder)
    lib.open()
    cut = tmp_path / "up" / "cut.jpg"
    cut.parent.mkdir()
    cut.write_bytes(_jpeg_cut())
    result = lib.add([(cut, "cut.jpg")])
    assert result.saved == [] and result.errors == ["cut.jpg：图片已损坏或不完整，没有保存。"]


def test_a_remembered_failure_is_shown_in_chinese_and_an_old_one_without_a_kind_is_read_again(
    tmp_path, fake_embedder, monkeypatch
):
    """A scan that OCR could not read is remembered with its reason's kind: the next build, which does
    not read it again, still shows it in Chinese.  A failure remembered as English only (before kinds
    were kept) cannot be worded in Chinese: the file is read again and remembered anew."""
    import hashlib
    import json

    from qa.documents import ocr
    from qa.index import recognised_dir

    calls: list = []
    monkeypatch.setattr(ocr, "recognise", lambda image: calls.append(image.size) or [])
    seeds, root = tmp_path / "seeds", tmp_path / "ix"
    seeds.mkdir()
    (seeds / "note.txt").write_text(NOTE, encoding="utf-8")
    _image((500, 80))(seeds / "blank.png")
    first = build_index(seeds, root, embedder=fake_embedder)
    again = build_index(seeds, root, embedder=fake_embedder, full=True)
    assert len(calls) == 1 and [r.kind for r in again.skipped_reasons] == ["ocr_no_text"] == [
        r.kind for r in first.skipped_reasons]
    assert "已跳过：blank.png：文字识别（OCR）在图片上没有找到文字" in _text(library_html.update_html(UpdateResult(report=again)))
    stored = recognised_dir(root) / f"{hashlib.sha256((seeds / 'blank.png').read_bytes()).hexdigest()}.failed.json"
    body = json.loads(stored.read_text(encoding="utf-8"))
    assert (body["kind"], body["reason"]) == ("ocr_no_text", "OCR found no text on the image")
    stored.write_text(json.dumps({k: v for k, v in body.items() if k not in ("kind", "values")}), encoding="utf-8")
    old = build_index(seeds, root, embedder=fake_embedder, full=True)
    assert len(calls) == 2 and [r.kind for r in old.skipped_reasons] == ["ocr_no_text"]
    assert json.loads(stored.read_text(encoding="utf-8"))["kind"] == "ocr_no_text"
