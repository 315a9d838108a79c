"""Malformed and mislabelled feeds through the real poll stage, over HTTP.

First every feed of feedparser's own test suite (read in place from the corpus:
well-formed, ill-formed, encoding, entities, JSON), each served with the
Content-Type its test header names, each polled once by the real poller: no
crash, no hang, and every outcome is entries (or a parsed feed with none) or a
typed error on the feed's status. Then the broken inputs a feed reader meets:
wrong and missing charsets, HTML served as a feed, a feed served as HTML, empty
bodies and binary junk.
"""

from __future__ import annotations

import gzip
import random
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from schemas import FeedSource
from tests.support.http_server import FixtureHttpServer
from workers.dedup.seen import SeenStore
from workers.errors import NewswireError
from workers.fetching.http import HttpClient
from workers.keys import Keys
from workers.polling.poll import FeedPoller, PollResult
from workers.registry.store import FeedRegistry, FeedState
from workers.settings import Settings

SUITE_FOLDERS = ("wellformed", "illformed", "encoding", "entities", "json")
# "Header: Content-type: ..." in a test's leading comment: what feedparser's own
# harness sends as the HTTP header.
_TEST_HEADER = re.compile(rb"^Header:\s*Content-type:\s*(.+?)\s*$", re.MULTILINE | re.IGNORECASE)
PARSED = {"new_entries", "no_new_entries"}


class Poller:
    def __init__(self, server: FixtureHttpServer, registry: FeedRegistry, poller: FeedPoller):
        self.server = server
        self.registry = registry
        self.poller = poller
        self._count = 0

    def register(self, path: str, body: bytes, content_type: str | None) -> str:
        self._count += 1
        feed_id = f"feed-{self._count}"
        headers = {"Content-Type": content_type} if content_type else {}
        self.server.route(path, body, headers=headers)
        return feed_id

    def sync(self, ids_and_paths: list[tuple[str, str]]) -> None:
        sources = [
            FeedSource.model_validate({"id": i, "url": self.server.url(p), "title": "T"})
            for i, p in ids_and_paths
        ]
        self.registry.sync(sources, now=0)

    def poll(self, feed_id: str) -> tuple[PollResult, FeedState]:
        result = self.poller.poll(feed_id, now=1000)
        record = self.registry.get(feed_id)
        assert record is not None
        return result, record.state

    def serve_and_poll(
        self, body: bytes, content_type: str | None = "application/rss+xml"
    ) -> tuple[PollResult, FeedState]:
        path = f"/one-{self._count + 1}"
        feed_id = self.register(path, body, content_type)
        self.sync([(feed_id, path)])
        return self.poll(feed_id)


@pytest.fixture
def polls(
    redis_client: redis.Redis, keys: Keys, settings: Settings, http_server: FixtureHttpServer
) -> Iterator[Poller]:
    registry = FeedRegistry(redis_client, keys)
    http = HttpClient(settings)
    yield Poller(
        http_server, registry, FeedPoller(registry, SeenStore(redis_client, keys), http, settings)
    )
    http.close()


def outcome_of(result: PollResult, state: FeedState) -> str:
    """ "entries", "no entries" or "error:<reason>"; fails on anything untyped."""
    if result.status in PARSED:
        return "entries" if result.new_entries else "no entries"
    assert result.status == "error", result.status
    assert isinstance(result.error, NewswireError)
    assert state.last_error_reason == result.error.reason and state.last_error_kind
    return f"error:{result.error.reason}"


