"""Run ``app.py`` in a subprocess on a free port, for the HTTP and browser tests.

``running_app(..., fake_reader=True)`` starts it through this file instead
(``python tests/app_server.py APP_ARGS…``), which answers with conftest's
:class:`FakeReader`: the browser test can then run where the shipped reader's weights
are not present (``QA_BROWSER_FAKE_READER=1``).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
FIRST_QUESTION = "辽源市“七讲七进”宣讲开展了多少场次？"


@dataclass
class AppServer:
    url: str
    seeds: Path
    index: Path
    log: Path
    first_answer_seconds: float  # from process start to the first answer over HTTP


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_index(index, dest: Path) -> tuple[Path, Path]:
    """A private copy of a built index and its documents (so a test may change them)."""
    seeds, root = dest / "seeds", dest / "index"
    shutil.copytree(index.meta["seeds_dir"], seeds)
    shutil.copytree(index.root, root, ignore=shutil.ignore_patterns(".build.lock"))
    return seeds, root


def _log_tail(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace")[-3000:] if log.exists() else ""


@contextmanager
def running_app(
    seeds: Path, index: Path, log: Path, timeout: float = 240, *, fake_reader: bool = False, extra: tuple = (),
) -> Iterator[AppServer]:
    """Start the app, wait for its first answer through the ``ask`` API, stop it afterwards."""
    from gradio_client import Client

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    script = Path(__file__) if fake_reader else ROOT / "app.py"
    args = [sys.executable, str(script), "--port", str(port), "--seeds", str(seeds), "--index", str(index), *extra]
    t0 = time.perf_counter()
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"app.py exited with {proc.returncode}:\n{_log_tail(log)}")
            if time.perf_counter() - t0 > timeout:
                raise RuntimeError(f"app.py did not answer within {timeout:.0f} s:\n{_log_tail(log)}")
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        answer = Client(url, verbose=False).predict(FIRST_QUESTION, api_name="/ask")
        seconds = time.perf_counter() - t0
        assert answer["found"], answer
        ARTIFACTS.mkdir(exist_ok=True)
        with open(ARTIFACTS / "startup.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps({"log": log.name, "first_answer_seconds": round(seconds, 2)}) + "\n")
        yield AppServer(url, seeds, index, log, seconds)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


if __name__ == "__main__":  # app.py answering with the fake reader
    sys.path[:0] = [str(ROOT), str(Path(__file__).parent)]
    from conftest import FakeReader

    import app
    import qa.answering

    qa.answering._reader = FakeReader()
    sys.exit(app.main(sys.argv[1:]))
