"""``qa train-reader``: fine-tune the shipped reader on SQuAD-format data.

Everything that decides the result is recorded in the reader's ``meta.json``: the
seed, the data files and their hashes, the split, the hyper-parameters, the
training time and the held-out metrics.  The split is by article
(:mod:`qa.reader.data`) and the windows come from :mod:`qa.reader.trainset`; dev chooses the
no-answer threshold and the calibration (:mod:`qa.reader.gold`), test is measured once at the end.
This module holds the run itself: device and precision, resumable checkpoints, the training
loop and the reader's lineage.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from .. import precision as P
from . import windows as W
from .gold import choose_threshold, fit_calibration, gold_metrics, held_out, predict_gold
from .trainset import Feature, TrainConfig, _features_sha, _file_sha, prepare


def bf16_pays() -> bool:
    """Whether bfloat16 autocast trains faster than float32 on this CPU, timed on one layer's shapes.

    CPUs without native bfloat16 emulate it: on a 2-core AMD EPYC a training batch took
    132 s in bfloat16 against 7 s in float32, while an Intel Xeon with AMX trains about 1.6×
    faster in it.  A forward and backward pass of a feed-forward block is timed, interleaved and
    best of five for each.  A CPU with AMX is not timed: it is faster there, and a timing taken
    beside other work once chose float32 on one (a run 1.6× slower for nothing).
    """
    import torch

    if not P.native_bf16():
        return False
    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    if amx is not None and amx():
        return True
    torch.manual_seed(0)
    x = torch.randn(1024, 384)
    block = torch.nn.Sequential(torch.nn.Linear(384, 1536), torch.nn.GELU(), torch.nn.Linear(1536, 384))

    def once(bf16: bool) -> float:
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            y = block(x)
        y.float().sum().backward()
        return time.perf_counter() - t

    once(True), once(False)  # kernels for both
    best = {True: float("inf"), False: float("inf")}
    for _ in range(5):
        for bf16 in (True, False):
            best[bf16] = min(best[bf16], once(bf16))
    return best[True] < best[False]


def pick_device(name: str):
    """``auto``: the GPU when torch sees one, else the CPU."""
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device cuda: torch sees no GPU here (a CPU build, or no driver); use cpu")
    if name not in ("cpu", "cuda"):
        raise ValueError(f"device {name!r}: use auto, cpu or cuda")
    return torch.device(name)


def _training_reader(model, tok, cfg: TrainConfig, device, bf16: bool):
    """The model being trained, read as a :class:`TransformerReader` (on its device, in autocast)."""
    import torch

    from .model import TransformerReader

    class TrainingReader(TransformerReader):
        def logits(self, wins: list[W.Window], batch_size: int = 32) -> list[tuple[np.ndarray, np.ndarray]]:
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                return super().logits(wins, batch_size)

    reader = TrainingReader.__new__(TrainingReader)
    reader.name, reader.max_len, reader.stride = "training", cfg.max_len, cfg.stride
    reader.precision = "bfloat16" if bf16 else "float32"
    reader._loaded = (model, tok, {})
    return reader


RESUME = "resume"  # OUT/resume/: state.pt (weights, optimiser, scheduler, RNG, data position) + state.json


class TrainSettingError(ValueError):
    """A setting that does not fit the model being trained (checked once the model is loaded)."""


class ResumeError(ValueError):
    """A checkpoint that can't be continued; the message says why."""


