"""Training throughput of the reader, in windows per second, for each option side by side.

Issue 24 asks which of these pays on the machine at hand: bfloat16 autocast (float32
master weights), ``torch.compile``, 192- against 256-token windows, and freezing the
lowest layers.  Every option trains the same model on the same random windows, one after
the other in this process, after a warm-up step per shape; the report names the CPU.

    .venv/bin/python scripts/train_throughput.py --steps 4 --out docs/benchmarks-training.json
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import time
from pathlib import Path


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return platform.processor()
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    flags = fields.get("Flags", "")
    native = [f for f in ("avx512_bf16", "amx_bf16") if f in flags.split()]
    return f"{fields.get('Model name', '?').strip()} ({', '.join(native) or 'no native bfloat16'})"


def measure(*, max_len: int, bf16: bool, frozen_layers: int, compile_: bool, steps: int, batch: int) -> float:
    import torch

    from qa.reader.model import base_model_folder, new_qa_model

    torch.manual_seed(0)
    model = new_qa_model(base_model_folder())
    for name, p in model.named_parameters():
        low = any(f"encoder.layer.{i}." in name for i in range(frozen_layers))
        p.requires_grad_(not (name.endswith("word_embeddings.weight") or low or (frozen_layers and "embeddings." in name)))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-5)
    fwd = torch.compile(model) if compile_ else model
    model.train()
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1000, 200000, (batch, max_len), generator=g)
    mask = torch.ones_like(ids)
    sp = torch.randint(0, max_len, (batch,), generator=g)

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            res = fwd(input_ids=ids, attention_mask=mask, start_positions=sp, end_positions=sp)
        res.loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    step()  # warm-up: kernels (and the compiled graph) for this shape
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--only", default="", help='option names to run, separated by ";"')
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    options = {
        "float32, 256": dict(max_len=256, bf16=False, frozen_layers=0, compile_=False),
        "bf16 autocast, 256": dict(max_len=256, bf16=True, frozen_layers=0, compile_=False),
        "bf16 autocast, 192": dict(max_len=192, bf16=True, frozen_layers=0, compile_=False),
        "bf16 autocast, 256, layers 0-5 frozen": dict(max_len=256, bf16=True, frozen_layers=6, compile_=False),
        "bf16 autocast, 256, torch.compile": dict(max_len=256, bf16=True, frozen_layers=0, compile_=True),
    }
    if args.only:
        keep = {s.strip() for s in args.only.split(";")}
        options = {k: v for k, v in options.items() if k in keep}
    rows = []
    for name, opt in options.items():
        try:
            wps = measure(steps=args.steps, batch=args.batch, **opt)
            rows.append({"option": name, "windows_per_s": round(wps, 2)})
        except Exception as exc:  # torch.compile needs a compiler; report instead of stopping the table
            rows.append({"option": name, "error": f"{type(exc).__name__}: {str(exc)[:200]}"})
        print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    report = {"cpu": cpu_name(), "threads": torch.get_num_threads(), "batch": args.batch, "steps": args.steps,
              "torch": torch.__version__, "rows": rows}
    print(json.dumps(report, ensure_ascii=False, indent=1))
    if args.out:
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
