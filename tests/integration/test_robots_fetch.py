"""robots.txt fetched over real HTTP on loopback and cached in the real Redis (RFC 9309 2.3)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import redis

from schemas import FeedEntry, FeedRef
from tests.support.http_server import FixtureHttpServer, unused_port
from workers import errors
from workers.fetching.article import fetch_article
from workers.fetching.http import HttpClient
from workers.fetching.politeness import HostLimiter, HostLimits
from workers.fetching.rawstore import RawPageStore
from workers.fetching.robots import RobotsPolicy, origin_of
from workers.keys import Keys
from workers.settings import Settings

ROBOTS = "/robots.txt"


@dataclass
class Worker:
    http: HttpClient
    robots: RobotsPolicy


@pytest.fixture
def make_worker(
    settings: Settings, keys: Keys, redis_client: redis.Redis
) -> Iterator[Callable[..., Worker]]:
    """A worker's HttpClient (with the shared host limits) and robots policy."""
    made: list[Worker] = []

    def make(**overrides: Any) -> Worker:
        tuned = settings.model_copy(
            update={"host_min_interval_seconds": 0.0, "host_max_wait_seconds": 5.0, **overrides}
        )
        limiter = HostLimiter(redis_client, keys, HostLimits.from_settings(tuned), tuned)
        http = HttpClient(tuned, limiter=limiter)
        made.append(Worker(http, RobotsPolicy(redis_client, keys, http, tuned)))
        return made[-1]

    yield make
    for worker in made:
        worker.http.close()


@pytest.fixture
def make_policy(make_worker: Callable[..., Worker]) -> Callable[..., RobotsPolicy]:
    return lambda **overrides: make_worker(**overrides).robots


def test_404_allows_everything_and_is_cached(
    make_policy: Callable[..., RobotsPolicy], http_server: FixtureHttpServer
) -> None:
    policy = make_policy()
    policy.check(http_server.url("/news/1"))
    policy.check(http_server.url("/private/2"))
    assert http_server.hits(ROBOTS) == 1  # the second check was a cache hit
    assert http_server.requests[0].headers["user-agent"].startswith("Newswire/")


def test_disallowed_path_raises_robots_disallowed(
    make_policy: Callable[..., RobotsPolicy], http_server: FixtureHttpServer
) -> None:
    http_server.route(
        ROBOTS,
        "User-agent: *\nDisallow: /\n\nUser-agent: Newswire\nDisallow: /private/\n"
        "Allow: /private/press/\n",
    )
    policy = make_policy()
    policy.check(http_server.url("/news/1"))
    policy.check(http_server.url("/private/press/1"))
    with pytest.raises(errors.RobotsDisallowed) as caught:
        policy.check(http_server.url("/private/memo?id=3"))
    assert caught.value.reason == "robots"
    assert "Newswire" in caught.value.message
    # A second worker reads the cached verdict.
    with pytest.raises(errors.RobotsDisallowed):
        make_policy().check(http_server.url("/private/memo"))
    assert http_server.hits(ROBOTS) == 1


def test_verdict_expires_with_the_cache_ttl(
    make_policy: Callable[..., RobotsPolicy],
    http_server: FixtureHttpServer,
    keys: Keys,
    redis_client: redis.Redis,
) -> None:
    http_server.route(ROBOTS, "User-agent: *\nDisallow: /old/\n")
    policy = make_policy(robots_cache_seconds=3600)
    with pytest.raises(errors.RobotsDisallowed):
        policy.check(http_server.url("/old/1"))
    ttl = int(redis_client.ttl(keys.robots(origin_of(http_server.base_url))))
    assert 3590 < ttl <= 3600
    # Expiry (simulated: nobody waits an hour in a test) brings a fresh fetch.
    redis_client.delete(keys.robots(origin_of(http_server.base_url)))
    http_server.route(ROBOTS, "User-agent: *\nDisallow: /new/\n")
    policy.check(http_server.url("/old/1"))
    assert http_server.hits(ROBOTS) == 2


def test_the_cache_ttl_cannot_exceed_24_hours() -> None:
    with pytest.raises(ValueError, match="robots_cache_seconds"):
        Settings(robots_cache_seconds=24 * 3600 + 1)


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_error_disallows_for_now_and_is_fetched_again(
    make_policy: Callable[..., RobotsPolicy], http_server: FixtureHttpServer, status: int
) -> None:
    http_server.route(ROBOTS, "oops", status=status)
    policy = make_policy(robots_error_ttl_seconds=1, host_penalty_seconds=0.0)
    for _ in range(2):
        with pytest.raises(errors.UpstreamUnavailable) as caught:
            policy.check(http_server.url("/news/1"))
        assert caught.value.reason == "robots_unreachable"
        assert caught.value.retry_after == 1.0
    assert http_server.hits(ROBOTS) == 1  # "disallow" was cached, briefly
    http_server.route(ROBOTS, "User-agent: *\nDisallow: /private/\n")
    time.sleep(1.1)
    policy.check(http_server.url("/news/1"))
    with pytest.raises(errors.RobotsDisallowed):
        policy.check(http_server.url("/private/1"))
    assert http_server.hits(ROBOTS) == 2


