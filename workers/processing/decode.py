"""Turn a fetched page's bytes into text, the way a browser would, before extraction.

trafilatura guesses the encoding itself when handed bytes and gets Latin-1 pages
wrong, so the process stage always hands it `str` decoded here. The charset is
taken from, in order:

1. a byte-order mark (authoritative, as in the WHATWG encoding standard);
2. the `charset` of the HTTP Content-Type header;
3. a `<meta charset>` or `<meta http-equiv="Content-Type">` in the first
   `META_SCAN_BYTES` of the page (not only the first 1024 bytes, which real pages
   overrun with comments and inline scripts);
4. detection: UTF-8 (valid, or with a few stray bytes among many valid sequences)
   is taken at once, anything else goes to charset_normalizer;
5. UTF-8 with replacement characters.

A declared charset falls through to the next source when it is not a known
text encoding or when the body does not decode with it strictly. Labels are
mapped as browsers map them: iso-8859-1, latin-1 and us-ascii mean
windows-1252, gb2312 means gb18030, and so on; UTF-7 and Python-only codecs
(unicode-escape, idna...) are refused. One deliberate extra: a legacy
declaration (windows-1252, iso-8859-x, koi8-r, shift_jis...) is not believed
when the body has non-ASCII bytes that all form valid UTF-8. Such byte sequences
essentially never occur in real legacy-encoded text, while servers that label
UTF-8 pages ISO-8859-1 by default are common.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Literal

from charset_normalizer import from_bytes

from workers.errors import DecodeError

Source = Literal["bom", "header", "meta", "detected", "fallback"]

META_SCAN_BYTES = 64 * 1024
"""How far into the page a meta charset is looked for (the head of real pages can be long)."""

BINARY_SAMPLE_BYTES = 8 * 1024
MAX_CONTROL_SHARE = 0.01
"""Text in an ASCII-compatible encoding has almost no C0 control bytes (NUL, BEL...);
binary data, where bytes are spread evenly, has about 9% of them."""

MAX_JUNK_SHARE = 0.10
"""Most replacement or control characters tolerated in text decoded without a declaration."""

MIN_VALID_PER_BROKEN_UTF8 = 4
"""Valid non-ASCII UTF-8 characters needed per broken sequence to read a page as UTF-8."""

_BOMS: tuple[tuple[bytes, str], ...] = (
    # UTF-32 first: its little-endian BOM starts with UTF-16's.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"GIF8", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed data"),
    (b"RIFF", "a RIFF (WebP/WAV/AVI) file"),
    (b"\x00\x00\x01\x00", "an icon file"),
    (b"\x7fELF", "an executable"),
)

# Browsers read these labels as a superset encoding (WHATWG encoding standard);
# keys and values are Python codec names as codecs.lookup() returns them.
_SUPERSETS = {
    "iso8859-1": "cp1252",
    "ascii": "cp1252",
    "iso8859-9": "cp1254",
    "iso8859-11": "cp874",
    "tis-620": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "euc_kr": "cp949",
    "shift_jis": "cp932",
    "big5": "big5hkscs",
}

# WHATWG labels Python does not know, and Python codecs no web page may ask for.
_ALIASES = {
    "windows-31j": "cp932",
    "x-sjis": "cp932",
    "x-euc-jp": "euc_jp",
    "x-gbk": "gb18030",
    "x-x-big5": "big5hkscs",
    "windows-874": "cp874",
    "iso-8859-8-i": "iso8859-8",
    "x-mac-roman": "mac-roman",
    "x-mac-cyrillic": "mac-cyrillic",
    "x-mac-ukrainian": "mac-cyrillic",
    "unicode-1-1-utf-8": "utf-8",
    "unicode11utf8": "utf-8",
    "unicode20utf8": "utf-8",
    "x-unicode20utf8": "utf-8",
}
_REFUSED = frozenset(
    {"utf-7", "idna", "punycode", "unicode-escape", "raw-unicode-escape", "undefined", "mbcs"}
)
_UNICODE = frozenset({"utf-8", "utf-8-sig"})
_WIDE = frozenset({"utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"})

_CHARSET_PARAM = re.compile(rb"""charset\s*=\s*["']?\s*([A-Za-z0-9_:.+-]{1,40})""", re.I)
_META_CHARSET = re.compile(
    rb"""<meta\s[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_:.+-]{1,40})""", re.I | re.S
)
# C0 controls but tab, newlines, form feed and escape (ISO-2022-JP uses it).
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f]")
_NOT_TEXT = re.compile(rb"<(script|style)\b.*?</\1\s*>|<!--.*?-->|<[^>]*>", re.S | re.I)
_COMMENT = re.compile(rb"<!--.*?-->", re.S)
_UNDEFINED_CP1252 = frozenset(b"\x81\x8d\x8f\x90\x9d")
_JUNK_CHARS = re.compile(r"[\ufffd\x00-\x08\x0b\x0e-\x1a\x1c-\x1f]")


