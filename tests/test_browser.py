"""End to end in headless Chromium (Debian's ``chromium`` + ``chromium-driver``, driven by Selenium).

Screenshots go to ``test-artifacts/``.  Without Chromium the test is skipped, except in CI
(``CI=true``), where a missing browser is a failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from app_server import ARTIFACTS, copy_index, running_app

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
]
PAYLOAD = "<script>alert(1)</script><img src=x onerror=alert(2)>"
LIBRARY_DOC = "松江图书馆\n\n本报讯(记者李四)松江市图书馆今年举办读书会27场，参加读者3500人次。\n"
TITLE = "青石镇<i>公告</i>"
HTML_DOC = f"{TITLE}\n\n本报讯 青石镇文化站今年举办书法讲座8场，公告原文写着{PAYLOAD}，请原样显示。\n"
DROPPED_DOC = "江城消息\n\n本报讯(记者王五)江城市今年新建口袋公园42个，绿道18公里。\n"
WAIT = 120
# The shipped reader's answers, or (QA_BROWSER_FAKE_READER=1, where its weights are absent) the fake
# reader's: the first number in the passage. Checks that need the real reader are skipped then.
FAKE = os.environ.get("QA_BROWSER_FAKE_READER", "") not in ("", "0")

pytestmark = pytest.mark.slow


def _chromium(extra: tuple[str, ...] = (), prefs: dict | None = None):
    """A headless Chromium driven by Selenium (its profile folder is removed on exit)."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        reason = "chromium / chromium-driver not installed (apt-get install -y chromium chromium-driver)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; the browser test must run in CI")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*FLAGS, f"--user-data-dir={profile}", *extra]:
        options.add_argument(flag)
    if prefs:
        options.add_experimental_option("prefs", prefs)
    # An explicit driver path: selenium-manager never downloads anything.
    d = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    d.set_page_load_timeout(WAIT)
    try:
        yield d
    finally:
        d.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def driver():
    yield from _chromium()


@pytest.fixture(scope="module")
def server(real_index, tmp_path_factory):
    base = tmp_path_factory.mktemp("browser")
    seeds, index = copy_index(real_index, base)
    with running_app(seeds, index, base / "app.log", fake_reader=FAKE) as srv:
        yield srv


# ------------------------------------------------------------------ helpers

DESKTOP, PHONE = (1280, 800), (390, 844)


def _wait(d, condition, timeout: float = WAIT):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(d, timeout, poll_frequency=0.2).until(condition)


def _css(d, selector: str):
    from selenium.webdriver.common.by import By

    return d.find_elements(By.CSS_SELECTOR, selector)


def _size(d, size: tuple[int, int]) -> None:
    w, h = size
    d.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": w, "height": h, "deviceScaleFactor": 2 if w < 600 else 1, "mobile": w < 600},
    )
    time.sleep(0.8)


def _shot(d, name: str, size: tuple[int, int] | None = None) -> None:
    """A screenshot at ``size`` (then back to the desktop size), or at the current size."""
    ARTIFACTS.mkdir(exist_ok=True)
    if size:
        _size(d, size)
    d.save_screenshot(str(ARTIFACTS / f"{name}-{(size or DESKTOP)[0]}.png"))
    if size and size != DESKTOP:
        _size(d, DESKTOP)


def _both(d, name: str, scroll_to=None, block: str = "start") -> None:
    """Screenshots of the same screen at 1280×800 and 390×844."""
    for size in (DESKTOP, PHONE):
        _size(d, size)
        if scroll_to is not None:
            d.execute_script(f"arguments[0].scrollIntoView({{block: '{block}'}})", scroll_to)
            time.sleep(0.3)
        _shot(d, name)
        os.replace(ARTIFACTS / f"{name}-{DESKTOP[0]}.png", ARTIFACTS / f"{name}-{size[0]}x{size[1]}.png")
    _size(d, DESKTOP)


def _tab(d, label: str) -> None:
    [tab] = [b for b in _css(d, "button[role=tab]") if label in b.text]
    tab.click()


def _replies(d):
    return _css(d, ".qa-reply")


