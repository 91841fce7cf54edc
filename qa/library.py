"""The document library behind the web chat: the seeds folder and its loaded index.

``Library`` answers questions from the index it has loaded, saves uploads under safe
names, removes documents and rebuilds the index.  One build runs at a time (a
thread lock here, :func:`qa.index.build_lock` across processes); questions keep
being answered from the previous index until the new one is loaded and swapped in.
A cheap signature of the seeds folder (names, sizes, mtimes) is checked before each
question (:meth:`Library.refresh`): files added or changed by hand are indexed in the
background.  Every build reports its stage, count and time left in :meth:`Library.progress`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import bands
from .answering import answer
from .chunking import chunk_document
from .documents import DocumentError, list_documents, read_document
from .embedding import Embedder
from .example_questions import question_candidates, sample_passages
from .index import (
    BuildReport,
    FolderUnusable,
    Index,
    IndexError_,
    build_index,
    check_folder,
    indexed_documents,
    load_index,
    recognised_dir,
    stale_documents,
)
from .messages import Reason
from .records import Answer
from .seeds import documents_folder
from .uploads import UploadError, check_upload, safe_filename

log = logging.getLogger(__name__)

ProgressFn = Callable[[float, str], None]
REMOVED_DIR = ".removed"  # removed documents are moved here (hidden: never indexed)


# ------------------------------------------------------------------ what the UI shows


@dataclass(frozen=True)
class ArticleInfo:
    number: int
    title: str
    passages: int


@dataclass(frozen=True)
class DocumentInfo:
    name: str
    passages: int
    articles: tuple[ArticleInfo, ...]
    size: int = -1  # bytes on disk; -1 when the file is gone
    title: str = ""  # the document's human title, when known


@dataclass(frozen=True)
class IndexStatus:
    model: str
    built_at: str
    documents: int
    articles: int
    passages: int
    building: bool
    pending: tuple[str, ...]  # documents added, changed or removed since the build
    folder: Reason | None = None  # why the documents folder can't be synced now (None: it can)


def reading_stage(name: str, page: int, pages: int) -> str:
    """The stage shown while OCR reads ``name``: the page being read now (``page`` pages done)."""
    return f"识别第 {min(page + 1, pages)}/{pages} 页：{name}"


@dataclass(frozen=True)
class BuildProgress:
    """Where a running build is: ``stage`` in words, ``done``/``total`` texts embedded, seconds so far.

    ``share`` is how much of a stage that embeds nothing is done (0-1), when it is known: while
    OCR reads a scan, the share of its pages read; None while texts are embedded.
    """

    stage: str
    documents: tuple[str, ...]
    done: int
    total: int
    elapsed: float
    share: float | None = None

    @property
    def fraction(self) -> float:
        """How much of the stage shown is done (0-1): the bar's width."""
        if self.share is not None:
            return min(1.0, max(0.0, self.share))
        return min(self.done, self.total) / self.total if self.total > 0 else 0.0

    @property
    def seconds_left(self) -> float | None:
        """Estimated seconds until the embedding is done (None until something was embedded)."""
        if self.done <= 0 or self.total <= 0:
            return None
        return max(0.0, self.elapsed * (self.total - self.done) / self.done)


class _CountingEmbedder:
    """Wraps an embedder (same name, fingerprint and vectors) and counts the documents it embeds."""

    def __init__(self, inner: Embedder, on_done: Callable[[int], None]) -> None:
        self.inner, self._on_done = inner, on_done
        self.name, self.fingerprint = inner.name, inner.fingerprint
        self.precision = getattr(inner, "precision", "float32")

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed(self, texts: list[str], *, kind: str = "document", progress: bool = False):
        out = self.inner.embed(texts, kind=kind, progress=False)
        if kind == "document":
            self._on_done(len(texts))
        return out


def seeds_signature(seeds: Path) -> tuple:
    """Names, sizes and mtimes of the files under ``seeds`` (hidden ones skipped): cheap, no reading."""
    out = []
    for root, dirs, files in os.walk(seeds):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for f in sorted(files):
            if f.startswith("."):
                continue
            with contextlib.suppress(OSError):
                st = os.stat(os.path.join(root, f))
                out.append((os.path.relpath(os.path.join(root, f), seeds), st.st_size, st.st_mtime_ns))
    return tuple(out)


@dataclass
class UpdateResult:
    """What an upload, removal or rebuild did."""

    saved: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    report: BuildReport | None = None
    removed: str = ""


# ------------------------------------------------------------------ the library


