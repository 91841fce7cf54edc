"""Robustness (issue 6): bad documents, bad questions, faults and concurrency at the library level.

Each test guards one protection; the docstring names it.  The fake HashingEmbedder is
used throughout (one real-model check is marked slow).  Build faults run in real
subprocesses that are crashed or SIGKILLed.
"""

from __future__ import annotations

import codecs
import errno
import json
import logging
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from conftest import ErrorLog

from qa import build_index, load_index
from qa.answering import answer
from qa.cli import main as cli_main
from qa.documents import MAX_DOCUMENT_BYTES, DocumentError, decode_bytes, read_document
from qa.embedding import HashingEmbedder
from qa.index import IndexCorrupt, IndexError_, IndexMismatch, _meta_digest, current_generation

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "000_2575e84d6e1eb83a.txt"

READING = (
    "图书馆读书会\n\n"
    "本报讯(记者李四)辽源市图书馆今年举办读书会12场，参加的读者有三百多人。\n\n"
    "读书会由馆长王五主持，每场邀请一位本地作家分享创作经历。\n"
)
PAINTING = (
    "东丰县农民画展\n\n"
    "本报讯(记者赵六)东丰县农民画展于5月20日在县文化馆开幕，展出作品160幅。\n\n"
    "画展将持续到6月底。\n"
)
# A headline-only note: too short for charset detection when it is UTF-16 without a BOM.
NOTE = "推进「人+车+机」联动新模式\n"
Q_READING = "辽源市图书馆今年举办了多少场读书会？"
Q_PAINTING = "东丰县农民画展展出了多少幅作品？"


def _write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def _seeds(tmp_path: Path, files: dict[str, str | bytes], seed: bool = False) -> Path:
    folder = tmp_path / "seeds"
    folder.mkdir(parents=True, exist_ok=True)
    if seed:
        shutil.copy(SEED, folder / SEED.name)
    for name, text in files.items():
        _write(folder, name, text)
    return folder


def assert_offsets(idx, a, source: dict[str, str] | None = None) -> None:
    """Every citation's quote is found at its offsets in the decoded source."""
    for c in a.citations + a.related:
        text = source[c.doc] if source and c.doc in source else idx.source_text(c.doc)
        assert c.spans, c
        assert "".join(text[s:e] for s, e in c.spans) == c.quote, c
        assert c.spans[0][0] == c.start and c.spans[-1][1] == c.end, c


def _sig(a) -> tuple:
    """Everything an answer shows, for comparing two answers exactly."""

    def cits(cs):
        return [(c.doc, c.passage_id, c.quote, c.spans, c.score) for c in cs]

    return (a.found, a.text, a.sentence, a.confidence, a.message, cits(a.citations), cits(a.related))


def _state(root: Path) -> list[dict]:
    """The passages of the live index in ``root`` (loading verifies every checksum)."""
    return [p.to_json() for p in load_index(root, embedder=HashingEmbedder(64)).passages]


def _leftovers(root: Path) -> list[str]:
    """Files in the index folder besides the live generation, the pointer and the lock.

    (A build killed between writing and removing its 2-byte write probe leaves that file:
    harmless, and not removable by the next build without racing a concurrent one.)
    """
    live = current_generation(root)
    keep = ("CURRENT", ".build.lock")
    return sorted(p.name for p in root.iterdir() if p.name not in keep and p != live
                  and not p.name.startswith(".write-probe-"))


# ================================================================== bad documents


def test_empty_and_blank_documents_are_skipped_by_name(tmp_path, fake_embedder):
    """Protection: a document with no text is skipped with a message, not indexed as nothing."""
    seeds = _seeds(tmp_path, {"empty.txt": b"", "blank.md": " \n\n\u3000\t\n", "读书会.txt": READING})
    r = build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    assert r.documents == 1
    assert sorted(m.split(":")[0] for m in r.skipped) == ["blank.md", "empty.txt"]
    assert all("no text to index" in m for m in r.skipped)
    idx = load_index(tmp_path / "ix", embedder=fake_embedder)
    assert set(idx.documents()) == {"读书会.txt"}


@pytest.mark.parametrize(
    "junk",
    [
        bytes(range(256)) * 16,
        random.Random(0).randbytes(4096),
        b"\x89PNG\r\n\x1a\n" + random.Random(1).randbytes(3000),
        np.arange(2000, dtype=np.float32).tobytes(),
        np.arange(100, dtype=np.int16).tobytes() * 20,  # decodes (UTF-16, UTF-8): all control characters
        bytes(range(32)) * 64,
    ],
    ids=["all-bytes", "random", "png", "floats", "int16", "control"],
)
def test_binary_junk_named_txt_is_skipped_by_name(tmp_path, fake_embedder, junk):
    """Protection: decode_bytes refuses bytes that don't decode to plausible text."""
    seeds = _seeds(tmp_path, {"junk.txt": junk, "读书会.txt": READING})
    r = build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    assert r.documents == 1
    assert len(r.skipped) == 1 and r.skipped[0].startswith("junk.txt: cannot detect a text encoding")