def _ask(d, question: str):
    """Type a question, press Enter, return the new reply element once it is shown."""
    from selenium.webdriver.common.keys import Keys

    _tab(d, "对话")
    before = len(_replies(d))
    box = _wait(d, lambda d: [e for e in _css(d, "#question textarea") if e.is_displayed()])[0]
    box.send_keys(question)
    box.send_keys(Keys.ENTER)
    _wait(d, lambda d: len(_replies(d)) > before)
    reply = _replies(d)[-1]
    d.execute_script("arguments[0].scrollIntoView({block: 'start'})", reply)
    return reply


def _shown_answer(reply) -> str:
    """The answer as shown: the big span of a sure answer, or the marked span of a possible one."""
    sure = reply.find_elements("css selector", ".qa-answer")
    if sure:
        return sure[0].text
    assert "qa-unsure" in reply.get_attribute("class") and "可能的答案" in reply.text and "核对原文" in reply.text
    return reply.find_element("css selector", ".qa-sentence mark").text


def _log(d) -> str:
    return _css(d, "#log")[0].get_attribute("textContent")


def _file_input(d):
    """The upload button's file input (it accepts any file: the app checks the type itself)."""
    return _wait(d, lambda d: _css(d, "input[type=file][data-testid$='-upload-button']"))[0]


def _upload(d, path: Path) -> str:
    """Upload one file on the documents tab; returns the log text once it is indexed."""
    _tab(d, "文档")
    _file_input(d).send_keys(str(path))
    _wait(d, lambda d: f"已保存：{path.name}" in _log(d))
    return _log(d)


def _page_text(d) -> str:
    return d.execute_script("return document.body.innerText")


def _no_script_ran(d) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    try:
        text = d.switch_to.alert.text
    except NoAlertPresentException:
        text = None
    assert text is None, f"an alert opened: {text!r}"
    assert d.execute_script("return window.__alerts") == []
    assert d.execute_script("return document.querySelectorAll('img[src=\"x\"], #chat script').length") == 0


def _in_view(d, el) -> bool:
    return d.execute_script(
        "const r = arguments[0].getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight;", el
    )


# ------------------------------------------------------------------ the test


