"""Checks of the data files in seeds/: the feed registry seed and the offline demo.

The demo is the first thing a new user runs; a dangling link, a feed that no
longer parses or a wrong expected count would show up there as a pipeline bug.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import feedparser
import pytest
import yaml

from schemas import FeedSource

REPO = Path(__file__).parents[2]
SEEDS = REPO / "seeds"
DEMO = SEEDS / "demo"
SAMPLE_TEXT = SEEDS / "kim-putin-arms-fr.txt"
SAMPLE_PAGE = DEMO / "pages" / "kim-putin-arms-fr.html"

# What the demo server puts in place of the {{base_url}} placeholder.
BASE_URL = "http://127.0.0.1:8765"
PLACEHOLDER = b"{{base_url}}"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"

# Languages the design asks Newswire to cover from the start.
REQUIRED_FEED_LANGUAGES = {"en", "fr", "de", "es", "it", "pt", "ru", "uk", "ar", "zh", "ja", "ko"}
REQUIRED_PAGE_LANGUAGES = {"fr", "en", "de", "es", "ru", "ar", "zh", "ja"}

DEMO_FEED_FILES = sorted(p for p in (DEMO / "feeds").glob("*") if p.suffix in {".xml", ".json"})
DEMO_PAGES = sorted((DEMO / "pages").glob("*.html"))
CHARSET_RE = re.compile(rb"<meta\s+charset=[\"']?([A-Za-z0-9_-]+)", re.IGNORECASE)


def _load_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name}: top level must be a mapping"
    return data


def _feed_entries() -> list[dict[str, Any]]:
    data = _load_yaml(SEEDS / "feeds.yaml")
    assert data.get("version") == 1
    entries = data["feeds"]
    assert isinstance(entries, list)
    return entries


def _demo() -> dict[str, Any]:
    data = _load_yaml(DEMO / "demo.yaml")
    assert data.get("version") == 1
    return data


def _served(path: Path) -> bytes:
    """The bytes the demo server sends for a feed: the placeholder filled in."""
    return path.read_bytes().replace(PLACEHOLDER, BASE_URL.encode("ascii"))


def _item_links(path: Path) -> list[str]:
    """Links of every item of a demo feed, as a poller would see them."""
    body = _served(path)
    if path.suffix == ".json":
        return [str(item["url"]) for item in json.loads(body)["items"]]
    return [str(entry["link"]) for entry in feedparser.parse(body).entries]


def _page_path(link: str) -> Path:
    assert link.startswith(f"{BASE_URL}/pages/"), f"link outside the demo server: {link}"
    return DEMO / link.removeprefix(f"{BASE_URL}/")


def _declared_charset(raw: bytes) -> str:
    match = CHARSET_RE.search(raw[:2048])
    assert match, "page declares no <meta charset>"
    return match.group(1).decode("ascii").lower()


class _Page(HTMLParser):
    """The few facts about a page the tests need: lang, meta tags, title, <p> texts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lang: str | None = None
        self.title = ""
        self.meta: dict[str, str] = {}
        self.tags: set[str] = set()
        self.paragraphs: list[str] = []
        self._in_title = False
        self._paragraph: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        attributes = {name: value or "" for name, value in attrs}
        if tag == "html":
            self.lang = attributes.get("lang")
        elif tag == "meta":
            key = attributes.get("property") or attributes.get("name")
            if key:
                self.meta[key] = attributes.get("content", "")
        elif tag == "title":
            self._in_title = True
        elif tag == "p":
            self._paragraph = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "p" and self._paragraph is not None:
            self.paragraphs.append("".join(self._paragraph).strip())
            self._paragraph = None

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if self._paragraph is not None:
            self._paragraph.append(data)


def _parse_page(path: Path) -> _Page:
    raw = path.read_bytes()
    parser = _Page()
    parser.feed(raw.decode(_declared_charset(raw)))  # strict: a wrong declaration fails
    parser.close()
    return parser


# --- (a) seeds/feeds.yaml -------------------------------------------------------------


def test_every_seed_feed_validates_as_feed_source() -> None:
    for entry in _feed_entries():
        FeedSource.model_validate(entry)  # raises with the field at fault


def test_seed_feed_ids_and_urls_are_unique() -> None:
    feeds = [FeedSource.model_validate(entry) for entry in _feed_entries()]
    ids = [feed.id for feed in feeds]
    urls = [str(feed.url) for feed in feeds]
    assert len(set(ids)) == len(ids), sorted({i for i in ids if ids.count(i) > 1})
    assert len(set(urls)) == len(urls), sorted({u for u in urls if urls.count(u) > 1})


