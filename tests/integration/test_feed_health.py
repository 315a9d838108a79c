"""Feed health on a real Redis and a real HTTP server: disabling, revival, moves,
typed reasons, the feed-health stream and `newswire feeds status`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import redis
from click.testing import CliRunner

from schemas import FeedHealth, FeedSource
from tests.support.http_server import FixtureHttpServer
from tests.support.polling import polling_parts
from tests.support.streams import read_stream
from workers.cli.main import cli
from workers.dedup.seen import SeenStore
from workers.fetching.http import HttpClient
from workers.fetching.politeness import HostLimiter, HostLimits
from workers.keys import Keys
from workers.polling.poll import FeedPoller
from workers.registry.store import FeedRecord, FeedRegistry
from workers.settings import Settings

DAY = 24 * 3600


def rss(*items: tuple[str, str | None]) -> str:
    """RSS with (link, RFC 822 date or None) items."""
    rows = "".join(
        f"<item><link>{link}</link>{f'<pubDate>{date}</pubDate>' if date else ''}</item>"
        for link, date in items
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{rows}</channel></rss>'
    )


@pytest.fixture
def exact(settings: Settings) -> Settings:
    """No jitter, so that due times can be asserted exactly."""
    return settings.model_copy(update={"poll_jitter_fraction": 0.0})


@pytest.fixture
def poller(
    redis_client: redis.Redis, keys: Keys, exact: Settings
) -> Iterator[tuple[FeedRegistry, FeedPoller]]:
    with polling_parts(redis_client, keys, exact) as (registry, feed_poller, _):
        yield registry, feed_poller


def register(registry: FeedRegistry, url: str, feed_id: str = "f", **extra: object) -> None:
    source = FeedSource.model_validate({"id": feed_id, "url": url, "title": "F", **extra})
    registry.sync([source], now=0)


def record_of(registry: FeedRegistry, feed_id: str = "f") -> FeedRecord:
    record = registry.get(feed_id)
    assert record is not None
    return record


def health_events(client: redis.Redis, keys: Keys) -> list[FeedHealth]:
    return [
        FeedHealth.model_validate_json(fields[b"record"])
        for _, fields in read_stream(client, keys.feed_health_stream)
    ]


def localhost_url(server: FixtureHttpServer, path: str) -> str:
    """The same loopback server, named by a host name rather than an IP literal."""
    return f"http://localhost:{urlsplit(server.base_url).port}{path}"


def test_410_disables_with_a_reason_then_a_daily_probe_revives(
    poller: tuple[FeedRegistry, FeedPoller],
    http_server: FixtureHttpServer,
    redis_client: redis.Redis,
    keys: Keys,
) -> None:
    registry, feed_poller = poller
    http_server.route("/feed", "gone", status=410)
    register(registry, http_server.url("/feed"))
    result = feed_poller.poll("f", now=1000)
    assert result.status == "error" and result.error is not None
    state = record_of(registry).state
    assert (state.health, state.disabled_reason, state.disabled_at) == (
        "disabled",
        "http_410",
        1000,
    )
    assert registry.next_due("f") == 1000 + DAY  # the slow revival probe
    # The probe still finds it gone: still disabled, next probe a day later, no backoff growth.
    feed_poller.poll("f", now=1000 + DAY)
    assert record_of(registry).state.health == "disabled"
    assert registry.next_due("f") == 1000 + 2 * DAY
    # The feed is back: the next probe re-enables it.
    http_server.route("/feed", rss(("https://n.org/1", None)))
    assert feed_poller.poll("f", now=1000 + 2 * DAY).status == "new_entries"
    state = record_of(registry).state
    assert (state.health, state.disabled_reason, state.consecutive_errors) == ("active", None, 0)
    assert registry.next_due("f") == 1000 + 2 * DAY + 900

    events = health_events(redis_client, keys)
    assert [(e.previous_state, e.state, e.changes) for e in events] == [
        ("active", "disabled", ["state", "error"]),
        ("disabled", "disabled", ["error"]),
        ("disabled", "active", ["state"]),
    ]
    assert events[0].disabled_reason == "http_410" and events[0].last_error_kind == "http_4xx"
    assert events[0].next_poll_at is not None
    assert events[0].next_poll_at.timestamp() == 1000 + DAY


def test_three_404s_in_a_row_disable_the_feed(
    poller: tuple[FeedRegistry, FeedPoller],
    http_server: FixtureHttpServer,
    redis_client: redis.Redis,
    keys: Keys,
) -> None:
    registry, feed_poller = poller
    register(registry, http_server.url("/missing"), poll_interval_seconds=600)
    feed_poller.poll("f", now=0)
    feed_poller.poll("f", now=10_000)
    # A 503 between two 404s breaks the run: the count starts again.
    http_server.route("/missing", status=503)
    feed_poller.poll("f", now=20_000)
    del http_server.routes["/missing"]
    feed_poller.poll("f", now=30_000)
    feed_poller.poll("f", now=40_000)
    state = record_of(registry).state
    assert (state.health, state.consecutive_not_found, state.consecutive_errors) == (
        "erroring", 2, 5
    )  # fmt: skip
    assert registry.next_due("f") == 40_000 + 600 * 2**4  # backoff: the 5th error in a row
    feed_poller.poll("f", now=50_000)
    state = record_of(registry).state
    assert (state.health, state.disabled_reason, state.last_error_reason) == (
        "disabled", "http_404", "http_404"
    )  # fmt: skip
    assert registry.next_due("f") == 50_000 + DAY
    events = health_events(redis_client, keys)
    assert len(events) == 6  # one per failed poll
    assert [e.state for e in events] == ["erroring"] * 5 + ["disabled"]
    assert [e.consecutive_errors for e in events] == [1, 2, 3, 4, 5, 6]
    assert events[0].changes == ["state", "error"] and events[1].changes == ["error"]
    assert events[2].last_error_reason == "http_503" and events[2].last_error_kind == "http_5xx"


def test_permanent_redirect_moves_the_feed(
    poller: tuple[FeedRegistry, FeedPoller],
    http_server: FixtureHttpServer,
    redis_client: redis.Redis,
    keys: Keys,
) -> None:
    registry, feed_poller = poller
    old, new = localhost_url(http_server, "/old"), localhost_url(http_server, "/new")
    http_server.route("/old", status=301, headers={"Location": "/new"})
    http_server.route("/new", rss(("https://n.org/1", None)), etag='"n1"')
    register(registry, old)
    first = feed_poller.poll("f", now=100)
    assert first.status == "new_entries"
    record = record_of(registry)
    assert record.url == new and str(record.source.url) == old  # declaration kept
    [event] = health_events(redis_client, keys)
    assert event.changes == ["moved"] and event.url == new
    # The next poll goes straight to the new URL, with its validators.
    assert feed_poller.poll("f", now=2000).status == "not_modified"
    assert http_server.requests[-1].path == "/new"
    assert http_server.hits("/old") == 1
    # Syncing the same declaration keeps the move; a new declared URL replaces it.
    register(registry, old)
    assert record_of(registry).url == new
    register(registry, http_server.url("/elsewhere"))
    record = record_of(registry)
    assert record.url == http_server.url("/elsewhere") and record.state.etag is None
    assert registry.next_due("f") == 0  # a new URL is polled at once


def test_temporary_redirect_does_not_move_the_feed(
    poller: tuple[FeedRegistry, FeedPoller], http_server: FixtureHttpServer
) -> None:
    registry, feed_poller = poller
    http_server.route("/old", status=302, headers={"Location": "/new"})
    http_server.route("/new", rss(("https://n.org/1", None)))
    register(registry, http_server.url("/old"))
    assert feed_poller.poll("f", now=100).status == "new_entries"
    assert record_of(registry).url == http_server.url("/old")


def test_permanent_redirect_to_a_private_address_is_refused(
    exact: Settings,
    redis_client: redis.Redis,
    keys: Keys,
    http_server: FixtureHttpServer,
) -> None:
    # Only the name "localhost" is allowed: its 308 to the loopback IP literal is a hop
    # to a refused address, so the poll fails and the feed does not move.
    only_localhost = exact.model_copy(update={"fetch_allowlist": ("localhost",)})
    registry = FeedRegistry(redis_client, keys)
    http = HttpClient(only_localhost)
    feed_poller = FeedPoller(registry, SeenStore(redis_client, keys), http, only_localhost)
    old = localhost_url(http_server, "/old")
    http_server.route("/old", status=308, headers={"Location": http_server.url("/internal")})
    http_server.route("/internal", rss(("https://n.org/1", None)))
    register(registry, old)
    result = feed_poller.poll("f", now=100)
    http.close()
    assert record_of(registry).url == old  # stored URL unchanged
    assert result.error is not None and result.error.reason == "private_address"
    assert record_of(registry).state.last_error_kind == "refused"
    assert http_server.hits("/internal") == 0
    assert [e.last_error_reason for e in health_events(redis_client, keys)] == ["private_address"]


def test_network_failures_have_typed_reasons(
    poller: tuple[FeedRegistry, FeedPoller],
    http_server: FixtureHttpServer,
    redis_client: redis.Redis,
    keys: Keys,
) -> None:
    registry, feed_poller = poller
    register(registry, "http://no-such-host.invalid/feed", feed_id="dns")
    # TLS spoken to a plain HTTP server: the handshake fails.
    register(registry, http_server.url("/feed").replace("http://", "https://"), feed_id="tls")
    http_server.route("/feed", "<html><body>not a feed</body></html>")
    register(registry, http_server.url("/feed"), feed_id="parse")
    for feed_id in ("dns", "tls", "parse"):
        assert feed_poller.poll(feed_id, now=100).status == "error"
    reasons = {
        feed_id: (record_of(registry, feed_id).state.last_error_reason,
                  record_of(registry, feed_id).state.last_error_kind)
        for feed_id in ("dns", "tls", "parse")
    }  # fmt: skip
    assert reasons == {
        "dns": ("dns", "dns"),
        "tls": ("tls", "tls"),
        "parse": ("feed_parse", "parse"),
    }
    assert {e.last_error_kind for e in health_events(redis_client, keys)} == {
        "dns", "tls", "parse"
    }  # fmt: skip


def test_stale_flag_flips_on_the_stream_and_304s_write_nothing(
    poller: tuple[FeedRegistry, FeedPoller],
    http_server: FixtureHttpServer,
    redis_client: redis.Redis,
    keys: Keys,
) -> None:
    registry, feed_poller = poller
    # Four items an hour apart, the newest at 12:00 on 2024-01-01.
    dates = [f"Mon, 01 Jan 2024 {h:02d}:00:00 +0000" for h in (9, 10, 11, 12)]
    items = [(f"https://n.org/{i}", d) for i, d in enumerate(dates)]
    http_server.route("/feed", rss(*items), etag='"v1"')
    register(registry, http_server.url("/feed"))
    noon = 1704110400.0
    feed_poller.poll("f", now=noon + 60)
    state = record_of(registry).state
    assert (state.gap_seconds, state.gap_samples, state.last_item_at) == (3600, 3, noon)
    for hour in (1, 3, 5):  # 304s, not stale yet (under the 6 h floor): nothing written
        assert feed_poller.poll("f", now=noon + hour * 3600).status == "not_modified"
    assert health_events(redis_client, keys) == []
    feed_poller.poll("f", now=noon + 7 * 3600)  # silent for 7 h > max(5 x 1 h, 6 h)
    assert record_of(registry).state.stale
    feed_poller.poll("f", now=noon + 8 * 3600)  # still stale: no new entry
    new_item = ("https://n.org/9", "Mon, 01 Jan 2024 20:30:00 +0000")
    http_server.route("/feed", rss(*items, new_item), etag='"v2"')
    assert feed_poller.poll("f", now=noon + 9 * 3600).status == "new_entries"
    events = health_events(redis_client, keys)
    assert [(e.changes, e.stale, e.state) for e in events] == [
        (["stale"], True, "active"),
        (["stale"], False, "active"),
    ]
    assert events[0].items_per_day == 24 and events[0].usual_gap_seconds == 3600


def test_host_busy_moves_the_poll_without_an_error(
    redis_client: redis.Redis, keys: Keys, exact: Settings, http_server: FixtureHttpServer
) -> None:
    polite = exact.model_copy(
        update={"host_max_wait_seconds": 0.0, "host_min_interval_seconds": 60.0}
    )
    registry = FeedRegistry(redis_client, keys)
    limiter = HostLimiter(redis_client, keys, HostLimits.from_settings(polite), polite)
    http = HttpClient(polite, limiter=limiter)
    feed_poller = FeedPoller(registry, SeenStore(redis_client, keys), http, polite)
    try:
        http_server.route("/a", rss(("https://n.org/1", None)))
        http_server.route("/b", rss(("https://n.org/2", None)))
        register(registry, http_server.url("/a"), feed_id="a")
        register(registry, http_server.url("/b"), feed_id="b")
        assert feed_poller.poll("a", now=1000).status == "new_entries"
        # Same host, less than a minute later: the limiter says not now.
        result = feed_poller.poll("b", now=1001)
    finally:
        http.close()
    assert result.status == "deferred" and result.error is None
    state = record_of(registry, "b").state
    assert (state.consecutive_errors, state.health, state.last_polled_at) == (0, "active", None)
    due = registry.next_due("b")
    assert due is not None and 1001 + 50 <= due <= 1001 + 61
    assert http_server.hits("/b") == 0
    assert health_events(redis_client, keys) == []


@pytest.mark.parametrize(
    "case",
    [(429, {"Retry-After": "40"}, 40.0), (503, {}, 20.0)],  # 503 alone: the host penalty
    ids=["429", "503"],
)
def test_429_and_503_slow_the_whole_host_down(
    redis_client: redis.Redis,
    keys: Keys,
    exact: Settings,
    http_server: FixtureHttpServer,
    case: tuple[int, dict[str, str], float],
) -> None:
    """A feed answering 429 or 503 backs off, and so does every feed on its host."""
    status, headers, pause = case
    polite = exact.model_copy(
        update={
            "host_max_wait_seconds": 0.0,
            "host_min_interval_seconds": 0.0,
            "host_penalty_seconds": 20.0,
        }
    )
    registry = FeedRegistry(redis_client, keys)
    limiter = HostLimiter(redis_client, keys, HostLimits.from_settings(polite), polite)
    http = HttpClient(polite, limiter=limiter)
    feed_poller = FeedPoller(registry, SeenStore(redis_client, keys), http, polite)
    http_server.route("/busy", "slow down", status=status, headers=headers)
    http_server.route("/b", rss(("https://n.org/2", None)))
    http_server.route("/c", rss(("https://n.org/3", None)))
    register(registry, http_server.url("/busy"), feed_id="busy")
    register(registry, http_server.url("/b"), feed_id="b")
    register(registry, localhost_url(http_server, "/c"), feed_id="other-host")
    try:
        failed = feed_poller.poll("busy", now=1000)
        deferred = feed_poller.poll("b", now=1001)
        elsewhere = feed_poller.poll("other-host", now=1002)
    finally:
        http.close()
    # The feed itself: a typed error and a backoff no shorter than the host's pause.
    assert failed.status == "error" and failed.error is not None
    assert failed.error.reason == f"http_{status}"
    busy_due = registry.next_due("busy")
    assert busy_due is not None and busy_due >= 1000 + pause
    # Another feed of that host waits out the pause, without a request and without an error.
    assert deferred.status == "deferred" and http_server.hits("/b") == 0
    due = registry.next_due("b")
    assert due is not None and 1001 + pause - 2 <= due <= 1001 + pause + 1
    assert record_of(registry, "b").state.consecutive_errors == 0
    # Another host is not slowed down.
    assert elsewhere.status == "new_entries"


def test_feeds_status_command(
    poller: tuple[FeedRegistry, FeedPoller],
    http_server: FixtureHttpServer,
) -> None:
    registry, feed_poller = poller
    now = time.time()
    hourly = [(f"https://n.org/{i}", None) for i in range(3)]
    http_server.route("/ok", rss(*hourly))
    http_server.route("/gone", status=410)
    http_server.route("/flaky", status=503)
    register(registry, http_server.url("/ok"), feed_id="ok")
    register(registry, http_server.url("/gone"), feed_id="gone")
    register(registry, http_server.url("/flaky"), feed_id="flaky")
    register(registry, http_server.url("/off"), feed_id="off", enabled=False)
    feed_poller.poll("ok", now=now - 7200)
    http_server.route("/ok", rss(*hourly, ("https://n.org/3", None), ("https://n.org/4", None)))
    feed_poller.poll("ok", now=now - 3600)  # two new items in an hour: 48 a day
    feed_poller.poll("gone", now=now - 60)
    feed_poller.poll("flaky", now=now - 60)

    runner = CliRunner()
    table = runner.invoke(cli, ["feeds", "status"])
    assert table.exit_code == 0, table.output
    lines = {line.split()[1]: line for line in table.output.splitlines() if "│" in line[:2]}
    assert "active" in lines["ok"] and "48.0" in lines["ok"]
    assert "disabled (http_410)" in lines["gone"] and "in 24h" in lines["gone"]
    assert "erroring" in lines["flaky"] and "http_503 1m ago" in lines["flaky"]
    assert "paused" in lines["off"]

    as_json = runner.invoke(cli, ["feeds", "status", "--json"])
    rows = {h.feed_id: h for h in map(FeedHealth.model_validate_json, as_json.output.splitlines())}
    assert set(rows) == {"ok", "gone", "flaky", "off"}
    assert rows["ok"].items_per_day == 48 and rows["ok"].consecutive_errors == 0
    assert rows["flaky"].consecutive_errors == 1 and rows["flaky"].last_error_kind == "http_5xx"
    assert rows["off"].next_poll_at is None
    problems = runner.invoke(cli, ["feeds", "status", "--problems", "--json"])
    assert sorted(json.loads(line)["feed_id"] for line in problems.output.splitlines()) == [
        "flaky", "gone", "off"
    ]  # fmt: skip