@dataclass(frozen=True)
class DecodedPage:
    """A page as text, with the charset used and where that charset came from."""

    html: str
    charset: str
    source: Source


def _cp1252_as_browsers(error: UnicodeError) -> tuple[str, int]:
    # Python leaves five cp1252 bytes undefined; browsers map them to the C1 controls.
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    if not all(byte in _UNDEFINED_CP1252 for byte in bad):
        raise error
    return bad.decode("latin-1"), error.end


codecs.register_error("newswire-cp1252", _cp1252_as_browsers)


def decode_page(body: bytes, content_type: str | None) -> DecodedPage:
    """Decode a page's bytes. Raises DecodeError for empty bodies and binary content."""
    if not body.strip():
        raise DecodeError("empty body: nothing to decode", reason="empty_body")
    page = _from_bom(body)
    if page is not None:
        return page
    header_codec = _codec_for(_header_label(content_type))
    _refuse_binary(body, wide_declared=header_codec in _WIDE)
    utf8 = _is_utf8(body)
    page = _try_declared(body, header_codec, "header", utf8=utf8) or _try_declared(
        body, _meta_codec(body), "meta", utf8=utf8
    )
    return page or _detect(body, utf8=utf8)


def _from_bom(body: bytes) -> DecodedPage | None:
    for bom, codec in _BOMS:
        if body.startswith(bom):
            html = body[len(bom) :].decode(codec, errors="replace")
            return DecodedPage(html=html, charset=codec, source="bom")
    return None


def _refuse_binary(body: bytes, *, wide_declared: bool) -> None:
    for magic, what in _MAGIC:
        if body.startswith(magic):
            raise DecodeError(f"not a text page: the body is {what}", reason="binary")
    if wide_declared:
        return  # UTF-16 text is full of NUL bytes
    sample = body[:BINARY_SAMPLE_BYTES]
    controls = len(_CONTROL_BYTES.findall(sample))
    if controls > MAX_CONTROL_SHARE * len(sample):
        raise DecodeError(
            f"not a text page: {controls} control bytes in the first {len(sample)} bytes",
            reason="binary",
        )


def _header_label(content_type: str | None) -> bytes | None:
    if not content_type:
        return None
    found = _CHARSET_PARAM.search(content_type.encode("latin-1", errors="replace"))
    return found.group(1) if found else None


def _meta_codec(body: bytes) -> str | None:
    head = _COMMENT.sub(b"", body[:META_SCAN_BYTES])
    found = _META_CHARSET.search(head)
    codec = _codec_for(found.group(1) if found else None)
    # A meta tag readable as ASCII cannot be in UTF-16: browsers take it as UTF-8.
    return "utf-8" if codec in _WIDE else codec


