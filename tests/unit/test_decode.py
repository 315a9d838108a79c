"""decode_page on bytes built here, then on the miniflux encoding pages of the corpus."""

from __future__ import annotations

import codecs
import random
from pathlib import Path

import pytest

from workers.errors import DecodeError
from workers.processing.decode import META_SCAN_BYTES, DecodedPage, decode_page
from workers.settings import get_settings

FRENCH = (
    "Le président français a déclaré mercredi que la coopération économique entre les "
    "deux pays était « essentielle », une déclaration qui a surpris les observateurs à "
    "Bruxelles. Le budget prévu s'élève à 12 millions d'euros (12 M€) selon le ministère."
)
RUSSIAN = (
    "Президент России Владимир Путин встретился с лидером Северной Кореи Ким Чен Ыном "
    "на космодроме Восточный. Стороны обсудили военное сотрудничество и поставки оружия."
)


def page(body: str, head: str = "") -> str:
    return (
        f"<!DOCTYPE html><html><head>{head}<title>t</title></head><body><p>{body}</p></body></html>"
    )


def assert_decoded(got: DecodedPage, text: str, charset: str, source: str) -> None:
    assert text in got.html
    assert (got.charset, got.source) == (charset, source)
    codecs.lookup(got.charset)  # the name is one Python can decode with


# --- byte-order marks ---------------------------------------------------------------------


def test_utf8_without_bom_or_declaration_is_detected() -> None:
    got = decode_page(page(FRENCH).encode("utf-8"), None)
    assert_decoded(got, FRENCH, "utf-8", "detected")


def test_utf8_bom_wins_over_a_contrary_header_and_is_stripped() -> None:
    body = codecs.BOM_UTF8 + page(FRENCH).encode("utf-8")
    got = decode_page(body, "text/html; charset=windows-1252")
    assert_decoded(got, FRENCH, "utf-8", "bom")
    assert got.html.startswith("<!DOCTYPE")


