"""The poll stage against a real feed server and a real Redis."""

from collections.abc import Iterator

import pytest
import redis

from schemas import FeedSource
from tests.support.http_server import FixtureHttpServer
from tests.support.polling import PollingParts, polling_parts
from workers.keys import Keys
from workers.registry.store import FeedRegistry
from workers.settings import Settings


def rss(*links: str) -> str:
    items = "".join(f"<item><title>{link}</title><link>{link}</link></item>" for link in links)
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{items}</channel></rss>'
    )


@pytest.fixture
def parts(redis_client: redis.Redis, keys: Keys, settings: Settings) -> Iterator[PollingParts]:
    """A poller without jitter, so that due times can be asserted exactly."""
    with polling_parts(redis_client, keys, settings, exact=True) as made:
        yield made


def register(registry: FeedRegistry, url: str, **extra: object) -> None:
    source = FeedSource.model_validate({"id": "f", "url": url, "title": "F", **extra})
    registry.sync([source], now=0)


def test_new_entries_then_304(parts: PollingParts, http_server: FixtureHttpServer) -> None:
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
    parts: PollingParts, http_server: FixtureHttpServer
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
    parts: PollingParts, http_server: FixtureHttpServer
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
    assert record.state.consecutive_errors == 0 and record.state.health == "active"
    # The last error is kept (for `feeds status`), older than the last success.
    assert record.state.last_error_reason == "feed_parse"
    assert record.state.last_error_at == 8000 and record.state.last_success_at == 9000


def test_unknown_and_disabled_feeds(parts: PollingParts, http_server: FixtureHttpServer) -> None:
    registry, poller, _ = parts
    assert poller.poll("nope", now=0).status == "unknown"
    register(registry, http_server.url("/feed"), enabled=False)
    assert poller.poll("f", now=0).status == "disabled"
    assert http_server.requests == []


def dated_rss(*minutes: int, extra: str = "") -> str:
    """Items published on 2024-01-01 at the given minutes after midnight (UTC)."""
    items = "".join(
        f"<item><link>https://n.org/{m}</link>"
        f"<pubDate>Mon, 01 Jan 2024 {m // 60:02d}:{m % 60:02d}:00 +0000</pubDate></item>"
        for m in minutes
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0" '
        f'xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel><title>T</title>'
        f"{extra}{items}</channel></rss>"
    )


NOON = 1704110400.0  # 2024-01-01 12:00 UTC


def test_interval_adapts_to_the_publishing_rate(
    parts: PollingParts, http_server: FixtureHttpServer
) -> None:
    registry, poller, _ = parts
    http_server.route("/feed", dated_rss(0, 240, 480, 720))  # every four hours
    register(registry, http_server.url("/feed"))
    poller.poll("f", now=NOON + 10)
    record = registry.get("f")
    assert record is not None
    assert record.state.gap_seconds == 4 * 3600
    assert registry.next_due("f") == NOON + 10 + 2 * 3600  # half the usual gap
    # A busier feed is polled at the minimum, never more often.
    http_server.route("/busy", dated_rss(*range(600, 721, 5)))  # every 5 minutes
    register(registry, http_server.url("/busy"), id="busy")
    poller.poll("busy", now=NOON + 10)
    assert registry.next_due("busy") == NOON + 10 + 300


def test_server_hints_are_lower_bounds_and_retry_after_a_floor(
    parts: PollingParts, http_server: FixtureHttpServer
) -> None:
    registry, poller, _ = parts
    busy = list(range(600, 721, 5))  # adaptive interval at the 300 s minimum
    http_server.route("/cc", dated_rss(*busy), headers={"Cache-Control": "max-age=2400"})
    http_server.route("/ttl", dated_rss(*busy, extra="<ttl>50</ttl>"))
    sy = "<sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>1</sy:updateFrequency>"
    http_server.route("/sy", dated_rss(*busy, extra=sy), headers={"Cache-Control": "max-age=60"})
    http_server.route("/ra", dated_rss(*busy), headers={"Retry-After": "5000"})
    http_server.route("/own", dated_rss(*busy, extra="<ttl>50</ttl>"))
    for path in ("cc", "ttl", "sy", "ra"):
        register(registry, http_server.url(f"/{path}"), id=path)
    register(registry, http_server.url("/own"), id="own", poll_interval_seconds=120)
    for feed_id in ("cc", "ttl", "sy", "ra", "own"):
        assert poller.poll(feed_id, now=NOON).status in {"new_entries", "no_new_entries"}
    due = {feed_id: registry.next_due(feed_id) for feed_id in ("cc", "ttl", "sy", "ra", "own")}
    assert due == {
        "cc": NOON + 2400,  # Cache-Control max-age
        "ttl": NOON + 3000,  # <ttl> in minutes
        "sy": NOON + 3600,  # sy:updatePeriod beats a shorter max-age
        "ra": NOON + 5000,  # Retry-After on a 200
        "own": NOON + 120,  # the feed's override beats the hints
    }
    # A 304 without Cache-Control keeps the max-age the 200 gave.
    http_server.route(
        "/cc", dated_rss(*busy), etag='"x"', headers={"Cache-Control": "max-age=2400"}
    )
    poller.poll("cc", now=NOON + 3000)
    assert poller.poll("cc", now=NOON + 6000).status == "not_modified"
    assert registry.next_due("cc") == NOON + 6000 + 2400


def test_jitter_spreads_feeds_that_start_together(
    redis_client: redis.Redis, keys: Keys, settings: Settings, http_server: FixtureHttpServer
) -> None:
    http_server.route("/feed", rss("https://n.org/1"), etag='"e"')
    ids = [f"f{i}" for i in range(12)]
    with polling_parts(redis_client, keys, settings) as (registry, poller, _):
        registry.sync(
            [FeedSource(id=i, url=http_server.url("/feed"), title=i) for i in ids],
            now=0,
        )
        for feed_id in ids:
            poller.poll(feed_id, now=1000)
    due = [registry.next_due(feed_id) for feed_id in ids]
    assert all(d is not None and 1000 + 810 <= d <= 1000 + 990 for d in due)
    assert len(set(due)) == len(ids)
