"""The web chat over real HTTP: ``app.py`` in a subprocess, asked through ``gradio_client``."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from app_server import ROOT, copy_index, running_app

import app
from qa.documents import MAX_DOCUMENT_BYTES, read_text

SEED = ROOT / "seeds" / "000_2575e84d6e1eb83a.txt"


def test_flags_and_environment(monkeypatch):
    monkeypatch.setenv("QA_HOST", "::1")
    monkeypatch.setenv("QA_PORT", "8123")
    monkeypatch.setenv("QA_INDEX", "/tmp/ix")
    monkeypatch.setenv("QA_SEEDS", "/tmp/docs")
    a = app.parse_args([])
    assert (a.host, a.port, a.index, a.seeds, a.allow_remote) == ("::1", 8123, Path("/tmp/ix"), Path("/tmp/docs"), False)
    a = app.parse_args(["--port", "9000", "--index", "ix2"])
    assert (a.port, a.index) == (9000, Path("ix2"))


def test_default_host_is_loopback(monkeypatch):
    monkeypatch.delenv("QA_HOST", raising=False)
    monkeypatch.delenv("QA_PORT", raising=False)
    a = app.parse_args([])
    assert (a.host, a.port) == ("127.0.0.1", 7860)


def test_other_hosts_need_an_explicit_flag_and_warn():
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert app.host_warning(host, False) == ""
    with pytest.raises(SystemExit, match="--allow-remote"):
        app.host_warning("0.0.0.0", False)
    with pytest.raises(SystemExit, match="--allow-remote"):
        app.main(["--host", "example.org"])  # refused before anything is loaded
    assert "WARNING" in app.host_warning("0.0.0.0", True)


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
    for var in ("QA_HOST", "QA_PORT", "QA_SEEDS", "QA_INDEX"):
        monkeypatch.delenv(var, raising=False)
    return calls


def test_main_serves_on_loopback_by_default(launches, tmp_path, capsys):
    """Protection: the server is started on --host (default 127.0.0.1) with the upload size limit."""
    assert app.main(["--seeds", str(tmp_path / "s"), "--index", str(tmp_path / "i")]) == 0
    [kw] = launches
    assert kw["server_name"] == "127.0.0.1" and kw["max_file_size"] == MAX_DOCUMENT_BYTES
    assert "WARNING" not in capsys.readouterr().err


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "example.org", ""])
def test_main_refuses_a_remote_host_from_the_environment_without_the_flag(launches, tmp_path, monkeypatch, capsys, host):
    args = ["--seeds", str(tmp_path / "s"), "--index", str(tmp_path / "i")]
    monkeypatch.setenv("QA_HOST", host)
    with pytest.raises(SystemExit, match="--allow-remote"):
        app.main(args)
    assert launches == []
    assert app.main([*args, "--allow-remote"]) == 0
    assert launches[0]["server_name"] == host and "WARNING" in capsys.readouterr().err


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
    """Protection: launch(max_file_size=...): the server stops reading an upload over 20 MB."""
    import httpx

    url = f"{server.url}gradio_api/upload"
    ok = httpx.post(url, files={"files": ("small.txt", "短文。".encode(), "text/plain")}, timeout=60)
    assert ok.status_code == 200 and len(ok.json()) == 1
    big = httpx.post(url, files={"files": ("big.txt", b"x" * (MAX_DOCUMENT_BYTES + 1), "text/plain")}, timeout=120)
    assert big.status_code == 413 and "maximum allowed size" in big.text