def test_unreachable_host_disallows(make_policy: Callable[..., RobotsPolicy]) -> None:
    policy = make_policy(http_connect_timeout=0.5)
    with pytest.raises(errors.UpstreamUnavailable, match="unreachable") as caught:
        policy.check(f"http://127.0.0.1:{unused_port()}/article")  # nothing listens there
    assert caught.value.reason == "robots_unreachable"


@pytest.mark.parametrize("status", [401, 403, 404, 410])
def test_client_errors_allow_everything(
    make_policy: Callable[..., RobotsPolicy], http_server: FixtureHttpServer, status: int
) -> None:
    http_server.route(ROBOTS, "User-agent: *\nDisallow: /\n", status=status)
    make_policy().check(http_server.url("/anything"))


def test_redirects_are_followed(
    make_policy: Callable[..., RobotsPolicy], http_server: FixtureHttpServer
) -> None:
    http_server.route(ROBOTS, "", status=301, headers={"Location": "/hop1"})
    http_server.route("/hop1", "", status=302, headers={"Location": "/real-robots.txt"})
    http_server.route("/real-robots.txt", "User-agent: *\nDisallow: /private/\n")
    policy = make_policy()
    with pytest.raises(errors.RobotsDisallowed):
        policy.check(http_server.url("/private/1"))
    policy.check(http_server.url("/public/1"))


def test_only_the_first_500_kib_are_parsed(
    make_policy: Callable[..., RobotsPolicy], http_server: FixtureHttpServer
) -> None:
    filler = "# " + "x" * 98 + "\n"
    body = (
        "User-agent: *\nDisallow: /early/\n"
        + filler * (600 * 1024 // len(filler))
        + "Disallow: /late/\n"
    )
    assert len(body) > 600 * 1024
    http_server.route(ROBOTS, body)
    policy = make_policy()
    with pytest.raises(errors.RobotsDisallowed):
        policy.check(http_server.url("/early/1"))
    policy.check(http_server.url("/late/1"))  # beyond the parsed part: ignored


def test_workers_fetch_one_robots_txt_once(
    make_policy: Callable[..., RobotsPolicy], http_server: FixtureHttpServer
) -> None:
    http_server.route(ROBOTS, "User-agent: *\nDisallow: /private/\n", drip_seconds=0.05)
    policies = [make_policy() for _ in range(4)]
    failures: list[BaseException] = []

    def check(policy: RobotsPolicy) -> None:
        try:
            policy.check(http_server.url("/news/1"))
        except BaseException as exc:  # reported below, on the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=check, args=(p,)) for p in policies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert http_server.hits(ROBOTS) == 1


def test_robots_txt_is_itself_always_allowed(
    make_policy: Callable[..., RobotsPolicy], http_server: FixtureHttpServer
) -> None:
    policy = make_policy()
    policy.check(http_server.url(ROBOTS))
    assert http_server.hits(ROBOTS) == 0


def entry(url: str) -> FeedEntry:
    return FeedEntry(
        doc_id="d" * 64,
        url=url,
        canonical_url=url,
        feed=FeedRef(id="f", url="http://feed.example/rss", title="f"),
        discovered_at=datetime.now(UTC),
    )


def test_fetch_article_refuses_a_disallowed_page_before_requesting_it(
    make_worker: Callable[..., Worker],
    http_server: FixtureHttpServer,
    redis_client: redis.Redis,
    keys: Keys,
) -> None:
    http_server.route(ROBOTS, "User-agent: Newswire\nDisallow: /paywall/\n")
    http_server.route("/paywall/story", "<html>secret</html>")
    http_server.route("/free/story", "", status=302, headers={"Location": "/paywall/story"})
    http_server.route("/news/story", "<html>news</html>")
    worker = make_worker()
    store = RawPageStore(redis_client, keys, ttl_seconds=60)

    def fetch(path: str) -> None:
        fetch_article(
            entry(http_server.url(path)),
            http=worker.http,
            store=store,
            max_bytes=10_000,
            robots=worker.robots,
        )

    with pytest.raises(errors.RobotsDisallowed):
        fetch("/paywall/story")
    with pytest.raises(errors.RobotsDisallowed):
        fetch("/free/story")  # the redirect target is checked too
    assert http_server.hits("/paywall/story") == 0
    fetch("/news/story")
    assert http_server.hits("/news/story") == 1