def test_seed_feeds_cover_enough_feeds_and_languages() -> None:
    feeds = [FeedSource.model_validate(entry) for entry in _feed_entries()]
    languages = {feed.language for feed in feeds if feed.language}
    assert len(feeds) >= 40
    assert len(languages) >= 10
    assert languages >= REQUIRED_FEED_LANGUAGES, REQUIRED_FEED_LANGUAGES - languages


# --- (b) seeds/demo/demo.yaml ---------------------------------------------------------


def test_demo_feed_paths_exist_and_validate() -> None:
    feeds = _demo()["feeds"]
    assert len(feeds) >= 3
    for feed in feeds:
        assert (DEMO / feed["path"]).is_file(), feed["path"]
        fields = {key: value for key, value in feed.items() if key != "path"}
        FeedSource.model_validate({**fields, "url": f"{BASE_URL}/{feed['path']}"})


def test_demo_links_match_expected_documents_and_deadletters() -> None:
    demo = _demo()
    links = [link for feed in demo["feeds"] for link in _item_links(DEMO / feed["path"])]
    assert len(set(links)) == len(links), "an item link appears twice"
    existing = [link for link in links if _page_path(link).is_file()]
    missing = [link for link in links if not _page_path(link).is_file()]
    assert len(existing) == demo["expected"]["documents"]
    assert len(missing) == demo["expected"]["deadletters"]
    assert missing == [f"{BASE_URL}/pages/missing-article.html"]


def test_every_demo_page_is_linked_from_a_feed() -> None:
    linked = {
        _page_path(link).name
        for feed in _demo()["feeds"]
        for link in _item_links(DEMO / feed["path"])
    }
    assert {page.name for page in DEMO_PAGES} <= linked


# --- (c) demo feeds parse -------------------------------------------------------------


@pytest.mark.parametrize("path", DEMO_FEED_FILES, ids=lambda p: p.name)
def test_demo_feed_parses_cleanly(path: Path) -> None:
    if path.suffix == ".json":
        feed = json.loads(_served(path))
        assert feed["version"] == JSON_FEED_VERSION
        assert feed["items"]
        for item in feed["items"]:
            assert {"id", "url", "title", "date_published", "authors"} <= item.keys()
            assert "content_html" in item or "content_text" in item
        return
    parsed = feedparser.parse(_served(path))
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version in {"rss20", "atom10"}
    assert parsed.entries
    for entry in parsed.entries:
        assert entry.get("id") and entry.get("title") and entry.get("author")
        assert entry.get("summary") and entry.get("published_parsed")


def test_demo_feeds_cover_rss_atom_and_json_feed() -> None:
    versions = {
        "json" if path.suffix == ".json" else feedparser.parse(_served(path)).version
        for path in DEMO_FEED_FILES
    }
    assert {"rss20", "atom10", "json"} <= versions


# --- demo pages -----------------------------------------------------------------------


@pytest.mark.parametrize("path", DEMO_PAGES, ids=lambda p: p.name)
def test_demo_page_is_a_complete_news_page(path: Path) -> None:
    page = _parse_page(path)
    assert page.lang and re.fullmatch(r"[a-z]{2}", page.lang)
    assert page.title.strip()
    assert {"head", "nav", "article", "h1", "aside", "footer", "time"} <= page.tags
    assert page.meta.get("og:title") and page.meta.get("og:type") == "article"
    assert len(page.paragraphs) >= 5


def test_demo_pages_span_languages_and_encodings() -> None:
    assert 8 <= len(DEMO_PAGES) <= 10
    languages = {_parse_page(path).lang for path in DEMO_PAGES}
    assert languages >= REQUIRED_PAGE_LANGUAGES, REQUIRED_PAGE_LANGUAGES - languages
    legacy = [p for p in DEMO_PAGES if _declared_charset(p.read_bytes()) != "utf-8"]
    assert legacy, "no page exercises a non-UTF-8 charset"
    for path in legacy:
        with pytest.raises(UnicodeDecodeError):
            path.read_bytes().decode("utf-8")  # really not UTF-8, so decoding matters


# --- (d) the user's sample article ----------------------------------------------------


def test_sample_page_keeps_every_paragraph_verbatim() -> None:
    paragraphs = [p.strip() for p in SAMPLE_TEXT.read_text(encoding="utf-8").split("\n\n")]
    paragraphs = [p for p in paragraphs if p]
    page = _parse_page(SAMPLE_PAGE)
    assert len(paragraphs) >= 20
    for paragraph in paragraphs:
        assert paragraph in page.paragraphs, paragraph[:60]
