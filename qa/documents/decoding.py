"""Text files (.txt, and the text of .md): detecting the encoding (UTF-8/16/32, GB18030, Big5)."""

from __future__ import annotations

from ..text import to_simplified
from .records import DocumentError, Source


def _looks_like_text(text: str) -> bool:
    """Few control characters, replacement characters or private-use code points
    (Big5 bytes read as GB18030 decode to private-use characters)."""
    if not text:
        return True
    bad = sum(
        1
        for ch in text
        if (ord(ch) < 32 and ch not in "\t\n\r\f\v") or ch == "\ufffd" or 0xE000 <= ord(ch) < 0xF900
    )
    return bad / len(text) < 0.01


def _mostly_chinese(text: str) -> bool:
    """Latin-1, CJK ideographs, kana and CJK/general/full-width punctuation: >= 90% of ``text``."""
    ok = sum(
        1
        for ch in text
        if ord(ch) < 0x100 or 0x2000 <= ord(ch) < 0x2070 or 0x3000 <= ord(ch) < 0x3100
        or 0x3400 <= ord(ch) < 0xA000 or 0xFF00 <= ord(ch) < 0xFFF0
    )
    return ok >= 0.9 * len(text)


def _common_share(text: str) -> float:
    """Share of the ideographs that are, once simplified, among GB2312's 3,755 most
    common characters: high for real Chinese in either script, low for mojibake."""
    chars = [ch for ch in text if 0x3400 <= ord(ch) < 0xA000]
    if not chars:
        return 0.0
    common = 0
    for ch in to_simplified("".join(chars)):
        try:
            common += 0xB0 <= ch.encode("gb2312")[0] <= 0xD7
        except UnicodeEncodeError:
            pass
    return common / len(chars)


def _decode_gb_or_big5(data: bytes) -> tuple[str, str] | None:
    """Decode two-byte Chinese: GB18030 (GBK, GB2312) or Big5 (read as cp950), whichever
    reads as common Chinese; GB18030 when both do equally well."""
    found: list[tuple[str, str]] = []
    for enc, label in (("gb18030", "gb18030"), ("cp950", "big5")):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        if _looks_like_text(text):
            found.append((text, label))
    if len(found) == 2 and _common_share(found[1][0]) > _common_share(found[0][0]) + 0.1:
        return found[1]
    return found[0] if found else None


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode text bytes, detecting the encoding; returns ``(text, encoding)``.

    Order: byte-order marks (UTF-8/16/32), UTF-16 without BOM (many NULs), strict UTF-8,
    UTF-16 without BOM (a few NULs, decoding to Chinese), strict GB18030 (covers
    GBK/GB2312) or Big5, then charset-normalizer's best guess.  Raises
    :class:`DocumentError` when nothing yields plausible text (binary junk).
    """
    boms = [
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\xff\xfe\x00\x00", "utf-32"),
        (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ]
    candidates: list[str] = [enc for bom, enc in boms if data.startswith(bom)][:1]
    guarded = ""  # a guess that must also decode to mostly Chinese text
    if not candidates:
        head = data[:2000]
        even, odd = head[0::2].count(0), head[1::2].count(0)
        utf16 = "utf-16-be" if even > odd else "utf-16-le"
        if even + odd > len(head) // 4:
            candidates.append(utf16)
        candidates.append("utf-8")
        if 0 < even + odd <= len(head) // 4:
            # Chinese UTF-16 has NULs only where it has ASCII (a headline and a newline: 1-2);
            # UTF-8 and GB text have none.  Too few for charset-normalizer to be sure.
            guarded = utf16
            candidates.append(utf16)
        candidates.append("gb18030|big5")
    for enc in candidates:
        if enc == "gb18030|big5":
            found = _decode_gb_or_big5(data)
            if found is not None:
                return found
            continue
        try:
            text = data.decode(enc)
        except (UnicodeDecodeError, LookupError):
            continue
        if _looks_like_text(text) and (enc != guarded or _mostly_chinese(text)):
            return text, enc
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
    except Exception:  # pragma: no cover - detector failure is treated as undecodable
        best = None
    if best is not None:
        text = str(best)
        if _looks_like_text(text):
            return text, best.encoding
    raise DocumentError.of("no_encoding")


def _text_source(data: bytes, markdown: bool = False) -> Source:
    """A text file's decoded text, line breaks as ``\\n``."""
    text, enc = decode_bytes(data)
    text = text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text
    return Source(text, enc, markdown)
