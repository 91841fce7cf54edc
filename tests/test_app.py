"""The web chat over real HTTP: ``app.py`` in a subprocess, asked through ``gradio_client``."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from app_server import FIRST_QUESTION, ROOT, copy_index, free_port, running_app

import app
import qa.library
from qa.documents import MAX_DOCUMENT_BYTES, read_text
from qa.library import Library

SEED = ROOT / "seeds" / "000_2575e84d6e1eb83a.txt"


def test_flags_and_environment(monkeypatch):
    monkeypatch.setenv("QA_HOST", "::1")
    monkeypatch.setenv("QA_PORT", "8123")
    monkeypatch.setenv("QA_INDEX", "/tmp/ix")
    monkeypatch.setenv("QA_SEEDS", "/tmp/docs")
    a = app.parse_args([])
    assert (a.host, a.port, a.index, a.seeds, a.no_auth, a.read_only) == (
        "::1", 8123, Path("/tmp/ix"), Path("/tmp/docs"), False, False)
    monkeypatch.setenv("QA_READ_ONLY", "1")
    assert app.parse_args([]).read_only and app.parse_args(["--allow-remote"]).no_auth
    a = app.parse_args(["--port", "9000", "--index", "ix2"])
    assert (a.port, a.index) == (9000, Path("ix2"))


def test_default_host_is_loopback(monkeypatch):
    monkeypatch.delenv("QA_HOST", raising=False)
    monkeypatch.delenv("QA_PORT", raising=False)
    a = app.parse_args([])
    assert (a.host, a.port) == ("127.0.0.1", 7860)


def test_other_hosts_need_a_login_or_an_explicit_waiver(monkeypatch):
    monkeypatch.delenv("QA_USERS", raising=False)
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert app.host_warning(host, False) == ""
    with pytest.raises(SystemExit, match="--no-auth"):
        app.host_warning("0.0.0.0", False)
    with pytest.raises(SystemExit, match="QA_USERS"):
        app.main(["--host", "example.org"])  # refused before anything is loaded
    assert "WARNING" in app.host_warning("0.0.0.0", True)
    assert app.host_warning("0.0.0.0", False, [("alice", "pw")]) == ""  # a login is enough


def test_users_from_the_environment_or_a_file(tmp_path):
    assert app.parse_users("alice:pw, bob:p:w2") == [("alice", "pw"), ("bob", "p:w2")]
    assert app.load_users(None, "") == []
    f = tmp_path / "users.txt"
    f.write_text("# editors\nalice:secret\n\ncarol:x\n", encoding="utf-8")
    assert app.load_users(f, "ignored:pw") == [("alice", "secret"), ("carol", "x")]
    for bad, why in (("alice", "user:password"), ("alice:", "user:password"), (":pw", "user:password"),
                     ("a:1,a:2", "twice")):
        with pytest.raises(SystemExit, match=why):
            app.parse_users(bad)
    with pytest.raises(SystemExit, match="cannot read"):
        app.load_users(tmp_path / "missing.txt")
    (tmp_path / "empty.txt").write_text("# nobody\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="no user:password"):
        app.load_users(tmp_path / "empty.txt")


class _IdleLibrary:
    """Stands in for Library in ``app.main``: nothing to load."""

    def __init__(self, seeds, index):
        self.seeds, self.index_dir = seeds, index
        self.index = SimpleNamespace(passages=[])

    def open(self, progress=None):
        return self.index

    def warm_up(self):
        pass

    def examples(self, *args, **kwargs):
        return []


@pytest.fixture
def launches(monkeypatch):
    """``app.main`` up to the launch: the keyword arguments of each ``launch`` call."""
    calls: list[dict] = []
    monkeypatch.setattr(app, "Library", _IdleLibrary)
    monkeypatch.setattr(app.gr.Blocks, "launch", lambda self, **kw: calls.append(kw))
    for var in ("QA_HOST", "QA_PORT", "QA_SEEDS", "QA_INDEX", "QA_USERS", "QA_USERS_FILE", "QA_READ_ONLY"):
        monkeypatch.delenv(var, raising=False)
    return calls


def test_main_serves_on_loopback_by_default(launches, tmp_path, capsys):
    """Protection: the server is started on --host (default 127.0.0.1) with an upload size limit: Gradio's
    own, well above the limit per document (which the app checks itself, in Chinese), so it stops only
    what is far too large to be a document."""
    assert app.main(["--seeds", str(tmp_path / "s"), "--index", str(tmp_path / "i")]) == 0
    [kw] = launches
    assert kw["server_name"] == "127.0.0.1" and kw["max_file_size"] == app.MAX_UPLOAD_BYTES
    assert MAX_DOCUMENT_BYTES < app.MAX_UPLOAD_BYTES <= 10 * MAX_DOCUMENT_BYTES
    assert kw["auth"] is None and kw["quiet"] is True  # quiet: no "set share=True" hint
    assert "WARNING" not in capsys.readouterr().err


def test_main_passes_the_login_to_gradio(launches, tmp_path, monkeypatch, capsys):
    args = ["--seeds", str(tmp_path / "s"), "--index", str(tmp_path / "i"), "--host", "0.0.0.0"]
    monkeypatch.setenv("QA_USERS", "alice:pw,bob:pw2")
    assert app.main(args) == 0
    assert launches[0]["auth"] == [("alice", "pw"), ("bob", "pw2")] and launches[0]["auth_message"]
    out = capsys.readouterr()
    assert "WARNING" not in out.err and "login: 2 user(s)" in out.out


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "example.org", ""])
def test_main_refuses_a_remote_host_from_the_environment_without_the_flag(launches, tmp_path, monkeypatch, capsys, host):
    args = ["--seeds", str(tmp_path / "s"), "--index", str(tmp_path / "i")]
    monkeypatch.setenv("QA_HOST", host)
    with pytest.raises(SystemExit, match="--no-auth"):
        app.main(args)
    assert launches == []
    assert app.main([*args, "--no-auth"]) == 0
    assert launches[0]["server_name"] == host and "WARNING" in capsys.readouterr().err


# ------------------------------------------------------------------ in-process: fake embedder and reader


@pytest.fixture
def serve(seeds, tmp_path, fake_embedder):
    """Start ``build_ui`` in this process (fake embedder, fake reader) on a free port: ``serve(**kw) -> url``."""
    demos = []

    def start(*, read_only: bool = False, auth=None) -> tuple[str, Library, object]:
        lib = Library(seeds, tmp_path / "ix", embedder=fake_embedder)
        lib.open()
        demo = app.build_ui(lib, read_only=read_only)
        port = free_port()
        demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                            auth=auth, ssr_mode=False, css=app.render.CSS)
        demos.append(demo)
        return f"http://127.0.0.1:{port}/", lib, demo

    yield start
    for d in demos:
        d.close()


def test_a_follow_up_over_http_gets_the_history(serve, monkeypatch):
    """The ask endpoint takes the previous [question, answer] pairs; they reach answer()."""
    from gradio_client import Client

    seen = []
    real = qa.library.answer

    def spy(question, **kw):
        seen.append((question, kw.get("history")))
        return real(question, **kw)

    monkeypatch.setattr(qa.library, "answer", spy)
    url, lib, _ = serve()
    client = Client(url, verbose=False)
    first = client.predict(FIRST_QUESTION, api_name="/ask")
    assert first["found"] and first["level"] in {"sure", "possible"} and first["citations"]
    follow = "那受众有多少人？"
    second = client.predict(follow, [[FIRST_QUESTION, first]], api_name="/ask")
    assert second["question"] == follow
    (q, hist) = seen[-1]
    assert q == follow and len(hist) == 1 and hist[0][0] == FIRST_QUESTION
    prev = hist[0][1]
    assert prev.text == first["text"] and prev.citations[0].passage_id == first["citations"][0]["passage_id"]
    # The follow-up was retrieved with the previous question's words (the article it cited is preferred).
    from qa.query import analyse

    query = analyse(follow, "", lib.index, hist)
    assert FIRST_QUESTION in query.retrieval_text and query.boost_article is not None
    # Plain answer texts work too, and bad history gets a message, not an error.
    third = client.predict(follow, [[FIRST_QUESTION, first["text"]]], api_name="/ask")
    assert seen[-1][1][0][1].text == first["text"] and third["question"] == follow
    bad = client.predict(follow, [["only a question"]], api_name="/ask")
    assert bad["found"] is False and "[问题, 回答]" in bad["message"]  # in the question's language
    bad = client.predict("How many sessions were held?", [["only a question"]], api_name="/ask")
    assert "must be a [question, answer] pair" in bad["message"] and "问题" not in bad["message"]
    api = client.view_api(return_format="dict", print_info=False)
    assert set(api["named_endpoints"]) == {"/ask"}
    assert [p["parameter_name"] for p in api["named_endpoints"]["/ask"]["parameters"]] == ["question", "history"]


def test_login_is_required_when_users_are_given(serve):
    import httpx
    from gradio_client import Client

    url, _, _ = serve(auth=[("alice", "pw")])
    assert httpx.get(f"{url}config", timeout=30).status_code == 401
    with pytest.raises(Exception):  # noqa: B017 - gradio_client raises a plain error without a login
        Client(url, verbose=False)
    with pytest.raises(Exception):  # noqa: B017
        Client(url, auth=("alice", "wrong"), verbose=False)
    r = Client(url, auth=("alice", "pw"), verbose=False).predict(FIRST_QUESTION, api_name="/ask")
    assert r["found"]


def _components(demo) -> list[dict]:
    return demo.config["components"]


def test_read_only_has_no_upload_or_removal(serve):
    from gradio_client import Client

    url, lib, demo = serve(read_only=True)
    types = [c["type"] for c in _components(demo)]
    buttons = [c["props"].get("value") for c in _components(demo) if c["type"] == "button"]
    values = " ".join(str(c.get("props", {}).get("value", "")) for c in _components(demo))
    assert "uploadbutton" not in types and "删除文档" not in buttons and "只读模式" in values
    _, _, normal = serve()
    assert "uploadbutton" in [c["type"] for c in _components(normal)]
    assert Client(url, verbose=False).predict(FIRST_QUESTION, api_name="/ask")["found"]


def test_documents_dropped_in_are_indexed_before_the_answer(serve):
    from gradio_client import Client

    url, lib, _ = serve()
    (lib.seeds / "新闻.txt").write_text("新文章\n\n本报讯(记者李四)松江市图书馆今年举办读书会27场。\n", encoding="utf-8")
    r = Client(url, verbose=False).predict("松江市图书馆今年举办读书会多少场？", api_name="/ask")
    assert r["indexed"] == ["新闻.txt"] and r["found"] and "27" in r["text"]
    assert r["citations"][0]["doc"] == "新闻.txt" and lib.pending() == []


def test_the_documents_tab_shows_the_page_ocr_is_reading(seeds, tmp_path, fake_embedder, monkeypatch):
    """An uploaded scan, then one dropped in and indexed by 重建索引: while OCR reads a page, the log
    that follows the build says which (识别第 n/N 页：name). The fake engine reads a page only once
    that page was shown (or after 5 s, and the test fails), and each page is read once."""
    import threading

    from PIL import Image

    from qa.documents import ocr
    from qa.documents.reading_order import TextBox

    monkeypatch.setattr(app, "TICK_S", 0.02)
    lib = Library(seeds, tmp_path / "ix", embedder=fake_embedder)
    lib.open()
    pages = {"扫描.tif": [threading.Event(), threading.Event()], "手放.png": [threading.Event()]}
    read: list[tuple[str, int, bool]] = []

    def fake(image):
        name = "扫描.tif" if image.size[0] == 600 else "手放.png"
        n = sum(r[0] == name for r in read)
        read.append((name, n + 1, pages[name][n].wait(5)))
        return [TextBox((0, 0, 480, 30), f"{name}第{n + 1}页", 0.97),
                TextBox((0, 40, 300, 60), f"青石镇今年修缮古桥{n + 7}座。", 0.9)]

    def follow(work) -> tuple[list[str], object]:
        shown = []
        steps = app._follow(lib, work)
        while True:
            try:
                html = next(steps)
            except StopIteration as stop:
                return shown, stop.value
            shown.append(html)
            for name, events in pages.items():
                for k, event in enumerate(events, 1):
                    if f"识别第 {k}/{len(events)} 页：{name}" in html:
                        event.set()

    monkeypatch.setattr(ocr, "recognise", fake)
    scan = tmp_path / "uploads" / "扫描.tif"
    scan.parent.mkdir()
    Image.new("L", (600, 80), 255).save(scan, save_all=True, append_images=[Image.new("L", (600, 80), 255)])
    shown, result = follow(lambda: lib.add([(scan, scan.name)]))
    assert result.saved == ["扫描.tif"] and not result.errors and not result.report.skipped
    assert read == [("扫描.tif", 1, True), ("扫描.tif", 2, True)]  # each page shown, and read once
    assert any("识别第 2/2 页：扫描.tif" in h and "qa-progress" in h for h in shown)
    Image.new("L", (500, 80), 255).save(lib.seeds / "手放.png")
    shown, result = follow(lib.rebuild)
    assert read[2:] == [("手放.png", 1, True)] and not result.report.skipped
    assert {"扫描.tif", "手放.png"} <= {d.name for d in lib.documents()}


def test_an_upload_over_the_size_limit_is_refused_by_the_app_in_chinese(seeds, tmp_path, fake_embedder, monkeypatch):
    """A file over the 20 MB per document reaches the app (Gradio's own check, in English, is set far
    above it), which refuses it in Chinese at once, without waiting for a running build (lib.add is not
    called for it), and still saves the other files of the same upload."""
    import html
    import re

    lib = Library(seeds, tmp_path / "ix", embedder=fake_embedder)
    lib.open()
    demo = app.build_ui(lib)
    upload = next(f.fn for f in demo.fns.values() if getattr(f.fn, "__name__", "") == "upload")
    added: list[list[str]] = []
    add = lib.add
    monkeypatch.setattr(lib, "add", lambda pairs, **kw: added.append([n for _, n in pairs]) or add(pairs, **kw))
    big = tmp_path / "up" / "大文件.pdf"
    big.parent.mkdir()
    with open(big, "wb") as f:
        f.truncate(MAX_DOCUMENT_BYTES + 1)  # sparse: no disk used
    good = tmp_path / "up" / "新文章.txt"
    good.write_text("新增文章\n\n本报讯(记者李四)松江市图书馆今年举办读书会27场。\n", encoding="utf-8")

    def log(files: list[Path]) -> str:
        steps = list(upload([str(f) for f in files], False))
        return html.unescape(re.sub(r"<[^>]+>", " ", steps[-1][0]))

    shown = log([big])
    assert "大文件.pdf 太大（20.0 MiB），每个文档最多 20 MiB，没有保存。" in shown, shown
    assert added == [] and not re.search(r"[A-Za-z]{2,} [A-Za-z]{2,}", shown)
    shown = log([big, good])
    assert "大文件.pdf 太大" in shown and "已保存：新文章.txt" in shown and added == [["新文章.txt"]]
    assert not (lib.seeds / "大文件.pdf").exists() and (lib.seeds / "新文章.txt").is_file()


# ------------------------------------------------------------------ a real app.py process (real model)


@pytest.fixture(scope="module")
def server(real_index, tmp_path_factory):
    base = tmp_path_factory.mktemp("app")
    seeds, index = copy_index(real_index, base)
    with running_app(seeds, index, base / "app.log") as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server.url, verbose=False)


@pytest.mark.slow
def test_answer_and_citation_over_http(client, server):
    r = client.predict("辽源市“七讲七进”宣讲开展了多少场次？", api_name="/ask")
    json.dumps(r)
    assert r["found"] is True and "1300" in r["text"] and r["message"] == ""
    assert r["sentence"][r["text_start"] :].startswith(r["text"])
    assert 0.5 <= r["confidence"] <= 1
    c = r["citations"][0]
    assert (c["doc"], c["title"], c["paragraph"]) == (SEED.name, "唱响时代主旋律", 3)
    assert c["label"] == "唱响时代主旋律 · 第3段" and r["sentence"] in c["quote"]
    assert {"doc_title", "date", "source", "spans"} <= set(c) and r["level"] in {"sure", "possible"}
    source, _ = read_text(SEED)
    assert source[c["start"] : c["end"]] == c["quote"]
    assert isinstance(c["score"], float)
    assert server.first_answer_seconds < 240


@pytest.mark.slow
def test_not_found_over_http(client):
    r = client.predict("2022年诺贝尔文学奖颁给了谁？", api_name="/ask")
    assert r["found"] is False and r["text"] == "" and r["citations"] == []
    assert r["message"] and r["related"] and all(c["quote"] for c in r["related"])


@pytest.mark.slow
def test_bad_input_gets_a_message(client):
    r = client.predict("   ", api_name="/ask")
    assert r["found"] is False and "请输入问题" in r["message"]


@pytest.mark.slow
def test_only_ask_is_a_public_endpoint(client):
    api = client.view_api(return_format="dict", print_info=False)
    assert set(api["named_endpoints"]) == {"/ask"}
    assert api["named_endpoints"]["/ask"]["parameters"][0]["parameter_name"] == "question"


@pytest.mark.slow
def test_follow_up_over_http_with_the_real_model(client):
    first = client.predict("辽源市“七讲七进”宣讲开展了多少场次？", api_name="/ask")
    second = client.predict("那受众有多少人？", [["辽源市“七讲七进”宣讲开展了多少场次？", first]], api_name="/ask")
    assert second["found"] and "6" in second["text"]
    assert second["citations"][0]["title"] == first["citations"][0]["title"]


def _listening_addresses(port: int) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Addresses with a listening TCP socket on ``port``, from /proc/net/tcp and tcp6."""
    out = set()
    for name in ("tcp", "tcp6"):
        table = Path("/proc/net") / name
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            host, _, hexport = local.partition(":")
            if state != "0A" or int(hexport, 16) != port:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(host)
            # The kernel prints each 32-bit word in host (little-endian) order.
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            out.add(ipaddress.ip_address(raw))
    return out


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net/tcp")
def test_server_listens_on_loopback_only(server):
    """Started without --host, the app's socket is bound to 127.0.0.1, not to every interface."""
    addresses = _listening_addresses(urlsplit(server.url).port)
    assert addresses and all(a.is_loopback for a in addresses), addresses


@pytest.mark.slow
def test_uploads_over_the_size_limit_are_refused_by_the_server(server):
    """Protection: launch(max_file_size=...): the server stops reading an upload far too large to be a
    document (MAX_UPLOAD_BYTES); one just over the 20 MB per document reaches the app, which refuses it."""
    import httpx

    url = f"{server.url}gradio_api/upload"
    ok = httpx.post(url, files={"files": ("small.txt", "短文。".encode(), "text/plain")}, timeout=60)
    assert ok.status_code == 200 and len(ok.json()) == 1
    over = httpx.post(url, files={"files": ("over.txt", b"x" * (MAX_DOCUMENT_BYTES + 1), "text/plain")}, timeout=120)
    assert over.status_code == 200 and len(over.json()) == 1
    big = httpx.post(url, files={"files": ("big.txt", b"x" * (app.MAX_UPLOAD_BYTES + 1), "text/plain")}, timeout=300)
    assert big.status_code == 413 and "maximum allowed size" in big.text
