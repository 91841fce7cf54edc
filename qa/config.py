"""Default locations; each can be overridden by an environment variable."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def seeds_dir() -> Path:
    """Documents folder: ``QA_SEEDS`` or the project's ``seeds/``."""
    return Path(os.environ.get("QA_SEEDS") or PROJECT_ROOT / "seeds")


def index_dir() -> Path:
    """Index folder: ``QA_INDEX`` or the project's ``embeddings/``."""
    return Path(os.environ.get("QA_INDEX") or PROJECT_ROOT / "embeddings")
