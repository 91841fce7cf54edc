"""The document library behind the web chat: the seeds folder and its loaded index.

``Library`` answers questions from the index it has loaded, saves uploads under safe
names, removes documents and rebuilds the index.  One build runs at a time (a
thread lock here, :func:`qa.index.build_lock` across processes); questions keep
being answered from the previous index until the new one is loaded and swapped in.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .answering import answer
from .documents import MAX_DOCUMENT_BYTES, SUPPORTED_SUFFIXES, DocumentError, list_documents, read_document
from .embedding import Embedder
from .index import BuildReport, Index, IndexError_, build_index, load_index, stale_documents
from .records import Answer, Passage

log = logging.getLogger(__name__)

ProgressFn = Callable[[float, str], None]
MAX_NAME_CHARS = 80  # of the stem; 80 CJK characters are 240 bytes, under the 255-byte limit
REMOVED_DIR = ".removed"  # removed documents are moved here (hidden: never indexed)
_KEEP_PUNCT = frozenset(" -_.,()[]（）【】《》〈〉「」『』·・、，。；！？：“”‘’+=@~")
_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))})
# Magic bytes of the binary formats: a renamed file is refused before it is parsed.
_MAGIC = {".pdf": (b"%PDF",), ".docx": (b"PK\x03\x04",)}


class UploadError(ValueError):
    """An upload that was refused; the message says why (in Chinese and English)."""


# ------------------------------------------------------------------ names and uploads


def safe_filename(name: str) -> str:
    """A safe file name for an upload: no folders, not hidden, supported suffix; Chinese and spaces kept."""
    base = re.split(r"[\\/]", unicodedata.normalize("NFC", str(name)))[-1].strip()
    stem, dot, ext = base.rpartition(".")
    suffix = f".{ext.lower()}" if dot else ""
    if suffix not in SUPPORTED_SUFFIXES:
        raise UploadError(
            f"不支持的文件类型 {suffix or '（无扩展名）'}：{base}。"
            f"Unsupported file type; supported: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    chars = []
    for ch in stem:
        if ch.isspace():
            chars.append(" ")
        elif unicodedata.category(ch)[0] in "LNM" or ch in _KEEP_PUNCT:
            chars.append(ch)
        else:
            chars.append("_")
    clean = re.sub(r"_{2,}", "_", re.sub(r" {2,}", " ", "".join(chars)))
    clean = clean.strip(" ._-")[:MAX_NAME_CHARS].rstrip(" ._-")
    if not clean:
        clean = "document"
    if clean.upper() in _RESERVED:
        clean += "_"
    return clean + suffix


def check_upload(path: Path, name: str) -> int:
    """Refuse a file that is empty, too large or not what its suffix says; returns its size."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UploadError(f"无法读取上传的文件 {name}：{exc.strerror or exc}. Cannot read the upload.") from exc
    if size == 0:
        raise UploadError(f"{name} 是空文件。The file is empty.")
    if size > MAX_DOCUMENT_BYTES:
        raise UploadError(
            f"{name} 太大（{size / 2**20:.1f} MiB），每个文档最多 {MAX_DOCUMENT_BYTES // 2**20} MiB。"
            f"The file is over the {MAX_DOCUMENT_BYTES // 2**20} MiB limit."
        )
    magic = _MAGIC.get(Path(name).suffix.lower())
    if magic:
        with open(path, "rb") as f:
            head = f.read(8)
        if not head.startswith(magic):
            raise UploadError(f"{name} 的内容不是 {Path(name).suffix} 格式。The content does not match the file type.")
    return size


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


@dataclass(frozen=True)
class IndexStatus:
    model: str
    built_at: str
    documents: int
    articles: int
    passages: int
    building: bool
    pending: tuple[str, ...]  # documents added, changed or removed since the build


@dataclass
class UpdateResult:
    """What an upload, removal or rebuild did."""

    saved: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    report: BuildReport | None = None
    removed: str = ""


_COUNT_RE = re.compile(
    r"(?<![第\d.])\d[\d,.]*(?:余|多)?(?:万|千|百)?(?:余|多)?"
    r"(场次|人次|名|人|场|个|家|次|期|项|篇|所|支|位|件|户|条|台|辆|处|座|本|册)"
)
_CLAUSE_SPLIT = re.compile(r"[，,；;。！？!?：:（）()]")
_LEADING = re.compile(r"^(本报讯\s*|并且|同时|其中|此外|以及|并|和|及|还|又|已|均|都)+")
_NOT_PROSE = re.compile(r"[<>{}\[\]=/\\|#*_~`$@]")