def test_chat_citations_documents_and_literal_html(driver, server, tmp_path):
    d = driver
    t0 = time.perf_counter()
    _size(d, DESKTOP)
    d.get(server.url)
    _wait(d, lambda d: _css(d, "#question textarea"))
    assert "文档问答" in d.title
    # Alerts are recorded instead of shown, so that a script that did run is caught below.
    d.execute_script("window.__alerts = []; window.alert = (m) => window.__alerts.push(String(m));")

    # Start page: a short explanation and example questions drawn from the documents.
    _wait(d, lambda d: len(_css(d, "#examples button")) >= 4)
    examples = [b.text.strip() for b in _css(d, "#examples button")]
    assert 4 <= len(examples) <= 6 and all(q.endswith("？") and len(q) >= 10 for q in examples), examples
    assert "答案直接摘自原文" in _css(d, "#intro")[0].text
    text = _page_text(d)
    assert "对话" in text and "文档" in text and "提问" in text and "Chat" not in text
    _both(d, "01-start")
    _size(d, PHONE)  # on a phone the examples are visible without scrolling
    d.execute_script("window.scrollTo(0, 0)")
    buttons = _css(d, "#examples button")
    assert all(_in_view(d, b) for b in buttons[:4]), "example questions below the fold on a phone"
    _size(d, DESKTOP)

    example = _css(d, "#examples button")[0]
    asked = example.text.strip()
    example.click()  # an example question is asked right away
    _wait(d, lambda d: len(_replies(d)) == 1)
    assert asked in _css(d, ".qa-question")[-1].text
    _wait(d, lambda d: not [b for b in _css(d, "#examples button") if b.is_displayed()])  # examples give way
    _css(d, "#clear")[0].click()
    _wait(d, lambda d: not _replies(d) and [b for b in _css(d, "#examples button") if b.is_displayed()])

    # A sure (or possible) answer, with the citation labelled by title, not by file name.
    reply = _ask(d, "辽源市“七讲七进”宣讲开展了多少场次？")
    page_to_answer = time.perf_counter() - t0
    shown = _shown_answer(reply)
    assert "1300" in shown and "场次" in shown  # the measure word is shown with the number
    assert reply.find_element("css selector", ".qa-sentence mark").text in shown
    assert reply.find_element("css selector", ".qa-conf").text.startswith("把握 ")
    cite = reply.find_element("css selector", ".qa-cite summary")
    assert cite.is_displayed() and "唱响时代主旋律 · 第3段" in cite.text
    assert "000_" not in reply.text and ".txt" not in reply.text and "chars" not in reply.text
    _both(d, "02-answer", reply)

    # The citation opens the whole article, scrolled to the quote, with the answer marked in it.
    cite.click()
    viewer = _wait(d, lambda d: [e for e in reply.find_elements("css selector", ".qa-viewer") if e.is_displayed()])[0]
    assert viewer.find_elements("css selector", ".qa-v-headline")[0].text == "唱响时代主旋律"
    assert len(viewer.find_elements("css selector", ".qa-v-p")) > 3  # the whole article, not one paragraph
    quote = viewer.find_element("css selector", ".qa-quote")
    assert "1300余场次" in quote.text and quote.find_element("css selector", "mark").text in shown
    assert len(quote.text) < len(viewer.find_elements("css selector", ".qa-v-p")[0].text) * 10
    inside = d.execute_script(
        "const v = arguments[0].getBoundingClientRect(), q = arguments[1].getBoundingClientRect();"
        "return q.top >= v.top - 1 && q.top < v.bottom;", viewer, quote)
    assert inside, "the viewer is not scrolled to the quote"
    _both(d, "03-citation-open", quote, "center")

    reply = _ask(d, "那受众有多少人？")  # a follow-up uses the conversation
    assert FAKE or "6万" in _shown_answer(reply)

    _css(d, "#clear")[0].click()  # a new conversation: the next question is not a follow-up
    _wait(d, lambda d: not _replies(d))
    reply = _ask(d, "辽源" if FAKE else "2022年诺贝尔文学奖颁给了谁？")  # the fake reader finds a number anywhere
    assert "qa-notfound" in reply.get_attribute("class") and "未找到答案" in reply.text
    assert reply.find_elements("css selector", ".qa-cite") and not reply.find_elements("css selector", ".qa-answer")
    _both(d, "04-not-found", reply)

    # A document dropped into the seeds folder while the app runs is indexed, said so, then used.
    (server.seeds / "江城 消息.txt").write_text(DROPPED_DOC, encoding="utf-8")
    reply = _ask(d, "江城市今年新建口袋公园多少个？")
    assert "42" in _shown_answer(reply) and "江城消息" in reply.find_element("css selector", ".qa-cite summary").text
    notices = " ".join(e.text for e in _css(d, ".qa-notice"))
    assert "已索引 1 个有变动的文档" in notices, notices
    _both(d, "05-dropped-in-and-answered", reply)

    # Uploads: Chinese controls, our own progress, clean status lines.
    _tab(d, "文档")
    time.sleep(0.5)
    upload = _css(d, "#upload")[0]
    assert "选择文件上传" in upload.text and "Drop File" not in _page_text(d) and "Click to Upload" not in _page_text(d)
    doc = tmp_path / "松江 图书馆.txt"
    doc.write_text(LIBRARY_DOC, encoding="utf-8")
    log = _upload(d, doc)
    assert "松江 图书馆.txt" in log and "索引已更新" in log and "embedded" not in log
    status = _css(d, "#status")[0].text
    assert "个文档，" in status and "documents" not in status and not status.rstrip().endswith("·")
    assert "Batches" not in _page_text(d) and "steps |" not in _page_text(d)  # no library-internal bars
    assert "松江 图书馆.txt" in _css(d, "#documents")[0].text
    _both(d, "06-documents-uploaded")
    # A wrong file type is refused by the app in Chinese, not by Gradio's English toast.
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"PK\x03\x04 not a document")
    _file_input(d).send_keys(str(bad))
    _wait(d, lambda d: "不能上传 bad.xlsx" in _log(d))
    assert "“.xlsx”" in _log(d) and ".docx" in _log(d)
    assert "Invalid file type" not in _page_text(d) and "bad.xlsx" not in _css(d, "#documents")[0].text
    reply = _ask(d, "松江市图书馆今年举办读书会多少场？")
    assert "27" in _shown_answer(reply)
    assert "松江图书馆" in reply.find_element("css selector", ".qa-cite summary").text

    doc = tmp_path / "html-payload.txt"
    doc.write_text(HTML_DOC, encoding="utf-8")
    _upload(d, doc)
    assert TITLE in _css(d, "#documents")[0].get_attribute("textContent")
    reply = _ask(d, "青石镇文化站今年举办书法讲座多少场？")
    for summary in reply.find_elements("css selector", ".qa-cite summary"):
        summary.click()
    time.sleep(0.5)
    assert PAYLOAD in reply.text  # shown literally, as text
    assert f"{TITLE} · 第1段" in reply.find_element("css selector", ".qa-cite summary").text
    _no_script_ran(d)
    _shot(d, "07-html-shown-as-text")

    # Remove a document (chosen in the dropdown), then rebuild: it is gone from the panel and the answers.
    _tab(d, "文档")
    _css(d, "#doc-choice input")[0].click()
    [option] = _wait(d, lambda d: [o for o in _css(d, "[role=option]") if o.text.strip() == "松江 图书馆.txt"])
    option.click()
    _css(d, "#remove-btn")[0].click()
    _wait(d, lambda d: "已删除：松江 图书馆.txt" in _log(d))
    assert "松江 图书馆.txt" not in _css(d, "#documents")[0].get_attribute("textContent")
    _css(d, "#rebuild-btn")[0].click()
    _wait(d, lambda d: "索引已是最新" in _log(d))
    _both(d, "08-removed-and-rebuilt")
    reply = _ask(d, "松江市图书馆今年举办读书会多少场？")
    assert "松江图书馆" not in reply.text

    footer = " ".join(e.text for e in _css(d, "footer"))
    assert not footer.strip().endswith("·"), footer

    # A phone-sized screen: no sideways scrolling.
    _css(d, "#clear")[0].click()
    _wait(d, lambda d: not _replies(d))
    _size(d, PHONE)
    reply = _ask(d, "辽源市“七讲七进”宣讲开展了多少场次？")
    assert "1300" in _shown_answer(reply)
    assert d.execute_script("return document.documentElement.scrollWidth") <= PHONE[0] + 1
    _shot(d, "09-phone-chat")
    _tab(d, "文档")
    time.sleep(0.5)
    assert d.execute_script("return document.documentElement.scrollWidth") <= PHONE[0] + 1
    _shot(d, "10-phone-documents")
    _size(d, DESKTOP)
    _no_script_ran(d)
    (ARTIFACTS / "browser-timing.txt").write_text(
        f"page load to first answer: {page_to_answer:.1f} s\napp start to first answer: {server.first_answer_seconds:.1f} s\n",
        encoding="utf-8",
    )