@pytest.mark.corpus
def test_every_feed_of_feedparsers_suite_polls_to_entries_or_a_typed_error(
    polls: Poller, corpus_dir: Path
) -> None:
    suite = corpus_dir / "feeds" / "feedparser"
    files = sorted(
        p for folder in SUITE_FOLDERS for p in (suite / folder).rglob("*") if p.is_file()
    )
    assert len(files) > 2000, f"feedparser's suite looks incomplete under {suite}"
    feeds: list[tuple[str, str, Path]] = []
    for path in files:
        body = path.read_bytes()
        declared = _TEST_HEADER.search(body[:4000])
        content_type = declared.group(1).decode("latin-1") if declared else None
        url_path = "/suite/" + path.relative_to(suite).as_posix()
        feeds.append((polls.register(url_path, body, content_type), url_path, path))
    polls.sync([(feed_id, url_path) for feed_id, url_path, _ in feeds])

    outcomes: Counter[str] = Counter()
    by_folder: dict[str, Counter[str]] = {folder: Counter() for folder in SUITE_FOLDERS}
    slowest = 0.0
    for feed_id, _, path in feeds:
        started = time.monotonic()
        result, state = polls.poll(feed_id)  # any exception here is a crash: the test fails
        slowest = max(slowest, time.monotonic() - started)
        outcome = outcome_of(result, state)
        outcomes[outcome] += 1
        by_folder[path.relative_to(suite).parts[0]][outcome] += 1
    print(f"\n{len(feeds)} feeds: {dict(outcomes)}; slowest poll {slowest:.2f}s")
    for folder, counts in by_folder.items():
        print(f"  {folder}: {dict(counts)}")

    assert sum(outcomes.values()) == len(files)
    assert slowest < 30  # generous: none may hang (a poll takes milliseconds)
    # Every error is one the parser gives for a broken feed, never a fetch failure.
    assert {o for o in outcomes if o.startswith("error:")} <= {"error:feed_parse", "error:empty"}
    # The well-formed suite is feeds: nearly all of them parse (the rest are fragments
    # feedparser itself only half-reads without a version).
    wellformed = by_folder["wellformed"]
    assert wellformed["entries"] + wellformed["no entries"] >= 0.95 * sum(wellformed.values())
    assert by_folder["json"] == Counter({"entries": 1})


# --- broken inputs ---------------------------------------------------------------------------

FEED = """<?xml version="1.0" encoding="{declared}"?>
<rss version="2.0"><channel><title>Café crème</title>
<item><title>Déjà vu à Noël</title><link>https://news.example/{slug}</link></item>
</channel></rss>"""


def feed(slug: str, declared: str = "utf-8") -> str:
    return FEED.format(declared=declared, slug=slug)


def titles(result: PollResult) -> list[str | None]:
    return [e.title for e in result.new_entries]


@pytest.mark.parametrize(
    ("case", "body", "content_type"),
    [
        # Latin-1 bytes that call themselves UTF-8 (header and declaration).
        ("latin1-as-utf8", feed("a").encode("latin-1"), "application/rss+xml; charset=utf-8"),
        # Latin-1 bytes with no charset anywhere.
        ("latin1-undeclared", feed("b").replace(' encoding="utf-8"', "").encode("latin-1"), None),
        # The header says UTF-8, the declaration says Latin-1, the bytes are Latin-1.
        ("header-vs-declaration",
         feed("c", "iso-8859-1").encode("latin-1"), "application/xml; charset=utf-8"),
        # UTF-16 with a byte-order mark and a declaration that says UTF-8.
        ("utf16-bom", feed("d").encode("utf-16"), "application/rss+xml"),
        # A charset nobody knows.
        ("unknown-charset", feed("e").encode(), "application/rss+xml; charset=x-no-such-thing"),
        # windows-1252 typographic quotes in a feed declared ISO-8859-1 (a common lie).
        ("cp1252-as-latin1",
         feed("f", "iso-8859-1").replace("Déjà vu", "“Déjà vu”").encode("cp1252"), None),
    ],
)  # fmt: skip
def test_wrong_or_missing_charsets_give_text_not_a_crash(
    polls: Poller, case: str, body: bytes, content_type: str | None
) -> None:
    result, state = polls.serve_and_poll(body, content_type)
    assert outcome_of(result, state) == "entries", (case, state.last_error)
    [title] = titles(result)
    assert title is not None and "Déjà vu" in title and "à Noël" in title, (case, title)


