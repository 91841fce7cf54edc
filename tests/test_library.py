"""The web chat's library (uploads, removal, builds) and HTML rendering, with the fake embedder."""

from __future__ import annotations

import html
import json
import re
import threading
from pathlib import Path

import pytest

from qa import api, bands, example_questions, library, render, uploads
from qa.api import answer_to_dict
from qa.embedding import HashingEmbedder
from qa.example_questions import question_candidates
from qa.index import BuildReport
from qa.library import Library
from qa.library_html import documents_html, progress_html, status_html, update_html
from qa.records import Answer, Citation, Passage
from qa.render import Paragraphs, answer_html, esc, question_html
from qa.uploads import UploadError, check_upload, safe_filename

EXTRA = "新增文章\n\n本报讯(记者李四)松江市图书馆今年举办读书会27场，参加读者3500人次。\n"
PAYLOAD = "<script>alert(1)</script><img src=x onerror=alert(2)>"
ENGLISH = re.compile(r"[A-Za-z]{2,} [A-Za-z]{2,}")  # two English words in a row: a sentence, not a file name


# ------------------------------------------------------------------ names


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("../../x.txt", "x.txt"),
        ("..\\..\\windows\\evil.md", "evil.md"),
        ("/etc/passwd.txt", "passwd.txt"),
        (".hidden.txt", "hidden.txt"),
        ("...txt", "document.txt"),
        ("报告 2024（终稿）.docx", "报告 2024（终稿）.docx"),
        ("辽源 日报.PDF", "辽源 日报.pdf"),
        ("a<b>c|d?e*f\"g.txt", "a_b_c_d_e_f_g.txt"),
        ("tab\there\x00nul\u202eRLO.txt", "tab here_nul_RLO.txt"),
        ("#a1.p3.html", "a1.p3.html"),
        ("  -rf .txt", "rf.txt"),
        ("CON.txt", "CON_.txt"),
    ],
)
def test_safe_filename(given, stored):
    assert safe_filename(given) == stored


def test_long_names_are_cut_and_stay_under_255_bytes():
    name = safe_filename("长" * 300 + ".txt")
    assert name.endswith(".txt") and len(name.encode("utf-8")) <= 255


@pytest.mark.parametrize("given", ["virus.exe", "noext", "archive.tar.gz", "page.txt.sh", ""])
def test_unsupported_types_are_refused(given):
    with pytest.raises(UploadError, match="不支持的文件类型") as refused:
        safe_filename(given)
    assert ".txt、.md" in str(refused.value) and not ENGLISH.search(str(refused.value))  # names the allowed types


def test_size_and_content_limits(tmp_path, monkeypatch):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(UploadError, match="是空文件"):
        check_upload(empty, "empty.txt")
    big = tmp_path / "big.txt"
    big.write_bytes("字".encode() * 400)
    monkeypatch.setattr(uploads, "MAX_DOCUMENT_BYTES", 1000)
    with pytest.raises(UploadError, match="每个文档最多"):
        check_upload(big, "big.txt")
    fake_pdf = tmp_path / "fake.pdf"
    fake_pdf.write_text("not a pdf", encoding="utf-8")
    with pytest.raises(UploadError, match="的内容不是 .pdf 格式"):
        check_upload(fake_pdf, "fake.pdf")


# ------------------------------------------------------------------ the library


@pytest.fixture
def lib(seeds, tmp_path, fake_embedder) -> Library:
    lib = Library(seeds, tmp_path / "ix", embedder=fake_embedder)
    lib.open()
    return lib


def _upload(tmp_path, name: str, text: str):
    src = tmp_path / "uploads" / name
    src.parent.mkdir(exist_ok=True)
    src.write_text(text, encoding="utf-8")
    return src


def test_open_builds_a_missing_index(lib, seeds):
    assert [d.name for d in lib.documents()] == [p.name for p in seeds.iterdir()]
    doc = lib.documents()[0]
    assert doc.passages == 43 and [a.title for a in doc.articles][0] == "唱响时代主旋律"
    assert sum(a.passages for a in doc.articles) == 43
    st = lib.status()
    assert (st.documents, st.articles, st.passages, st.model) == (1, 4, 43, "hashing:64")
    assert st.built_at and not st.building and not st.pending