def test_corrupt_docx_and_pdf_are_skipped_by_name(tmp_path, fake_embedder):
    """Protection: library parse errors become a DocumentError naming the file."""
    seeds = _seeds(tmp_path, {"坏.docx": b"PK\x03\x04" + b"\x00" * 100, "坏.pdf": b"%PDF-1.4\n%%EOF", "a.txt": READING})
    r = build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    assert r.documents == 1
    assert sorted(m.split(":")[0] for m in r.skipped) == ["坏.docx", "坏.pdf"]


def _utf16(text: str, order: str, bom: bool) -> bytes:
    marks = {"le": codecs.BOM_UTF16_LE, "be": codecs.BOM_UTF16_BE}
    return (marks[order] if bom else b"") + text.encode(f"utf-16-{order}")


ENCODINGS = {
    "utf-8": lambda t: t.encode("utf-8"),
    "utf-8-bom": lambda t: t.encode("utf-8-sig"),
    "gbk": lambda t: t.encode("gbk"),
    "gb18030": lambda t: t.encode("gb18030"),
    "utf-16-le-bom": lambda t: _utf16(t, "le", True),
    "utf-16-be-bom": lambda t: _utf16(t, "be", True),
    "utf-16-le": lambda t: _utf16(t, "le", False),
    "utf-16-be": lambda t: _utf16(t, "be", False),
    "gbk-crlf": lambda t: t.replace("\n", "\r\n").encode("gbk"),
    "utf-16-le-crlf": lambda t: _utf16(t.replace("\n", "\r\n"), "le", False),
}


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_encoded_documents_are_decoded_and_quoted_exactly(tmp_path, fake_embedder, encoding):
    """Protection: encoding detection (BOMs, UTF-16 without BOM, GB18030) and CRLF normalisation.

    The answer's citation must be found at its offsets both in the decoded source and
    in the original text: a wrong decoding (a BOM kept as U+FEFF, a mis-detected
    encoding) shifts or garbles it.
    """
    encode = ENCODINGS[encoding]
    # GB18030 also covers what GBK can't: CJK extension A and B characters.
    reading = READING + ("嘉宾：作家㐂先生（笔名𠀀）。\n" if encoding == "gb18030" else "")
    seeds = _seeds(tmp_path, {"读书会.txt": encode(reading), "短讯.txt": encode(NOTE)}, seed=True)
    expected = {"读书会.txt": reading, "短讯.txt": NOTE}
    for name, text in expected.items():
        assert read_document(seeds / name).text == text, name
    r = build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    assert r.skipped == [] and r.documents == 3
    idx = load_index(tmp_path / "ix", embedder=fake_embedder)
    a = answer(Q_READING, index=idx)
    assert a.found and a.text == "12场", a
    assert a.citations[0].doc == "读书会.txt"
    assert_offsets(idx, a)  # against the source as the index decodes it
    assert_offsets(idx, a, source=expected)  # and against the text that was encoded
    note = [p for p in idx.passages if p.doc == "短讯.txt"]
    assert [p.text for p in note] == [NOTE.strip()]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030", "utf-16", "utf-16-le", "utf-16-be"])
def test_every_line_of_the_seed_page_decodes_alone(encoding):
    """Protection: short documents (a headline, a caption) are decoded too, not only long ones."""
    lines = [line + "\n" for line in SEED.read_text(encoding="utf-8").splitlines() if line.strip()]
    wrong = [line for line in lines if decode_bytes(line.encode(encoding))[0] != line]
    assert wrong == []


@pytest.mark.slow
def test_real_model_answers_quote_gbk_and_utf16_documents(tmp_path, real_embedder, real_reader):
    """The same with the real models: answers from a GBK and a BOM-less UTF-16 document."""
    seeds = _seeds(tmp_path, {"读书会.txt": READING.encode("gbk"), "画展.txt": PAINTING.encode("utf-16-le")})
    build_index(seeds, tmp_path / "ix", embedder=real_embedder)
    idx = load_index(tmp_path / "ix", embedder=real_embedder)
    for q, doc, text, want in [(Q_READING, "读书会.txt", READING, "12"), (Q_PAINTING, "画展.txt", PAINTING, "160")]:
        a = answer(q, index=idx, reader=real_reader)
        assert a.found and want in a.text and a.citations[0].doc == doc, a
        assert_offsets(idx, a)
        assert_offsets(idx, a, source={doc: text})


