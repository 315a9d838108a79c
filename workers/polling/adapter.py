"""The one adapter from wire formats to FeedEntry.

RSS 0.9x/1.0/2.0, RDF and Atom go through feedparser, always handed bytes
(given a string, feedparser would open URLs and local paths itself). JSON Feed
(which feedparser 6.0 does not read) is mapped here from its JSON. Nothing
downstream touches feedparser's loose dictionaries.

XML entity declarations are disarmed before feedparser sees the document.
feedparser drops most of them but keeps "safe" ones (plain text values), and
when the strict parser fails its loose parser expands those at every reference:
a 20 kB entity referenced 2,000 times in a 26 kB feed becomes a 40 MB title
(the quadratic blowup, which Expat's own amplification limit does not cover
there). The document is first converted to UTF-8 as feedparser would (so that
no encoding, UTF-16 or UTF-7 alike, can hide a declaration), then every
`<!ENTITY` is broken, so no entity is ever defined: references stay text, and
the character references and HTML entities that feeds really use still work.
External entities and DTDs are never fetched or read (feedparser turns Expat's
external entity loading off; nothing is declared to load anyway).

Deep nesting is refused before feedparser sees it: feedparser's cost grows with
depth (4.8 MiB of nested elements took it 12.9 s of CPU and 306 MiB), while
libxml2 stops reading at MAX_XML_DEPTH on its own, however long the document
(tests/integration/test_xml_attacks.py: 8.2 MiB of nesting refused, the whole
poll under 2 s of CPU). No feed of the corpus (2,228: feedparser's suite,
miniflux's, real news feeds) comes near that depth.
"""

from __future__ import annotations

import calendar
import contextlib
import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import feedparser
from feedparser.encodings import convert_to_utf8
from lxml import etree
from lxml import html as lxml_html
from pydantic import ValidationError

from schemas import FeedEntry, FeedRef
from schemas.entry import MAX_SUMMARY_CHARS
from workers.errors import FeedParseError, NewswireError, SchemaViolation
from workers.polling.canonical import canonical_url, document_id

_JSON_FEED_PREFIX = "https://jsonfeed.org/version/"
_NON_TEXT_TAGS = frozenset({"script", "style", "template"})


@dataclass(frozen=True)
class RawItem:
    """An item as any wire format gives it, before identity is derived."""

    link: str | None
    guid: str | None
    title: str | None
    summary_html: str | None
    authors: list[str]
    published: datetime | None
    updated: datetime | None


@dataclass
class ParsedFeed:
    """A parsed feed: its own metadata, its items, and what was odd about it."""

    format: str
    title: str | None
    language: str | None
    items: list[RawItem]
    ttl_minutes: int | None = None
    update_period_seconds: int | None = None  # sy:updatePeriod / sy:updateFrequency
    warnings: list[str] = field(default_factory=list)


def parse_feed(body: bytes, content_type: str | None = None) -> ParsedFeed:
    """Parse feed bytes. Raises FeedParseError when they yield no feed at all."""
    if not body.strip():
        raise FeedParseError("empty feed body", reason="empty")
    if _looks_like_json(body, content_type):
        return _parse_json_feed(body)
    try:
        return _parse_xml_feed(body, content_type)
    except FeedParseError:
        raise
    except Exception as exc:
        # feedparser on hostile bytes can fail in its own code (&#xD800; raises
        # UnicodeEncodeError, &#x110000; ValueError): the feed is broken, not the poll.
        raise FeedParseError(f"feedparser failed: {type(exc).__name__}: {exc}") from exc


def _looks_like_json(body: bytes, content_type: str | None) -> bool:
    if content_type and "json" in content_type.lower():
        return True
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


_ENTITY_DECLARATION = b"<!ENTITY"
_DISARMED_DECLARATION = b"<!NOENTITY"  # no XML keyword: both parsers skip it, nothing defined


_CHARSET_PARAM = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([\w.:-]+)", re.IGNORECASE)
_UTF8_NAMES = {"utf-8", "utf8"}


def _says_utf8(body: bytes, content_type: str | None) -> bool:
    """Does the document claim UTF-8 (header, else XML declaration, else XML's default)?"""
    if body.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        return False  # a UTF-16 or UTF-32 byte-order mark
    declared = _CHARSET_PARAM.search(content_type or "")
    if declared:
        return declared.group(1).lower() in _UTF8_NAMES
    in_xml = _XML_ENCODING.search(body[:1024])
    return in_xml is None or in_xml.group(1).decode().lower() in _UTF8_NAMES


