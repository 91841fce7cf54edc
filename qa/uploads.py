"""Checking uploads before they are stored: a safe file name, a supported type, a size under
the limit per document, and content that is what its suffix says.

A refused upload raises :class:`UploadError`, its message in Chinese (the app's language).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from .documents import MAX_DOCUMENT_BYTES, SUPPORTED_SUFFIXES

MAX_NAME_CHARS = 80  # of the stem; 80 CJK characters are 240 bytes, under the 255-byte limit
_KEEP_PUNCT = frozenset(" -_.,()[]（）【】《》〈〉「」『』·・、，。；！？：“”‘’+=@~")
_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))})
# Magic bytes of the binary formats: a renamed file is refused before it is parsed.
_MAGIC = {".pdf": (b"%PDF",), ".docx": (b"PK\x03\x04",)}


class UploadError(ValueError):
    """An upload that was refused; the message says why, in Chinese (the app's language)."""


# ------------------------------------------------------------------ names and uploads


def safe_filename(name: str) -> str:
    """A safe file name for an upload: no folders, not hidden, supported suffix; Chinese and spaces kept."""
    base = re.split(r"[\\/]", unicodedata.normalize("NFC", str(name)))[-1].strip()
    stem, dot, ext = base.rpartition(".")
    suffix = f".{ext.lower()}" if dot else ""
    if suffix not in SUPPORTED_SUFFIXES:
        raise UploadError(
            f"不支持的文件类型 {suffix or '（无扩展名）'}：{base}。可以上传的类型：{'、'.join(SUPPORTED_SUFFIXES)}。"
        )
    chars = []
    for ch in stem:
        if ch.isspace():
            chars.append(" ")
        elif unicodedata.category(ch)[0] in "LNM" or ch in _KEEP_PUNCT:
            chars.append(ch)
        else:
            chars.append("_")
    clean = re.sub(r"_{2,}", "_", re.sub(r" {2,}", " ", "".join(chars)))
    clean = clean.strip(" ._-")[:MAX_NAME_CHARS].rstrip(" ._-")
    if not clean:
        clean = "document"
    if clean.upper() in _RESERVED:
        clean += "_"
    return clean + suffix


def too_large(name: str, size: int) -> str:
    """Why an upload of ``size`` bytes (over :data:`MAX_DOCUMENT_BYTES`) is refused, in Chinese."""
    return f"{name} 太大（{size / 2**20:.1f} MiB），每个文档最多 {MAX_DOCUMENT_BYTES // 2**20} MiB，没有保存。"


def check_upload(path: Path, name: str) -> int:
    """Refuse a file that is empty, too large or not what its suffix says; returns its size."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UploadError(f"无法读取上传的文件 {name}：{exc.strerror or exc}。") from exc
    if size == 0:
        raise UploadError(f"{name} 是空文件。")
    if size > MAX_DOCUMENT_BYTES:
        raise UploadError(too_large(name, size))
    magic = _MAGIC.get(Path(name).suffix.lower())
    if magic:
        with open(path, "rb") as f:
            head = f.read(8)
        if not head.startswith(magic):
            raise UploadError(f"{name} 的内容不是 {Path(name).suffix} 格式。")
    return size
