"""Default locations; each can be overridden by an environment variable."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def seeds_dir() -> Path:
    """Documents folder: ``QA_SEEDS`` or the project's ``seeds/``."""
    return given_seeds_dir() or default_seeds_dir()


def default_seeds_dir() -> Path:
    """The project's ``seeds/``: the documents of a new index when no folder is named."""
    return PROJECT_ROOT / "seeds"


def given_seeds_dir() -> Path | None:
    """``QA_SEEDS`` when it is set: a documents folder the user named (None: the default applies).

    An index keeps the folder it was built from (see :mod:`qa.seeds`); only a named one is
    checked against it.
    """
    value = os.environ.get("QA_SEEDS")
    return Path(value) if value else None


def index_dir() -> Path:
    """Index folder: ``QA_INDEX`` or the project's ``embeddings/``."""
    return Path(os.environ.get("QA_INDEX") or PROJECT_ROOT / "embeddings")