def _codec_for(label: bytes | None) -> str | None:
    """The Python codec browsers would use for a charset label; None if unknown."""
    if not label:
        return None
    text = label.decode("ascii", errors="replace").strip().lower()
    text = _ALIASES.get(text) or re.sub(r"^x-(cp\d+)$", r"\1", text)
    try:
        info = codecs.lookup(text)
    except LookupError:
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _REFUSED:
        return None  # bytes-to-bytes codecs (base64, zlib...) and unsafe ones
    return _SUPERSETS.get(info.name, info.name)


def _try_declared(
    body: bytes, codec: str | None, source: Source, *, utf8: bool
) -> DecodedPage | None:
    if codec is None:
        return None
    if codec in _WIDE and b"\x00" not in body[:BINARY_SAMPLE_BYTES]:
        return None  # UTF-16/32 markup is full of NUL bytes: this label is wrong
    legacy = codec not in _UNICODE and codec not in _WIDE
    if legacy and utf8 and not body.isascii():
        return None  # a legacy label on UTF-8 bytes: see the module docstring
    errors = "newswire-cp1252" if codec == "cp1252" else "strict"
    try:
        html = body.decode(codec, errors=errors)
    except UnicodeDecodeError:
        if codec not in _UNICODE:
            return None
        mostly = _mostly_utf8(body)
        if mostly is None:
            return None
        html = mostly
    return DecodedPage(html=html, charset=charset_name(codec), source=source)


def _detect(body: bytes, *, utf8: bool) -> DecodedPage:
    html = body.decode("utf-8") if utf8 else _mostly_utf8(body)
    if html is not None:
        return DecodedPage(html=html, charset="utf-8", source="detected")
    codec = _detected_codec(body)
    if codec is not None:
        html = body.decode(codec, errors="replace")
        if not _is_junk(html):
            return DecodedPage(html=html, charset=charset_name(codec), source="detected")
    html = body.decode("utf-8", errors="replace")
    if _is_junk(html):
        raise DecodeError(
            "not a text page: no charset turns the body into readable text", reason="binary"
        )
    return DecodedPage(html=html, charset="utf-8", source="fallback")


def _detected_codec(body: bytes) -> str | None:
    # Detect on the text alone: markup, scripts and styles say nothing of the charset and,
    # when they fill the head, make charset_normalizer's own sampling miss the text.
    sample = _NOT_TEXT.sub(b" ", body)
    for match in from_bytes(sample if sample.strip() else body):
        codec = _SUPERSETS.get(codecs.lookup(match.encoding).name, match.encoding)
        # Markup must survive decoding: this rules out EBCDIC and BOM-less UTF-16 guesses.
        if b"<html>".decode(codec, errors="replace") == "<html>":
            return codec
    return None


def charset_name(codec: str) -> str:
    """A Python codec's usual web name (windows-1252, iso-8859-2...), still valid for Python."""
    name = codecs.lookup(codec).name.replace("_", "-")
    if re.fullmatch(r"cp125\d", name):
        return "windows-" + name[2:]
    if name.startswith("iso8859-"):
        return "iso-" + name[3:]
    return name


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _mostly_utf8(body: bytes) -> str | None:
    """The body as UTF-8 if its broken sequences are few next to its valid non-ASCII ones.

    Pages assembled from several sources often hold a few stray Latin-1 bytes in
    otherwise valid UTF-8; a browser shows them as U+FFFD and so do we. A page
    really written in a legacy encoding has hardly any valid sequence at all.
    """
    text = body.decode("utf-8", errors="replace")
    broken = text.count("\ufffd")
    valid = len(text) - len(text.encode("ascii", errors="ignore")) - broken
    return text if valid >= MIN_VALID_PER_BROKEN_UTF8 * broken else None


def _is_junk(text: str) -> bool:
    sample = text[:BINARY_SAMPLE_BYTES]
    return not sample.strip() or len(_JUNK_CHARS.findall(sample)) > MAX_JUNK_SHARE * len(sample)