def question_candidates(passages: Iterable[Passage], per_article: int = 3) -> list[tuple[str, str]]:
    """``(question, expected)`` pairs made from counted things in the text ("…4场" → "…多少场？").

    Round-robin over articles so that every document gets some; ``expected`` is the number.
    """
    by_article: dict[tuple[str, int], list[tuple[str, str]]] = {}
    seen: set[str] = set()
    for p in passages:
        if p.kind != "body":
            continue
        for sentence in p.sentence_texts():
            for clause in _CLAUSE_SPLIT.split(sentence):
                m = _COUNT_RE.search(clause)
                if not m or _COUNT_RE.search(clause, m.end()) or m.start() > 30:
                    continue
                head, tail = _LEADING.sub("", clause[: m.start()]).strip(), clause[m.end() :].strip()
                if len(head) < 6 or len(tail) > 12 or tail[-1:] in tuple("在于和与及的了从向对把被将"):
                    continue
                if _NOT_PROSE.search(clause) or not (head[0].isalnum() or head[0] in "“《「"):
                    continue
                q = f"{head}多少{m.group(1)}{tail}？"
                if len(q) > 40 or q in seen:
                    continue
                seen.add(q)
                number = re.match(r"[\d,.]+", m.group(0))
                by_article.setdefault((p.doc, p.article), []).append((q, number.group(0) if number else ""))
    out: list[tuple[str, str]] = []
    for i in range(per_article):
        out += [qs[i] for qs in by_article.values() if i < len(qs)]
    return out


# ------------------------------------------------------------------ the library


class Library:
    """The seeds folder and the index loaded from it, shared by every chat session."""

    def __init__(self, seeds_dir: Path | str, index_dir: Path | str, *, embedder: Embedder | None = None) -> None:
        self.seeds = Path(seeds_dir).resolve()
        self.index_dir = Path(index_dir).resolve()
        self._embedder = embedder  # None: the index's own model
        self._index: Index | None = None
        self._examples: tuple[Index, tuple[int, bool], list[str]] | None = None
        self._build = threading.Lock()
        self._examples_lock = threading.Lock()
        self._building = False

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
        """Load the index; build or update it first when it is missing, corrupt or stale."""
        self.seeds.mkdir(parents=True, exist_ok=True)
        try:
            idx = load_index(self.index_dir, embedder=self._embedder)
            if not stale_documents(idx, self.seeds):
                self._index = idx
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

    def _build_and_swap(self, progress: ProgressFn | None) -> BuildReport:
        old = self._index
        embedder = self._embedder or (old.embedder if old is not None else None)
        if progress:
            progress(0.05, "建立索引 Indexing…")
        report = build_index(self.seeds, self.index_dir, embedder=embedder, progress=progress is not None)
        if progress:
            progress(0.95, "加载新索引 Loading the new index…")
        self._index = load_index(self.index_dir, embedder=embedder)
        self._examples = None
        log.info("index updated: %s", report.summary().replace("\n", "; "))
        return report

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
        for p in idx.passages:
            art = articles.setdefault(p.doc, {}).setdefault(p.article, [p.title, 0])
            art[1] += 1
        out = []
        for name, info in idx.meta["documents"].items():
            path = self.seeds / name
            arts = tuple(ArticleInfo(n, t, c) for n, (t, c) in sorted(articles.get(name, {}).items()))
            size = path.stat().st_size if path.is_file() else -1
            out.append(DocumentInfo(name, int(info.get("passages", 0)), arts, size))
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
            pending=tuple(stale_documents(idx, self.seeds)),
        )

    def save_upload(self, src: Path | str, filename: str, *, replace: bool = False) -> str:
        """Validate an uploaded file and store it in the seeds folder; returns the stored name.

        Never overwrites another document unless ``replace``; the file must parse as a document.
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
                "A document with this name exists; tick “replace” to overwrite it."
            )
        if target.exists() and not target.is_file():
            raise UploadError(f"{name} 是一个文件夹，不能替换。It is a folder.")
        self.seeds.mkdir(parents=True, exist_ok=True)
        tmp = self.seeds / f".upload-{uuid.uuid4().hex}{target.suffix}"
        try:
            shutil.copyfile(src, tmp)
            try:
                doc = read_document(tmp, name)
            except DocumentError as exc:
                raise UploadError(f"{name}：无法读取 cannot read: {str(exc).replace(tmp.name, name)}") from exc
            if not any(a.paragraphs or a.title for a in doc.articles):
                raise UploadError(f"{name} 中没有文字。The document has no text.")
            if replace:
                os.replace(tmp, target)
            else:
                try:
                    os.link(tmp, target)  # fails if the name was taken meanwhile: never overwrites
                except FileExistsError as exc:
                    raise UploadError(f"已有同名文档 {name}。A document with this name exists.") from exc
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
        """Save uploads ``(path, original name)`` and index them incrementally."""
        result = UpdateResult()
        with self._build:
            self._building = True
            try:
                for src, filename in files:
                    try:
                        result.saved.append(self.save_upload(src, filename, replace=replace))
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
                    result.errors.append(f"没有这个文档：{name}。No such document.")
                    return result
                trash = self.seeds / REMOVED_DIR
                trash.mkdir(exist_ok=True)
                stamp = time.strftime("%Y%m%d-%H%M%S")
                os.replace(self.seeds / name, trash / f"{stamp}-{name.replace('/', '_')}")
                result.removed = name
                result.report = self._build_and_swap(progress)
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

    def _make_examples(self, idx: Index, n: int, check: bool) -> list[str]:
        out: list[str] = []
        for q, expected in question_candidates(idx.passages)[: 3 * n]:
            if len(out) == n:
                break
            if check:
                a = answer(q, index=idx)
                if not (a.found and expected and expected in a.text):
                    continue
            out.append(q)
        return out
