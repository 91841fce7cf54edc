"""End to end in headless Chromium (Debian's ``chromium`` + ``chromium-driver``, driven by Selenium).

Screenshots go to ``test-artifacts/``.  Without Chromium the test is skipped, except in CI
(``CI=true``), where a missing browser is a failure.
"""

from __future__ import annotations

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
WAIT = 120

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def driver():
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
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    # An explicit driver path: selenium-manager never downloads anything.
    d = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    d.set_page_load_timeout(WAIT)
    yield d
    d.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def server(real_index, tmp_path_factory):
    base = tmp_path_factory.mktemp("browser")
    seeds, index = copy_index(real_index, base)
    with running_app(seeds, index, base / "app.log") as srv:
        yield srv


# ------------------------------------------------------------------ helpers


def _wait(d, condition, timeout: float = WAIT):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(d, timeout, poll_frequency=0.2).until(condition)


def _css(d, selector: str):
    from selenium.webdriver.common.by import By

    return d.find_elements(By.CSS_SELECTOR, selector)


def _shot(d, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    d.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def _tab(d, label: str) -> None:
    [tab] = [b for b in _css(d, "button[role=tab]") if label in b.text]
    tab.click()


def _ask(d, question: str):
    """Type a question, press Enter, return the new reply element once it is shown."""
    from selenium.webdriver.common.keys import Keys

    _tab(d, "Chat")
    before = len(_css(d, ".qa-reply"))
    box = _wait(d, lambda d: [e for e in _css(d, "#question textarea") if e.is_displayed()])[0]
    box.send_keys(question)
    box.send_keys(Keys.ENTER)
    _wait(d, lambda d: len(_css(d, ".qa-reply")) > before)
    reply = _css(d, ".qa-reply")[-1]
    d.execute_script("arguments[0].scrollIntoView({block: 'start'})", reply)
    return reply


def _upload(d, path: Path) -> str:
    """Upload one file on the documents tab; returns the log text once it is indexed."""
    _tab(d, "Documents")
    [field] = _wait(d, lambda d: _css(d, "#upload input[type=file]"))
    field.send_keys(str(path))
    _wait(d, lambda d: path.stem in _css(d, "#upload")[0].get_attribute("textContent"))  # it reached the server
    _css(d, "#upload-btn")[0].click()
    _wait(d, lambda d: f"Saved：{path.name}" in _css(d, "#log")[0].get_attribute("textContent"))
    return _css(d, "#log")[0].get_attribute("textContent")


def _no_script_ran(d) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    try:
        text = d.switch_to.alert.text
    except NoAlertPresentException:
        text = None
    assert text is None, f"an alert opened: {text!r}"
    assert d.execute_script("return window.__alerts") == []
    assert d.execute_script("return document.querySelectorAll('img[src=\"x\"], #chat script').length") == 0


# ------------------------------------------------------------------ the test


def test_chat_citations_uploads_and_literal_html(driver, server, tmp_path):
    d = driver
    t0 = time.perf_counter()
    d.get(server.url)
    _wait(d, lambda d: _css(d, "#question textarea"))
    assert "文档问答" in d.title
    # Alerts are recorded instead of shown, so that a script that did run is caught below.
    d.execute_script("window.__alerts = []; window.alert = (m) => window.__alerts.push(String(m));")
    _wait(d, lambda d: _css(d, "#examples button"))  # example questions drawn from the documents
    _shot(d, "01-start")

    reply = _ask(d, "辽源市“七讲七进”宣讲开展了多少场次？")
    page_to_answer = time.perf_counter() - t0
    answer = reply.find_element("css selector", ".qa-answer")
    assert answer.is_displayed() and "1300" in answer.text
    mark = reply.find_element("css selector", ".qa-sentence mark")
    assert mark.text == answer.text
    cite = reply.find_element("css selector", ".qa-cite summary")
    assert cite.is_displayed() and "唱响时代主旋律 · 第3段" in cite.text
    _shot(d, "02-answer")
    cite.click()
    para = _wait(d, lambda d: [e for e in reply.find_elements("css selector", ".qa-cite .qa-para") if e.is_displayed()])[0]
    assert "1300余场次" in para.text and para.find_element("css selector", "mark").text
    _shot(d, "03-citation-open")

    reply = _ask(d, "那受众有多少人？")  # a follow-up uses the conversation
    assert "6万" in reply.find_element("css selector", ".qa-answer").text

    example = _css(d, "#examples button")[0]
    before = len(_css(d, ".qa-reply"))
    example.click()  # an example question is asked right away
    _wait(d, lambda d: len(_css(d, ".qa-reply")) > before)
    assert example.text.strip() in _css(d, ".qa-question")[-1].text

    reply = _ask(d, "2022年诺贝尔文学奖颁给了谁？")
    assert "qa-notfound" in reply.get_attribute("class") and "未找到答案" in reply.text
    assert reply.find_elements("css selector", ".qa-cite") and not reply.find_elements("css selector", ".qa-answer")
    _shot(d, "04-not-found")

    doc = tmp_path / "松江 图书馆.txt"
    doc.write_text(LIBRARY_DOC, encoding="utf-8")
    log = _upload(d, doc)
    assert "松江 图书馆.txt" in log and "索引已更新" in log
    assert "松江 图书馆.txt" in _css(d, "#documents")[0].text
    _shot(d, "05-uploaded")
    reply = _ask(d, "松江市图书馆今年举办读书会多少场？")
    assert "27" in reply.find_element("css selector", ".qa-answer").text
    assert "松江图书馆" in reply.find_element("css selector", ".qa-cite summary").text
    _shot(d, "06-answer-from-upload")

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
    _tab(d, "Documents")
    _css(d, "#doc-choice input")[0].click()
    [option] = _wait(d, lambda d: [o for o in _css(d, "[role=option]") if o.text.strip() == "松江 图书馆.txt"])
    option.click()
    _css(d, "#remove-btn")[0].click()
    _wait(d, lambda d: "已删除 Removed：松江 图书馆.txt" in _css(d, "#log")[0].get_attribute("textContent"))
    assert "松江 图书馆.txt" not in _css(d, "#documents")[0].get_attribute("textContent")
    _css(d, "#rebuild-btn")[0].click()
    _wait(d, lambda d: "索引已是最新" in _css(d, "#log")[0].get_attribute("textContent"))
    _shot(d, "08-removed-and-rebuilt")
    reply = _ask(d, "松江市图书馆今年举办读书会多少场？")
    assert "松江图书馆" not in reply.text

    _css(d, "#clear")[0].click()
    _wait(d, lambda d: not _css(d, ".qa-reply"))

    # A phone-sized screen.
    d.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
    )
    time.sleep(1)
    reply = _ask(d, "辽源市“七讲七进”宣讲开展了多少场次？")
    assert reply.find_element("css selector", ".qa-answer").is_displayed()
    assert d.execute_script("return document.documentElement.scrollWidth") <= 390 + 1  # no sideways scrolling
    _shot(d, "09-mobile-chat")
    _tab(d, "Documents")
    time.sleep(0.5)
    _shot(d, "10-mobile-documents")
    d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    _no_script_ran(d)
    (ARTIFACTS / "browser-timing.txt").write_text(
        f"page load to first answer: {page_to_answer:.1f} s\napp start to first answer: {server.first_answer_seconds:.1f} s\n",
        encoding="utf-8",
    )