class _Rows:
    """A passage store that records which rows were read and refuses to be iterated whole."""

    def __init__(self, inner) -> None:
        self.inner, self.read = inner, set()

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, i: int):
        self.read.add(i)
        return self.inner[i]

    def __iter__(self):
        raise AssertionError("the whole index was read")


def test_documents_and_the_viewer_read_no_more_than_the_cited_document(lib, tmp_path):
    lib.add([(_upload(tmp_path, "x", EXTRA), "图书馆.txt")])
    idx = lib.index
    before = lib.documents()
    whole = render.Paragraphs(list(idx.passages))
    rows = _Rows(idx.passages)
    idx.passages = rows
    assert lib.documents() == before  # from meta.json alone
    assert rows.read == set()
    info = idx.meta["documents"]["图书馆.txt"]
    first, n = info["first_row"], info["passages"]
    p = rows.inner[first + n - 1]
    c = Citation(doc=p.doc, title=p.title, paragraph=p.paragraph, quote=p.text, start=p.start, end=p.end,
                 passage_id=p.id, spans=p.spans, score=0.9)
    lazy = render.IndexParagraphs(idx)
    assert lazy.article_html(c, (0, 2)) == whole.article_html(c, (0, 2)) is not None
    assert lazy.context(c) == whole.context(c)
    assert rows.read == set(range(first, first + n))  # only the cited document's rows


def test_example_questions_sample_a_large_index_evenly():
    rows = list(range(100_000))
    got = list(example_questions.sample_passages(rows, limit=1_000))
    assert len(got) == 1_000 and got[:20] == list(range(20)) and got[-1] >= 98_000
    assert list(example_questions.sample_passages(rows[:500], limit=1_000)) == rows[:500]


def test_an_empty_library_works(tmp_path, fake_embedder):
    lib = Library(tmp_path / "none-yet", tmp_path / "ix", embedder=fake_embedder)
    lib.open()
    assert lib.documents() == [] and lib.status().passages == 0 and lib.examples() == []
    a = lib.ask("辽源市宣讲开展了多少场次？")
    assert not a.found and "未找到答案" in answer_html(a) and "还没有文档" in documents_html([])


def test_upload_is_indexed_and_answered(lib, tmp_path):
    old = lib.index
    result = lib.add([(_upload(tmp_path, "tmpname", EXTRA), "../图书馆 新闻.txt")])
    assert result.saved == ["图书馆 新闻.txt"] and not result.errors
    assert (lib.seeds / "图书馆 新闻.txt").read_text(encoding="utf-8") == EXTRA
    assert result.report.embedded > 0 and result.report.reused == 43
    assert lib.index is not old
    assert any(p.doc == "图书馆 新闻.txt" for p in lib.index.passages)
    assert not list(lib.seeds.glob(".upload-*"))


def test_no_overwrite_without_confirmation(lib, tmp_path):
    lib.add([(_upload(tmp_path, "a", EXTRA), "news.txt")])
    changed = EXTRA.replace("27场", "30场")
    result = lib.add([(_upload(tmp_path, "b", changed), "news.txt")])
    assert result.saved == [] and "替换同名文档" in result.errors[0] and result.report is None
    assert (lib.seeds / "news.txt").read_text(encoding="utf-8") == EXTRA
    result = lib.add([(_upload(tmp_path, "c", changed), "news.txt")], replace=True)
    assert result.saved == ["news.txt"]
    assert (lib.seeds / "news.txt").read_text(encoding="utf-8") == changed
    assert any("30场" in p.text for p in lib.index.passages)