@pytest.fixture
def zh_driver():
    """A second browser whose language is Chinese, as an editor's would be."""
    yield from _chromium(("--lang=zh-CN",), {"intl.accept_languages": "zh-CN,zh"})


@contextlib.contextmanager
def _in_process_app(seeds: Path, index: Path, **launch):
    """``app.build_ui`` over a hashing-embedder library, served in this process: yields its URL."""
    from app_server import free_port

    import app
    from qa.embedding import HashingEmbedder
    from qa.library import Library

    lib = Library(seeds, index, embedder=HashingEmbedder(64))
    lib.open()
    demo = app.build_ui(lib)
    port = free_port()
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                        ssr_mode=False, css=app.render.CSS, **launch)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


def test_login_page_in_a_chinese_browser(zh_driver, seeds, tmp_path):
    """With --users the app opens on Gradio's login page: in Chinese for a Chinese browser, with the
    app's own message; a wrong password is refused and the right one opens the chat."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    import app

    d = zh_driver
    with _in_process_app(seeds, tmp_path / "ix", auth=[("editor", "pw")], auth_message=app.AUTH_MESSAGE) as url:
        d.get(url)
        _wait(d, lambda d: "用户名" in _page_text(d) and "密码" in _page_text(d))
        assert app.AUTH_MESSAGE in _page_text(d)
        _both(d, "11-login-zh")
        fields = _css(d, "input")
        user = next(f for f in fields if f.get_attribute("type") != "password")
        pw = next(f for f in fields if f.get_attribute("type") == "password")
        user.send_keys("editor")
        pw.send_keys("wrong")
        d.find_elements(By.CSS_SELECTOR, "button")[-1].click()
        _wait(d, lambda d: "用户名" in _page_text(d) and len(_page_text(d)) > 0 and "对话" not in _page_text(d))
        time.sleep(1.0)
        assert "对话" not in _page_text(d)  # still the login page
        _shot(d, "12-login-refused")
        wrong = _page_text(d)
        assert "凭据不正确" in wrong  # Gradio's refusal, in Chinese too
        for field, value in zip(_css(d, "input"), ("editor", "pw")):
            field.send_keys(Keys.CONTROL, "a")
            field.send_keys(Keys.BACKSPACE)
            field.send_keys(value)
        d.find_elements(By.CSS_SELECTOR, "button")[-1].click()
        try:
            _wait(d, lambda d: "对话" in _page_text(d) and app.TITLE in _page_text(d), timeout=60)
        except Exception:
            _shot(d, "13-login-failed")
            raise AssertionError(f"no chat after logging in; before: {wrong!r}; now: {_page_text(d)!r}") from None


def test_an_unsure_answer_is_shown_as_a_possible_one(zh_driver, seeds, tmp_path, monkeypatch):
    """Confidence in the 中 band (qa.bands.DEFAULT: the fake reader has no measured bands): the sentence
    is shown as 可能的答案 with the span marked in it and an invitation to check the source, not the
    big span of a sure answer."""
    from conftest import FakeReader

    import qa.answering
    from qa import bands
    from qa.reader import SpanScore

    class Unsure(FakeReader):
        def read(self, question, texts, *, top_k=5):
            conf = (bands.DEFAULT.mid + bands.DEFAULT.high) / 2
            return [SpanScore(s.text, s.start, s.end, s.score, s.null, conf) for s in super().read(question, texts, top_k=top_k)]

    monkeypatch.setattr(qa.answering, "_reader", Unsure())
    d = zh_driver
    with _in_process_app(seeds, tmp_path / "ix") as url:
        d.get(url)
        _wait(d, lambda d: _css(d, "#question textarea"))
        reply = _ask(d, "辽源市“七讲七进”宣讲开展了多少场次？")
        assert not reply.find_elements("css selector", ".qa-answer")  # no big span
        assert "可能的答案" in reply.text and "核对原文" in reply.text and "qa-unsure" in reply.get_attribute("class")
        marked = reply.find_element("css selector", ".qa-sentence mark").text
        assert marked and marked in reply.find_element("css selector", ".qa-sentence").text
        _both(d, "14-possible-answer", scroll_to=reply)


def test_a_file_over_the_size_limit_is_refused_by_the_app_in_chinese(driver, seeds, tmp_path):
    """Served with app.py's upload limit (MAX_UPLOAD_BYTES), a file just over the 20 MB per document is
    uploaded and refused by the app, in Chinese, in the log; Gradio's English toast does not show."""
    import app
    from qa.documents import MAX_DOCUMENT_BYTES

    d = driver
    big = tmp_path / "大文件.pdf"
    with open(big, "wb") as f:
        f.truncate(MAX_DOCUMENT_BYTES + 1)
    with _in_process_app(seeds, tmp_path / "ix", max_file_size=app.MAX_UPLOAD_BYTES) as url:
        d.get(url)
        _wait(d, lambda d: [b for b in _css(d, "button[role=tab]") if "文档" in b.text])
        _tab(d, "文档")
        _file_input(d).send_keys(str(big))
        _wait(d, lambda d: "大文件.pdf 太大" in _log(d))
        assert "每个文档最多 20 MiB" in _log(d)
        text = _page_text(d)
        assert "exceed" not in text and "maximum allowed size" not in text, text
        assert "大文件.pdf" not in _css(d, "#documents")[0].text
        _shot(d, "15-upload-too-large")


FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")  # Debian's fonts-wqy-microhei


def _needs(ok: bool, reason: str) -> None:
    """Skip without ``ok``, except in CI (``CI=true``), where it is a failure."""
    if not ok:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; the browser test must run in CI")
        pytest.skip(reason)


def _small_scan(path: Path) -> None:
    """A small scanned notice (720×200 pixels, a headline and a paragraph over two lines), rendered
    with a CJK font: the real OCR engine reads it in a second or two."""
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("L", (720, 200), 255)
    draw = ImageDraw.Draw(img)
    draw.text((40, 24), "青石镇修复古桥", font=ImageFont.truetype(str(FONT), 40), fill=0)
    body = ImageFont.truetype(str(FONT), 24)
    draw.text((40, 96), "本报讯 青石镇今年修复古桥7座，新建步道", font=body, fill=0)
    draw.text((40, 136), "12公里，受到村民欢迎。", font=body, fill=0)
    img.save(path)


def _red_outlines(img) -> list[tuple[int, int, int, int]]:
    """The bounding boxes ``(x0, y0, x1, y1)``, end exclusive, of the red shapes in ``img``."""
    w, h = img.size
    px = img.load()
    red = {(x, y) for x in range(w) for y in range(h) if px[x, y][0] > 180 and px[x, y][1] < 90 and px[x, y][2] < 90}
    out = []
    while red:
        todo = [red.pop()]
        xs, ys = [], []
        while todo:
            x, y = todo.pop()
            xs.append(x)
            ys.append(y)
            for q in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
                if q in red:
                    red.remove(q)
                    todo.append(q)
        out.append((min(xs), min(ys), max(xs) + 1, max(ys) + 1))
    return sorted(out, key=lambda b: (b[1], b[0]))


