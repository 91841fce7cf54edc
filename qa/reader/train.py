"""``qa train-reader``: fine-tune the shipped reader on SQuAD-format data.

Everything that decides the result is recorded in the reader's ``meta.json``: the
seed, the data files and their hashes, the split, the hyper-parameters, the
training time and the held-out metrics.  The split is by article
(:mod:`qa.reader.data`); dev chooses the no-answer threshold and the calibration,
test is measured once at the end.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from .. import precision as P
from . import windows as W
from .data import (
    SPLITS,
    MRCExample,
    answer_cut,
    article_negatives,
    cross_lingual,
    fold_simplified,
    load_squad,
    split_examples,
    term_swaps,
)


@dataclass
class TrainConfig:
    epochs: float = 2.0
    lr: float = 8e-5
    batch_size: int = 16
    warmup: float = 0.06
    weight_decay: float = 0.01
    max_len: int = W.MAX_LEN
    stride: int = W.STRIDE
    negatives: float = 0.4  # no-answer windows kept per answer window
    # source -> its weight: repeats per epoch (2.0 twice, 0.5 a random half); "drcd-dev" also weighs
    # its simplified copy "drcd-dev-s" and its article negatives "drcd-dev+other" unless they are named
    oversample: dict[str, float] = field(default_factory=dict)
    seed: int = 13
    bf16: bool = True
    max_minutes: float = 0.0  # stop early (and still save/evaluate) after this long; 0 = no limit
    threads: int = 0
    eval_every: int = 0  # steps between dev evaluations (0 = once per epoch)
    dev_limit: int = 600  # dev questions used for the learning curve
    limit: int = 0  # use only this many questions per split (a smoke test of the whole command)
    init: str = ""  # start from this reader folder instead of the bare base encoder
    average: list[str] = field(default_factory=list)  # or from the uniform average of these (a model soup)
    cut_answers: float = 0.0  # share of answerable train questions also trained on their context minus the answer
    article_negatives: float = 0.0  # share of answerable questions also put over another paragraph of their article
    swap_negatives: float = 0.0  # share of answerable train questions also asked with a rare noun swapped (no answer)
    save_every: float = 10.0  # minutes between resumable checkpoints (OUT/resume/)
    device: str = "auto"  # auto (a GPU when torch sees one), cpu or cuda; a run may resume on another


@dataclass(frozen=True)
class Feature:
    input_ids: tuple[int, ...]
    start: int
    end: int


def features(tok, examples: list[MRCExample], cfg: TrainConfig, rng: random.Random) -> list[Feature]:
    """Labelled windows: the answer's token span, or (0, 0) when the window has no answer."""
    pos: list[Feature] = []
    neg: list[Feature] = []  # windows of unanswerable questions: hard, question-specific negatives
    off: list[Feature] = []  # windows of answerable questions that miss the answer
    B = 256
    for b in range(0, len(examples), B):
        chunk = examples[b : b + B]
        wins = W.make_windows(tok, [e.question for e in chunk], [e.context for e in chunk], max_len=cfg.max_len, stride=cfg.stride)
        for w in wins:
            ex = chunk[w.text]
            label = None
            for text, start in ex.answers:
                label = w.token_span(start, start + len(text))
                if label is not None:
                    break
            if label is None:
                (neg if ex.impossible else off).append(Feature(w.input_ids, 0, 0))
            else:
                pos.append(Feature(w.input_ids, label[0], label[1]))
    rng.shuffle(neg)
    rng.shuffle(off)
    # Half of the no-answer budget goes to unanswerable questions when there are enough:
    # they teach the null score what a plausible but wrong paragraph looks like.
    keep = int(cfg.negatives * len(pos))
    hard = min(len(neg), keep // 2 if off else keep)
    return pos + neg[:hard] + (off + neg[hard:])[: keep - hard]


def _file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_data(files: list[Path], *, article_share: float = 0.0, seed: int = 13) -> dict[str, list[MRCExample]]:
    """The split data: each split also holds simplified copies of its traditional examples and,
    with ``article_share``, same-article negatives (both made per split, so never across one)."""
    examples: list[MRCExample] = []
    for f in files:
        examples += load_squad(f)
    splits = split_examples(cross_lingual(examples))
    for i, name in enumerate(SPLITS):
        exs = splits[name]
        exs += fold_simplified(exs)
        if article_share > 0:
            exs += article_negatives(exs, article_share, random.Random(seed * 101 + i))
    return splits


def source_weight(weights: dict[str, float], source: str) -> float:
    """A source's weight: named itself, else by the file it was made from (``drcd-dev-s``, ``x+other``)."""
    if source in weights:
        return weights[source]
    base = source.split("+", 1)[0]
    if base in weights:
        return weights[base]
    return weights.get(base[:-2] if base.endswith("-s") else base, 1.0)


def weighted(examples: list[MRCExample], weights: dict[str, float], rng: random.Random) -> list[MRCExample]:
    """Each source repeated by its weight: the whole part of it in full, the rest as a random share."""
    out: list[MRCExample] = []
    for src in sorted({e.source for e in examples}):
        exs = [e for e in examples if e.source == src]
        w = source_weight(weights, src)
        whole = int(w)
        out += exs * whole
        out += rng.sample(exs, round((w - whole) * len(exs)))
    return out


# ------------------------------------------------------------------ evaluation on gold paragraphs


def predict_gold(reader, examples: list[MRCExample], batch: int = 64, progress=None) -> list[tuple[str, float]]:
    """Best span text and its margin (span − null) for each example, read with its own context."""
    from .model import _strip

    _, tok, _ = reader.loaded
    out: list[tuple[str, float]] = []
    for b in range(0, len(examples), batch):
        chunk = examples[b : b + batch]
        wins = W.make_windows(tok, [e.question for e in chunk], [e.context for e in chunk], max_len=reader.max_len, stride=reader.stride)
        logits = reader.logits(wins)
        best: dict[int, tuple[float, int, int]] = {}
        null: dict[int, float] = {}
        for w, (s, e) in zip(wins, logits):
            null[w.text] = min(null.get(w.text, float("inf")), float(s[0] + e[0]))
            spans = W.best_spans(w, s, e, top_n=5)
            if spans and spans[0][0] > best.get(w.text, (float("-inf"),))[0]:
                best[w.text] = spans[0]
        for i, ex in enumerate(chunk):
            if i in best:
                score, a, c = best[i]
                a, c = _strip(ex.context, a, c)
                out.append((ex.context[a:c], score - null[i]))
            else:
                out.append(("", float("-inf")))
        if progress is not None:
            progress.update(len(chunk))
    return out


def gold_metrics(examples: list[MRCExample], preds: list[tuple[str, float]], threshold: float | None) -> dict:
    """EM/F1 (CMRC 2018 style) with the gold paragraph; no-answer accuracy when there are unanswerables."""
    from ..evaluate import best_em, best_f1

    ans = [(e, p) for e, p in zip(examples, preds) if not e.impossible]
    imp = [(e, p) for e, p in zip(examples, preds) if e.impossible]
    t = float("-inf") if threshold is None else threshold

    def said(p: tuple[str, float]) -> str:
        return p[0] if p[1] >= t else ""

    f1 = [best_f1(said(p), e.answer_texts) for e, p in ans]
    em = [best_em(said(p), e.answer_texts) for e, p in ans]
    out = {
        "questions": len(examples),
        "answerable": len(ans),
        "f1": round(float(np.mean(f1)), 4) if f1 else None,
        "em": round(float(np.mean(em)), 4) if em else None,
    }
    if imp:
        right = [(said(p) == "") for _, p in imp] + [(said(p) != "") for _, p in ans]
        out["unanswerable"] = len(imp)
        out["no_answer_accuracy"] = round(float(np.mean(right)), 4)
        out["unanswerable_refused"] = round(float(np.mean([said(p) == "" for _, p in imp])), 4)
    return out


def choose_threshold(examples: list[MRCExample], preds: list[tuple[str, float]]) -> float:
    """The margin above which a span is given, maximising dev F1 with unanswerables scored 1/0."""
    from ..evaluate import best_f1

    items = []
    for e, (text, m) in zip(examples, preds):
        if e.impossible:
            items.append((m, 0.0, 1.0))  # (margin, score if answered, score if refused)
        else:
            items.append((m, best_f1(text, e.answer_texts), 0.0))
    items.sort(key=lambda x: x[0])
    # Threshold below every margin: answer all.
    total = sum(a for _, a, _ in items)
    best_total, best_t = total, items[0][0] - 1.0 if items else 0.0
    for i, (m, a, r) in enumerate(items):
        total += r - a
        nxt = items[i + 1][0] if i + 1 < len(items) else m + 1.0
        if total > best_total and nxt > m:
            best_total, best_t = total, (m + nxt) / 2
    return float(best_t)


def platt(xs: list[float], ys: list[float], weights: list[float] | None = None) -> tuple[float, float]:
    """Logistic regression of ``ys`` (0/1) on one feature: ``P = σ(a·x + b)``.

    Fitted on the standardised feature by gradient descent (Newton steps diverge when the
    classes separate), then mapped back to the raw feature.  ``weights`` weigh the examples
    (for instance so that every question set counts the same).
    """
    x, y = np.asarray(xs, float), np.asarray(ys, float)
    if len(x) == 0 or y.min() == y.max():
        return 0.0, float(np.log((y.mean() + 1e-3) / (1 - y.mean() + 1e-3))) if len(y) else 0.0
    wt = np.ones_like(x) if weights is None else np.asarray(weights, float)
    wt = wt / wt.mean()
    mu = float(np.average(x, weights=wt))
    sd = float(np.sqrt(np.average((x - mu) ** 2, weights=wt)) or 1.0)
    z = np.clip((x - mu) / sd, -10, 10)
    w = c = 0.0
    for _ in range(3000):
        p = 1 / (1 + np.exp(-np.clip(w * z + c, -50, 50)))
        w -= 0.5 * float(np.mean(wt * (p - y) * z)) + 1e-4 * w
        c -= 0.5 * float(np.mean(wt * (p - y)))
    return w / sd, c - w * mu / sd


def fit_calibration(examples: list[MRCExample], preds: list[tuple[str, float]]) -> dict:
    """Platt scaling: P(the given span is right, F1 ≥ 0.5) = σ(a·margin + b), fitted on dev."""
    from ..evaluate import best_f1

    xs, ys = [], []
    for e, (text, m) in zip(examples, preds):
        if not math.isfinite(m):
            continue
        xs.append(m)
        ys.append(0.0 if e.impossible else float(best_f1(text, e.answer_texts) >= 0.5))
    a, b = platt(xs, ys)
    return {"a": round(float(a), 5), "b": round(float(b), 5), "target": "F1>=0.5", "n": len(xs)}


# ------------------------------------------------------------------ training


def bf16_pays() -> bool:
    """Whether bfloat16 autocast trains faster than float32 on this CPU, timed on one layer's shapes.

    CPUs without native bfloat16 emulate it: on a 2-core AMD EPYC a training batch took
    132 s in bfloat16 against 7 s in float32, while an Intel Xeon with AMX trains about 1.6×
    faster in it.  A forward and backward pass of a feed-forward block is timed, interleaved and
    best of five for each, so that a busy machine does not decide it.
    """
    import torch

    if not P.native_bf16():
        return False
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


def _features_sha(feats: list[Feature]) -> str:
    h = hashlib.sha256()
    for f in feats:
        h.update(repr((f.input_ids, f.start, f.end)).encode())
    return h.hexdigest()


@dataclass
class Prepared:
    """A run's data: the split, the weighted training questions and their labelled windows."""

    splits: dict[str, list[MRCExample]]
    train_ex: list[MRCExample]
    feats: list[Feature]
    cut: list[MRCExample]
    rng: random.Random  # as left after drawing them: the run's batches come from it next
    swap: list[MRCExample] = field(default_factory=list)


def prepare(files: list[Path], cfg: TrainConfig, tok) -> Prepared:
    """The training windows of ``files`` under ``cfg``: a pure function of both (and the tokenizer)."""
    rng = random.Random(cfg.seed)
    splits = load_data(files, article_share=cfg.article_negatives, seed=cfg.seed)
    if cfg.limit:
        splits = {k: random.Random(cfg.seed).sample(v, min(cfg.limit, len(v))) for k, v in splits.items()}
    train_ex = weighted(splits["train"], cfg.oversample, rng)
    feats = features(tok, train_ex, cfg, rng)
    cut: list[MRCExample] = []
    if cfg.cut_answers > 0:
        pool = [c for e in splits["train"] if (c := answer_cut(e)) is not None]
        cut = rng.sample(pool, min(len(pool), int(cfg.cut_answers * sum(not e.impossible for e in splits["train"]))))
        # All their windows, beyond the no-answer budget: each is a "no" over a text of the right topic.
        feats += [Feature(w.input_ids, 0, 0) for w in
                  W.make_windows(tok, [e.question for e in cut], [e.context for e in cut], max_len=cfg.max_len, stride=cfg.stride)]
    swap: list[MRCExample] = []
    if cfg.swap_negatives > 0:
        # Their own generator, so adding them leaves every other draw of the run as it was.
        pairs = term_swaps(splits["train"], cfg.swap_negatives, random.Random(cfg.seed * 7 + 1))
        swap = [s for s, _ in pairs]
        # Only the windows that held the original answer: the near miss is a span of the right kind there.
        for b in range(0, len(pairs), 256):
            chunk = pairs[b : b + 256]
            for w in W.make_windows(tok, [s.question for s, _ in chunk], [s.context for s, _ in chunk],
                                    max_len=cfg.max_len, stride=cfg.stride):
                orig = chunk[w.text][1]
                if any(w.token_span(start, start + len(text)) is not None for text, start in orig.answers):
                    feats.append(Feature(w.input_ids, 0, 0))
    return Prepared(splits, train_ex, feats, cut, rng, swap)


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
    meta["dev"] = _held_out(reader, dev, dev_preds, threshold)
    if step == total:
        test_preds = predict_gold(reader, splits["test"])
        meta["test"] = _held_out(reader, splits["test"], test_preds, threshold)
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


def _length_batches(feats: list[Feature], size: int, rng: random.Random) -> list[int]:
    """A shuffled order in which each batch holds windows of similar length (less padding)."""
    order = sorted(range(len(feats)), key=lambda i: (len(feats[i].input_ids), rng.random()))
    batches = [order[i : i + size] for i in range(0, len(order), size)]
    rng.shuffle(batches)
    return [i for b in batches for i in b]


def _held_out(reader, examples: list[MRCExample], preds: list[tuple[str, float]], threshold: float) -> dict:
    from ..evaluate import best_f1, calibration

    out: dict = {}
    for src in sorted({e.source for e in examples}):
        sel = [(e, p) for e, p in zip(examples, preds) if e.source == src]
        es, ps = [e for e, _ in sel], [p for _, p in sel]
        out[src] = {"gold_no_threshold": gold_metrics(es, ps, None), "gold_at_threshold": gold_metrics(es, ps, threshold)}
    probs = [reader.probability(m) if math.isfinite(m) else 0.0 for _, m in preds]
    correct = [(not e.impossible) and best_f1(t, e.answer_texts) >= 0.5 for e, (t, _) in zip(examples, preds)]
    out["calibration"] = calibration(probs, correct, buckets=10)
    return out