def test_a_50_mb_file_is_refused_by_name_without_being_read(tmp_path, fake_embedder, monkeypatch):
    """Protection: MAX_DOCUMENT_BYTES, checked on the file size before the file is read.

    Memory stays bounded because the big file is only ever hashed in 1 MiB blocks: it is
    never read whole (Path.read_bytes on it fails the test).
    """
    seeds = _seeds(tmp_path, {"读书会.txt": READING})
    body = ("大文件\n\n" + "本报讯(记者李四)这是一份很大的文件。\n\n" * 200).encode("utf-8")
    big = seeds / "大 文件.txt"
    with open(big, "wb") as f:
        f.write(body)
        f.write(b" " * (50_000_000 - len(body)))  # a text file of 50 MB
    assert big.stat().st_size > MAX_DOCUMENT_BYTES
    read_bytes = Path.read_bytes

    def guarded_read_bytes(self):
        assert self.name != big.name, "the 50 MB file was read into memory"
        return read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", guarded_read_bytes)
    r = build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    assert r.documents == 1
    assert r.skipped == ["大 文件.txt: 50.0 MB is over the 20 MiB limit per document"]
    assert set(load_index(tmp_path / "ix").documents()) == {"读书会.txt"}


def test_the_same_document_twice_is_indexed_once(tmp_path, fake_embedder):
    """Protection: duplicate content (by hash) is indexed once; the message names both files."""
    seeds = _seeds(tmp_path, {"读书会.txt": READING, "读书会 副本.txt": READING, "sub/再一份.txt": READING})
    r = build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    assert r.documents == 1
    assert r.skipped == [  # the first in path order is kept
        "读书会 副本.txt: same content as sub/再一份.txt, indexed once",
        "读书会.txt: same content as sub/再一份.txt, indexed once",
    ]
    idx = load_index(tmp_path / "ix", embedder=fake_embedder)
    assert {p.doc for p in idx.passages} == {"sub/再一份.txt"}
    assert len(answer(Q_READING, index=idx).citations) == 1


def test_renamed_document_reuses_its_vectors(tmp_path, fake_embedder):
    """Protection: a renamed file is matched by content hash and its vectors reused."""
    seeds = _seeds(tmp_path, {"读书会.txt": READING, "画展.txt": PAINTING})
    build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    (seeds / "读书会.txt").rename(seeds / "2022 读书会 报道.txt")
    fake_embedder.calls.clear()
    r = build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    assert fake_embedder.calls == [] and r.embedded == 0 and r.reused == r.passages
    idx = load_index(tmp_path / "ix", embedder=fake_embedder)
    assert set(idx.documents()) == {"2022 读书会 报道.txt", "画展.txt"}
    # Exactly what a fresh build of the renamed folder gives.
    build_index(seeds, tmp_path / "fresh", embedder=HashingEmbedder(64))
    fresh = load_index(tmp_path / "fresh")
    assert [p.to_json() for p in idx.passages] == [p.to_json() for p in fresh.passages]
    assert np.array_equal(idx.dense.reconstruct_n(0, idx.dense.ntotal), fresh.dense.reconstruct_n(0, fresh.dense.ntotal))
    a = answer(Q_READING, index=idx)
    assert a.found and a.citations[0].doc == "2022 读书会 报道.txt"
    assert_offsets(idx, a)


def test_renamed_untitled_document_takes_its_new_name_as_title(tmp_path, fake_embedder):
    """Protection: a document titled after its file name is not reused under the old title."""
    body = "辽源市图书馆今年举办读书会12场，参加的读者有三百多人。\n\n读书会由馆长王五主持。\n"
    seeds = _seeds(tmp_path, {"旧 名字.txt": body})
    build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    (seeds / "旧 名字.txt").rename(seeds / "新 名字.txt")
    build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    build_index(seeds, tmp_path / "fresh", embedder=fake_embedder)
    idx = load_index(tmp_path / "ix")
    assert {p.title for p in idx.passages} == {"新 名字"}
    assert [p.to_json() for p in idx.passages] == [p.to_json() for p in load_index(tmp_path / "fresh").passages]


def test_deleted_document_is_gone_from_answers(tmp_path, fake_embedder):
    """Protection: documents no longer in the folder are dropped from the next build."""
    seeds = _seeds(tmp_path, {"读书会.txt": READING, "画展.txt": PAINTING})
    build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    assert answer(Q_PAINTING, index=load_index(tmp_path / "ix", embedder=fake_embedder)).found
    (seeds / "画展.txt").unlink()
    r = build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    assert r.documents == 1 and r.embedded == 0
    idx = load_index(tmp_path / "ix", embedder=fake_embedder)
    assert all(p.doc == "读书会.txt" for p in idx.passages)
    a = answer(Q_PAINTING, index=idx)
    assert all(c.doc == "读书会.txt" for c in a.citations + a.related)