def repair_utf8(body: bytes, content_type: str | None) -> tuple[bytes, str | None]:
    """UTF-8 with a few invalid bytes, with those bytes replaced by U+FFFD.

    feedparser would otherwise read the whole document as windows-1252 and garble
    every other non-ASCII character. Only when the document claims UTF-8 and most
    of its non-ASCII bytes are valid UTF-8: Latin-1 labelled UTF-8 (almost every
    non-ASCII byte invalid) is left to feedparser's fallback, which reads it right.
    """
    try:
        body.decode("utf-8")
        return body, None
    except UnicodeDecodeError:
        pass
    if not _says_utf8(body, content_type):
        return body, None
    text = body.decode("utf-8", "replace")
    invalid = text.count("\ufffd") - body.decode("utf-8", "ignore").count("\ufffd")
    non_ascii = sum(1 for byte in body if byte >= 0x80)
    if invalid * 2 > non_ascii:
        return body, None
    return text.encode("utf-8"), f"{invalid} invalid UTF-8 sequence(s) replaced by U+FFFD"


def disarm_entities(
    body: bytes, content_type: str | None
) -> tuple[bytes, dict[str, str], list[str]]:
    """The document in UTF-8 with no entity declaration left, the headers to parse it
    with, and warnings (encoding trouble, declarations ignored)."""
    headers = {"content-type": content_type} if content_type else {}
    body, repaired = repair_utf8(body, content_type)
    warnings = [repaired] if repaired else []
    detected: dict[str, Any] = {}
    data = convert_to_utf8(headers, body, detected)
    if detected.get("bozo"):
        error = detected.get("bozo_exception")
        warnings.append(f"{type(error).__name__}: {error}")
    declared = data.count(_ENTITY_DECLARATION)
    if declared:
        data = data.replace(_ENTITY_DECLARATION, _DISARMED_DECLARATION)
        warnings.append(f"{declared} XML entity declaration(s) ignored (never expanded)")
    if detected.get("encoding"):
        # Converted: say so, or feedparser would decode the UTF-8 as the header says.
        headers = {"content-type": "application/xml; charset=utf-8"}
    return data, headers, warnings


# libxml2's own limit without XML_PARSE_HUGE: it stops reading there, whatever follows.
MAX_XML_DEPTH = 256


