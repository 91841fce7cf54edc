"""An index keeps the documents folder it was built from (issue 22, part 1).

A user builds ``qa index --seeds mydocs --index idx2``, then uses idx2 without naming
the folder again: from Python (``QA_INDEX``), ``app.py --index``, ``qa ask``, ``qa eval``
and ``qa index``.  None of them may replace idx2's documents with the project's
``seeds/``; a folder named that is not idx2's own is refused, naming both; a folder that
vanished or was emptied refuses instead of emptying the index.  Fake embedder and reader.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

import app
import qa.answering
from qa import answer, config
from qa.answering import default_index
from qa.cli import main as cli_main
from qa.embedding import HashingEmbedder
from qa.index import FolderUnusable, current_generation, load_index
from qa.library import Library
from qa.seeds import FolderMismatch, documents_folder

SEED = Path(__file__).resolve().parent.parent / "seeds" / "000_2575e84d6e1eb83a.txt"
READING = (
    "松江图书馆读书会\n\n"
    "本报讯(记者李四)松江市图书馆今年举办读书会27场，参加的读者有三百多人。\n\n"
    "读书会由馆长王五主持，每场邀请一位本地作家分享创作经历。\n"
)
GARDEN = "青石公园改造\n\n本报讯 青石公园改造工程新栽树木800株，新建步道3公里。\n"
CAMP = "夏令营\n\n本报讯 青石区少年宫暑期夏令营招收学员120名。\n"
Q_READING = "松江市图书馆今年举办了多少场读书会？"
Q_CAMP = "夏令营招收了多少名学员？"
ENGLISH = re.compile(r"[A-Za-z]{2,} [A-Za-z]{2,}")  # two English words in a row: a sentence, not a path


def _state(root: Path) -> tuple[str, dict[str, str]]:
    """The live generation and each document's hash: equal before and after means nothing was rebuilt."""
    meta = load_index(root).meta
    return current_generation(root).name, {n: d["sha256"] for n, d in meta["documents"].items()}


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A project checkout of its own: ``seeds/`` holds the seed page; QA_SEEDS and QA_INDEX unset."""
    proj = tmp_path / "project"
    (proj / "seeds").mkdir(parents=True)
    shutil.copy(SEED, proj / "seeds" / SEED.name)
    monkeypatch.setattr(config, "PROJECT_ROOT", proj)
    for var in ("QA_SEEDS", "QA_INDEX", "QA_HOST", "QA_PORT", "QA_USERS", "QA_USERS_FILE", "QA_READ_ONLY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("QA_MODEL", "hashing")  # what a build without an embedder uses
    monkeypatch.setattr(qa.answering, "_default", None)
    monkeypatch.setattr(qa.answering, "_folder", None)
    return proj


@pytest.fixture
def idx2(tmp_path, project) -> SimpleNamespace:
    """``qa index --seeds mydocs --index idx2``: the user's own two documents."""
    docs, root = tmp_path / "mydocs", tmp_path / "idx2"
    docs.mkdir()
    (docs / "读书会.txt").write_text(READING, encoding="utf-8")
    (docs / "公园.txt").write_text(GARDEN, encoding="utf-8")
    assert cli_main(["index", "--seeds", str(docs), "--index", str(root), "--model", "hashing", "--quiet"]) == 0
    before = _state(root)
    assert sorted(before[1]) == ["公园.txt", "读书会.txt"]
    return SimpleNamespace(docs=docs.resolve(), root=root, before=before, seeds=project / "seeds")


def _both_named(message: str, ix: SimpleNamespace) -> None:
    assert str(ix.docs) in message and str(ix.seeds.resolve()) in message, message


def test_the_index_records_its_documents_folder(idx2):
    assert load_index(idx2.root).meta["seeds_dir"] == str(idx2.docs)
    assert documents_folder(idx2.root) == idx2.docs  # no folder named: the recorded one


# ------------------------------------------------------------------ Python: QA_INDEX only


