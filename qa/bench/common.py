"""Helpers shared by the bench's stages: the constants, timing and memory helpers, the machine's
description, the embedder wrappers (:class:`QueryCache`, :class:`TimingEmbedder`) and child processes.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import platform
import re
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import numpy as np

from .. import config
from ..embedding import Embedder

ROOT = config.PROJECT_ROOT
QUESTIONS = config.PROJECT_ROOT / "data" / "questions"
SEED = 20261129  # corpus generation is deterministic
NOISE = 0.25  # norm of the Gaussian noise added to a synthetic passage vector
PER_DOC = 100  # synthetic passages per synthetic document
RECALL_K = 10
MEMORY_FACTOR = 1.5
TARGETS = {"build_ratio": 0.9, "build_speedup": 3.0, "answer_ratio": 1.5, "answer_ms": 50.0, "load_s": 5.0,
           "reader_answer_ms": 250.0, "store_identical": 0.98}
# The build before sentence vectors were dropped (docs/benchmarks.md of 2026-11-29, commit 87094d7):
# 43 seed passages + 81 sentences sent to the model in batches of 32.
PREVIOUS_BUILD = {"date": "2026-11-29", "build_s": 18.75, "texts": 124, "passages": 43, "batch": 32}
BATCH_SIZES = (8, 16, 32, 64)
VOCAB_SOURCES = (config.PROJECT_ROOT / "data" / "wild" / "docs", config.PROJECT_ROOT.parent / "shared" / "mrc")
TOKENIZE_LIMIT = 100_000  # above, the scale build tokenises each pool sentence once (jieba: ~7 min per 1M)
POOL_EMBEDDED = 512  # sentences of the scale pool embedded by the model; the others borrow their vectors
T = TypeVar("T")
WILD = config.PROJECT_ROOT / "data" / "wild"
SECTIONS = ("build", "answer", "cold_start", "scale", "store", "incremental")  # run by default
OPTIONAL_SECTIONS = ("ocr",)  # run only when --sections names them


# ------------------------------------------------------------------ small helpers


def parse_sizes(text: str) -> list[int]:
    """``"1k,10k,100k"`` -> ``[1000, 10000, 100000]`` (suffixes k and m; plain numbers too)."""
    out = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", part)
        if not m:
            raise ValueError(f"bad corpus size {part!r}: use numbers like 500, 1k, 10k, 1.5k, 1m")
        n = int(float(m.group(1)) * {"": 1, "k": 1_000, "m": 1_000_000}[m.group(2).lower()])
        if n < 1:
            raise ValueError(f"corpus size must be at least 1, not {part!r}")
        out.append(n)
    return out


def _label(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def _f(x: float | None, nd: int = 1) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:,.{nd}f}"


def _ms(seconds: list[float]) -> dict:
    """p50/p95 in milliseconds of a list of durations in seconds."""
    if not seconds:
        return {"p50_ms": None, "p95_ms": None, "n": 0}
    a = np.asarray(seconds) * 1000.0
    return {"p50_ms": float(np.percentile(a, 50)), "p95_ms": float(np.percentile(a, 95)), "n": len(a)}


def _timed(fn: Callable[[], T]) -> tuple[float, T]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def _status_mb(field: str) -> float:
    """A memory field of /proc/self/status (VmRSS, VmHWM, RssAnon, RssFile) in MiB (Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _reset_peak() -> bool:
    """Reset this process's peak RSS to its current RSS (Linux ``clear_refs`` 5)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _dir_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def _machine() -> dict:
    cpu = ""
    try:
        cpu = next(
            (ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
             if ln.startswith("model name")), ""
        )
    except OSError:
        pass
    versions = {}
    for pkg in ("torch", "sentence-transformers", "faiss-cpu", "numpy", "jieba"):
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = "-"
    return {
        "cpu": cpu or platform.processor(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "versions": versions,
        "loadavg_start": list(os.getloadavg()),
    }


def _questions(path: Path) -> list[str]:
    from ..evaluate import load_questions

    return [q.question for q in load_questions(path)]


def _bar(iterable: Iterable, desc: str, total: int | None = None):
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, total=total, unit="it", leave=False, file=sys.stderr)


class QueryCache:
    """An embedder that answers known queries from a cache, to time ``answer()`` without embedding.

    Anything else (documents, unknown queries) goes to the wrapped model and is counted.
    """

    def __init__(self, inner: Embedder, vectors: dict[str, np.ndarray]) -> None:
        self.inner = inner
        self.vectors = vectors
        self.name, self.fingerprint = inner.name, inner.fingerprint
        self.precision = getattr(inner, "precision", "float32")
        self.dim, self.max_chars = inner.dim, inner.max_chars
        self.model_texts = 0

    def embed(self, texts: list[str], *, kind: str = "document", progress: bool = False) -> np.ndarray:
        if kind == "query" and texts and all(t in self.vectors for t in texts):
            return np.stack([self.vectors[t] for t in texts])
        self.model_texts += len(texts)
        return self.inner.embed(texts, kind=kind, progress=progress)


class TimingEmbedder:
    """Wraps an embedder and adds up its calls and seconds per kind (query, document)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name, self.fingerprint = inner.name, inner.fingerprint
        self.precision = getattr(inner, "precision", "float32")
        self.dim, self.max_chars = inner.dim, inner.max_chars
        self.reset()

    def reset(self) -> None:
        self.calls = {"query": 0, "document": 0}
        self.seconds = {"query": 0.0, "document": 0.0}

    def total(self) -> float:
        return sum(self.seconds.values())

    def embed(self, texts: list[str], *, kind: str = "document", progress: bool = False) -> np.ndarray:
        s, out = _timed(lambda: self.inner.embed(texts, kind=kind, progress=progress))
        self.calls[kind] = self.calls.get(kind, 0) + 1
        self.seconds[kind] = self.seconds.get(kind, 0.0) + s
        return out


def _cache_keys(question: str) -> list[str]:
    from ..answering import clean_question

    return list(dict.fromkeys([question, clean_question(question)[0]]))


# ------------------------------------------------------------------ child processes


def _child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", **extra)
    root = str(Path(__file__).resolve().parents[2])  # the folder that holds qa/
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


def _run_child(mode: str, params: dict) -> dict:
    out = subprocess.run([sys.executable, "-m", "qa.bench", "_child", mode, json.dumps(params)],
                         env=_child_env(), stdout=subprocess.PIPE, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"bench child {mode} failed with exit code {out.returncode} (see its stderr above)")
    return json.loads(out.stdout.strip().splitlines()[-1])