class Library:
    """The seeds folder and the index loaded from it, shared by every chat session.

    ``seeds_dir`` None: the folder the index was built from (see :func:`qa.seeds.documents_folder`,
    which raises :class:`qa.seeds.FolderMismatch` for a named folder that is not it).
    """

    def __init__(
        self, seeds_dir: Path | str | None, index_dir: Path | str, *, embedder: Embedder | None = None
    ) -> None:
        self.index_dir = Path(index_dir).resolve()
        self.seeds = documents_folder(self.index_dir, seeds_dir)
        self._embedder = embedder  # None: the index's own model
        self._index: Index | None = None
        self._examples: tuple[Index, tuple[int, bool], list[str]] | None = None
        self._build = threading.Lock()
        self._examples_lock = threading.Lock()
        self._building = False
        self._progress: BuildProgress | None = None
        self._built_signature: tuple | None = None  # of the seeds folder when the loaded index was built
        self._pending: tuple[tuple | None, list[str]] = (None, [])  # (signature, stale names) cache
        self._worker: threading.Thread | None = None
        self._problem = ""  # why the seeds folder can't be synced now, logged once

    # -------------------------------------------------------------- index

    @property
    def index(self) -> Index:
        """The index questions are answered from (the previous one while a build runs)."""
        if self._index is None:
            return self.open()
        return self._index

    @property
    def building(self) -> bool:
        return self._building

    def open(self, progress: ProgressFn | None = None) -> Index:
        """Load the index; build or update it first when it is missing, corrupt or stale.

        Raises :class:`FolderUnusable` instead of emptying an index (a missing or empty folder).
        """
        if not indexed_documents(self.index_dir):  # a new index: its folder may be made
            self.seeds.mkdir(parents=True, exist_ok=True)  # (not an index's: it may be on a disk not mounted)
        try:
            signature = seeds_signature(self.seeds)
            idx = load_index(self.index_dir, embedder=self._embedder)
            # Built from this folder at another path (moved with the index): rebuilt to record it.
            if idx.meta.get("seeds_dir") == str(self.seeds) and not stale_documents(idx, self.seeds):
                self._index, self._built_signature = idx, signature
                return idx
            log.info("documents changed since the index was built: updating it")
        except IndexError_ as exc:
            log.info("index not usable (%s): building it", exc)
        self._rebuild(progress)
        assert self._index is not None
        return self._index

    def warm_up(self) -> None:
        """Load the embedding model now, so that the first question is fast."""
        self.index.embedder.embed(["预热"], kind="query")

    def _rebuild(self, progress: ProgressFn | None) -> BuildReport:
        """Build under the lock, then swap the new index in (the caller holds no lock)."""
        with self._build:
            self._building = True
            try:
                return self._build_and_swap(progress)
            finally:
                self._building = False

    def _build_and_swap(self, progress: ProgressFn | None, *, allow_empty: bool = False) -> BuildReport:
        """Build (the caller holds the lock), reporting progress, then swap the new index in.

        ``allow_empty``: the user removed the last document (otherwise an index is not emptied).
        """
        t0 = time.perf_counter()
        old = self._index
        signature = seeds_signature(self.seeds)  # before the build: later changes are noticed next time
        names = tuple(stale_documents(old, self.seeds)) if old is not None else ()
        total = done = 0

        def stage(text: str, fraction: float, share: float | None = None) -> None:
            self._progress = BuildProgress(text, names, done, total, time.perf_counter() - t0, share)
            if progress:
                progress(fraction, text)

        def embedded(n: int) -> None:
            nonlocal done, total
            done += n
            total = max(total, done)  # an estimate: never show more done than the total
            stage("计算向量", 0.1 + 0.8 * min(1.0, done / total) if total else 0.5)

        def reading(name: str, page: int, pages: int) -> None:  # a scanned document, through OCR
            if page < pages:
                stage(reading_stage(name, page, pages), 0.05, page / pages)
            else:
                stage("读取文档", 0.05)

        stage("读取文档", 0.05)
        if old is not None:
            total = self._texts_to_embed(names, reading)
        inner = self._embedder or (old.embedder if old is not None else None)
        if inner is None:
            from .embedding import make_embedder

            inner = make_embedder(None)
        try:
            report = build_index(
                self.seeds, self.index_dir, embedder=_CountingEmbedder(inner, embedded), allow_empty=allow_empty,
                pages=reading,
            )
            stage("加载新索引", 0.95)
            self._index = load_index(self.index_dir, embedder=inner)
            self._built_signature = signature
            self._examples = None
        finally:
            self._progress = None
        log.info("index updated: %s", report.summary().replace("\n", "; "))
        return report

    def _texts_to_embed(self, names: Sequence[str], pages: Callable[[str, int, int], None] | None = None) -> int:
        """Passages of the documents that will be embedded (for the time left).

        A scanned document is read through OCR here, once: the build then finds its recognised
        text (or why it could not be read) beside the index.  ``pages(name, page, pages)``:
        see :func:`qa.index.build_index`."""
        total = 0
        for name in names:
            path = self.seeds / name
            if not path.is_file():
                continue
            shown = None if pages is None else (lambda page, n, name=name: pages(name, page, n))
            try:
                total += len(chunk_document(
                    read_document(path, name, recognised=recognised_dir(self.index_dir), progress=shown)
                ))
            except (DocumentError, OSError, ValueError):
                continue
        return total

    def progress(self) -> BuildProgress | None:
        """The running build's stage, count and time so far (None when no build runs)."""
        return self._progress

    # -------------------------------------------------------------- keeping current

    def folder_reason(self) -> Reason | None:
        """Why the index can't be synced with the seeds folder now (None when it can): the folder is
        missing or holds no document while the index has some (see :func:`qa.index.check_folder`)."""
        try:
            check_folder(self.seeds, self.index_dir, len(self.index.meta["documents"]))
        except FolderUnusable as exc:
            return exc.reason
        return None

    def folder_problem(self) -> str:
        """:meth:`folder_reason` in English, for the log ("" when the folder can be synced)."""
        reason = self.folder_reason()
        return str(reason) if reason else ""

    def pending(self) -> list[str]:
        """Documents added, changed or removed in the seeds folder since the index was built.

        Cheap when nothing changed: the folder's signature (names, sizes, mtimes) is compared
        first, and files are hashed only when it differs.  Nothing is pending while the folder
        is missing or empty (:meth:`folder_problem`): the index is kept as it is, and the
        reason logged once.
        """
        signature = seeds_signature(self.seeds)
        if signature == self._built_signature:
            return []
        problem = self.folder_problem()
        if problem != self._problem and problem:
            log.warning("not updating the index: %s", problem)
        self._problem = problem
        if problem:
            return []
        if self._pending[0] != signature:
            self._pending = (signature, stale_documents(self.index, self.seeds))
        return list(self._pending[1])

    def refresh(self) -> list[str]:
        """Start indexing changed documents in the background; the names being indexed ([] if none)."""
        if self._building or (self._worker is not None and self._worker.is_alive()):
            p = self._progress
            return list(p.documents) if p else ["…"]
        names = self.pending()
        if names:
            self._worker = threading.Thread(target=self._rebuild, args=(None,), daemon=True, name="qa-refresh")
            self._worker.start()
        return names

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a background build started by :meth:`refresh`; True when none is running."""
        if self._worker is not None:
            self._worker.join(timeout)
        return not self._building and not (self._worker is not None and self._worker.is_alive())

    def ask(self, question: str, history: Sequence[tuple[str, Answer]] = (), *, index: Index | None = None) -> Answer:
        """Answer from the current index (or ``index``); ``history`` is the conversation so far."""
        return answer(question, index=index if index is not None else self.index, history=list(history))

    # -------------------------------------------------------------- documents

    def document_names(self) -> list[str]:
        """Supported files in the seeds folder, as names relative to it."""
        try:
            return [p.relative_to(self.seeds).as_posix() for p in list_documents(self.seeds)]
        except DocumentError:
            return []

    def documents(self) -> list[DocumentInfo]:
        """Indexed documents with their articles and passage counts."""
        idx = self.index
        articles: dict[str, dict[int, list]] = {}
        titles: dict[str, str] = {}
        docs = idx.meta["documents"]
        if all("article_titles" in info for info in docs.values()):  # recorded at build: no passage read
            for name, info in docs.items():
                titles[name] = info.get("title", "")
                articles[name] = {int(n): [t, int(c)] for n, t, c in info["article_titles"]}
        else:  # an index built before they were recorded
            for p in idx.passages:
                if p.doc_title and p.doc not in titles:
                    titles[p.doc] = p.doc_title
                art = articles.setdefault(p.doc, {}).setdefault(p.article, [p.title, 0])
                art[1] += 1
        out = []
        for name, info in idx.meta["documents"].items():
            path = self.seeds / name
            arts = tuple(ArticleInfo(n, t, c) for n, (t, c) in sorted(articles.get(name, {}).items()))
            size = path.stat().st_size if path.is_file() else -1
            out.append(DocumentInfo(name, int(info.get("passages", 0)), arts, size, titles.get(name, "")))
        return out

    def status(self) -> IndexStatus:
        idx = self.index
        docs = idx.meta["documents"]
        return IndexStatus(
            model=idx.model_name,
            built_at=str(idx.meta.get("built_at", "")),
            documents=len(docs),
            articles=sum(int(d.get("articles", 0)) for d in docs.values()),
            passages=len(idx.passages),
            building=self._building,
            pending=tuple(self.pending()),
            folder=self.folder_reason(),
        )

    def save_upload(
        self, src: Path | str, filename: str, *, replace: bool = False, progress: ProgressFn | None = None
    ) -> str:
        """Validate an uploaded file and store it in the seeds folder; returns the stored name.

        Never overwrites another document unless ``replace``; the file must parse as a document.
        A scan is read through OCR here, its pages shown in :meth:`progress` (and ``progress``),
        and what it read is kept beside the index: the build that follows does not read it again.
        """
        src = Path(src)
        name = safe_filename(filename)
        check_upload(src, name)
        target = self.seeds / name
        if target.parent != self.seeds:  # pragma: no cover - safe_filename keeps names flat
            raise UploadError(f"invalid name {name!r}")
        if target.exists() and not replace:
            raise UploadError(
                f"已有同名文档 {name}；如要替换，请勾选“替换同名文档”。"
            )
        if target.exists() and not target.is_file():
            raise UploadError(f"{name} 是一个文件夹，不能替换。")
        self.seeds.mkdir(parents=True, exist_ok=True)
        tmp = self.seeds / f".upload-{uuid.uuid4().hex}{target.suffix}"
        try:
            shutil.copyfile(src, tmp)
            t0 = time.perf_counter()

            def reading(page: int, pages: int) -> None:
                text = reading_stage(name, page, pages)
                self._progress = BuildProgress(text, (name,), 0, 0, time.perf_counter() - t0, page / pages)
                if progress:
                    progress(0.0, text)

            try:
                doc = read_document(tmp, name, recognised=recognised_dir(self.index_dir), progress=reading)
            except DocumentError as exc:
                raise UploadError(f"{exc.reason.named(name).text('zh')}，没有保存。") from exc
            finally:
                self._progress = None
            if not any(a.paragraphs or a.title for a in doc.articles):
                raise UploadError(f"{name} 中没有文字。")
            if replace:
                os.replace(tmp, target)
            else:
                try:
                    os.link(tmp, target)  # fails if the name was taken meanwhile: never overwrites
                except FileExistsError as exc:
                    raise UploadError(f"已有同名文档 {name}。") from exc
        finally:
            tmp.unlink(missing_ok=True)
        return name

    def add(
        self,
        files: Iterable[tuple[Path | str, str]],
        *,
        replace: bool = False,
        progress: ProgressFn | None = None,
    ) -> UpdateResult:
        """Save uploads ``(path, original name)`` and index them incrementally.

        Refused while the seeds folder is missing or empty (:meth:`folder_problem`): the
        index would keep the uploads only.
        """
        result = UpdateResult()
        with self._build:
            self._building = True
            try:
                problem = self.folder_reason()
                if problem:
                    result.errors.append(problem.text("zh"))
                    return result
                for src, filename in files:
                    try:
                        result.saved.append(self.save_upload(src, filename, replace=replace, progress=progress))
                    except UploadError as exc:
                        result.errors.append(str(exc))
                if result.saved:
                    result.report = self._build_and_swap(progress)
            finally:
                self._building = False
        return result

    def remove(self, name: str, *, progress: ProgressFn | None = None) -> UpdateResult:
        """Move a document out of the seeds folder (into ``.removed/``) and update the index."""
        result = UpdateResult()
        with self._build:
            self._building = True
            try:
                if name not in self.document_names():
                    result.errors.append(f"没有这个文档：{name}。")
                    return result
                trash = self.seeds / REMOVED_DIR
                trash.mkdir(exist_ok=True)
                stamp = time.strftime("%Y%m%d-%H%M%S")
                os.replace(self.seeds / name, trash / f"{stamp}-{name.replace('/', '_')}")
                result.removed = name
                result.report = self._build_and_swap(progress, allow_empty=True)  # asked for, even the last one
            finally:
                self._building = False
        return result

    def rebuild(self, *, progress: ProgressFn | None = None) -> UpdateResult:
        """Re-scan the seeds folder and update the index (only changed documents are embedded)."""
        return UpdateResult(report=self._rebuild(progress))

    # -------------------------------------------------------------- examples

    def examples(self, n: int = 6, *, check: bool = True) -> list[str]:
        """Example questions made from the documents; with ``check``, only ones that get answered."""
        idx = self.index
        with self._examples_lock:
            if self._examples is None or self._examples[:2] != (idx, (n, check)):
                self._examples = (idx, (n, check), self._make_examples(idx, n, check))
            return self._examples[2]

    def _make_examples(self, idx: Index, n: int, check: bool, least: int = 4) -> list[str]:
        """Up to ``n`` questions: with ``check``, those answered with their number first, then (to
        reach ``least``) ones that get some answer."""
        out: list[str] = []
        spare: list[str] = []
        for q, expected in question_candidates(sample_passages(idx.passages), tagger=idx.tokenizer)[: 3 * n]:
            if len(out) == n:
                break
            if check:
                a = answer(q, index=idx)
                shown = a.found and a.band != bands.LOW  # below 中 the chat says "not found"
                if not (shown and expected and expected in a.text):
                    if shown:
                        spare.append(q)
                    continue
            out.append(q)
        return out + spare[: max(0, least - len(out))]
