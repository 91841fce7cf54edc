"""The web chat over real HTTP: ``app.py`` in a subprocess, asked through ``gradio_client``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from app_server import ROOT, copy_index, running_app

import app
from qa.documents import read_text

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