@pytest.mark.parametrize(
    ("name", "content", "why"),
    [
        ("big.txt", EXTRA * 40, "每个文档最多"),
        ("empty.txt", "", "是空文件"),
        ("fake.pdf", EXTRA, "的内容不是"),
        ("fake.docx", EXTRA, "的内容不是"),
        ("run.sh", EXTRA, "不支持的文件类型"),
        ("page.html.exe", EXTRA, "不支持的文件类型"),
        ("../../x", EXTRA, "不支持的文件类型"),
    ],
)
def test_uploads_outside_the_limits_are_refused_by_name_and_not_stored(lib, tmp_path, monkeypatch, name, content, why):
    """Protection: save_upload checks the type, size and content before anything is stored or indexed.

    The over-size file is ordinary text that would index fine: only the limit refuses it.
    """
    monkeypatch.setattr(uploads, "MAX_DOCUMENT_BYTES", 1000)
    before, old = sorted(p.name for p in lib.seeds.iterdir()), lib.index
    result = lib.add([(_upload(tmp_path, "tmp", content), name)])
    assert result.saved == [] and result.report is None and len(result.errors) == 1
    assert why in result.errors[0] and name.rsplit("/", 1)[-1] in result.errors[0]
    assert not ENGLISH.search(result.errors[0])  # the app's language only
    assert sorted(p.name for p in lib.seeds.iterdir()) == before and lib.index is old
    assert not (tmp_path / "x").exists() and not (lib.seeds.parent.parent / "x").exists()


def test_a_name_taken_while_an_upload_is_checked_is_not_overwritten(lib, tmp_path, monkeypatch):
    """Protection: the checked upload is linked in, which fails if the name exists meanwhile (never replaced)."""
    other = "另一个上传 another upload\n"
    read_document = library.read_document

    def taken_meanwhile(path, name, **kw):
        doc = read_document(path, name, **kw)
        (lib.seeds / "news.txt").write_text(other, encoding="utf-8")  # a concurrent upload of the same name
        return doc

    monkeypatch.setattr(library, "read_document", taken_meanwhile)
    result = lib.add([(_upload(tmp_path, "a", EXTRA), "news.txt")])
    assert result.saved == [] and "已有同名文档" in result.errors[0] and result.report is None
    assert (lib.seeds / "news.txt").read_text(encoding="utf-8") == other
    assert not list(lib.seeds.glob(".upload-*"))


def test_unreadable_upload_is_refused_and_not_saved(lib, tmp_path):
    junk = tmp_path / "junk.txt"
    junk.write_bytes(bytes(range(256)) * 50)
    result = lib.add([(junk, "junk.txt")])
    assert result.saved == [] and "junk.txt" in result.errors[0]
    assert not (lib.seeds / "junk.txt").exists()
    assert ".upload-" not in result.errors[0]


def test_remove_moves_the_file_aside_and_updates_the_index(lib, tmp_path):
    lib.add([(_upload(tmp_path, "a", EXTRA), "news.txt")])
    result = lib.remove("news.txt")
    assert result.removed == "news.txt" and result.report.documents == 1
    assert not (lib.seeds / "news.txt").exists()
    assert list((lib.seeds / library.REMOVED_DIR).glob("*news.txt"))
    assert all(p.doc != "news.txt" for p in lib.index.passages)
    assert lib.remove("../../etc/passwd").errors and lib.remove("missing.txt").errors


def test_rebuild_picks_up_files_added_by_hand(lib):
    (lib.seeds / "manual.txt").write_text(EXTRA, encoding="utf-8")
    assert lib.status().pending == ("manual.txt",)
    report = lib.rebuild().report
    assert report.documents == 2 and not lib.status().pending


def test_files_added_by_hand_are_noticed_cheaply_and_indexed_in_the_background(lib, monkeypatch):
    calls = []
    stale = library.stale_documents
    monkeypatch.setattr(library, "stale_documents", lambda *a: calls.append(1) or stale(*a))
    assert lib.refresh() == [] and lib.pending() == [] and calls == []  # unchanged folder: nothing hashed
    (lib.seeds / "manual.txt").write_text(EXTRA, encoding="utf-8")
    assert lib.pending() == ["manual.txt"] and lib.pending() == ["manual.txt"] and len(calls) == 1  # cached
    old = lib.index
    assert lib.refresh() == ["manual.txt"]
    assert lib.wait(30) and lib.index is not old and lib.pending() == []
    a = lib.ask("松江市图书馆今年举办读书会多少场？")
    assert a.found and a.citations[0].doc == "manual.txt"
    (lib.seeds / "manual.txt").unlink()  # removed by hand: noticed too
    assert lib.refresh() == ["manual.txt"] and lib.wait(30)
    assert all(p.doc != "manual.txt" for p in lib.index.passages)