def test_python_with_qa_index_only_answers_from_the_index_s_own_documents(idx2, monkeypatch):
    monkeypatch.setenv("QA_INDEX", str(idx2.root))
    a = answer(Q_READING)
    assert a.found and a.text == "27场" and a.citations[0].doc == "读书会.txt"
    assert _state(idx2.root) == idx2.before  # not rebuilt from the project's seeds/
    # The index is kept in sync with its own folder, as the project's index is with seeds/.
    (idx2.docs / "夏令营.txt").write_text(CAMP, encoding="utf-8")
    a = answer(Q_CAMP)
    assert a.found and a.text == "120名" and a.citations[0].doc == "夏令营.txt"
    assert sorted(load_index(idx2.root).meta["documents"]) == ["公园.txt", "夏令营.txt", "读书会.txt"]


def test_python_refuses_another_folder_named_by_qa_seeds(idx2, monkeypatch):
    monkeypatch.setenv("QA_INDEX", str(idx2.root))
    monkeypatch.setenv("QA_SEEDS", str(idx2.seeds))
    with pytest.raises(FolderMismatch) as err:
        default_index()
    _both_named(str(err.value), idx2)
    a = answer(Q_READING)  # answer() never raises: the reason is its message, in the question's language
    assert not a.found and err.value.reason.text("zh") in a.message and str(err.value) not in a.message
    _both_named(a.message, idx2)
    b = answer("How many reading sessions did the library hold this year?")
    assert not b.found and str(err.value) in b.message
    assert _state(idx2.root) == idx2.before


def test_the_project_index_still_follows_seeds(project, monkeypatch):
    """No folder named, no index yet: built from the project's seeds/, and files dropped there are indexed."""
    a = answer("辽源市“七讲七进”宣讲开展了多少场次？")
    assert a.found and a.citations[0].doc == SEED.name
    root = project / "embeddings"
    assert load_index(root).meta["seeds_dir"] == str((project / "seeds").resolve())
    (project / "seeds" / "夏令营.txt").write_text(CAMP, encoding="utf-8")
    a = answer(Q_CAMP)
    assert a.found and a.text == "120名" and a.citations[0].doc == "夏令营.txt"
    assert sorted(load_index(root).meta["documents"]) == sorted([SEED.name, "夏令营.txt"])


def test_a_folder_moved_with_its_index_is_accepted_and_recorded(idx2, monkeypatch):
    """A named folder that holds every document of the index unchanged loses nothing: it is used."""
    moved = shutil.copytree(idx2.docs, idx2.docs.parent / "moved").resolve()
    shutil.rmtree(idx2.docs)
    monkeypatch.setenv("QA_INDEX", str(idx2.root))
    monkeypatch.setenv("QA_SEEDS", str(moved))
    emb = HashingEmbedder(64)
    lib = Library(moved, idx2.root, embedder=emb)
    lib.open()
    assert lib.seeds == moved and load_index(idx2.root).meta["seeds_dir"] == str(moved)
    assert _state(idx2.root)[1] == idx2.before[1] and emb.calls == []  # same documents, nothing embedded
    a = answer(Q_READING)
    assert a.found and a.text == "27场"


# ------------------------------------------------------------------ app.py --index only


class _Recorded(Library):
    """The app's Library, kept for the test; no example questions (a background thread)."""

    made: list[Library] = []

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _Recorded.made.append(self)

    def examples(self, *args, **kwargs) -> list[str]:
        return []


@pytest.fixture
def app_main(monkeypatch):
    """``app.main`` up to the launch (not served): returns the Library it made."""
    launches: list[dict] = []
    _Recorded.made = []
    monkeypatch.setattr(app, "Library", _Recorded)
    monkeypatch.setattr(app.gr.Blocks, "launch", lambda self, **kw: launches.append(kw))

    def run(*argv: str) -> Library:
        assert app.main(list(argv)) == 0 and len(launches) == 1
        return _Recorded.made[-1]

    run.launches = launches
    return run


def test_app_with_index_only_serves_the_index_s_own_documents(idx2, app_main, capsys):
    lib = app_main("--index", str(idx2.root))
    assert lib.seeds == idx2.docs
    assert f"(documents: {idx2.docs})" in capsys.readouterr().out
    assert _state(idx2.root) == idx2.before
    assert lib.ask(Q_READING).text == "27场"


@pytest.mark.parametrize("how", ["flag", "env"])
def test_app_refuses_another_folder_at_start(idx2, app_main, monkeypatch, how):
    argv = ["--index", str(idx2.root)]
    if how == "flag":
        argv += ["--seeds", str(idx2.seeds)]
    else:
        monkeypatch.setenv("QA_SEEDS", str(idx2.seeds))
    with pytest.raises(SystemExit) as err:
        app.main(argv)
    assert str(err.value).startswith("error: ")
    _both_named(str(err.value), idx2)
    assert app_main.launches == [] and _state(idx2.root) == idx2.before


