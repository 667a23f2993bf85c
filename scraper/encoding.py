"""Decode page bytes the way the forum meant them, and notice when its declaration lies.

Order of trust: a byte-order mark, the HTTP header, the meta tag. GBK and GB2312 decode as
GB18030 (a superset) and Big5 as Big5-HKSCS (w3lib's mapping, the one browsers use). When the
declared charset cannot decode the bytes, we try UTF-8 and then charset-normalizer's guess,
and say so in the result instead of silently producing mojibake.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from w3lib.encoding import (
    html_body_declared_encoding,
    http_content_type_encoding,
    read_bom,
    resolve_encoding,
)


@dataclass(frozen=True)
class Decoded:
    text: str
    charset: str  # the codec the text was decoded with
    declared: str | None  # what the header or meta claimed (None when nothing was declared)

    @property
    def mismatch(self) -> bool:
        """True when the bytes were not in the charset the page declared."""
        return self.declared is not None and self.declared != self.charset


# The last text decoded from UTF-8 and the bytes it was decoded from (its own UTF-8): the HTML
# parser, which reads UTF-8, takes them rather than encoding the text again. Kept here, not on
# the text (a str subclass with the bytes as an attribute): making one copies the whole text.
# One pair, replaced as a whole: a thread that finds another's text here encodes its own.
_NONE: tuple[str, bytes] = ("", b"")
_last_utf8 = _NONE


def take_utf8(text: str) -> bytes | None:
    """The UTF-8 ``text`` was decoded from, when it is the last text decoded from UTF-8 here;
    taken, not kept: a page's text is parsed once, and the last page's bytes held here kept
    their memory from the next page's parse."""
    global _last_utf8
    decoded, body = _last_utf8
    if decoded is not text:
        return None
    _last_utf8 = _NONE
    return body


def _strict(body: bytes, charset: str) -> str | None:
    global _last_utf8
    try:
        text = body.decode(charset)
    except (UnicodeDecodeError, LookupError):
        return None
    if charset == "utf-8":
        _last_utf8 = (text, body)
    return text


# A page in its charset but for a few bad bytes (a post pasted with them, a byte cut by a
# length-limited field): read in that charset, each bad sequence a U+FFFD. Detection would
# read the whole page as some other charset (a few bytes weigh as much as the rest).
_FEW_BAD = 16


def _nearly(body: bytes, charset: str) -> str | None:
    try:
        text = body.decode(charset, errors="replace")
    except LookupError:
        return None
    bad = text.count("\ufffd") - (body.count("\ufffd".encode()) if charset == "utf-8" else 0)
    return text if bad <= _FEW_BAD and bad * 1000 <= len(body) else None


def declared_charset(body: bytes, content_type: str | None = None) -> str | None:
    """The charset the server or the page itself claims, normalised (gbk -> gb18030)."""
    bom_charset, _ = read_bom(body)
    name = (
        bom_charset
        or (http_content_type_encoding(content_type) if content_type else None)
        or html_body_declared_encoding(body)
    )
    if not name:
        return None
    return resolve_encoding(name) or name.lower()


def decode_html(body: bytes, content_type: str | None = None) -> Decoded:
    """Decode a page: the declared charset when the bytes fit it, else a detected one."""
    declared = declared_charset(body, content_type)
    bom_charset, bom = read_bom(body)
    if bom:
        body = body[len(bom) :]
    for charset in (declared, "utf-8"):
        if charset and (text := _strict(body, charset)) is not None:
            return Decoded(text, charset, declared)
    for charset in (declared, "utf-8"):
        if charset and (text := _nearly(body, charset)) is not None:
            return Decoded(text, charset, declared)
    guess = _detect(body)
    if guess and (text := _strict(body, guess)) is not None:
        return Decoded(text, guess, declared)
    fallback = declared or "gb18030"
    return Decoded(body.decode(fallback, errors="replace"), fallback, declared)


_XML_ENCODING = re.compile(rb"\s*<\?xml[^>]*encoding=[\"']([\w.:-]+)[\"']")


def decode_ajax(body: bytes, content_type: str | None = None) -> Decoded:
    """Decode an ajax answer (inajax=1). Discuz sends its XML in the site's charset and names
    it only in the XML declaration (``<?xml version="1.0" encoding="gbk"?>``), which an HTML
    decoder does not read; an answer without one (an HTML error page) decodes as a page."""
    match = _XML_ENCODING.match(body[:200])
    if match:
        name = match[1].decode("ascii")
        charset = resolve_encoding(name) or name.lower()
        if (text := _nearly(body, charset)) is not None:
            return Decoded(text, charset, charset)
    return decode_html(body, content_type)


def _detect(body: bytes) -> str | None:
    from charset_normalizer import from_bytes

    best = from_bytes(body).best()
    if best is None:
        return None
    return resolve_encoding(best.encoding) or best.encoding