def test_a_build_reports_its_stage_count_and_time_left(lib, tmp_path):
    seen = []

    def track(fraction, message):
        seen.append((fraction, message, lib.progress()))

    lib.add([(_upload(tmp_path, "a", EXTRA), "news.txt")], progress=track)
    stages = [m for _, m, _ in seen]
    assert stages[0] == "读取文档" and "计算向量" in stages and stages[-1] == "加载新索引"
    counted = [p for _, m, p in seen if m == "计算向量"]
    assert counted[-1].documents == ("news.txt",) and counted[-1].total > 0
    assert all(0 < p.done <= p.total for p in counted) and counted[-1].done == counted[-1].total
    assert [f for f, _, _ in seen] == sorted(f for f, _, _ in seen) and lib.progress() is None
    html_out = progress_html(counted[0])
    assert "正在索引 1 个文档：计算向量" in html_out and f"{counted[0].done}/{counted[0].total} 段" in html_out
    assert progress_html(None) == ""
    half = library.BuildProgress("计算向量", ("a.txt", "b.txt"), 50, 100, 10.0)
    assert half.seconds_left == pytest.approx(10.0) and "约剩 10 秒" in progress_html(half)
    assert "正在索引 2 个文档" in progress_html(half)
    assert 'style="width:50%"' in progress_html(half)  # the bar: texts embedded


def _bar(p: library.BuildProgress | None) -> int:
    """The width of the progress bar shown for ``p``, in percent."""
    return int(re.search(r'style="width:(\d+)%"', progress_html(p)).group(1))


def test_the_bar_moves_while_ocr_reads_a_scan(lib, tmp_path, monkeypatch):
    """While OCR reads a scan, nothing is embedded yet: the bar shows the share of its pages read
    (识别第 n/N 页: (n-1)/N), on upload and in a build that found the scan in the folder; then,
    while texts are embedded, the share of those, as before."""
    from PIL import Image

    from qa.documents import ocr
    from qa.documents.reading_order import TextBox

    seen: list[tuple[str, int]] = []

    def fake(image):
        p = lib.progress()
        seen.append((p.stage, _bar(p)))
        return [TextBox((0, 0, 480, 30), "青石镇新闻", 0.97),
                TextBox((0, 40, 300, 60), f"青石镇今年修缮古桥{len(seen)}座。", 0.9)]

    monkeypatch.setattr(ocr, "recognise", fake)
    scan = tmp_path / "uploads" / "扫描.tif"
    scan.parent.mkdir()
    Image.new("L", (600, 80), 255).save(scan, save_all=True, append_images=[Image.new("L", (600, 80), 255)] * 3)
    steps: list = []
    result = lib.add([(scan, scan.name)], progress=lambda fraction, message: steps.append(lib.progress()))
    assert result.saved == ["扫描.tif"] and not result.errors
    assert seen == [(f"识别第 {n}/4 页：扫描.tif", 25 * (n - 1)) for n in range(1, 5)]
    embedding = [p for p in steps if p is not None and p.stage == "计算向量"]
    assert embedding and _bar(embedding[-1]) == 100 and embedding[-1].share is None
    seen.clear()
    Image.new("L", (500, 80), 255).save(lib.seeds / "手放.tif", save_all=True,
                                        append_images=[Image.new("L", (500, 80), 255)])
    lib.rebuild()
    assert seen == [("识别第 1/2 页：手放.tif", 0), ("识别第 2/2 页：手放.tif", 50)]
    assert progress_html(library.BuildProgress("识别第 3/8 页：x.png", ("x.png",), 0, 0, 1.0, 2 / 8)).count("width:25%") == 1


class GatedEmbedder(HashingEmbedder):
    """Blocks document embedding until released, to hold a build open."""

    def __init__(self) -> None:
        super().__init__(64)
        self.hold = False
        self.entered = threading.Event()
        self.release = threading.Event()
        self.active = 0
        self.max_active = 0
        self._count = threading.Lock()

    def embed(self, texts, *, kind="document", progress=False):
        if self.hold and kind == "document":
            with self._count:
                self.active += 1
                self.max_active = max(self.max_active, self.active)
            self.entered.set()
            self.release.wait(20)
            with self._count:
                self.active -= 1
        return super().embed(texts, kind=kind, progress=progress)


