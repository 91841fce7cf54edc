"""Build, update, save and load the hybrid index.

On disk the index is a folder of plain files.  Each build writes a new generation
folder ``gen-*`` and then atomically replaces the small ``CURRENT`` pointer file, so a
crash mid-build leaves the previous generation in use::

    embeddings/
      CURRENT                 name of the live generation
      gen-20261129T120000-1a2b/
        meta.json             model id and fingerprint, dims, chunker and BM25 settings,
                              per-document hashes, package version, file checksums,
                              and its own checksum (meta_sha256)
        passages.jsonl        one Passage per line (ensure_ascii=False), read on demand
        passages.offsets.npy  byte offset of each line (see qa/store.py)
        passages.ids.npy      passage id hashes, sorted, with their rows
        dense.faiss           passage vectors (inner product on unit vectors): exact, HNSW,
                              or IVF with compressed codes above COMPRESS_LIMIT passages
        vectors.npy           only with compressed codes: the float32 vectors, which
                              builds reuse (codes can't be decoded back exactly)
        keyword_vocab.json    BM25 vocabulary
        keyword_*.npy         BM25 postings and their weights (see qa/keyword.py)
        userdict.txt          corpus words added to jieba (quoted names, book titles)
        seg-1/ ...            segments appended by incremental builds: the same passage,
                              dense and keyword files for their documents (exact search)
        deleted.npy           rows of changed and removed documents (see qa/segments.py)

The files above ``seg-1`` are the base segment.  An incremental build hard-links every
unchanged file into the new generation and writes only the new segment, ``deleted.npy``,
``userdict.txt`` and ``meta.json``; a full build writes one segment (see build_index).

Only passages are embedded (the reader picks the sentence and span from the text).
Loading verifies the checksums and the model fingerprint: a corrupt, truncated or
mismatched index is refused with a message, never used.  Passage records, postings and
``vectors.npy`` are memory-mapped, so loading reads little beyond the FAISS index.

One module per stage: :mod:`.load` (the format, errors, :class:`Index`, loading and checking),
:mod:`.build` (what a build reads, reuses and embeds; full or incremental), :mod:`.write`
(writing and publishing a generation), :mod:`.dense` (the FAISS structures) and :mod:`.files`
(checksums, atomic writes, the build lock).  The names below are re-exported so that
``from qa.index import ...`` keeps working; a test or benchmark that patches a constant or a
helper patches the module that reads it (``qa.index.build.MAX_SEGMENTS``, not ``qa.index``).
"""

from .build import (
    APPEND_MIN,
    APPEND_SHARE,
    EMBED_BATCH,
    MAX_DELETED_SHARE,
    MAX_SEGMENTS,
    BuildReport,
    PageProgress,
    _embed_texts,
    build_index,
    passage_embedding_text,
)
from .dense import (
    COMPRESS_LIMIT,
    FLAT_LIMIT,
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_SEARCH,
    HNSW_M,
    IVF_CODE,
    IVF_TRAIN,
    QUERY_NOISE,
    RECALL_K,
    RECALL_QUERIES,
    RECALL_TARGET,
    _make_faiss,
    _make_ivf,
    faiss_threads,
)
from .files import (
    _sha256_file,
    build_lock,
)
from .load import (
    BM25_B,
    BM25_K1,
    BM25_META,
    BUILD_ONLY_FILES,
    DELETED,
    FORMAT_VERSION,
    READABLE_FORMATS,
    RECOGNISED,
    FolderUnusable,
    Index,
    IndexCorrupt,
    IndexError_,
    IndexMismatch,
    IndexMissing,
    _meta_digest,
    check_folder,
    current_generation,
    current_meta,
    index_precision,
    indexed_documents,
    load_index,
    recognised_dir,
    segment_list,
    stale_documents,
)
from .write import (
    FAISS_STORE,
    _DocPart,
    _documents_meta,
    _write_generation,
)

__all__ = [
    "APPEND_MIN",
    "APPEND_SHARE",
    "BM25_B",
    "BM25_K1",
    "BM25_META",
    "BUILD_ONLY_FILES",
    "BuildReport",
    "COMPRESS_LIMIT",
    "DELETED",
    "EMBED_BATCH",
    "FAISS_STORE",
    "FLAT_LIMIT",
    "FORMAT_VERSION",
    "FolderUnusable",
    "HNSW_EF_CONSTRUCTION",
    "HNSW_EF_SEARCH",
    "HNSW_M",
    "IVF_CODE",
    "IVF_TRAIN",
    "Index",
    "IndexCorrupt",
    "IndexError_",
    "IndexMismatch",
    "IndexMissing",
    "MAX_DELETED_SHARE",
    "MAX_SEGMENTS",
    "PageProgress",
    "QUERY_NOISE",
    "READABLE_FORMATS",
    "RECALL_K",
    "RECALL_QUERIES",
    "RECALL_TARGET",
    "RECOGNISED",
    "_DocPart",
    "_documents_meta",
    "_embed_texts",
    "_make_faiss",
    "_make_ivf",
    "_meta_digest",
    "_sha256_file",
    "_write_generation",
    "build_index",
    "build_lock",
    "check_folder",
    "current_generation",
    "current_meta",
    "faiss_threads",
    "index_precision",
    "indexed_documents",
    "load_index",
    "passage_embedding_text",
    "recognised_dir",
    "segment_list",
    "stale_documents",
]