def read_resume(out: Path) -> tuple[TrainConfig, list[Path], dict]:
    """The config, data files and progress of the run whose reader folder is ``out``."""
    state = out / RESUME / "state.json"
    try:
        info = json.loads(state.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ResumeError(f"{out}: no {RESUME}/state.json; nothing to resume (a run saves one every --save-every minutes)") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResumeError(f"{state}: not valid JSON ({exc})") from exc
    files = [Path(d["path"]) for d in info["data"]]
    for d, f in zip(info["data"], files):
        if not f.is_file():
            raise ResumeError(f"{out}: the run trained on {f}, which is missing")
        if _file_sha(f) != d["sha256"]:
            raise ResumeError(f"{out}: {f} changed since the run started (sha256 differs); start a new run instead")
    return TrainConfig(**info["config"]), files, info


def hardware(device) -> str:
    """What trains: the GPU's name, or the CPU's model and whether it has native bfloat16."""
    import platform

    import torch

    if device.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(device)}"
    name = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            info = fh.read()
        name = next((ln.split(":", 1)[1].strip() for ln in info.splitlines() if ln.startswith("model name")), name)
        flags = next((ln for ln in info.splitlines() if ln.startswith("flags")), "").split()
        name += " (native bfloat16)" if {"avx512_bf16", "amx_bf16"} & set(flags) else " (no native bfloat16)"
    except OSError:
        pass
    return f"CPU: {name}, {torch.get_num_threads()} threads"