def test_questions_use_the_previous_index_while_a_build_runs(seeds, tmp_path):
    emb = GatedEmbedder()
    lib = Library(seeds, tmp_path / "ix", embedder=emb)
    old = lib.open()
    emb.hold = True
    uploads = [(_upload(tmp_path, f"u{i}", EXTRA.replace("27", str(30 + i))), f"n{i}.txt") for i in range(2)]
    threads = [threading.Thread(target=lib.add, args=([u],)) for u in uploads]
    for t in threads:
        t.start()
    assert emb.entered.wait(20)
    assert lib.building and lib.index is old
    a = lib.ask("辽源市宣讲开展了多少场次？")
    assert isinstance(a, Answer) and all(c.doc == "000_2575e84d6e1eb83a.txt" for c in a.citations + a.related)
    emb.release.set()
    for t in threads:
        t.join(30)
    assert emb.max_active == 1  # the second upload waited for the first build
    assert not lib.building and lib.index is not old
    assert {d.name for d in lib.documents()} >= {"n0.txt", "n1.txt"}


def test_example_questions_come_from_counted_things(lib, tmp_path):
    lib.add([(_upload(tmp_path, "a", EXTRA), "news.txt")])
    pairs = question_candidates(lib.index.passages)
    assert ("松江市图书馆今年举办读书会多少场？", "27") in pairs  # has its own subject
    # A clause without a subject ("组建…") borrows its article's headline.
    assert ("《唱响时代主旋律》一文中，组建巾帼宣讲团开展线上线下宣讲活动多少场？", "4") in pairs
    assert all(q.endswith("？") and "多少" in q for q, _ in pairs)
    borrowed = [i for i, (q, _) in enumerate(pairs) if "一文中，" in q]
    assert borrowed and min(borrowed) > max(i for i, (q, _) in enumerate(pairs) if "一文中，" not in q)
    assert lib.examples(4, check=False) == [q for q, _ in pairs[:4]]


# ------------------------------------------------------------------ rendering


def _passage(pid: str, part: int, text: str, start: int, kind: str = "body", paragraph: int = 2) -> Passage:
    return Passage(
        id=pid, doc="x.txt", article=1, title=f"标题{PAYLOAD}", kind=kind, paragraph=paragraph, part=part,
        text=text, spans=((start, start + len(text)),), sentences=((0, len(text)),),
    )


PART0 = f"第一部分说{PAYLOAD}。"
PART1 = "第二部分有12场活动。"
PASSAGES = [_passage("x.txt#a1.p2.0", 0, PART0, 100), _passage("x.txt#a1.p2.1", 1, PART1, 100 + len(PART0))]


def _citation(p: Passage, quote: str) -> Citation:
    s = p.text.index(quote) + p.spans[0][0]
    return Citation(doc=p.doc, title=p.title, paragraph=p.paragraph, quote=quote, start=s, end=s + len(quote),
                    score=0.9, spans=((s, s + len(quote)),), passage_id=p.id, kind=p.kind)


def test_paragraph_parts_are_joined_and_the_quote_located():
    ctx = Paragraphs(PASSAGES).context(_citation(PASSAGES[1], PART1))
    assert ctx == (PART0 + PART1, len(PART0), len(PART0) + len(PART1))
    cap = [_passage("x.txt#a1.c1.0", 0, "图一说明", 0, "caption", 0), _passage("x.txt#a1.c2.0", 0, "图二", 9, "caption", 0)]
    assert Paragraphs(cap).context(_citation(cap[1], "图二"))[0] == "图二"


def _no_live_html(out: str) -> None:
    assert "<script" not in out and "<img" not in out
    assert PAYLOAD in html.unescape(out)  # shown as the literal text


def test_answers_and_paragraphs_are_escaped():
    cit = _citation(PASSAGES[0], PART0)
    a = Answer(question=PAYLOAD, found=True, text=PAYLOAD, sentence=PART0, confidence=0.9,
               citations=[cit], text_start=PART0.index(PAYLOAD), message=f"注意{PAYLOAD}")
    out = answer_html(a, Paragraphs(PASSAGES))
    _no_live_html(out)
    assert "<mark>&#60;script&#62;" in out  # the span is highlighted in the sentence and the paragraph
    assert 'class="qa-answer"' in out and "<details" in out and "标题&#60;script" in out
    assert "paragraph 2" in out  # the question is Latin words (markup), so the reply is in English
    assert "\n" not in out  # no blank lines for a Markdown renderer to act on
    _no_live_html(question_html(PAYLOAD))


