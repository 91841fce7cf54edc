"""A training run's windows packed small enough to travel to a GPU machine.

``qa train-reader --pack DIR`` writes what ``scripts/gpu_train.py`` needs, and nothing it could
get wrong: the labelled windows exactly as :func:`qa.reader.trainset.prepare` makes them (same
split, weights and negatives), with token ids renumbered to the tokens they use, and those rows
of the frozen word-embedding matrix.  The GPU side needs only torch, transformers and
safetensors; the weights it brings back are a reader folder that ``qa train-reader --init DIR
--epochs 0`` evaluates here (threshold, calibration, dev and test).

Files: ``windows.npz`` (ids as uint16, lengths, starts, ends), ``embeddings.safetensors``
(the used rows, float16), ``config.json`` (the encoder's, with the smaller vocabulary) and
``pack.json`` (the run's settings, data checksums and the windows' sha256).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .trainset import TrainConfig, _features_sha, _file_sha, prepare

PACK = "pack.json"


def write_pack(files: list[Path], cfg: TrainConfig, out: Path, *, log=print) -> dict:
    from safetensors import safe_open
    from safetensors.torch import save_file
    from transformers import AutoTokenizer

    from .model import base_model_folder

    base = base_model_folder()
    tok = AutoTokenizer.from_pretrained(str(base))
    data = prepare(files, cfg, tok)
    feats = data.feats
    used = sorted({i for f in feats for i in f.input_ids} | set(tok.all_special_ids))
    if len(used) > np.iinfo(np.uint16).max:
        raise ValueError(f"{len(used)} distinct tokens do not fit uint16 ids")
    remap = np.full(max(used) + 1, -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    lengths = np.array([len(f.input_ids) for f in feats], dtype=np.int32)
    ids = remap[np.concatenate([np.asarray(f.input_ids, dtype=np.int64) for f in feats])].astype(np.uint16)
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "windows.npz", ids=ids, lengths=lengths,
                        starts=np.array([f.start for f in feats], dtype=np.int32),
                        ends=np.array([f.end for f in feats], dtype=np.int32))
    with safe_open(str(base / "model.safetensors"), framework="pt") as fh:
        key = next(k for k in fh.keys() if k.endswith("embeddings.word_embeddings.weight"))
        word = fh.get_tensor(key)
    import torch

    save_file({"word_embeddings": word[torch.as_tensor(used)].half().contiguous()}, str(out / "embeddings.safetensors"))
    config = json.loads((base / "config.json").read_text(encoding="utf-8"))
    config["vocab_size"] = len(used)
    config["pad_token_id"] = int(remap[tok.pad_token_id or 0])
    (out / "config.json").write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")
    info = {
        "config": asdict(cfg),
        "data": [{"file": f.name, "sha256": _file_sha(f)} for f in files],
        "features_sha256": _features_sha(feats),
        "windows": len(feats),
        "tokens": len(used),
        "sources": {s: sum(e.source == s for e in data.train_ex) for s in sorted({e.source for e in data.train_ex})},
    }
    (out / PACK).write_text(json.dumps(info, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    size = sum(p.stat().st_size for p in out.iterdir()) / 2**20
    log(f"{out}: {len(feats)} windows over {len(used)} tokens, {size:.1f} MiB")
    return info