def test_a_file_that_vanishes_during_the_build_is_skipped(tmp_path, fake_embedder, monkeypatch):
    """Protection: a read error on one file is reported and the build goes on."""
    import qa.index

    seeds = _seeds(tmp_path, {"读书会.txt": READING, "画展.txt": PAINTING})
    real = qa.index._sha256_file

    def vanishing(path):
        if path.name == "画展.txt":
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(path))
        return real(path)

    monkeypatch.setattr(qa.index.build, "_sha256_file", vanishing)
    r = build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    assert r.documents == 1 and r.skipped == ["画展.txt: cannot read: No such file or directory"]


def test_names_with_spaces_and_chinese_characters(tmp_path, fake_embedder):
    """Names are kept as they are (relative, with spaces and Chinese) in passages and citations."""
    names = ["新闻 稿件 一.txt", "子 目录/第二篇 文章.md", "  前后空格 .txt"]
    seeds = _seeds(tmp_path, dict(zip(names, [READING, PAINTING, NOTE])))
    r = build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    assert r.skipped == [] and r.documents == 3
    idx = load_index(tmp_path / "ix", embedder=fake_embedder)
    assert set(idx.documents()) == set(names)
    for q, doc in [(Q_READING, names[0]), (Q_PAINTING, names[1])]:
        a = answer(q, index=idx)
        assert a.found and a.citations[0].doc == doc
        assert_offsets(idx, a)


def test_bad_documents_together_do_not_stop_the_good_ones(tmp_path, fake_embedder):
    """All the bad inputs at once: every good document is indexed, every bad one named."""
    bad = {
        "empty.txt": b"",
        "junk.txt": random.Random(2).randbytes(5000),
        "坏.docx": b"not a zip",
        "copy of 读书会.txt": READING,
        "tool.exe": b"MZ",  # unsupported: not even listed
    }
    good = {"读书会.txt": READING, "画展 GBK.txt": PAINTING.encode("gbk"), "短讯 UTF-16.txt": _utf16(NOTE, "be", False)}
    seeds = _seeds(tmp_path, {**bad, **good}, seed=True)
    r = build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    idx = load_index(tmp_path / "ix", embedder=fake_embedder)
    docs = set(idx.documents())
    assert docs - {"读书会.txt", "copy of 读书会.txt"} == {SEED.name, "画展 GBK.txt", "短讯 UTF-16.txt"}
    assert len(docs & {"读书会.txt", "copy of 读书会.txt"}) == 1
    assert sorted(m.split(":")[0] for m in r.skipped) == sorted(["empty.txt", "junk.txt", "坏.docx", "读书会.txt"])


def test_changed_source_file_is_not_used_for_old_offsets(tmp_path, fake_embedder):
    """Protection: Index.source_text refuses a file that changed since the build (its offsets moved)."""
    seeds = _seeds(tmp_path, {"读书会.txt": READING})
    build_index(seeds, tmp_path / "ix", embedder=fake_embedder)
    idx = load_index(tmp_path / "ix", embedder=fake_embedder)
    (seeds / "读书会.txt").write_text("新的开头。\n\n" + READING, encoding="utf-8")
    with pytest.raises(DocumentError, match="读书会.txt has changed since the index was built"):
        idx.source_text("读书会.txt")


# ================================================================== bad questions


@pytest.fixture(scope="module")
def news_index(tmp_path_factory):
    """The seed page plus two small documents (GBK and UTF-16), fake embedder."""
    base = tmp_path_factory.mktemp("news")
    seeds = _seeds(base, {"读书会.txt": READING.encode("gbk"), "画展.txt": _utf16(PAINTING, "le", False)}, seed=True)
    emb = HashingEmbedder(64)
    build_index(seeds, base / "ix", embedder=emb)
    return load_index(base / "ix", embedder=emb)


@pytest.fixture
def answer_errors():
    handler = ErrorLog()
    logging.getLogger("qa").addHandler(handler)
    yield handler.records
    logging.getLogger("qa").removeHandler(handler)


@pytest.mark.parametrize(
    "question, why",
    [
        ("", "请输入问题"),
        (" \t\n\u3000 ", "请输入问题"),
        ("\x00\x07\x1b\u200b\ufeff", "请输入问题"),
        ("😀🎉👍", "请用中文或英文提问"),
        ("كم عدد الكتب؟", "请用中文或英文提问"),
        ("Сколько книг в библиотеке?", "请用中文或英文提问"),
        ("\ud800\udfff", "请输入问题"),
        (None, "问题必须是文字"),
        (123, "问题必须是文字"),
        (b"\xe8\xbe\xbd", "问题必须是文字"),
        (["辽源"], "问题必须是文字"),
    ],
)
def test_bad_questions_get_a_message_not_an_exception(news_index, answer_errors, question, why):
    """Protection: clean_question (type, control characters, empty, script) before any work."""
    a = answer(question, index=news_index)
    assert not a.found and why in a.message
    assert a.citations == [] and answer_errors == []


