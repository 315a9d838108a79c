"""The poll stage against a real feed server and a real Redis."""

from collections.abc import Iterator

import pytest
import redis

from schemas import FeedSource
from tests.support.http_server import FixtureHttpServer
from workers.dedup.seen import SeenStore
from workers.fetching.http import HttpClient
from workers.keys import Keys
from workers.polling.poll import FeedPoller
from workers.registry.store import FeedRegistry
from workers.settings import Settings


def rss(*links: str) -> str:
    items = "".join(f"<item><title>{link}</title><link>{link}</link></item>" for link in links)
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{items}</channel></rss>'
    )


@pytest.fixture
def parts(
    redis_client: redis.Redis, keys: Keys, settings: Settings
) -> Iterator[tuple[FeedRegistry, FeedPoller, SeenStore]]:
    registry = FeedRegistry(redis_client, keys)
    seen = SeenStore(redis_client, keys)
    http = HttpClient(settings)
    yield registry, FeedPoller(registry, seen, http, settings), seen
    http.close()


def register(registry: FeedRegistry, url: str, **extra: object) -> None:
    source = FeedSource.model_validate({"id": "f", "url": url, "title": "F", **extra})
    registry.sync([source], now=0)


def test_new_entries_then_304(
    parts: tuple[FeedRegistry, FeedPoller, SeenStore], http_server: FixtureHttpServer
) -> None:
    registry, poller, _ = parts
    http_server.route("/feed", rss("https://n.org/1", "https://n.org/2"), etag='"e1"')
    register(registry, http_server.url("/feed"), language="en")
    first = poller.poll("f", now=1000)
    assert first.status == "new_entries"
    assert [e.canonical_url for e in first.new_entries] == ["https://n.org/1", "https://n.org/2"]
    assert all(e.language == "en" and e.feed.id == "f" for e in first.new_entries)
    second = poller.poll("f", now=2000)
    assert second.status == "not_modified"
    assert http_server.requests[-1].headers["if-none-match"] == '"e1"'
    record = registry.get("f")
    assert record is not None
    assert record.state.entries_total == 2
    assert record.state.last_success_at == 2000
    assert registry.next_due("f") == 2000 + 900


def test_entries_in_flight_or_seen_are_not_enqueued_again(
    parts: tuple[FeedRegistry, FeedPoller, SeenStore], http_server: FixtureHttpServer
) -> None:
    registry, poller, seen = parts
    http_server.route("/feed", rss("https://n.org/1"))
    register(registry, http_server.url("/feed"))
    assert len(poller.poll("f", now=1).new_entries) == 1
    # The server has no validators; same body: recognised by hash and not parsed again.
    assert poller.poll("f", now=2).status == "unchanged"
    http_server.route("/feed", rss("https://n.org/1", "https://n.org/3"))
    third = poller.poll("f", now=3)
    assert [e.canonical_url for e in third.new_entries] == ["https://n.org/3"]
    # Once the in-flight marker is gone and the doc was never published, it comes back.
    seen.release_inflight(third.new_entries[0].doc_id)
    http_server.route("/feed", rss("https://n.org/3", "https://n.org/1"))
    assert [e.canonical_url for e in poller.poll("f", now=4).new_entries] == ["https://n.org/3"]


def test_errors_are_recorded_with_backoff(
    parts: tuple[FeedRegistry, FeedPoller, SeenStore], http_server: FixtureHttpServer
) -> None:
    registry, poller, _ = parts
    http_server.route("/feed", status=503, headers={"Retry-After": "7200"})
    register(registry, http_server.url("/feed"), poll_interval_seconds=600)
    result = poller.poll("f", now=0)
    assert result.status == "error" and result.first_error_of_streak
    record = registry.get("f")
    assert record is not None
    assert record.state.last_error_reason == "http_503"
    assert registry.next_due("f") == 7200  # Retry-After beats the 600 s interval
    http_server.route("/feed", "<html><body>not a feed</body></html>")
    second = poller.poll("f", now=8000)
    assert second.status == "error" and not second.first_error_of_streak
    record = registry.get("f")
    assert record is not None
    assert record.state.consecutive_errors == 2
    assert record.state.last_error_reason == "feed_parse"
    assert registry.next_due("f") == 8000 + 1200
    http_server.route("/feed", rss("https://n.org/9"))
    assert poller.poll("f", now=9000).status == "new_entries"
    record = registry.get("f")
    assert record is not None
    assert record.state.consecutive_errors == 0 and record.state.last_error is None


def test_unknown_and_disabled_feeds(
    parts: tuple[FeedRegistry, FeedPoller, SeenStore], http_server: FixtureHttpServer
) -> None:
    registry, poller, _ = parts
    assert poller.poll("nope", now=0).status == "unknown"
    register(registry, http_server.url("/feed"), enabled=False)
    assert poller.poll("f", now=0).status == "disabled"
    assert http_server.requests == []
