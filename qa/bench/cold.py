"""3. Cold start: a fresh process to its first answer, its peak memory, and proof that nothing
was re-embedded; ``qa ask`` in fresh processes, this tree and an earlier commit interleaved.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from ..index import current_generation
from .common import ROOT, _bar, _child_env

_COLD = r"""
import json, sys, time
t0 = float(sys.argv[1]); marks = {"interpreter_s": time.time() - t0}
import qa.answering as qa_answer
from qa import embedding
marks["import_s"] = time.time() - t0
counts = {"query": 0, "document": 0, "build_index": 0}
def counting(fn):
    def embed(self, texts, *, kind="document", progress=False):
        counts[kind] += len(texts)
        return fn(self, texts, kind=kind, progress=progress)
    return embed
for cls in (embedding.SentenceTransformerEmbedder, embedding.HashingEmbedder):
    cls.embed = counting(cls.embed)
real_build = qa_answer.build_index
def build(*a, **k):
    counts["build_index"] += 1
    return real_build(*a, **k)
qa_answer.build_index = build
idx = qa_answer.default_index()
marks["index_loaded_s"] = time.time() - t0
idx.embedder.dim  # loads the model (answer() would load it on first use)
marks["model_loaded_s"] = time.time() - t0
qa_answer.default_reader().loaded  # the reader, timed apart too
marks["reader_loaded_s"] = time.time() - t0
a = qa_answer.answer(sys.argv[2])
marks["first_answer_s"] = time.time() - t0
import resource
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
first = dict(counts)  # the second answer below is only timed
t = time.perf_counter(); qa_answer.answer(sys.argv[2]); marks["second_answer_s"] = time.perf_counter() - t
print(json.dumps({"marks": marks, "counts": first, "found": a.found, "text": a.text, "peak_rss_mb": peak_mb,
                  "generation": idx.folder.name}, ensure_ascii=False))