def test_invalid_utf8_bytes_are_replaced_not_fatal(polls: Poller) -> None:
    """A few broken bytes in UTF-8 cost those characters, not the whole document."""
    body = feed("g").encode().replace("Déjà".encode(), b"D\xff\xfej\xe0")
    result, state = polls.serve_and_poll(body, "application/rss+xml; charset=utf-8")
    assert outcome_of(result, state) == "entries"
    assert titles(result) == ["D\ufffd\ufffdj\ufffd vu à Noël"]


HTML_PAGE = b"""<!doctype html><html><head><title>Welcome</title>
<link rel="alternate" type="application/rss+xml" href="/feed.xml"></head>
<body><h1>Our news</h1><p>Read <a href="/a">this</a>.</p></body></html>"""


@pytest.mark.parametrize(
    ("case", "body", "content_type", "reason"),
    [
        ("empty", b"", "application/rss+xml", "empty"),
        ("blank", b" \r\n\t \n", "application/rss+xml", "empty"),
        ("html-as-feed", HTML_PAGE, "application/rss+xml", "feed_parse"),
        ("html-as-html", HTML_PAGE, "text/html; charset=utf-8", "feed_parse"),
        ("binary-junk", random.Random(5).randbytes(64 * 1024), "application/rss+xml", "feed_parse"),
        ("png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 50, "image/png", "feed_parse"),
        ("gzip-without-header", gzip.compress(feed("h").encode()), "application/xml", "feed_parse"),
        ("json-not-a-feed", b'{"status": "ok", "items": 3}', "application/json", "feed_parse"),
        ("broken-json", b'{"version": "https://jsonfeed.org/version/1.1", "items": [',
         "application/feed+json", "feed_parse"),
        ("plain-text", b"Service temporarily unavailable. Try later.", "text/plain", "feed_parse"),
    ],
)  # fmt: skip
def test_what_is_no_feed_is_a_typed_error_on_the_feed_status(
    polls: Poller, case: str, body: bytes, content_type: str, reason: str
) -> None:
    result, state = polls.serve_and_poll(body, content_type)
    assert outcome_of(result, state) == f"error:{reason}", (case, state.last_error)
    assert state.health == "erroring" and state.consecutive_errors == 1
    assert result.new_entries == []


def test_a_feed_served_as_html_is_still_read(polls: Poller) -> None:
    """A real feed behind a wrong Content-Type (a common server mistake) is parsed: its
    content decides, the mislabel is logged as a warning."""
    result, state = polls.serve_and_poll(feed("i").encode(), "text/html; charset=utf-8")
    assert outcome_of(result, state) == "entries"
    assert titles(result) == ["Déjà vu à Noël"]


@pytest.mark.parametrize(
    ("case", "item", "expected"),
    [
        ("lone surrogate", "<title>a&#xD800;b</title>", "feed_parse"),
        ("out of range", "<title>a&#x110000;b</title>", "feed_parse"),
    ],
)
def test_character_references_that_break_feedparser_are_typed_errors(
    polls: Poller, case: str, item: str, expected: str
) -> None:
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        f"<item>{item}<link>https://news.example/{case.replace(' ', '-')}</link></item>"
        "</channel></rss>"
    ).encode()
    result, state = polls.serve_and_poll(body)
    assert outcome_of(result, state) == f"error:{expected}", state.last_error


def test_control_characters_are_stripped_from_entries(polls: Poller) -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        b"<item><title>a&#0;b&#x1;c\x00d&#xFFFE;e</title><link>https://news.example/ctl</link>"
        b"<description>x&#x7;y</description></item></channel></rss>"
    )
    result, state = polls.serve_and_poll(body)
    assert outcome_of(result, state) == "entries"
    [entry] = result.new_entries
    assert (entry.title, entry.summary) == ("abcde", "xy")