def test_a_scanned_page_is_cited_with_its_line_outlined(driver, seeds, tmp_path):
    """An uploaded scan, read by the real OCR engine (hashing embedder, fake reader): the citation of
    an answer from it opens on the page image, the answer's line outlined in red."""
    import base64
    import io

    from PIL import Image

    from qa.documents import ocr
    from qa.embedding import HashingEmbedder
    from qa.index import load_index

    _needs(FONT.exists(), f"no CJK font at {FONT} (apt-get install -y fonts-wqy-microhei)")
    _needs(ocr.available(), "the OCR extra is not installed (pip install -e '.[ocr]')")
    scan = tmp_path / "青石镇公告.png"
    _small_scan(scan)
    d = driver
    _size(d, DESKTOP)
    with _in_process_app(seeds, tmp_path / "ix") as url:
        d.get(url)
        _wait(d, lambda d: _css(d, "#question textarea"))
        log = _upload(d, scan)
        assert "索引已更新" in log and "已跳过" not in log, log
        reply = _ask(d, "青石镇今年修复古桥多少座？")
        assert "7" in _shown_answer(reply)
        cite = reply.find_element("css selector", ".qa-cite summary")
        cite.click()
        figure = _wait(d, lambda d: [e for e in reply.find_elements("css selector", "figure.qa-page") if e.is_displayed()])[0]
        img = figure.find_element("css selector", "img")
        assert d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) > 0
        assert "扫描件第1页" in figure.text and "框出" in figure.text
        # Outlined in red (3 pixels out from its box): the line the answer stands on, with its text inside.
        index = load_index(tmp_path / "ix", embedder=HashingEmbedder(64))
        text = index.source_text(scan.name)
        [line] = [ln for ln in index.scan_lines(scan.name) if "7座" in text[ln.start : ln.end]]
        shown = Image.open(io.BytesIO(base64.b64decode(img.get_attribute("src").split(",", 1)[1]))).convert("RGB")
        want = (line.box[2] - line.box[0] + 7, line.box[3] - line.box[1] + 7)
        boxes = [b for b in _red_outlines(shown) if b[2] - b[0] == pytest.approx(want[0], abs=2)
                 and b[3] - b[1] == pytest.approx(want[1], abs=2)]
        assert len(boxes) == 1, (_red_outlines(shown), line.box)
        x0, y0, x1, y1 = boxes[0]
        assert shown.crop((x0 + 4, y0 + 4, x1 - 4, y1 - 4)).convert("L").getextrema()[0] < 100
        _both(d, "15-scan-citation", figure, "center")
        _size(d, PHONE)
        width = d.execute_script("return arguments[0].getBoundingClientRect().width", img)
        assert 0 < width <= PHONE[0] and d.execute_script("return document.documentElement.scrollWidth") <= PHONE[0] + 1
        _size(d, DESKTOP)