"""
# The commit before one e5 encoder per process (issue 22): `qa ask` there is the "before" of the
# cold-start comparison. QA_BENCH_BASELINE names another commit; "" skips the comparison.
COLD_BASELINE = "870c46bef8d1f35237d0f0697ab40be9a7eadcaf"


def _generation_state(index_dir: Path) -> tuple[str, float]:
    gen = current_generation(index_dir)
    return gen.name, (gen / "meta.json").stat().st_mtime


def bench_cold_start(index_dir: Path, seeds: Path, question: str, model: str, repeats: int) -> dict:
    """Fresh processes from interpreter start to the first answer, with an already built index."""
    before = _generation_state(index_dir)
    env = _child_env(QA_INDEX=str(index_dir), QA_SEEDS=str(seeds), QA_MODEL=model)
    runs = []
    for _ in _bar(range(repeats), "3/5 cold start"):
        t0 = time.time()
        out = subprocess.run([sys.executable, "-c", _COLD, repr(t0), question], env=env,
                             capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"cold-start child failed ({out.returncode}): {out.stderr[-2000:]}")
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    after = _generation_state(index_dir)
    med = statistics.median
    marks = {k: med(r["marks"][k] for r in runs) for k in runs[0]["marks"]}
    return {
        "runs": len(runs),
        "marks": marks,
        "peak_rss_mb": med(r["peak_rss_mb"] for r in runs),
        "document_texts_embedded": max(r["counts"]["document"] for r in runs),
        "query_texts_embedded": max(r["counts"]["query"] for r in runs),
        "build_index_calls": max(r["counts"]["build_index"] for r in runs),
        "generation_before": before[0],
        "generation_after": after[0],
        "generation_unchanged": before == after and all(r["generation"] == before[0] for r in runs),
        "answer": {"found": runs[0]["found"], "text": runs[0]["text"]},
    }


def _baseline_tree(ref: str, dest: Path) -> Path:
    """The ``qa`` package of commit ``ref``, extracted under ``dest`` (a PYTHONPATH entry)."""
    out = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref, "qa"],
                         capture_output=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"git archive {ref}: {out.stderr.decode(errors='replace').strip()[-300:]}")
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(out.stdout)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def _ask_once(env: dict[str, str], cwd: Path, index: Path, question: str, work: Path) -> dict:
    """One ``python -m qa ask`` in a fresh process: wall time to exit, its own peak RSS, what it printed."""
    out_path, err_path = work / "ask.out", work / "ask.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "qa", "ask", "--index", str(index), question],
                                env=env, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage, not all children's
        wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    stdout = out_path.read_text(encoding="utf-8", errors="replace")
    stderr = err_path.read_text(encoding="utf-8", errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"qa ask failed ({proc.returncode}): {stderr[-2000:]}")
    return {"wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024.0, "stderr_chars": len(stderr),
            "stderr_head": stderr.strip().replace("\r", "\n").split("\n")[0][:80] if stderr.strip() else "",
            "answer": stdout.splitlines()[0] if stdout else ""}


def bench_ask_cold(index_dir: Path, seeds: Path, question: str, model: str, pairs: int, work: Path,
                   baseline: str | None = None) -> dict:
    """``qa ask`` cold, this tree vs commit ``baseline``, in pairs of fresh processes run back to back
    (the order alternating), so that a shared machine's load hits both alike: medians and the
    median of the pairs' ratios.  The baseline builds its own index of ``seeds`` with its own code."""
    ref = COLD_BASELINE if baseline is None else baseline
    if not ref:
        return {"skipped": "no baseline commit (QA_BENCH_BASELINE is empty)"}
    seeds, index_dir, work = seeds.resolve(), index_dir.resolve(), work.resolve()  # the children run elsewhere
    work.mkdir(parents=True, exist_ok=True)
    try:
        old_root = _baseline_tree(ref, work / "baseline")
    except (OSError, RuntimeError, tarfile.TarError) as exc:
        return {"skipped": f"baseline {ref[:12]} unavailable: {exc}"}
    # `python -m` puts the working directory first on sys.path: each side runs from its own tree
    sides = {"before": _child_env(QA_MODEL=model), "after": _child_env(QA_MODEL=model)}
    sides["before"]["PYTHONPATH"] = os.pathsep.join([str(old_root), sides["before"]["PYTHONPATH"]])
    cwds = {"before": old_root, "after": ROOT}
    code, why = {}, {}
    for side in sides:
        where = subprocess.run([sys.executable, "-c", "import qa; print(qa.__file__)"], env=sides[side],
                               cwd=cwds[side], capture_output=True, text=True, check=False)
        code[side], why[side] = where.stdout.strip(), where.stderr.strip()[-300:]
    if not code["before"] or not Path(code["before"]).resolve().is_relative_to(old_root.resolve()):
        return {"skipped": f"the baseline's child did not import its own qa: {code['before'] or why['before']!r}"}
    old_index = work / "baseline-index"
    built = subprocess.run([sys.executable, "-m", "qa", "index", "--seeds", str(seeds), "--index", str(old_index)],
                           env=sides["before"], cwd=old_root, capture_output=True, text=True, check=False)
    if built.returncode != 0:
        return {"skipped": f"baseline {ref[:12]} could not index {seeds}: {built.stderr.strip()[-300:]}"}
    indexes = {"before": old_index, "after": index_dir}
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    for i in _bar(range(pairs), "3/5 qa ask, before/after"):
        for side in ("before", "after") if i % 2 == 0 else ("after", "before"):
            runs[side].append(_ask_once(sides[side], cwds[side], indexes[side], question, work))
    med = statistics.median
    out: dict = {"baseline": ref, "pairs": pairs, "question": question}
    for side, rs in runs.items():
        out[side] = {"code": code[side], "wall_s": med(r["wall_s"] for r in rs),
                     "peak_rss_mb": med(r["peak_rss_mb"] for r in rs),
                     "stderr_chars": max(r["stderr_chars"] for r in rs),
                     "stderr_head": next((r["stderr_head"] for r in rs if r["stderr_head"]), ""),
                     "answer": rs[0]["answer"], "runs": rs}
    for key in ("wall_s", "peak_rss_mb"):
        out[f"{key}_ratio"] = med(a[key] / b[key] for a, b in zip(runs["after"], runs["before"], strict=True))
    return out
