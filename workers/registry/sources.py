"""Read feed lists (feeds.yaml, OPML) into FeedSource models, and write OPML back.

Errors name the file and the entry so an operator can fix the list. OPML
carries what its outline attributes can (xmlUrl, title, language, category);
Newswire's own fields travel in extra attributes (newswireId, country,
pollInterval, enabled) that other readers ignore, so that exporting a registry
and importing the file again gives back the same feeds, not copies under new ids.
An OPML file that lists one URL twice (a feed in two folders) gives one feed.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import quoteattr

import yaml
from lxml import etree
from pydantic import ValidationError

from schemas import FeedSource
from workers.errors import ConfigurationError


def feed_id_for(url: str) -> str:
    """A stable, readable id for a feed declared without one: host slug + URL hash."""
    host = (urlsplit(url).hostname or "feed").removeprefix("www.")
    slug = re.sub(r"[^a-z0-9]+", "-", host.lower()).strip("-")[:48] or "feed"
    return f"{slug}-{hashlib.sha1(url.encode()).hexdigest()[:8]}"


def load_feed_file(path: Path) -> list[FeedSource]:
    """Feeds from a YAML list (seeds/feeds.yaml format) or an OPML file, by extension."""
    if path.suffix.lower() in {".opml", ".xml"}:
        return load_opml(path)
    return load_yaml(path)


def load_yaml(path: Path) -> list[FeedSource]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"{path}: cannot read feed list: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("feeds"), list):
        raise ConfigurationError(f"{path}: expected a mapping with a 'feeds' list")
    return _validate_all(path, data["feeds"])


def load_opml(path: Path) -> list[FeedSource]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read OPML file: {exc}") from exc
    # An OPML file is untrusted input: OPML has no use for entity declarations, and
    # libxml2 expands internal ones even with resolve_entities off (billion laughs).
    if b"<!ENTITY" in data:
        raise ConfigurationError(f"{path}: OPML files with entity declarations are refused")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise ConfigurationError(f"{path}: not a readable OPML file: {exc}") from exc
    rows: dict[str, dict[str, Any]] = {}
    for outline in root.iter("outline"):
        url = outline.get("xmlUrl")
        if not url:
            continue  # a folder, not a feed
        row = _opml_row(outline, url)
        if url in rows:  # the same feed filed under two folders: one feed, both tags
            rows[url]["tags"] = [*rows[url]["tags"], *row["tags"]]
            continue
        rows[url] = row
    return _validate_all(path, list(rows.values()))


def _opml_row(outline: Any, url: str) -> dict[str, Any]:
    title = outline.get("title") or outline.get("text") or url
    row: dict[str, Any] = {"id": outline.get("newswireId") or feed_id_for(url), "url": url}
    row["title"] = title
    row["tags"] = [t for t in re.split(r"[,/]", outline.get("category", "")) if t]
    if outline.get("language"):
        row["language"] = outline.get("language", "").lower()[:2]
    if outline.get("country"):
        row["country"] = outline.get("country")
    if outline.get("pollInterval"):
        row["poll_interval_seconds"] = outline.get("pollInterval")
    if outline.get("enabled"):
        row["enabled"] = outline.get("enabled")
    return row


def _validate_all(path: Path, rows: list[Any]) -> list[FeedSource]:
    feeds: list[FeedSource] = []
    seen_ids: set[str] = set()
    for index, declared in enumerate(rows, start=1):
        row = declared
        if isinstance(row, dict) and "id" not in row and "url" in row:
            row = {**row, "id": feed_id_for(str(row["url"]))}
        try:
            feed = FeedSource.model_validate(row)
        except ValidationError as exc:
            name = row.get("id") or row.get("url") if isinstance(row, dict) else row
            raise ConfigurationError(f"{path}: feed #{index} ({name}): {exc}") from exc
        if feed.id in seen_ids:
            raise ConfigurationError(f"{path}: feed #{index}: duplicate id {feed.id!r}")
        seen_ids.add(feed.id)
        feeds.append(feed)
    return feeds


def to_opml(feeds: list[FeedSource], title: str = "Newswire feeds") -> str:
    """An OPML 2.0 document listing the feeds."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        f"  <head><title>{_escape(title)}</title></head>",
        "  <body>",
    ]
    for feed in feeds:
        attrs = {"type": "rss", "text": feed.title, "title": feed.title, "xmlUrl": str(feed.url)}
        attrs["newswireId"] = feed.id
        if feed.language:
            attrs["language"] = feed.language
        if feed.country:
            attrs["country"] = feed.country
        if feed.tags:
            attrs["category"] = ",".join(feed.tags)
        if feed.poll_interval_seconds is not None:
            attrs["pollInterval"] = str(feed.poll_interval_seconds)
        if not feed.enabled:
            attrs["enabled"] = "false"
        rendered = " ".join(f"{k}={quoteattr(v)}" for k, v in attrs.items())
        lines.append(f"    <outline {rendered}/>")
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)


def _escape(text: str) -> str:
    return quoteattr(text)[1:-1]