@pytest.mark.parametrize(
    "question", ["辽" * 10_000, "图书馆读书会" * 1700 + "？", "how many books " * 700, "辽源" + "\x00" * 5000, "x" * 10_000]
)
def test_very_long_questions_are_cut_with_a_notice(news_index, answer_errors, question):
    """Protection: questions are cut to MAX_QUESTION_CHARS, and the answer says so (in the question's language)."""
    from qa import messages
    from qa.answering import MAX_QUESTION_CHARS

    t0 = time.perf_counter()
    a = answer(question, index=news_index)
    assert time.perf_counter() - t0 < 5
    if "\x00" not in question and "x" * 300 not in question:  # (NULs collapse; "xxx…" is not English)
        assert messages.QUESTION_CUT(messages.language(question), limit=MAX_QUESTION_CHARS) in a.message
        assert ("cut to its first" in a.message) == question.startswith("how many")
    assert a.found or a.message
    assert_offsets(news_index, a)
    assert answer_errors == []


@pytest.mark.parametrize(
    "question",
    ["辽源\x07市图书馆\x1b今年举办了\u202e多少场读书会？", "<script>alert(1)</script>图书馆举办了多少场读书会？", "😀 辽源市图书馆读书会 😀"],
)
def test_questions_with_odd_characters_still_work(news_index, answer_errors, question):
    a = answer(question, index=news_index)
    assert a.message or a.found
    assert_offsets(news_index, a)
    assert answer_errors == []


# ================================================================== faults: crashes


BUILD_SCRIPT = """
import sys
from qa.embedding import HashingEmbedder
from qa.index import build_index
crash = sys.argv[3] if len(sys.argv) > 3 else None
build_index(sys.argv[1], sys.argv[2], embedder=HashingEmbedder(64), _crash_after=crash)
"""


def _env() -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return env


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """An index of the old documents, the changed documents, and their reference passages."""
    base = tmp_path_factory.mktemp("faults")
    old = _seeds(base / "old", {"读书会.txt": READING}, seed=True)
    new = _seeds(base / "new", {"读书会.txt": READING.replace("12场", "15场"), "画展.txt": PAINTING}, seed=True)
    build_index(old, base / "old-ix", embedder=HashingEmbedder(64))
    build_index(new, base / "new-ix", embedder=HashingEmbedder(64))
    script = base / "build.py"
    script.write_text(BUILD_SCRIPT, encoding="utf-8")
    return {
        "base": base, "old": old, "new": new, "old_ix": base / "old-ix", "script": script,
        "old_state": _state(base / "old-ix"), "new_state": _state(base / "new-ix"),
    }


def _next_build_completes(builds, root: Path) -> None:
    r = build_index(builds["new"], root, embedder=HashingEmbedder(64))
    assert not r.skipped
    assert _state(root) == builds["new_state"]
    assert _leftovers(root) == []  # crashed builds' folders are cleaned up
    a = answer(Q_READING, index=load_index(root, embedder=HashingEmbedder(64)))
    assert a.found and a.text == "15场"