def test_not_found_is_distinct_and_lists_related_passages():
    related = [_citation(PASSAGES[1], PART1), _citation(PASSAGES[0], PART0)]
    out = answer_html(Answer(question="问", found=False, message="文档中没有找到。", related=related), Paragraphs(PASSAGES))
    assert "qa-notfound" in out and "未找到答案" in out and "并非答案" in out and "qa-answer" not in out
    assert out.count("<details") == 2 and "文档中没有找到。" in out
    _no_live_html(out)


def test_documents_panel_is_escaped():
    info = library.DocumentInfo(f"{PAYLOAD}.txt", 3, (library.ArticleInfo(1, PAYLOAD, 3),), 2048)
    _no_live_html(documents_html([info]))


def test_update_and_status_panels_show_names_and_messages_as_text(lib, tmp_path):
    """Refusals quote the name as given, skipped and pending files are named: all shown as text."""
    refused = lib.add([(_upload(tmp_path, "a", EXTRA), f"{PAYLOAD}.exe")])
    assert "<img src=x onerror=alert(2)>" in refused.errors[0]  # the message quotes the raw name
    hand = "<img src=x onerror=alert(3)>.txt"
    (lib.seeds / hand).write_bytes(b"")  # put there by hand, and empty: pending, then skipped by name
    pending = lib.status()
    rebuilt = lib.rebuild()
    assert hand in pending.pending and any(hand in m for m in rebuilt.report.skipped)
    removed = library.UpdateResult(saved=[PAYLOAD], removed=PAYLOAD, errors=[PAYLOAD])
    model = library.IndexStatus(PAYLOAD, PAYLOAD, 1, 1, 1, True, (PAYLOAD,))
    for out in (update_html(refused), status_html(pending), update_html(rebuilt), update_html(removed), status_html(model)):
        assert "<script" not in out and "<img" not in out, out
    assert "<img src=x onerror=alert(2)>" in html.unescape(update_html(refused))
    assert hand in html.unescape(status_html(pending)) and hand in html.unescape(update_html(rebuilt))
    _no_live_html(update_html(removed))
    _no_live_html(status_html(model))


def test_esc_neutralises_markdown_and_latex():
    assert esc("*a* $x$ [l](http://b) a@b.c") == "&#42;a&#42; &#36;x&#36; &#91;l&#93;&#40;http&#58;//b&#41; a&#64;b.c"


def test_answer_dict_is_json():
    a = Answer(question="q", found=True, text="12场", sentence=PART1, confidence=0.8,
               citations=[_citation(PASSAGES[1], PART1)], text_start=5)
    d = json.loads(json.dumps(answer_to_dict(a), ensure_ascii=False))
    assert d["found"] and d["text"] == "12场" and d["citations"][0]["paragraph"] == 2
    assert set(d["citations"][0]) >= {"doc", "title", "paragraph", "quote", "start", "end", "score", "label"}


# ------------------------------------------------------------------ honest display


def _found(confidence: float, text: str = "12", sentence: str = PART1) -> Answer:
    cit = _citation(PASSAGES[1], PART1)
    return Answer(question="q", found=True, text=text, sentence=sentence, confidence=confidence,
                  citations=[cit], text_start=sentence.find(text))


def test_a_sure_answer_shows_the_span_big():
    out = answer_html(_found(bands.DEFAULT.high), Paragraphs(PASSAGES))
    assert 'class="qa-reply qa-found"' in out and '<div class="qa-answer">12场</div>' in out  # with its unit
    assert "qa-conf-high" in out and "把握 高" in out and "可能的答案" not in out
    assert answer_to_dict(_found(0.95))["level"] == "sure"