# ------------------------------------------------------------------ qa ask, qa eval, qa index


def test_qa_ask_answers_from_the_index_and_refuses_another_folder(idx2, monkeypatch, capsys):
    assert cli_main(["ask", "--index", str(idx2.root), Q_READING]) == 0
    assert "答案: 27场" in capsys.readouterr().out
    monkeypatch.setenv("QA_SEEDS", str(idx2.seeds))
    assert cli_main(["ask", "--index", str(idx2.root), Q_READING]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    _both_named(err, idx2)
    assert _state(idx2.root) == idx2.before


def test_qa_eval_scores_the_index_and_refuses_another_folder(idx2, tmp_path, monkeypatch, capsys):
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"id": "r1", "question": Q_READING, "answers": ["27场"]}, ensure_ascii=False) + "\n",
                         encoding="utf-8")
    out = tmp_path / "report.json"
    assert cli_main(["eval", str(questions), "--index", str(idx2.root), "--quiet", "--json", str(out)]) == 0
    assert json.loads(out.read_text(encoding="utf-8"))["failures"] == []
    capsys.readouterr()
    monkeypatch.setenv("QA_SEEDS", str(idx2.seeds))
    assert cli_main(["eval", str(questions), "--index", str(idx2.root), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    _both_named(err, idx2)
    assert _state(idx2.root) == idx2.before


def test_qa_index_without_seeds_updates_from_the_recorded_folder(idx2, capsys):
    (idx2.docs / "夏令营.txt").write_text(CAMP, encoding="utf-8")
    assert cli_main(["index", "--index", str(idx2.root), "--quiet"]) == 0
    assert sorted(_state(idx2.root)[1]) == ["公园.txt", "夏令营.txt", "读书会.txt"]  # not the project's seed
    after = _state(idx2.root)
    capsys.readouterr()
    assert cli_main(["index", "--seeds", str(idx2.seeds), "--index", str(idx2.root), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    _both_named(err, idx2)
    assert _state(idx2.root) == after


def test_qa_bench_times_the_index_with_its_own_folder_and_refuses_another(idx2, monkeypatch, capsys):
    """``qa bench`` brings --index up to date before timing it: never from the project's seeds/."""
    import qa.bench

    given: list = []
    monkeypatch.setattr(qa.bench, "run_bench", lambda args: given.append(args.seeds) or 0)
    assert cli_main(["bench", "--index", str(idx2.root)]) == 0
    assert given == [idx2.docs]
    assert cli_main(["bench", "--index", str(idx2.root), "--seeds", str(idx2.seeds)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and given == [idx2.docs]
    _both_named(err, idx2)
    assert _state(idx2.root) == idx2.before


# ------------------------------------------------------------------ a folder that vanished or was emptied


def _refused_everywhere(ix: SimpleNamespace, monkeypatch, capsys, app_main, why: str) -> None:
    """Python, qa index, the Library and app.py all refuse, say ``why``, and change nothing."""
    monkeypatch.setenv("QA_INDEX", str(ix.root))
    with pytest.raises(FolderUnusable, match=why) as refused:
        default_index()
    a = answer(Q_READING)
    assert not a.found and refused.value.reason.text("zh") in a.message and why not in a.message
    assert cli_main(["index", "--index", str(ix.root), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and why in err and "Traceback" not in err
    with pytest.raises(FolderUnusable, match=why):
        Library(None, ix.root, embedder=HashingEmbedder(64)).open()
    with pytest.raises(SystemExit, match=why):
        app.main(["--index", str(ix.root)])
    assert app_main.launches == [] and _state(ix.root) == ix.before


def test_a_folder_that_vanished_is_refused_not_emptied(idx2, monkeypatch, capsys, app_main):
    shutil.rmtree(idx2.docs)  # or renamed, or a disk not mounted
    _refused_everywhere(idx2, monkeypatch, capsys, app_main, "is missing")
    assert not idx2.docs.exists()  # not made again as an empty folder


def test_a_folder_that_is_empty_is_refused_not_emptied(idx2, monkeypatch, capsys, app_main):
    for f in idx2.docs.iterdir():
        f.unlink()
    _refused_everywhere(idx2, monkeypatch, capsys, app_main, "holds no documents")


def test_a_running_library_keeps_its_documents_when_the_folder_goes(idx2, tmp_path):
    lib = Library(None, idx2.root, embedder=HashingEmbedder(64))
    lib.open()
    hidden = idx2.docs.rename(tmp_path / "unmounted")
    assert lib.refresh() == [] and lib.wait(5)  # no build started
    assert "is missing" in lib.folder_problem()
    assert lib.status().pending == ()
    with pytest.raises(FolderUnusable, match="is missing"):
        lib.rebuild()
    upload = tmp_path / "up" / "夏令营.txt"
    upload.parent.mkdir()
    upload.write_text(CAMP, encoding="utf-8")
    result = lib.add([(upload, "夏令营.txt")])
    assert result.saved == [] and "不见了" in result.errors[0] and "is missing" not in result.errors[0]  # the app's words
    assert _state(idx2.root) == idx2.before and lib.ask(Q_READING).text == "27场"
    hidden.rename(idx2.docs)  # mounted again: nothing to do
    assert lib.folder_problem() == "" and lib.refresh() == []


def _shown(html_out: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", html_out))


def test_the_documents_tab_says_when_the_folder_is_gone_or_emptied_and_what_to_do(idx2, tmp_path):
    """The status panel of the documents tab (#status) says, in Chinese, that the folder is gone or
    holds no document, that the index keeps its documents, and what to do; so does 重建索引's result.
    Once the folder is back, the panel no longer says it."""
    lib = Library(None, idx2.root, embedder=HashingEmbedder(64))
    lib.open()
    demo = app.build_ui(lib)
    panels = next(f.fn for f in demo.fns.values() if getattr(f.fn, "__name__", "") == "panels")

    def status() -> str:
        return _shown(panels()[0])

    def rebuilt() -> list[str]:
        steps = app._follow(lib, lib.rebuild)
        while True:
            try:
                next(steps)
            except StopIteration as stop:
                return stop.value.errors

    assert "文档文件夹" not in status() and lib.status().folder is None
    hidden = idx2.docs.rename(tmp_path / "unmounted")
    gone = status()
    assert f"文档文件夹 {idx2.docs} 不见了" in gone and "保留原有的 2 个文档" in gone, gone
    assert "重新挂载磁盘" in gone and "重建索引" in gone and not ENGLISH.search(gone)
    assert lib.status().folder.kind == "folder_missing" and rebuilt() == [lib.status().folder.text("zh")]
    hidden.rename(idx2.docs)
    moved = tmp_path / "moved"
    moved.mkdir()
    for f in idx2.docs.iterdir():
        f.rename(moved / f.name)
    empty = status()
    assert f"文档文件夹 {idx2.docs} 里没有文档" in empty and f"删除索引文件夹 {idx2.root}" in empty, empty
    assert "放回这个文件夹" in empty and not ENGLISH.search(empty)
    assert rebuilt() == [lib.status().folder.text("zh")]
    for f in moved.iterdir():
        f.rename(idx2.docs / f.name)
    assert "文档文件夹" not in status() and rebuilt() == [] and _state(idx2.root) == idx2.before


def test_a_folder_named_that_is_not_the_index_s_own_is_worded_in_chinese_too(idx2):
    """FolderMismatch stops app.py before it serves (in English, on the terminal); its reason has
    Chinese words too, naming both folders and what to do."""
    with pytest.raises(FolderMismatch) as err:
        documents_folder(idx2.root, idx2.seeds)
    zh = err.value.reason.text("zh")
    assert str(idx2.docs) in zh and str(idx2.seeds.resolve()) in zh and "--seeds" in zh and "--index" in zh
    assert "没有做任何改动" in zh and not ENGLISH.search(zh)


def test_removing_the_last_document_is_allowed_when_asked(tmp_path, fake_embedder):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "读书会.txt").write_text(READING, encoding="utf-8")
    lib = Library(docs, tmp_path / "ix", embedder=fake_embedder)
    lib.open()
    result = lib.remove("读书会.txt")
    assert result.removed == "读书会.txt" and not result.errors
    assert lib.status().documents == 0 and len(lib.index.passages) == 0