def test_build_crashed_at_each_point_leaves_the_previous_index(builds):
    """Protection: a new generation folder + atomic CURRENT pointer; the old one stays live until then."""
    points = ["embed", "passages", "files", "generation"]
    procs = {}
    for point in points:
        root = builds["base"] / f"crash-{point}"
        shutil.copytree(builds["old_ix"], root)
        cmd = [sys.executable, str(builds["script"]), str(builds["new"]), str(root), point]
        procs[point] = (root, subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    for point, (root, proc) in procs.items():
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 17, (point, err.decode())
        assert _state(root) == builds["old_state"], point
        old = load_index(root, embedder=HashingEmbedder(64))
        a = answer(Q_READING, index=old)
        assert a.found and a.text == "12场"
        (root / ".CURRENT.4242.tmp").write_text("gen-x\n")  # as if killed while replacing the pointer
        _next_build_completes(builds, root)


def test_build_sigkilled_at_random_times_never_breaks_the_index(builds):
    """Protection: the same, against SIGKILL at arbitrary moments (some while files are written)."""
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    runs = []
    for k in range(6):
        root = builds["base"] / f"kill-{seed}-{k}"
        shutil.copytree(builds["old_ix"], root)
        cmd = [sys.executable, str(builds["script"]), str(builds["new"]), str(root)]
        # Half are killed a random time after start; half a random moment after they start
        # writing the new generation (which takes ~20 ms: these land mid-write).
        proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        runs.append({"root": root, "proc": proc, "t0": time.monotonic(),
                     "delay": rng.uniform(0.3, 3.0), "after_write": k % 2 == 1, "jitter": rng.uniform(0, 0.02)})
    before = {p.name for p in builds["old_ix"].iterdir()}
    pending = list(runs)
    while pending:
        for run in list(pending):
            proc, now = run["proc"], time.monotonic()
            if proc.poll() is not None:
                pending.remove(run)
                continue
            if run["after_write"]:
                if "write_seen" not in run and any(p.is_dir() and p.name not in before for p in run["root"].iterdir()):
                    run["write_seen"] = now  # a new folder: the build has started writing its generation
                due = "write_seen" in run and now - run["write_seen"] >= run["jitter"]
            else:
                due = now - run["t0"] >= run["delay"]
            if due or now - run["t0"] > 60:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                pending.remove(run)
        time.sleep(0.001)
    for run in runs:
        state = _state(run["root"])  # loads (all checksums verified): old or new, never a mix
        assert state in (builds["old_state"], builds["new_state"]), f"seed {seed}"
        _next_build_completes(builds, run["root"])


def test_an_unchanged_build_removes_what_a_killed_build_left(builds, tmp_path):
    """Protection: leftovers are removed by the next build even when it has nothing to do.

    A build killed after switching CURRENT, while deleting the old generation, leaves that
    generation behind (seen in the SIGKILL test); the next build finds the index up to date.
    """
    root = tmp_path / "ix"
    shutil.copytree(builds["old_ix"], root)
    shutil.copytree(current_generation(root), root / "gen-20000101T000000000000-1")
    (root / ".tmp-gen-20000101T000000000001-2").mkdir()
    (root / ".CURRENT.3.tmp").write_text("gen-x\n")
    r = build_index(builds["old"], root, embedder=HashingEmbedder(64))
    assert r.unchanged
    assert _leftovers(root) == [] and _state(root) == builds["old_state"]


# ================================================================== faults: corrupt index files


@pytest.mark.parametrize("name", ["keyword_vocab.json", "userdict.txt"])
def test_bit_flip_in_the_other_index_files_is_detected(builds, tmp_path, name):
    """Protection: the checksums in meta.json cover every file (tests/test_index.py flips the others)."""
    root = tmp_path / "ix"
    shutil.copytree(builds["old_ix"], root)
    path = current_generation(root) / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(IndexCorrupt, match=name):
        load_index(root)


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m.replace('"k1": 1.2', '"k1": 1.3'),  # a flipped bit in a setting
        lambda m: m.replace('"model"', '"modem"'),  # ... in a key name
        lambda m: m.replace('"files"', '"filez"'),  # ... that would turn the checksums off
        lambda m: m[: len(m) // 2],  # truncated
    ],
    ids=["setting", "key", "file-list", "truncated"],
)
def test_corrupt_meta_json_is_refused_and_rebuilt(builds, tmp_path, edit):
    """Protection: meta.json's own checksum; then the next build rebuilds everything."""
    root = tmp_path / "ix"
    shutil.copytree(builds["old_ix"], root)
    meta = current_generation(root) / "meta.json"
    meta.write_text(edit(meta.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(IndexCorrupt, match="meta.json"):
        load_index(root)
    assert cli_main(["ask", "--index", str(root), Q_READING]) == 2
    r = build_index(builds["old"], root, embedder=HashingEmbedder(64))
    assert r.reused == 0 and _state(root) == builds["old_state"]


@pytest.mark.parametrize("pointer", [b"gen-\xff\xfe\n", b"../old-ix\n", b"gen-../../etc\n", b""])
def test_corrupt_current_pointer_is_refused_and_rebuilt(builds, tmp_path, pointer):
    """Protection: current_generation accepts only a readable gen-* folder name inside the index."""
    root = tmp_path / "ix"
    shutil.copytree(builds["old_ix"], root)
    (root / "CURRENT").write_bytes(pointer)
    with pytest.raises(IndexCorrupt, match="CURRENT"):
        load_index(root)
    build_index(builds["old"], root, embedder=HashingEmbedder(64))
    assert _state(root) == builds["old_state"]


def _claim_model(root: Path, fingerprint: str, dim: int | None = None) -> None:
    """Rewrite meta.json (with a valid checksum) as if the index came from another model."""
    path = current_generation(root) / "meta.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta["model"] = dict(meta["model"], fingerprint=fingerprint, **({"dim": dim} if dim else {}))
    meta["meta_sha256"] = _meta_digest(meta)
    path.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")


def test_meta_json_of_another_model_is_refused(builds, tmp_path):
    """Protection: the model fingerprint in meta.json is compared with the query embedder's."""
    root = tmp_path / "ix"
    shutil.copytree(builds["old_ix"], root)
    _claim_model(root, "hashing:32")
    with pytest.raises(IndexMismatch, match="hashing:32"):
        load_index(root, embedder=HashingEmbedder(64))
    # Loaded without an embedder, the model is made from meta.json and checked before any query.
    a = answer(Q_READING, index=load_index(root))
    assert not a.found and "rebuild the index" in a.message
    _claim_model(root, "hashing:32", dim=32)  # dims claimed to match the other model: vectors disagree
    with pytest.raises(IndexCorrupt, match="dense.faiss has"):
        load_index(root)


def test_corrupt_index_is_rebuilt_by_the_default_index(builds, tmp_path, monkeypatch):
    """Protection: checksums, and answer() rebuilding a corrupt default index instead of using it.

    One flipped bit turns "12场" into "13场" in passages.jsonl: the file still parses, so
    only its checksum stands between the user and a wrong answer.
    """
    import qa.answering

    root = tmp_path / "ix"
    shutil.copytree(builds["old_ix"], root)
    path = current_generation(root) / "passages.jsonl"
    data = path.read_bytes()
    assert data.count("12场".encode()) == 1 and ord("2") ^ 1 == ord("3")
    path.write_bytes(data.replace("12场".encode(), "13场".encode()))
    monkeypatch.setenv("QA_SEEDS", str(builds["old"]))
    monkeypatch.setenv("QA_INDEX", str(root))
    monkeypatch.setenv("QA_MODEL", "hashing")
    monkeypatch.setattr(qa.answering, "_default", None)
    a = answer(Q_READING)
    assert a.found and a.text == "12场"
    assert _state(root) == builds["old_state"]


# ================================================================== faults: unwritable index folder


def test_index_folder_under_a_file_is_a_clear_cli_error(tmp_path):
    """Protection: _check_writable + the CLI's error handler (a real subprocess: no traceback)."""
    seeds = _seeds(tmp_path, {"读书会.txt": READING})
    (tmp_path / "a-file").write_text("x")
    cmd = [sys.executable, "-m", "qa", "index", "--seeds", str(seeds), "--index", str(tmp_path / "a-file" / "ix"),
           "--model", "hashing", "--quiet"]
    r = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith(f"error: cannot write the index folder {tmp_path / 'a-file' / 'ix'}: ")
    assert "Traceback" not in r.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions (see the EROFS test below)")
def test_read_only_index_folder_is_a_clear_error(builds, tmp_path):
    root = tmp_path / "ix"
    shutil.copytree(builds["old_ix"], root)
    root.chmod(0o555)
    try:
        with pytest.raises(IndexError_, match="cannot write the index folder"):
            build_index(builds["new"], root, embedder=HashingEmbedder(64))
        assert _state(root) == builds["old_state"]
    finally:
        root.chmod(0o755)


def _fail_writes_under(monkeypatch, root: Path, err: int, target: str) -> None:
    """Make writes under ``root`` fail with ``err``: the probe (Path.write_text) or np.save mid-build."""
    import qa.index

    def fail(*args, **kwargs):
        raise OSError(err, os.strerror(err))

    if target == "probe":
        real = Path.write_text

        def write_text(self, *args, **kwargs):
            if root in self.parents:
                fail()
            return real(self, *args, **kwargs)

        monkeypatch.setattr(Path, "write_text", write_text)
    else:
        monkeypatch.setattr(qa.index.write.np, "save", fail)


@pytest.mark.parametrize("target", ["probe", "mid-build"])
@pytest.mark.parametrize("err, reason", [(errno.ENOSPC, "the disk is full"), (errno.EROFS, "Read-only file system")])
def test_full_or_read_only_disk_is_a_clear_error(builds, tmp_path, monkeypatch, capsys, err, reason, target):
    """Protection: OSError while writing becomes IndexError_ (the CLI prints it, exit 2); nothing half-written."""
    root, docs = tmp_path / "ix", shutil.copytree(builds["old"], tmp_path / "docs")
    build_index(docs, root, embedder=HashingEmbedder(64))
    assert _state(root) == builds["old_state"]
    for f in builds["new"].iterdir():  # the index's own documents change: qa index updates it from them
        shutil.copy(f, docs / f.name)
    _fail_writes_under(monkeypatch, root, err, target)
    where = "folder" if target == "probe" else "to"  # refused up front, or cleaned up mid-build
    with pytest.raises(IndexError_, match=f"cannot write the index {where} {root}: {reason}"):
        build_index(docs, root, embedder=HashingEmbedder(64))
    assert cli_main(["index", "--seeds", str(docs), "--index", str(root), "--model", "hashing", "--quiet"]) == 2
    assert capsys.readouterr().err.startswith("error: cannot write the index")
    monkeypatch.undo()
    assert _state(root) == builds["old_state"] and _leftovers(root) == []


def test_file_size_limit_while_writing_the_vectors_is_a_clear_cli_error(builds, tmp_path):
    """Protection: dense.faiss is written with Python I/O, so a failed write is an OSError too.

    A real kernel write failure (RLIMIT_FSIZE, EFBIG) in a subprocess: faiss.write_index
    turned it into a RuntimeError (a traceback) or, when it came at close, only a warning.
    """
    root, docs = tmp_path / "ix", shutil.copytree(builds["old"], tmp_path / "docs")
    build_index(docs, root, embedder=HashingEmbedder(512))
    for f in builds["new"].iterdir():  # the index's own documents change: qa index updates it from them
        shutil.copy(f, docs / f.name)
    # A per-file limit between the new build's passages.jsonl and its dense.faiss (512-d
    # vectors), so that the vectors are the first write to fail.
    jsonl = (current_generation(builds["base"] / "new-ix") / "passages.jsonl").stat().st_size
    vectors = len(builds["new_state"]) * 512 * 4
    assert jsonl * 1.5 < vectors
    size = (jsonl + vectors) // 2
    state = [p.to_json() for p in load_index(root).passages]

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    cmd = [sys.executable, "-m", "qa", "index", "--seeds", str(docs), "--index", str(root),
           "--model", "hashing:512", "--quiet"]
    r = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=120, preexec_fn=limit)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith(f"error: cannot write the index to {root}: File too large"), r.stderr
    assert [p.to_json() for p in load_index(root).passages] == state and _leftovers(root) == []


# ================================================================== concurrency (library level)


def test_old_index_keeps_answering_while_its_folder_is_rebuilt(tmp_path):
    """Protection: an Index holds its own data and its own jieba dictionary; a rebuild swaps folders only.

    The rebuild adds a quoted name (a new user-dictionary word); the old index must not
    pick it up, and must keep answering even after its generation folder is deleted.
    """
    emb = HashingEmbedder(64)
    seeds = _seeds(tmp_path, {"读书会.txt": READING, "画展.txt": PAINTING}, seed=True)
    root = tmp_path / "ix"
    build_index(seeds, root, embedder=emb)
    old = load_index(root, embedder=emb)
    sources = {doc: old.source_text(doc) for doc in old.documents()}
    questions = [Q_READING, Q_PAINTING, "“全民阅读月”活动有多少人参加？", "读书会由谁主持？", "辽源市“七讲七进”宣讲开展了多少场次？"]
    expected = [_sig(answer(q, index=old)) for q in questions]

    _write(seeds, "读书会.txt", READING.replace("今年举办", "今年在“全民阅读月”中举办"))
    _write(seeds, "阅读月.txt", "全民阅读月\n\n本报讯(记者李四)“全民阅读月”活动有2000人参加。\n")
    errors: list[BaseException] = []

    def rebuild():
        try:
            build_index(seeds, root, embedder=HashingEmbedder(64))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    worker = threading.Thread(target=rebuild)
    worker.start()
    rounds = 0
    while worker.is_alive() or rounds < 2:
        for q, want in zip(questions, expected):
            a = answer(q, index=old)
            assert _sig(a) == want, q
            assert_offsets(old, a, source=sources)
        rounds += 1
    worker.join()
    assert not errors and not old.folder.exists()
    assert [_sig(answer(q, index=old)) for q in questions] == expected
    new = load_index(root, embedder=emb)
    a = answer("“全民阅读月”活动有多少人参加？", index=new)
    assert a.found and a.text == "2000人" and a.citations[0].doc == "阅读月.txt"


def test_concurrent_answers_equal_sequential_answers(news_index):
    """Threads asking at once on one Index get exactly the sequential answers (no shared mutable state)."""
    questions = [Q_READING, Q_PAINTING, "读书会由谁主持？", "东丰县农民画展什么时候开幕？", "辽源市“七讲七进”宣讲开展了多少场次？",
                 "龙山区探索了什么？", "巾帼宣讲团是什么？", "What did the library hold?", "火星上有多少人？", ""] * 4
    sequential = [_sig(answer(q, index=news_index)) for q in questions]
    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(lambda q: _sig(answer(q, index=news_index)), questions))
    assert parallel == sequential


def test_two_builds_at_once_serialise(builds, tmp_path, monkeypatch):
    """Protection: build_lock, and a write probe per thread; two builds of one folder at once both finish.

    A slow disk (writes delayed) makes the builds overlap: unlocked, one build's clean-up
    deletes the other's half-written generation; with one probe file per process, one
    build deletes the probe the other is about to delete.
    """
    root = tmp_path / "ix"
    write_text, save = Path.write_text, np.save

    def slow_write_text(self, *args, **kwargs):
        n = write_text(self, *args, **kwargs)
        if self.name.startswith(".write-probe-"):
            time.sleep(0.05)
        return n

    def slow_save(*args, **kwargs):
        time.sleep(0.2)
        return save(*args, **kwargs)

    monkeypatch.setattr(Path, "write_text", slow_write_text)
    monkeypatch.setattr(np, "save", slow_save)
    for _ in range(2):
        errors: list[BaseException] = []

        def run(seeds, errors=errors):
            try:
                build_index(seeds, root, embedder=HashingEmbedder(64))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(builds[k],)) for k in ("old", "new")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert _state(root) in (builds["old_state"], builds["new_state"])
        assert _leftovers(root) == []