@pytest.mark.parametrize(("confidence", "word", "cls"), [(0.69, "中", "qa-conf-mid"), (bands.DEFAULT.mid, "中", "qa-conf-mid")])
def test_an_unsure_answer_is_shown_as_a_possible_answer(confidence, word, cls):
    a = _found(confidence)
    out = answer_html(a, Paragraphs(PASSAGES))
    assert "qa-unsure" in out and "可能的答案" in out and "qa-answer" not in out  # no big span
    assert f"把握 {word}" in out and cls in out and "核对原文" in out
    assert '<div class="qa-sentence qa-maybe">第二部分有<mark>12</mark>场活动。</div>' in out
    d = answer_to_dict(a)
    assert d["level"] == "possible" and d["text"] == "12" and d["display"] == "12场" and a.text == "12"


@pytest.mark.parametrize(
    ("text", "sentence", "shown"),
    [
        ("186", "共办结群众诉求186件，满意率98%。", "186件"),
        ("98", "共办结群众诉求186件，满意率98%。", "98%"),
        ("3500", "参加读者3500人次。", "3500人次"),
        ("1300", "开展了1300余场次，受众6万余人。", "1300余场次"),
        ("6", "开展了1300余场次，受众6万余人。", "6万余人"),
        ("15", "修建长约15公里的道路", "15公里"),
        ("3.2", "销售额达到3.2亿元。", "3.2亿元"),
        ("1300余场次", "开展了1300余场次，", "1300余场次"),  # the unit is already there
        ("186", "处理186问题得到解决", "186"),  # a noun, not a measure word
        ("王品皓", "工作人员王品皓说", "王品皓"),  # not a number
    ],
)
def test_numbers_are_shown_with_the_unit_that_follows_them(text, sentence, shown):
    a = Answer(question="q", found=True, text=text, sentence=sentence, confidence=0.9, text_start=sentence.find(text))
    assert render.display_text(a) == shown and a.text == text


ARTICLE = [
    Passage(id="p.txt#a1.h0.0", doc="p.txt", article=1, title="青石镇<b>新闻</b>", kind="header", paragraph=0,
            part=0, text="青石镇<b>新闻</b>", spans=((0, 14),), sentences=((0, 14),),
            doc_title="青石日报", date="2024-05-01", source="青石日报社"),
    Passage(id="p.txt#a1.h1.0", doc="p.txt", article=1, title="青石镇<b>新闻</b>", kind="header", paragraph=0,
            part=0, text="本报记者 李四", spans=((16, 23),), sentences=((0, 7),)),
    Passage(id="p.txt#a1.p1.0", doc="p.txt", article=1, title="青石镇<b>新闻</b>", kind="body", paragraph=1,
            part=0, text="第一段讲背景。", spans=((25, 32),), sentences=((0, 7),), section="一、背景"),
    Passage(id="p.txt#a1.c1.0", doc="p.txt", article=1, title="青石镇<b>新闻</b>", kind="caption", paragraph=0,
            part=0, text="图为讲座现场 张三摄", spans=((34, 44),), sentences=((0, 10),)),
    Passage(id="p.txt#a1.p2.0", doc="p.txt", article=1, title="青石镇<b>新闻</b>", kind="body", paragraph=2,
            part=0, text=f"开场白。文化站举办讲座8场{PAYLOAD}。结尾。", spans=((46, 46 + 17 + len(PAYLOAD)),),
            sentences=((0, 4), (4, 14 + len(PAYLOAD)), (14 + len(PAYLOAD), 17 + len(PAYLOAD))),
            section="二、活动"),
]


def _article_answer() -> Answer:
    p = ARTICLE[-1]
    a, b = p.sentences[1]
    quote = p.text[a:b]
    cit = Citation(doc=p.doc, title=p.title, paragraph=2, quote=quote, start=p.start + a, end=p.start + b,
                   score=0.9, spans=((p.start + a, p.start + b),), passage_id=p.id, kind="body",
                   doc_title="青石日报", date="2024-05-01", source="青石日报社")
    return Answer(question="q", found=True, text="8", sentence=quote, confidence=0.9, citations=[cit],
                  text_start=quote.index("8"))


