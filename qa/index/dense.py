"""The FAISS structures of the dense vectors: exact inner-product search up to ``FLAT_LIMIT``
vectors, HNSW up to ``COMPRESS_LIMIT``, IVF with compressed codes beyond, its ``nprobe``
set from measured recall; and the OpenMP threads a search runs on (see docs/benchmarks.md)."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator

import numpy as np

FLAT_LIMIT = 50_000  # exact search up to here; HNSW beyond (see docs/benchmarks.md)
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 80, 512  # efSearch 128: recall@10 0.95 at 100k
COMPRESS_LIMIT = 200_000  # above: IVF with compressed codes (IVF_CODE), nprobe set from measured recall
IVF_CODE = "SQ8"  # faiss index_factory code: SQ8 = 1 byte per dimension (PQ48 etc. also work)
IVF_TRAIN = 64  # training vectors per inverted list (faiss asks for 39 to 256)
RECALL_K, RECALL_TARGET, RECALL_QUERIES = 10, 0.95, 200
QUERY_NOISE = 0.5  # recall queries: stored vectors plus Gaussian noise of this norm, renormalised


@contextlib.contextmanager
def faiss_threads(n: int) -> Iterator[None]:
    """Run FAISS with ``n`` OpenMP threads in this thread, then restore the setting.

    One interactive query is faster on one thread: the parallel region costs more than
    it saves (10k vectors: 0.6 ms vs 0.8-20 ms on two threads; see docs/benchmarks.md).
    """
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _make_faiss(
    vectors: np.ndarray, *, exact: bool | None = None, compress_limit: int = COMPRESS_LIMIT
) -> tuple[object, dict]:
    """The FAISS index for ``vectors`` and its description for meta.json.

    Exact inner-product search up to ``FLAT_LIMIT`` vectors, HNSW up to ``compress_limit``,
    IVF with ``IVF_CODE`` codes beyond (``exact`` forces flat or HNSW).  IVF's ``nprobe``
    is the smallest power of two whose measured recall@10 against exact search reaches
    ``RECALL_TARGET`` (see :func:`_tune_nprobe`).
    """
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    if exact is None and n > compress_limit:
        return _make_ivf(vectors)
    if exact is None:
        exact = n <= FLAT_LIMIT
    if exact:
        index = faiss.IndexFlatIP(dim)
        info: dict = {"type": "IndexFlatIP"}
    else:
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
        info = {"type": "IndexHNSWFlat", "M": HNSW_M, "efSearch": HNSW_EF_SEARCH}
    if n:
        index.add(vectors)
    return index, info


def _make_ivf(vectors: np.ndarray, code: str = IVF_CODE) -> tuple[object, dict]:
    """IVF over ``sqrt(n)`` lists with compressed codes, trained on a sample, ``nprobe`` tuned."""
    import faiss

    n, dim = vectors.shape
    nlist = max(1, int(math.sqrt(n)))
    rng = np.random.default_rng(n)
    n_train = min(n, max(IVF_TRAIN * nlist, 10_000))
    sample = vectors[np.sort(rng.choice(n, n_train, replace=False))] if n_train < n else vectors
    index = faiss.index_factory(dim, f"IVF{nlist},{code}", faiss.METRIC_INNER_PRODUCT)
    t0 = time.perf_counter()
    index.train(sample)
    index.add(vectors)
    build_s = time.perf_counter() - t0
    nprobe, recall, sweep = _tune_nprobe(index, vectors, rng)
    faiss.extract_index_ivf(index).nprobe = nprobe
    return index, {
        "type": type(index).__name__,
        "factory": f"IVF{nlist},{code}",
        "nlist": nlist,
        "nprobe": nprobe,
        "train_size": int(n_train),
        "recall_at_10": recall,
        "recall_target": RECALL_TARGET,
        "recall_queries": min(RECALL_QUERIES, n),
        "recall_sweep": sweep,
        "bytes_per_vector": faiss.extract_index_ivf(index).code_size + 8,  # code + its id in the list
        "build_s": round(build_s, 2),
    }


def _tune_nprobe(index, vectors: np.ndarray, rng: np.random.Generator) -> tuple[int, float, dict]:
    """Smallest power-of-two ``nprobe`` with recall@10 >= ``RECALL_TARGET`` against exact search.

    Queries are ``RECALL_QUERIES`` stored vectors plus Gaussian noise of norm ``QUERY_NOISE``
    (near the data, not on it).  Recall is tie-aware: a result scoring at least the exact
    10th score counts.  Returns ``(nprobe, recall, {nprobe: recall})``; when no setting
    reaches the target, every list is probed.
    """
    import faiss

    n, dim = vectors.shape
    rows = rng.choice(n, min(RECALL_QUERIES, n), replace=False)
    noise = rng.standard_normal((len(rows), dim)).astype(np.float32)
    queries = vectors[rows] + QUERY_NOISE * noise / np.linalg.norm(noise, axis=1, keepdims=True)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    k = min(RECALL_K, n)
    exact = faiss.IndexFlatIP(dim)
    exact.add(vectors)
    kth = exact.search(queries, k)[0][:, -1]
    ivf = faiss.extract_index_ivf(index)
    sweep: dict[str, float] = {}
    nprobe = 1
    while True:
        ivf.nprobe = nprobe
        found = index.search(queries, k)[1]
        good = [
            int((vectors[ids[ids >= 0]] @ q >= t - 1e-5).sum()) for q, ids, t in zip(queries, found, kth)
        ]
        recall = float(np.mean(np.minimum(good, k)) / k)
        sweep[str(nprobe)] = round(recall, 4)
        if recall >= RECALL_TARGET or nprobe >= ivf.nlist:
            return nprobe, recall, sweep
        nprobe = min(2 * nprobe, ivf.nlist)
