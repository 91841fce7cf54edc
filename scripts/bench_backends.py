"""The embedder's backends side by side: torch fp32, torch bfloat16 (what the index uses where
the CPU has native bfloat16, see qa/precision.py), torch dynamic int8, ONNX Runtime fp32 and
ONNX Runtime dynamic int8, on the same passages and questions.

Speed: passages of the seed and ``data/wild/docs`` embedded longest-last in batches of 32
(as the build does), two interleaved passes, median.  Quality: cosine to the fp32 vectors,
and dense-only retrieval over those passages for the dev questions (hit@1, hit@5, MRR: a hit
is a passage containing a gold answer), beside the overlap of each backend's top 5 with fp32's.

Needs the ``onnx`` extra (``pip install -e '.[onnx]'``); the ONNX export is made from the
offline e5 folder into ``--work`` (about 20 s; 470 MB fp32, 118 MB int8).

    python scripts/bench_backends.py --work /tmp/onnx
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import build_index, load_index  # noqa: E402
from qa.embedding import BATCH_SIZE, HashingEmbedder, SentenceTransformerEmbedder  # noqa: E402
from qa.evaluate import load_questions  # noqa: E402
from qa.offline_model import ensure_offline_e5  # noqa: E402

PROMPTS = {"query": "query: ", "document": "passage: "}


def export(folder: Path, work: Path) -> tuple[Path, Path]:
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel, AutoTokenizer

    fp32, int8 = work / "model.onnx", work / "model_int8.onnx"
    if not fp32.exists():
        model = AutoModel.from_pretrained(str(folder)).eval()
        enc = AutoTokenizer.from_pretrained(str(folder))(["query: 你好"], return_tensors="pt")

        class Hidden(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, input_ids, attention_mask):
                return self.m(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

        axes = {"input_ids": {0: "b", 1: "s"}, "attention_mask": {0: "b", 1: "s"}, "last_hidden_state": {0: "b", 1: "s"}}
        torch.onnx.export(Hidden(model), (enc["input_ids"], enc["attention_mask"]), str(fp32),
                          input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                          dynamic_axes=axes, opset_version=17, dynamo=False)
    if not int8.exists():
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    return fp32, int8


def onnx_embedder(path: Path, tok):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def embed(texts: list[str], kind: str) -> np.ndarray:
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), 384), np.float32)
        for b in range(0, len(order), BATCH_SIZE):
            idx = order[b : b + BATCH_SIZE]
            enc = tok([PROMPTS[kind] + texts[i] for i in idx], padding=True, truncation=True, max_length=512,
                      return_tensors="np")
            h = session.run(None, {k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask")})[0]
            m = enc["attention_mask"][..., None].astype(np.float32)
            v = (h * m).sum(1) / m.sum(1)
            out[idx] = v / np.linalg.norm(v, axis=1, keepdims=True)
        return out

    return embed


def passages() -> list[str]:
    out = []
    for docs in (ROOT / "seeds", ROOT / "data" / "wild" / "docs"):
        with tempfile.TemporaryDirectory() as tmp:
            build_index(docs, Path(tmp) / "ix", embedder=HashingEmbedder(16), progress=False)
            out += [p.text for p in load_index(Path(tmp) / "ix", embedder=HashingEmbedder(16)).passages]
    return out


def main() -> int:
    import torch
    from transformers import AutoTokenizer

    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, required=True, help="folder for the ONNX export")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    folder = Path(ensure_offline_e5())
    fp32, int8 = export(folder, args.work)
    tok = AutoTokenizer.from_pretrained(str(folder))
    st = SentenceTransformerEmbedder(precision="float32")  # the reference, whatever QA_PRECISION says
    stq = SentenceTransformerEmbedder(precision="float32")
    stq._model = torch.ao.quantization.quantize_dynamic(copy.deepcopy(st.model), {torch.nn.Linear}, dtype=torch.qint8)
    stb = SentenceTransformerEmbedder(precision="bfloat16")  # the index's own path: cast, then unit length in float32
    backends = {
        "torch": lambda t, kind: st.embed(t, kind=kind),
        "torch-bf16": lambda t, kind: stb.embed(t, kind=kind),
        "torch-int8": lambda t, kind: stq.embed(t, kind=kind),
        "onnx": onnx_embedder(fp32, tok),
        "onnx-int8": onnx_embedder(int8, tok),
    }
    texts = passages()
    for fn in backends.values():
        fn(texts[:8], "document")  # warm-up
    times: dict[str, list[float]] = {k: [] for k in backends}
    vecs: dict[str, np.ndarray] = {}
    for r in range(2):  # interleaved, the order reversed on the second pass
        for k in list(backends) if r == 0 else list(backends)[::-1]:
            t0 = time.perf_counter()
            vecs[k] = backends[k](texts, "document")
            times[k].append(time.perf_counter() - t0)
    qs = load_questions(ROOT / "data" / "questions" / "dev.jsonl") + load_questions(ROOT / "data" / "wild" / "dev.jsonl")
    qvecs = {k: fn([q.question for q in qs], "query") for k, fn in backends.items()}
    ref_top = np.argsort(-(qvecs["torch"] @ vecs["torch"].T), axis=1)[:, :5]
    report = {"passages": len(texts), "characters": sum(map(len, texts)), "questions": len(qs), "backends": {}}
    for k in backends:
        order = np.argsort(-(qvecs[k] @ vecs[k].T), axis=1)[:, :20]
        h1, h5, rr = [], [], []
        for q, row in zip(qs, order):
            if not q.answers:
                continue
            ranks = [i for i, j in enumerate(row) if any(a in texts[j] for a in q.answers)]
            h1.append(bool(ranks) and ranks[0] < 1)
            h5.append(bool(ranks) and ranks[0] < 5)
            rr.append(1.0 / (ranks[0] + 1) if ranks else 0.0)
        cos = (vecs[k] * vecs["torch"]).sum(1)
        report["backends"][k] = {
            "seconds": [round(t, 2) for t in times[k]],
            "passages_per_s": round(len(texts) / float(np.median(times[k])), 1),
            "speedup_vs_torch": round(float(np.median(times["torch"]) / np.median(times[k])), 2),
            "passage_cosine_mean": round(float(cos.mean()), 4), "passage_cosine_min": round(float(cos.min()), 4),
            "question_cosine_mean": round(float((qvecs[k] * qvecs["torch"]).sum(1).mean()), 4),
            "hit_at_1": round(float(np.mean(h1)), 3), "hit_at_5": round(float(np.mean(h5)), 3),
            "mrr": round(float(np.mean(rr)), 3),
            "top5_overlap_with_fp32": round(float(np.mean([len(set(a) & set(b)) / 5 for a, b in zip(order[:, :5], ref_top)])), 3),
        }
    text = json.dumps(report, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
