"""The float type the models compute in: bfloat16 where the CPU has it natively, else float32.

On a CPU with AVX512-BF16 or AMX, bfloat16 matrix products run at about twice the speed of
float32, and for these models the results are the same to within rounding: on this project's
dev data the embedder's vectors keep a cosine above 0.9999 to float32's with the same
retrieval hit@5 and MRR, the reader's gold-paragraph F1 moves by less than 0.005, and ``answer()``
gives the same answers (README, *Precision*).  A CPU without them emulates bfloat16 at many times the cost of
float32, so ``auto`` chooses bfloat16 only where it is native.

``QA_PRECISION`` (``auto``, ``float32`` or ``bfloat16``) overrides the choice.  An index
records the precision its vectors were computed in, and its questions are embedded in the
same one (:mod:`qa.index`).
"""

from __future__ import annotations

import os
from functools import cache

ENV = "QA_PRECISION"
FLOAT32 = "float32"
BFLOAT16 = "bfloat16"
PRECISIONS = (FLOAT32, BFLOAT16)
_ALIASES = {"fp32": FLOAT32, "float": FLOAT32, "bf16": BFLOAT16}


class PrecisionError(ValueError):
    """An unknown precision; the message lists the ones allowed."""


@cache
def native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX)."""
    try:
        import torch

        cpu = torch.cpu
        for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
            fn = getattr(cpu, probe, None)
            if fn is not None and fn():
                return True
        if hasattr(cpu, "_is_avx512_bf16_supported"):
            return False
    except Exception:  # pragma: no cover - torch missing or its private probes gone
        pass
    try:  # pragma: no cover - older torch: ask the kernel
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            flags = next((line for line in fh if line.startswith("flags")), "").split()
        return "avx512_bf16" in flags or "amx_bf16" in flags
    except OSError:  # pragma: no cover
        return False


def resolve(value: str | None = None) -> str:
    """``float32`` or ``bfloat16`` for ``value`` (default: ``QA_PRECISION``, else ``auto``)."""
    raw = value if value is not None else os.environ.get(ENV, "")
    name = (raw or "auto").strip().lower()
    name = _ALIASES.get(name, name)
    if name == "auto":
        return BFLOAT16 if native_bf16() else FLOAT32
    if name not in PRECISIONS:
        source = f"{ENV}={raw!r}" if value is None else repr(raw)
        raise PrecisionError(f"precision {source} is not one of auto, float32, bfloat16")
    return name


def apply(model, precision: str):
    """``model`` cast to ``precision`` (in place for torch modules); returns it."""
    if precision == BFLOAT16:
        import torch

        model.to(torch.bfloat16)
    return model