def _save_resume(out: Path, *, model, opt, sched, step: int, order: list[int], rng: random.Random, curve: list[dict],
                 minutes: float, cfg: TrainConfig, files: list[Path], feats_sha: str, legs: list[dict]) -> None:
    import torch

    from .model import FROZEN

    folder = out / RESUME
    folder.mkdir(parents=True, exist_ok=True)
    blob = {
        "model": {k: v for k, v in model.state_dict().items() if k not in FROZEN},
        "opt": opt.state_dict(),
        "sched": sched.state_dict(),
        "order": order,
        "step": step,  # state.pt is the truth: a kill between the two renames leaves state.json one save behind
        "minutes": minutes,
        "curve": curve,
        "rng": rng.getstate(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "numpy_rng": np.random.get_state(),
    }
    tmp = folder / "state.pt.tmp"
    torch.save(blob, tmp)
    os.replace(tmp, folder / "state.pt")
    info = {
        "config": asdict(cfg),
        "data": [{"path": str(f.resolve()), "sha256": _file_sha(f)} for f in files],
        "step": step,
        "minutes": round(minutes, 2),
        "features_sha256": feats_sha,
        "curve": curve,
        "legs": legs,
        "saved": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    tmp = folder / "state.json.tmp"
    tmp.write_text(json.dumps(info, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, folder / "state.json")


def train(files: list[Path], out: Path, cfg: TrainConfig, *, log=print, resume: bool = False,
          epochs: float | None = None) -> dict:
    """Train (or, with ``resume``, continue the run saved in ``out/resume``) and write the reader to ``out``.

    The run saves a resumable state every ``cfg.save_every`` minutes and when it stops.  The
    no-answer threshold and the calibration are chosen on dev whenever it stops; the test part
    is measured only when the schedule is complete, so a run spread over sessions reports it once.
    ``epochs`` with ``resume`` gives the schedule a new length (a run that will not fit the time
    left is shortened; the learning rate decays linearly from where it is to the new end).
    """
    import signal

    import torch
    from tqdm import tqdm

    from .model import (
        BASE_E5,
        average_shipped,
        base_model_folder,
        load_shipped,
        new_qa_model,
        pad_batch,
        save_shipped,
    )

    done: dict = {"step": 0, "minutes": 0.0, "curve": []}
    if resume:
        cfg0, files, done = read_resume(out)
        cfg = replace(cfg0, max_minutes=cfg.max_minutes, threads=cfg.threads or cfg0.threads, device=cfg.device,
                      epochs=cfg0.epochs if epochs is None else epochs)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = pick_device(cfg.device)
    # bfloat16 autocast (float32 master weights) where it is native and faster.  Not a setting of
    # the run: a run started on a GPU may resume on a CPU that emulates it, and the reverse.
    if device.type == "cuda":
        bf16 = cfg.bf16 and torch.cuda.is_bf16_supported()
    else:
        bf16 = cfg.bf16 and bf16_pays()
        if cfg.bf16 and not bf16:
            log("bfloat16 is emulated on this CPU (slower than float32): training in float32")
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    t0 = time.time()
    base = base_model_folder()
    init_meta: dict = {}
    if cfg.average:
        model, _, init_meta = average_shipped([Path(f) for f in cfg.average])
    elif cfg.init:
        model, _, init_meta = load_shipped(Path(cfg.init))
    else:
        model = new_qa_model(base)
    layers = model.config.num_hidden_layers
    if cfg.freeze_layers > layers:
        raise TrainSettingError(f"--freeze-layers {cfg.freeze_layers}: the encoder has {layers} layers (0 to {layers})")
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(base))
    data = prepare(files, cfg, tok)
    splits, train_ex, feats, cut, rng = data.splits, data.train_ex, data.feats, data.cut, data.rng
    feats_sha = _features_sha(feats)
    if resume and feats_sha != done["features_sha256"]:
        raise ResumeError(f"{out}: the training windows differ from the saved run's (another tokenizer or code version); "
                          "start a new run instead")
    dev = splits["dev"]
    dev_small = rng.sample(dev, min(cfg.dev_limit, len(dev)))
    srcs = {s: sum(e.source == s for e in train_ex) for s in sorted({e.source for e in train_ex})}
    log(f"train: {len(splits['train'])} questions ({len(train_ex)} weighted: {srcs}; {len(cut)} cut; {len(data.swap)} swapped) -> {len(feats)} windows; "
        f"dev {len(dev)}, test {len(splits['test'])}")

    model.to(device)
    for name, p in model.named_parameters():
        p.requires_grad_(name not in ("bert.embeddings.word_embeddings.weight",))
    params = [p for p in model.parameters() if p.requires_grad]
    low = _lowest(model, cfg.freeze_layers)  # frozen while the step is before freeze_until
    decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr
    )
    steps_per_epoch = math.ceil(len(feats) / cfg.batch_size)
    total = max(1, int(steps_per_epoch * cfg.epochs)) if cfg.epochs > 0 else 0  # 0: evaluate --init only
    warm = max(1, int(cfg.warmup * total))

    def lr_at(s: int) -> float:
        return min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    freeze_until = int(cfg.freeze_share * total) if low else 0
    step = 0
    order: list[int] = []
    curve: list[dict] = list(done["curve"])
    if resume:
        blob = torch.load(out / RESUME / "state.pt", weights_only=False, map_location="cpu")
        missing, unexpected = model.load_state_dict(blob["model"], strict=False)
        if unexpected or [k for k in missing if k not in ("bert.embeddings.word_embeddings.weight",) and not k.endswith("position_ids")]:
            raise ResumeError(f"{out}: the saved weights do not fit the model")
        opt.load_state_dict(blob["opt"])
        sched.load_state_dict(blob["sched"])
        for group, base_lr in zip(opt.param_groups, sched.base_lrs):  # the schedule's own, should its length change
            group["lr"] = base_lr * lr_at(sched.last_epoch)
        order, step = list(blob["order"]), int(blob.get("step", done["step"]))
        done["minutes"], curve[:] = blob.get("minutes", done["minutes"]), blob.get("curve", curve)
        rng.setstate(blob["rng"])
        torch.set_rng_state(blob["torch_rng"])
        if blob.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(blob["cuda_rng"])
        np.random.set_state(blob["numpy_rng"])
        log(f"resumed at step {step} of {total} ({done['minutes']:.0f} minutes trained before)")
    pad = tok.pad_token_id or 0
    reader = _training_reader(model, tok, cfg, device, bf16)
    _set_frozen(low, step < freeze_until)  # AdamW skips a parameter without a gradient
    if low and step < freeze_until:
        log(f"the embeddings and encoder layers 0-{cfg.freeze_layers - 1} are frozen until step {freeze_until}")

    def minutes() -> float:
        return done["minutes"] + (time.time() - t0) / 60

    def dev_point(step: int) -> None:
        model.eval()
        preds = predict_gold(reader, dev_small)
        m = {src: gold_metrics([e for e in dev_small if e.source == src], [p for e, p in zip(dev_small, preds) if e.source == src], None)
             for src in sorted({e.source for e in dev_small})}
        thr = choose_threshold(dev_small, preds)
        m["all@threshold"] = gold_metrics(dev_small, preds, thr)
        curve.append({"step": step, "minutes": round(minutes(), 1), "dev": m})
        log(f"step {step}: " + json.dumps({k: {kk: v for kk, v in d.items() if kk in ('f1', 'em', 'no_answer_accuracy')} for k, d in m.items()}, ensure_ascii=False))
        model.train()

    legs: list[dict] = list(done.get("legs", []))
    leg = {"hardware": hardware(device), "bf16": bf16, "from_step": step, "to_step": step, "total_steps": total,
           "started": time.strftime("%Y-%m-%d %H:%M")}
    legs.append(leg)

    def checkpoint() -> None:
        leg.update(to_step=step, minutes=round((time.time() - t0) / 60, 1))
        _save_resume(out, model=model, opt=opt, sched=sched, step=step, order=order, rng=rng, curve=curve,
                     minutes=minutes(), cfg=cfg, files=files, feats_sha=feats_sha, legs=legs)

    stop = {"signal": None}

    def on_term(signum, _frame) -> None:  # a session's end: save where we are, then stop
        stop["signal"] = signum

    old_term = signal.signal(signal.SIGTERM, on_term)
    stopped_early = False
    last_save = time.time()
    bar = tqdm(total=total, initial=step, desc="training reader", unit="batch")
    model.train()
    while step < total:
        if not order:
            order = _length_batches(feats, cfg.batch_size, rng)
        idx, order = order[: cfg.batch_size], order[cfg.batch_size :]
        batch = [feats[i] for i in idx]
        # Few distinct shapes: oneDNN prepares kernels per shape, and a new one costs seconds.
        n = min(cfg.max_len, -(-max(len(f.input_ids) for f in batch) // 64) * 64)
        ids, mask = pad_batch([f.input_ids for f in batch], pad, n)
        sp = torch.tensor([f.start for f in batch], device=device)
        ep = torch.tensor([f.end for f in batch], device=device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            res = model(input_ids=ids.to(device), attention_mask=mask.to(device), start_positions=sp, end_positions=ep)
        res.loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        if step == freeze_until < total:
            _set_frozen(low, False)
            log(f"step {step}: the lowest layers are trained from here on")
        bar.update(1)
        bar.set_postfix(loss=f"{res.loss.item():.3f}")
        every = cfg.eval_every or steps_per_epoch
        if step % every == 0 or step == total:
            dev_point(step)
            save_shipped(model, out / "checkpoint", {"base": BASE_E5, "step": step, "config": asdict(cfg)})
        out_of_time = cfg.max_minutes and time.time() - t0 > cfg.max_minutes * 60
        if stop["signal"] is not None or out_of_time or (cfg.save_every and time.time() - last_save > cfg.save_every * 60):
            checkpoint()
            last_save = time.time()
        if stop["signal"] is not None or out_of_time:
            stopped_early = step < total
            if stop["signal"] is not None:
                bar.close()
                log(f"stopped by signal {stop['signal']} at step {step}; continue with --resume {out}")
                signal.signal(signal.SIGTERM, old_term)
                return {"steps": step, "resumable": str(out / RESUME)}
            if curve and curve[-1]["step"] != step:
                dev_point(step)
            break
    bar.close()
    signal.signal(signal.SIGTERM, old_term)
    if step == total > 0:
        checkpoint()  # the finished run can still be read back (and a re-run with --resume does nothing)
    train_minutes = minutes()

    # Threshold and calibration on all of dev; test measured once, when the schedule is complete.
    model.eval()
    dev_preds = predict_gold(reader, dev)
    threshold = choose_threshold(dev, dev_preds)
    cal = fit_calibration(dev, dev_preds)
    every_split = splits["train"] + dev + splits["test"]
    meta = {
        "base": BASE_E5,
        "seed": cfg.seed,
        "config": asdict(cfg),
        "data": [{"file": f.name, "sha256": _file_sha(f),
                  "questions": sum(1 for e in every_split if e.source == f.stem)} for f in files],
        "split": {"method": "by article, sha256 buckets (qa.reader.data)", "train": len(splits["train"]), "dev": len(dev), "test": len(splits["test"]),
                  "sources": {s: sum(e.source == s for e in every_split) for s in sorted({e.source for e in every_split})}},
        "train_windows": len(feats),
        **({"init": lineage(cfg.init, init_meta)} if cfg.init and not cfg.average else {}),
        **({"average": soup_lineage(cfg.average, init_meta["average"])} if cfg.average else {}),
        "steps": step,
        "total_steps": total,
        "legs": legs,
        "stopped_early": stopped_early,
        "train_minutes": round(train_minutes, 1),
        "null_threshold": round(threshold, 4),
        "calibration": cal,
        "learning_curve": curve,
    }
    reader._loaded = (model, tok, meta)
    meta["dev"] = held_out(reader, dev, dev_preds, threshold)
    if step == total:
        test_preds = predict_gold(reader, splits["test"])
        meta["test"] = held_out(reader, splits["test"], test_preds, threshold)
    else:
        log(f"the schedule is not complete ({step} of {total} steps): the test part is left unread; continue with --resume {out}")
    save_shipped(model, out, meta)
    log(json.dumps({k: meta[k] for k in ("dev", "test") if k in meta}, ensure_ascii=False, indent=1))
    return meta


def lineage(folder: str, meta: dict) -> dict:
    """What a reader that a run starts from was: its folder and checksum, its training (data,
    settings, legs, time, the learning curve at the dev threshold) and, in turn, what it
    started from, so that a reader's meta.json holds its whole history."""
    curve = [{"step": p.get("step"), "minutes": p.get("minutes"),
              **{k: (p.get("dev") or {}).get("all@threshold", {}).get(k) for k in ("f1", "em", "no_answer_accuracy")}}
             for p in meta.get("learning_curve") or []]
    out = {"folder": str(folder), "sha256": meta.get("sha256", {}), "steps": meta.get("steps", meta.get("step")),
           "train_minutes": meta.get("train_minutes"), "config": meta.get("config"),
           "data": [d.get("file") for d in meta.get("data") or []], "legs": meta.get("legs"), "curve": curve}
    for key in ("init", "average"):
        if meta.get(key):
            out[key] = meta[key]
    return out


def soup_lineage(folders: list[str], metas: list[dict]) -> list[dict]:
    """Each averaged reader's :func:`lineage`.  An ancestor that is itself one of the averaged
    readers is named, not repeated: a soup of a run and its continuation would otherwise hold
    the first run's whole history twice."""
    lines = [lineage(f, m) for f, m in zip(folders, metas)]
    where = {json.dumps(line["sha256"], sort_keys=True): f"average[{i}]" for i, line in enumerate(lines) if line["sha256"]}

    def prune(node: dict) -> dict:
        for key in ("init", "average"):
            if isinstance(node.get(key), dict):
                node[key] = named(node[key])
            elif isinstance(node.get(key), list):
                node[key] = [named(x) for x in node[key]]
        return node

    def named(node: dict) -> dict:
        see = where.get(json.dumps(node["sha256"], sort_keys=True)) if node.get("sha256") else None
        return {"folder": node.get("folder"), "sha256": node.get("sha256"), "see": see} if see else prune(node)

    return [prune(line) for line in lines]


def _lowest(model, layers: int) -> list:
    """The parameters of the embeddings and of encoder layers 0 .. ``layers``-1 (none for 0)."""
    if layers <= 0:
        return []
    names = [f".encoder.layer.{i}." for i in range(layers)]
    return [p for n, p in model.named_parameters()
            if p.requires_grad and (".embeddings." in n or any(k in n for k in names))]


def _set_frozen(params: list, frozen: bool) -> None:
    for p in params:
        p.requires_grad_(not frozen)


def _length_batches(feats: list[Feature], size: int, rng: random.Random) -> list[int]:
    """A shuffled order in which each batch holds windows of similar length (less padding)."""
    order = sorted(range(len(feats)), key=lambda i: (len(feats[i].input_ids), rng.random()))
    batches = [order[i : i + size] for i in range(0, len(order), size)]
    rng.shuffle(batches)
    return [i for b in batches for i in b]
