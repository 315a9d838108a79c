"""The per-host limit shared by workers, against a real Redis and real HTTP on loopback.

Each HttpClient (with its own HostLimiter and Redis connection) stands for one
worker. The two loopback names 127.0.0.1 and localhost are two hosts to the
limiter, served by the same server.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis

from schemas import FeedSource
from tests.conftest import REPO_ROOT
from tests.support.http_server import FixtureHttpServer
from tests.support.streams import read_stream
from workers import errors
from workers.clients import make_redis
from workers.fetching.http import HttpClient
from workers.fetching.politeness import HostLimit, HostLimiter, HostLimits
from workers.keys import Keys
from workers.registry.store import FeedRegistry
from workers.runtime.supervisor import Supervisor, beat_command, worker_command
from workers.settings import Settings

LOOPBACK_ALIAS = "localhost"  # resolves to 127.0.0.1, but is another host to the limiter


@dataclass
class CountingServer:
    """Counts requests in progress at once, server side; every reply takes `delay` seconds."""

    delay: float = 0.0
    starts: list[float] = field(default_factory=list)
    in_progress: int = 0
    most_at_once: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def enter(self) -> None:
        with self.lock:
            self.starts.append(time.monotonic())
            self.in_progress += 1
            self.most_at_once = max(self.most_at_once, self.in_progress)

    def leave(self) -> None:
        with self.lock:
            self.in_progress -= 1


@pytest.fixture
def counting() -> Iterator[tuple[CountingServer, str]]:
    state = CountingServer()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            state.enter()
            try:
                time.sleep(state.delay)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            finally:
                state.leave()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@dataclass
class Worker:
    http: HttpClient
    client: redis.Redis

    def get(self, url: str) -> int:
        return self.http.get(url, max_bytes=10_000).status


@pytest.fixture
def make_worker(settings: Settings, keys: Keys) -> Iterator[Callable[..., Worker]]:
    """Build a "worker": its own Redis connection, limiter and HTTP client."""
    made: list[Worker] = []

    def make(limiter: bool = True, **overrides: Any) -> Worker:
        tuned = settings.model_copy(update=overrides)
        client = make_redis(str(settings.redis_url))
        limits = HostLimits.from_settings(tuned)
        host_limiter = HostLimiter(client, keys, limits, tuned) if limiter else None
        worker = Worker(HttpClient(tuned, limiter=host_limiter), client)
        made.append(worker)
        return worker

    yield make
    for worker in made:
        worker.http.close()
        worker.client.close()


def hammer(workers: list[Worker], url: str, requests: int) -> list[BaseException | int]:
    """`requests` GETs from 4 threads per worker at once; the statuses or errors."""

    def one(i: int) -> BaseException | int:
        try:
            return workers[i % len(workers)].get(url)
        except errors.NewswireError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=4 * len(workers)) as pool:
        return list(pool.map(one, range(requests)))


def test_two_workers_never_exceed_the_host_cap(
    make_worker: Callable[..., Worker],
    counting: tuple[CountingServer, str],
    redis_client: redis.Redis,
) -> None:
    server, base = counting
    server.delay = 0.2
    limits = {"host_max_in_flight": 2, "host_min_interval_seconds": 0.0}
    workers = [make_worker(host_max_wait_seconds=10.0, **limits) for _ in range(2)]
    results = hammer(workers, base + "/slow", requests=12)
    assert results == [200] * 12
    assert server.most_at_once == 2
    # Without the limiter the same load is not capped: the count above means something.
    server.most_at_once = 0
    free = [make_worker(limiter=False) for _ in range(2)]
    assert hammer(free, base + "/slow", requests=12) == [200] * 12
    assert server.most_at_once > 2


def test_min_interval_between_request_starts(
    make_worker: Callable[..., Worker],
    counting: tuple[CountingServer, str],
    redis_client: redis.Redis,
) -> None:
    server, base = counting
    options = {
        "host_max_in_flight": 10,
        "host_min_interval_seconds": 0.3,
        "host_max_wait_seconds": 10.0,
    }
    workers = [make_worker(**options) for _ in range(2)]
    assert hammer(workers, base + "/page", requests=6) == [200] * 6
    starts = sorted(server.starts)
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert len(gaps) == 5
    assert min(gaps) >= 0.28, gaps  # Redis keeps milliseconds; the server's clock is another


def test_a_host_over_its_wait_raises_host_busy_with_a_spread_retry_after(
    make_worker: Callable[..., Worker],
    counting: tuple[CountingServer, str],
    redis_client: redis.Redis,
) -> None:
    _, base = counting
    worker = make_worker(
        host_max_in_flight=1, host_min_interval_seconds=2.0, host_max_wait_seconds=0.1
    )
    assert worker.get(base + "/a") == 200
    busy = []
    for _ in range(3):
        with pytest.raises(errors.HostBusy) as caught:
            worker.get(base + "/b")
        busy.append(caught.value)
    assert all(exc.reason == "host_busy" for exc in busy)
    delays = [exc.retry_after or 0.0 for exc in busy]
    # The first deferred request gets the next free start, each later one 2 s after.
    assert 1.5 < delays[0] <= 2.0
    assert delays[1] - delays[0] == pytest.approx(2.0, abs=0.1)
    assert delays[2] - delays[1] == pytest.approx(2.0, abs=0.1)


def test_429_with_retry_after_pauses_that_host_only(
    make_worker: Callable[..., Worker], http_server: FixtureHttpServer, redis_client: redis.Redis
) -> None:
    http_server.route("/busy", "slow down", status=429, headers={"Retry-After": "2"})
    http_server.route("/ok", "fine")
    options = {
        "host_min_interval_seconds": 0.0,
        "host_max_wait_seconds": 0.5,
        "host_penalty_seconds": 0.5,  # shorter than the Retry-After, which then rules
    }
    first, second = make_worker(**options), make_worker(**options)
    with pytest.raises(errors.UpstreamUnavailable):
        first.http.get(http_server.url("/busy"), max_bytes=1000)
    paused_at = time.monotonic()

    # Another worker, another path, same host: held back, without a request sent.
    hits = len(http_server.requests)
    with pytest.raises(errors.HostBusy) as caught:
        second.get(http_server.url("/ok"))
    assert 1.0 < (caught.value.retry_after or 0) <= 2.0
    assert len(http_server.requests) == hits

    # Another host is not affected.
    other = http_server.url("/ok").replace("127.0.0.1", LOOPBACK_ALIAS)
    assert second.get(other) == 200

    # Once the pause is over the host answers again, and success ends the streak.
    time.sleep(max(0.0, paused_at + 2.05 - time.monotonic()))
    assert second.get(http_server.url("/ok")) == 200
    assert time.monotonic() - paused_at >= 2.0


def test_503_without_retry_after_backs_off_doubling_until_a_success(
    make_worker: Callable[..., Worker], http_server: FixtureHttpServer, redis_client: redis.Redis
) -> None:
    http_server.route("/down", "maintenance", status=503)
    http_server.route("/ok", "fine")
    worker = make_worker(
        host_min_interval_seconds=0.0,
        host_max_wait_seconds=0.05,
        host_penalty_seconds=0.4,
        host_penalty_max_seconds=60.0,
    )

    def pause_after_503() -> float:
        with pytest.raises(errors.UpstreamUnavailable):
            worker.get(http_server.url("/down"))
        with pytest.raises(errors.HostBusy) as caught:
            worker.get(http_server.url("/ok"))
        time.sleep((caught.value.retry_after or 0) + 0.05)
        return caught.value.retry_after or 0.0

    assert pause_after_503() == pytest.approx(0.4, abs=0.06)
    assert pause_after_503() == pytest.approx(0.8, abs=0.06)
    assert pause_after_503() == pytest.approx(1.6, abs=0.06)
    assert worker.get(http_server.url("/ok")) == 200  # ends the streak
    assert pause_after_503() == pytest.approx(0.4, abs=0.06)


def test_penalty_is_capped_whatever_retry_after_says(
    make_worker: Callable[..., Worker], http_server: FixtureHttpServer, redis_client: redis.Redis
) -> None:
    http_server.route("/busy", "", status=429, headers={"Retry-After": "86400"})
    worker = make_worker(host_max_wait_seconds=0.0, host_penalty_max_seconds=5.0)
    with pytest.raises(errors.UpstreamUnavailable) as refused:
        worker.get(http_server.url("/busy"))
    assert refused.value.retry_after == 86400  # the error still carries what the site said
    with pytest.raises(errors.HostBusy) as caught:
        worker.get(http_server.url("/busy"))
    assert 4.0 < (caught.value.retry_after or 0) <= 5.0


def test_a_dead_workers_slot_is_freed_when_its_lease_expires(
    settings: Settings, keys: Keys, redis_client: redis.Redis
) -> None:
    # Lease = connect + total deadline + read timeout = 0.6 s here.
    tuned = settings.model_copy(
        update={
            "http_connect_timeout": 0.1,
            "http_total_deadline": 0.4,
            "http_read_timeout": 0.1,
            "host_min_interval_seconds": 0.0,
            "host_max_wait_seconds": 2.0,
        }
    )
    limits = HostLimits(HostLimit(max_in_flight=1, min_interval_seconds=0.0))
    dead = HostLimiter(redis_client, keys, limits, tuned)
    alive = HostLimiter(redis_client, keys, limits, tuned)
    held = dead.slot("http://news.example/a")
    held.__enter__()  # and never leaves: its worker was killed
    started = time.monotonic()
    with alive.slot("http://news.example/b") as slot:
        assert slot.waited == pytest.approx(time.monotonic() - started, abs=0.05)
    assert 0.5 <= time.monotonic() - started < 1.5


def test_per_host_overrides_cover_subdomains(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "hosts.yaml"
    path.write_text(
        "hosts:\n"
        "  example.org: {max_in_flight: 1, min_interval_seconds: 5}\n"
        "  feeds.example.org: {min_interval_seconds: 0.5}\n",
        encoding="utf-8",
    )
    limits = HostLimits.from_settings(settings.model_copy(update={"host_limits_file": path}))
    assert limits.for_host("www.example.org") == HostLimit(1, 5.0)
    assert limits.for_host("EXAMPLE.org") == HostLimit(1, 5.0)
    # The most specific entry wins; a field left out keeps the default.
    assert limits.for_host("feeds.example.org") == HostLimit(2, 0.5)
    assert limits.for_host("example.com") == HostLimit(2, 1.0)
    assert limits.for_host("notexample.org") == HostLimit(2, 1.0)


def test_bad_host_limits_file_is_a_configuration_error(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "hosts.yaml"
    path.write_text("hosts:\n  example.org: {max_in_flight: 0}\n", encoding="utf-8")
    with pytest.raises(errors.ConfigurationError, match=r"hosts\.yaml"):
        HostLimits.from_settings(settings.model_copy(update={"host_limits_file": path}))


def test_the_shipped_hosts_file_loads(settings: Settings) -> None:
    assert (settings.seeds_dir / "hosts.yaml").is_file()
    limits = HostLimits.from_settings(settings)
    assert limits.default == HostLimit(settings.host_max_in_flight, 1.0)


# --- through real workers ------------------------------------------------------------------

PAGES_DIR = REPO_ROOT / "seeds" / "demo" / "pages"
DEMO_PAGES = [
    PAGES_DIR / name
    for name in ("munitions-smuggling-report-en.html", "haubitzen-export-de.html",
                 "kim-putin-arms-fr.html")
]  # fmt: skip


@pytest.mark.e2e
def test_host_busy_requeues_spend_no_retry_and_no_delivery(
    settings: Settings,
    http_server: FixtureHttpServer,
    redis_client: redis.Redis,
    keys: Keys,
    tmp_path: Path,
) -> None:
    """No retries and one delivery allowed: any HostBusy counted as either dead-letters."""
    article_base = http_server.base_url  # 127.0.0.1: the articles' host
    items = "".join(
        f"<item><title>{page.stem}</title><link>{article_base}/a/{page.name}</link>"
        f"<guid>{page.stem}</guid></item>"
        for page in DEMO_PAGES
    )
    http_server.route("/feed.xml", f'<?xml version="1.0"?><rss version="2.0"><channel>'
                      f"<title>t</title>{items}</channel></rss>")  # fmt: skip
    for page in DEMO_PAGES:
        http_server.route(
            f"/a/{page.name}", page.read_bytes(), headers={"Content-Type": "text/html"}
        )
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "NEWSWIRE_DISPATCH_EVERY_SECONDS": "1",
        "NEWSWIRE_MAX_RETRIES": "0",
        "NEWSWIRE_MAX_DELIVERIES": "1",
        "NEWSWIRE_HOST_MAX_IN_FLIGHT": "1",
        "NEWSWIRE_HOST_MIN_INTERVAL_SECONDS": "0.3",
        "NEWSWIRE_HOST_MAX_WAIT_SECONDS": "0",
    }
    supervisor = Supervisor(env, log_dir=tmp_path / "logs")
    supervisor.start("worker", worker_command("all", settings, concurrency=3))
    supervisor.start("beat", beat_command(settings))
    try:
        # The feed lives on another host name, so its poll never waits for the articles.
        feed_url = http_server.url("/feed.xml").replace("127.0.0.1", LOOPBACK_ALIAS)
        FeedRegistry(redis_client, keys).sync(
            [FeedSource(id="busy", url=feed_url, title="t")], now=time.time()
        )
        deadline = time.monotonic() + 120
        while redis_client.xlen(keys.documents_stream) < len(DEMO_PAGES):
            assert not supervisor.dead(), f"{supervisor.dead()} exited"
            assert not read_stream(redis_client, keys.deadletter_stream)
            assert time.monotonic() < deadline, "articles not published in time"
            time.sleep(0.3)
    finally:
        supervisor.stop()
    log = "".join(p.read_text(errors="replace") for p in (tmp_path / "logs").glob("*.log"))
    assert "no request slot" in log  # the host was busy, and the work came back
    assert not read_stream(redis_client, keys.deadletter_stream)
    for page in DEMO_PAGES:
        assert http_server.hits(f"/a/{page.name}") == 1
    assert not list(redis_client.scan_iter(match=f"{keys.prefix}:deliveries:*"))