def test_citations_are_labelled_by_title_date_and_source_never_the_file_name():
    out = answer_html(_article_answer(), Paragraphs(ARTICLE))
    summary = out[out.index("<summary>") : out.index("</summary>")]
    text = html.unescape(re.sub(r"<[^>]+>", "", summary))
    assert text == "[1] 青石日报 青石镇<b>新闻</b> · 第2段 2024-05-01 · 青石日报社"
    assert "p.txt" not in html.unescape(re.sub(r"<[^>]+>", "", out))
    bare = Citation(doc="abc123.txt", title="", paragraph=3, quote="x", start=0, end=1, score=0.1)
    assert render.citation_where(bare) == ("abc123.txt", "", "第3段")  # nothing else exists
    titled = Citation(doc="abc123.txt", title="标题", paragraph=3, quote="x", start=0, end=1, score=0.1)
    assert render.citation_where(titled) == ("", "", "标题 · 第3段")


def test_a_citation_opens_the_whole_article_with_the_quote_and_the_span_marked():
    out = answer_html(_article_answer(), Paragraphs(ARTICLE))
    viewer = out[out.index('<div class="qa-viewer">') :]
    blocks = re.findall(r'<div class="(qa-v-[a-z]+)">', viewer)
    assert blocks == ["qa-v-headline", "qa-v-byline", "qa-v-section", "qa-v-p", "qa-v-caption", "qa-v-section", "qa-v-p"]
    assert "图为讲座现场" in viewer and "一、背景" in viewer and "第一段讲背景。" in viewer
    # Only the quoted sentence is marked, and the span inside it, not the whole paragraph.
    assert '开场白。<span class="qa-quote">文化站举办讲座<mark>8</mark>场&#60;script' in viewer
    assert "</span>结尾。" in viewer and viewer.count("<mark>") == 1
    _no_live_html(out)
    assert "qa-cite" in render.HEAD_JS and "scrollTop" in render.HEAD_JS  # opened: scrolled to the quote


def test_a_long_article_is_shown_around_the_quote(monkeypatch):
    monkeypatch.setattr(render, "VIEWER_CHARS", 20)
    out = Paragraphs(ARTICLE).article_html(_article_answer().citations[0], (7, 8))
    assert "前略" in out and "第一段讲背景" not in out and "<mark>8</mark>" in out


def test_api_history_is_checked_and_converted():
    assert api.history_from_api(None) == [] and api.history_from_api([]) == []
    [(q, a)] = api.history_from_api([["上一个问题？", "1300余场次"]])
    assert (q, a.text, a.found) == ("上一个问题？", "1300余场次", True)
    prev = answer_to_dict(_article_answer())
    [(_, a)] = api.history_from_api([["问？", prev]])
    assert a.text == "8" and a.citations[0].passage_id == "p.txt#a1.p2.0"
    assert len(api.history_from_api([[f"问{i}", "答"] for i in range(50)])) == api.MAX_HISTORY_TURNS
    for bad in ("问题", [["只有问题"]], [[1, "答"]], [["问", 3]]):
        with pytest.raises(api.HistoryError, match="history"):
            api.history_from_api(bad)


def test_status_lines_are_clean():
    st = library.IndexStatus("hashing:64", "2026-01-01T00:00:00+00:00", 2, 4, 45, False, ())
    text = html.unescape(re.sub(r"<[^>]+>", " ", status_html(st)))
    assert "2 个文档，4 篇文章，45 段" in text and "embedded" not in text and not text.strip().endswith("·")
    report = index_report(documents=2, passages=45, embedded=2, reused=43)
    text = html.unescape(re.sub(r"<[^>]+>", " ", update_html(library.UpdateResult(report=report))))
    assert "索引已更新：2 个文档，45 段（新处理 2 段，沿用 43 段）" in text and "embedded" not in text


def index_report(**kw) -> BuildReport:
    return BuildReport(Path("ix"), "hashing:64", **kw)


def test_documents_panel_names_the_document_by_its_title():
    info = library.DocumentInfo("000_2575e84d6e1eb83a.txt", 3, (library.ArticleInfo(1, "唱响时代主旋律", 3),), 2048, "辽源日报")
    out = documents_html([info])
    assert '<span class="qa-doctitle">辽源日报</span>' in out and "000_2575e84d6e1eb83a.txt" in html.unescape(out)
    assert "1 篇文章，3 段，2 KB" in out
