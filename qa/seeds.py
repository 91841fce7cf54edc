"""Which documents folder an index is kept in sync with.

An index records the folder it was built from (``seeds_dir`` in its meta.json, an absolute
path).  Opening it with no folder named uses that folder, so an index built from
``mydocs`` is never updated from the project's ``seeds/``.  A folder named explicitly
(``--seeds``, ``QA_SEEDS``) that is not the recorded one is refused with
:class:`FolderMismatch`, naming both, unless it holds every document of the index
unchanged: the folder was moved or copied together with the index, and nothing is lost.

A new index (or one whose meta.json does not say) is built from the folder named, else
the project's ``seeds/`` (:func:`qa.config.default_seeds_dir`).  Syncing never empties an index:
see :func:`qa.index.check_folder`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from . import config
from .index import IndexError_, current_meta, indexed_documents
from .messages import ReasonedError


class FolderMismatch(ReasonedError, IndexError_):
    """A documents folder was named that is not the one the index was built from (its ``reason``:
    ``folder_mismatch``, see :mod:`qa.messages`)."""


def recorded_folder(index_dir: Path | str) -> Path | None:
    """The documents folder the index in ``index_dir`` was built from (None: no index, or it does not say)."""
    value = current_meta(index_dir).get("seeds_dir")
    return Path(value) if isinstance(value, str) and value else None


def holds_documents(folder: Path, documents: dict[str, str]) -> bool:
    """Whether ``folder`` holds each of ``documents`` (name -> sha256) under its name, unchanged."""
    for name, digest in documents.items():
        path = folder / name
        h = hashlib.sha256()
        try:
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
        except OSError:  # missing, a folder, unreadable
            return False
        if h.hexdigest() != digest:
            return False
    return True


def documents_folder(index_dir: Path | str, given: Path | str | None = None) -> Path:
    """The documents folder to keep the index in ``index_dir`` in sync with (absolute).

    ``given``: the folder the user named (``--seeds``, else :func:`qa.config.given_seeds_dir`),
    or None.  Raises :class:`FolderMismatch` when it is not the recorded folder and does
    not hold the index's documents.  With none given: the recorded folder; where that is
    gone and the project's ``seeds/`` holds the index's documents (the project was moved),
    that one.
    """
    recorded = recorded_folder(index_dir)
    default = config.default_seeds_dir().resolve()
    if recorded is None:
        return Path(given).resolve() if given is not None else default
    if given is None:
        if not recorded.is_dir() and default != recorded and holds_documents(default, indexed_documents(index_dir)):
            return default
        return recorded
    given = Path(given).resolve()
    if given == recorded or (recorded.exists() and given.exists() and given.samefile(recorded)):
        return given
    if holds_documents(given, indexed_documents(index_dir)):
        return given
    raise FolderMismatch.of("folder_mismatch", index=str(index_dir), recorded=str(recorded), given=str(given))