def refuse_deep_nesting(data: bytes) -> None:
    """Raise FeedParseError if elements nest deeper than MAX_XML_DEPTH. Everything else
    about the document (malformed or not) is feedparser's to judge."""
    parser = etree.XMLParser(
        recover=True, resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    # Malformed beyond recovery is no verdict here: feedparser's loose parser may read it.
    with contextlib.suppress(etree.XMLSyntaxError):
        etree.fromstring(data, parser)
    if any(_is_depth_limit(error) for error in parser.error_log):
        raise FeedParseError(
            f"elements nested deeper than {MAX_XML_DEPTH} levels: refused before parsing"
        )


def _is_depth_limit(error: etree._LogEntry) -> bool:
    # The same error type also stands for a text node over 10 MB, which is no nesting.
    return error.type_name == "ERR_RESOURCE_LIMIT" and "depth" in error.message.lower()


def _parse_xml_feed(body: bytes, content_type: str | None) -> ParsedFeed:
    data, headers, warnings = disarm_entities(body, content_type)
    refuse_deep_nesting(data)
    parsed = feedparser.parse(data, response_headers=headers, sanitize_html=True)
    version = parsed.get("version") or ""
    if parsed.get("bozo"):
        warnings.append(f"{type(parsed.bozo_exception).__name__}: {parsed.bozo_exception}")
    if not version and not parsed.entries:
        detail = warnings[0] if warnings else "no RSS, RDF or Atom structure found"
        raise FeedParseError(f"not a feed: {detail}")
    meta = parsed.get("feed", {})
    ttl = meta.get("ttl")
    return ParsedFeed(
        format=version or "unknown",
        title=_clean(meta.get("title")),
        language=_language(meta.get("language")),
        items=[_xml_item(e) for e in parsed.entries],
        ttl_minutes=int(ttl) if isinstance(ttl, str) and ttl.isdigit() else None,
        update_period_seconds=_sy_update_seconds(meta),
        warnings=warnings,
    )


_SY_PERIODS = {"hourly": 3600, "daily": 86400, "weekly": 7 * 86400, "monthly": 30 * 86400,
               "yearly": 365 * 86400}  # fmt: skip


def _sy_update_seconds(meta: Any) -> int | None:
    """The syndication module's publishing period: updatePeriod / updateFrequency."""
    period = _SY_PERIODS.get(str(meta.get("sy_updateperiod") or "").strip().lower())
    if period is None:
        return None
    frequency = str(meta.get("sy_updatefrequency") or "1").strip()
    return period // int(frequency) if frequency.isdigit() and int(frequency) > 0 else period


def _xml_item(entry: Any) -> RawItem:
    authors = [a.get("name") for a in entry.get("authors", []) if a.get("name")]
    if not authors and entry.get("author"):
        authors = [entry["author"]]
    summary = entry.get("summary")
    if not summary and entry.get("content"):
        summary = entry["content"][0].get("value")
    return RawItem(
        link=_clean(entry.get("link")),
        guid=_clean(entry.get("id")),
        title=_clean(entry.get("title")),
        summary_html=summary,
        authors=[_clean(a) or "" for a in authors if _clean(a)],
        # dict.get: FeedParserDict would silently map updated_* to published_*.
        published=_struct_time(dict.get(entry, "published_parsed")),
        updated=_struct_time(dict.get(entry, "updated_parsed")),
    )


def _parse_json_feed(body: bytes) -> ParsedFeed:
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FeedParseError(f"invalid JSON Feed: {exc}") from exc
    if not isinstance(data, dict) or not str(data.get("version", "")).startswith(_JSON_FEED_PREFIX):
        raise FeedParseError("JSON document is not a JSON Feed (no jsonfeed.org version)")
    items = data.get("items")
    if not isinstance(items, list):
        raise FeedParseError("JSON Feed without an items list")
    version = str(data["version"]).removeprefix(_JSON_FEED_PREFIX)
    return ParsedFeed(
        format=f"json{version.replace('.', '')}",
        title=_clean(data.get("title")),
        language=_language(data.get("language")),
        items=[_json_item(i) for i in items if isinstance(i, dict)],
    )


def _json_item(item: dict[str, Any]) -> RawItem:
    authors = item.get("authors") or (
        [item["author"]] if isinstance(item.get("author"), dict) else []
    )
    return RawItem(
        link=_clean(item.get("url") or item.get("external_url")),
        guid=_clean(str(item["id"])) if item.get("id") is not None else None,
        title=_clean(item.get("title")),
        summary_html=item.get("summary") or item.get("content_html") or item.get("content_text"),
        authors=[str(a["name"]) for a in authors if isinstance(a, dict) and a.get("name")],
        published=_iso_datetime(item.get("date_published")),
        updated=_iso_datetime(item.get("date_modified")),
    )


@dataclass(frozen=True)
class ItemProblem:
    """An item that did not become an entry, and the typed error that says why."""

    item: RawItem
    error: NewswireError

    @property
    def text(self) -> str:
        return f"item {self.item.guid or self.item.title or '?'}: {self.error}"


def to_entries(
    parsed: ParsedFeed, feed: FeedRef, *, feed_language: str | None, now: datetime
) -> tuple[list[FeedEntry], list[ItemProblem]]:
    """Typed entries with canonical URLs and ids, first occurrence of each id kept.

    Items that cannot become entries (no link, refused URL, data the FeedEntry
    schema refuses) are reported, not raised.
    """
    entries: list[FeedEntry] = []
    problems: list[ItemProblem] = []
    seen: set[str] = set()
    for item in parsed.items:
        try:
            entry = _entry(item, feed, feed_language or parsed.language, now)
        except ValidationError as exc:
            problems.append(ItemProblem(item, SchemaViolation.of("feed entry", exc)))
            continue
        except NewswireError as exc:
            problems.append(ItemProblem(item, exc))
            continue
        if entry.doc_id not in seen:
            seen.add(entry.doc_id)
            entries.append(entry)
    return entries, problems


def _entry(item: RawItem, feed: FeedRef, language: str | None, now: datetime) -> FeedEntry:
    link = item.link
    if not link and item.guid and item.guid.startswith(("http://", "https://")):
        link = item.guid  # RSS guids are permalinks unless isPermaLink says otherwise
    if not link:
        raise FeedParseError("item has no link", reason="no_link")
    canonical = canonical_url(link)
    return FeedEntry(
        doc_id=document_id(canonical),
        feed=feed,
        url=link,
        canonical_url=canonical,
        guid=item.guid,
        title=item.title,
        summary=_html_to_text(item.summary_html),
        authors=item.authors,
        published_at=item.published,
        updated_at=item.updated,
        language=language,
        discovered_at=now,
    )


def _html_to_text(fragment: str | None) -> str | None:
    if not fragment or not fragment.strip():
        return None
    fragment = _UNWANTED_CHARS.sub("", fragment)
    try:
        root = lxml_html.fromstring(fragment)
    except (ValueError, TypeError):  # lxml raises these on empty or odd documents
        text = fragment
    else:
        # Only XML formats go through feedparser's sanitizer: a JSON Feed's
        # content_html may carry scripts and styles, which are not text.
        for element in root.xpath("//script | //style | //template"):
            element.drop_tree()
        text = "" if root.tag in _NON_TEXT_TAGS else root.text_content()
    text = " ".join(text.split())
    return text[:MAX_SUMMARY_CHARS] or None


# C0 controls but tab, newline and return; DEL; lone surrogates; U+FFFE and U+FFFF:
# characters no text needs, which XML forbids and JSON consumers choke on.
_UNWANTED_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    text = " ".join(_UNWANTED_CHARS.sub("", str(value)).split())
    return text or None


def _language(value: Any) -> str | None:
    text = _clean(value)
    if not text:
        return None
    code = text.lower().replace("_", "-").split("-")[0]
    return code if code.isalpha() and 2 <= len(code) <= 3 else None


def _struct_time(value: time.struct_time | None) -> datetime | None:
    # feedparser normalises every date it understands to a UTC struct_time.
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (OverflowError, ValueError):
        return None


def _iso_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