@pytest.mark.parametrize(
    ("bom", "codec"),
    [(codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")],
)
def test_utf16_with_bom(bom: bytes, codec: str) -> None:
    got = decode_page(bom + page(RUSSIAN).encode(codec), None)
    assert_decoded(got, RUSSIAN, codec, "bom")
    assert not got.html.startswith("\ufeff")


# --- declarations -------------------------------------------------------------------------


def test_latin1_header_is_read_as_windows_1252() -> None:
    # 0x80 is a control in ISO-8859-1 but the euro sign in windows-1252, as browsers read it.
    body = page(FRENCH).encode("cp1252")
    got = decode_page(body, 'text/html; charset="ISO-8859-1"')
    assert_decoded(got, FRENCH, "windows-1252", "header")


def test_windows_1252_meta_http_equiv() -> None:
    head = '<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
    got = decode_page(page(FRENCH, head).encode("cp1252"), "text/html")
    assert_decoded(got, FRENCH, "windows-1252", "meta")


def test_meta_charset_after_the_first_1024_bytes() -> None:
    head = "<!-- " + "padding " * 300 + '-->\n<meta charset="koi8-r">'
    body = page(RUSSIAN, head).encode("koi8-r")
    assert body.index(b"<meta") > 1024
    assert_decoded(decode_page(body, None), RUSSIAN, "koi8-r", "meta")


def test_meta_charset_beyond_the_scan_window_is_not_seen() -> None:
    head = "<style>" + "p{}" * (META_SCAN_BYTES // 3) + '</style><meta charset="koi8-r">'
    body = page(RUSSIAN * 5, head).encode("koi8-r")
    # Not declared where it is looked for: detection still finds the right charset.
    got = decode_page(body, None)
    assert got.source == "detected"
    assert RUSSIAN in got.html


def test_meta_inside_a_comment_is_ignored() -> None:
    head = '<!-- <meta charset="koi8-r"> --><meta charset="windows-1252">'
    got = decode_page(page(FRENCH, head).encode("cp1252"), None)
    assert_decoded(got, FRENCH, "windows-1252", "meta")


def test_header_wins_over_a_disagreeing_meta() -> None:
    body = page(RUSSIAN, '<meta charset="windows-1251">').encode("koi8-r")
    got = decode_page(body, "text/html; charset=KOI8-R")
    assert_decoded(got, RUSSIAN, "koi8-r", "header")


def test_latin1_label_on_utf8_bytes_is_not_believed() -> None:
    # The classic misconfigured server: a default ISO-8859-1 header on a UTF-8 page.
    body = page(FRENCH, '<meta charset="utf-8">').encode("utf-8")
    got = decode_page(body, "text/html; charset=ISO-8859-1")
    assert_decoded(got, FRENCH, "utf-8", "meta")


def test_bogus_charset_name_falls_through_to_the_meta() -> None:
    body = page(FRENCH, '<meta charset="windows-1252">').encode("cp1252")
    got = decode_page(body, "text/html; charset=no-such-charset")
    assert_decoded(got, FRENCH, "windows-1252", "meta")


@pytest.mark.parametrize("label", ["base64", "utf-7", "unicode_escape"])
def test_labels_that_are_no_web_charset_fall_through(label: str) -> None:
    got = decode_page(page(FRENCH).encode("utf-8"), f"text/html; charset={label}")
    assert_decoded(got, FRENCH, "utf-8", "detected")


def test_lying_utf8_declaration_falls_through_to_detection() -> None:
    body = (page(FRENCH, '<meta charset="utf-8">') * 3).encode("cp1252")
    got = decode_page(body, "text/html; charset=utf-8")
    assert got.source == "detected"
    assert FRENCH in got.html


def test_utf8_page_with_a_few_stray_latin1_bytes_stays_utf8() -> None:
    # Real pages (corpus: trafilatura-eval) mix a Latin-1 alt text into UTF-8 markup.
    body = page(FRENCH * 2, '<meta charset="utf-8">').encode("utf-8")
    body = body.replace(b"<title>t", b'<title>t<img alt="K\xfcchen">')
    got = decode_page(body, None)
    assert_decoded(got, FRENCH, "utf-8", "meta")
    assert 'alt="K\ufffdchen"' in got.html


def test_utf16_header_on_8_bit_bytes_is_not_believed() -> None:
    got = decode_page(page(FRENCH).encode("utf-8"), "text/html; charset=UTF-16")
    assert_decoded(got, FRENCH, "utf-8", "detected")


def test_meta_declaring_utf16_is_read_as_utf8() -> None:
    body = page(FRENCH, '<meta charset="utf-16">').encode("utf-8")
    assert_decoded(decode_page(body, None), FRENCH, "utf-8", "meta")


def test_undeclared_legacy_encoding_is_detected() -> None:
    body = page(RUSSIAN * 2).encode("cp1251")
    got = decode_page(body, None)
    assert got.source == "detected"
    assert RUSSIAN in got.html


# --- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"  \r\n\t "])
def test_empty_body_is_refused(body: bytes) -> None:
    with pytest.raises(DecodeError, match="empty body") as caught:
        decode_page(body, "text/html; charset=utf-8")
    assert caught.value.reason == "empty_body"


def test_random_binary_is_refused() -> None:
    junk = random.Random(1234).randbytes(20_000)
    with pytest.raises(DecodeError, match="control bytes") as caught:
        decode_page(junk, "text/html")
    assert caught.value.reason == "binary"


@pytest.mark.parametrize(
    ("body", "what"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff", "gzip"),
    ],
)
def test_known_binary_formats_are_named(body: bytes, what: str) -> None:
    with pytest.raises(DecodeError, match=what):
        decode_page(body, "text/html; charset=utf-8")


def test_nul_heavy_body_is_refused_unless_declared_utf16() -> None:
    text = page(FRENCH)
    with pytest.raises(DecodeError, match="control bytes"):
        decode_page(text.encode("utf-16-le"), None)
    got = decode_page(text.encode("utf-16-le"), "text/html; charset=utf-16le")
    assert_decoded(got, FRENCH, "utf-16-le", "header")


# --- real pages ---------------------------------------------------------------------------

MINIFLUX = get_settings().corpus_dir / "feeds" / "miniflux"
MINIFLUX_PAGES = sorted(MINIFLUX.glob("encoding-*.html")) if MINIFLUX.is_dir() else []


@pytest.mark.skipif(
    not MINIFLUX_PAGES, reason=f"corpus absent: no miniflux encoding pages in {MINIFLUX}"
)
@pytest.mark.parametrize("path", MINIFLUX_PAGES, ids=lambda path: path.name)
def test_miniflux_encoding_pages(path: Path) -> None:
    got = decode_page(path.read_bytes(), None)
    # Each page says "Café" in its body, whatever its encoding and wherever its meta is.
    assert "<p>Café</p>" in got.html
    assert "\ufffd" not in got.html
    expected = "windows-1252" if "iso-8859-1" in path.name else "utf-8"
    assert (got.charset, got.source) == (expected, "meta")
