"""Redis killed mid-run, and Redis absent at start (scenarios 7, 8, 9, 21).

Each test runs a redis-server of its own (appendfsync always, as Newswire
requires by default), so that it can kill -9 it and start it again on the same
port and append-only file. Never the suite's Redis, never the system's.

A message a worker popped (BRPOP) just before Redis died is gone from the queue
and was never recorded as unacknowledged: kombu's transport loses it
(RELIABILITY.md). Its article stays pending for its feed; claims lapse after
30 s here, and the test makes the feeds due so that they send it again.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support.faults import (
    CLAIM_SECONDS,
    Broker,
    NewsSite,
    OwnRedis,
    Service,
    document_ids,
    fault_env,
    pipeline_services,
    record_figures,
    send_lost_messages_again,
    start_all,
    stop_all,
    wait_for,
)
from tests.support.http_server import FixtureHttpServer
from workers.clients import make_redis, reset_clients
from workers.keys import Keys
from workers.polling.canonical import canonical_url, document_id
from workers.registry.store import FeedRegistry
from workers.settings import Settings, get_settings

# Real processes on a shared machine: the waits inside are generous, so is the budget.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(360)]

DOWNTIME_SECONDS = 5.0


def use_redis(monkeypatch: pytest.MonkeyPatch, server: OwnRedis) -> None:
    monkeypatch.setenv("NEWSWIRE_REDIS_URL", server.url)
    monkeypatch.setenv("NEWSWIRE_REDIS_FSYNC", "always")
    get_settings.cache_clear()
    reset_clients()


@pytest.fixture
def own_redis(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[OwnRedis]:
    """A running redis-server of this test's own (after `settings` set the key prefix)."""
    server = OwnRedis(tmp_path / "own-redis")
    server.start()
    use_redis(monkeypatch, server)
    yield server
    server.stop()


@pytest.fixture
def services(settings: Settings, tmp_path: Path) -> Iterator[dict[str, Service]]:
    created: dict[str, Service] = {}
    yield created
    stop_all(created)


def test_redis_killed_and_restarted_mid_run_loses_no_acknowledged_document(
    own_redis: OwnRedis,
    services: dict[str, Service],
    http_server: FixtureHttpServer,
    keys: Keys,
    tmp_path: Path,
) -> None:
    client = make_redis(own_redis.url)
    # Slow pages (about 2 s each): fetches are in flight when Redis dies, and end after.
    site = NewsSite(http_server, feeds=2, per_feed=50, page_drip_seconds=0.006)
    env = fault_env(NEWSWIRE_INFLIGHT_TTL_SECONDS=str(CLAIM_SECONDS))
    services.update(pipeline_services(get_settings(), env, tmp_path / "logs"))
    alive = start_all(services)
    services["fetch"].wait_ready()
    services["process"].wait_ready()
    FeedRegistry(client, keys).sync(site.publish(), now=time.time())

    # kill -9 right after a publication: what consumers could already read must survive.
    wait_for(lambda: client.xlen(keys.documents_stream) >= 20, timeout=120,
             what="20 documents", alive=alive)  # fmt: skip
    published = client.xlen(keys.documents_stream)
    wait_for(lambda: client.xlen(keys.documents_stream) > published, timeout=60,
             what="one more publication", alive=alive)  # fmt: skip
    acknowledged = document_ids(client, keys)
    own_redis.kill()
    killed_at = time.monotonic()
    wait_for(
        lambda: all("Connection to broker lost" in s.log_since_start()
                    for s in (services["fetch"], services["process"])),
        timeout=60, what="both workers to notice the lost broker", alive=alive,
    )  # fmt: skip
    while time.monotonic() - killed_at < DOWNTIME_SECONDS:  # Redis stays down a while
        alive()
        time.sleep(0.2)
    own_redis.restart()
    restarted_at = time.monotonic()
    survivors = set(document_ids(client, keys))
    published_at_restart = client.xlen(keys.documents_stream)
    wait_for(lambda: client.xlen(keys.documents_stream) > published_at_restart, timeout=120,
             what="a publication after the restart", alive=alive)  # fmt: skip
    resumed_after = time.monotonic() - restarted_at

    expected = 100
    broker = Broker(client, keys.prefix)
    urls = [http_server.url(site.page_path(n)) for n in site.article_numbers]
    recovered = send_lost_messages_again(
        client, keys, expected={document_id(canonical_url(u)) for u in urls},
        feed_ids=[f"feed{n}" for n in range(site.feeds)], alive=alive, timeout=240,
    )  # fmt: skip
    wait_for(
        lambda: len(set(document_ids(client, keys))) >= expected and broker.idle(),
        timeout=240, what=f"{expected} documents and an idle broker", alive=alive,
    )  # fmt: skip
    ids = document_ids(client, keys)
    duplicated = sum(count - 1 for count in Counter(ids).values())
    record_figures(
        "test_redis_killed_and_restarted_mid_run_loses_no_acknowledged_document",
        faults={"redis kill -9 right after a publication, restart with its AOF": 1},
        redis_down_seconds=round(restarted_at - killed_at, 1),
        acknowledged_before_kill=len(acknowledged),
        acknowledged_lost=len(set(acknowledged) - survivors),
        first_publication_after_restart_seconds=round(resumed_after, 1),
        documents_expected=expected,
        delivered=len(ids),
        distinct=len(set(ids)),
        duplicated=duplicated,
        lost=expected - len(set(ids)),
        messages_lost_by_the_transport_then_sent_again=recovered,
        dead_letters=client.xlen(keys.deadletter_stream),
    )
    assert set(acknowledged) <= survivors
    assert len(set(ids)) == expected
    assert duplicated == 0
    for service in services.values():  # the same processes throughout: none restarted
        assert service.starts == 1
    client.close()


def test_services_wait_for_a_redis_that_is_not_there_yet(
    services: dict[str, Service],
    http_server: FixtureHttpServer,
    keys: Keys,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    late = OwnRedis(tmp_path / "late-redis")  # its port is chosen, nothing listens on it
    use_redis(monkeypatch, late)
    services.update(pipeline_services(get_settings(), fault_env(), tmp_path / "logs"))
    alive = start_all(services)
    waiting = f"waiting for Redis at {late.url} (attempt 3)"
    wait_for(
        lambda: all(waiting in s.log_text() for s in services.values()),
        timeout=90, what="every service to log its third attempt", alive=alive,
    )  # fmt: skip
    try:
        late.start()
        for service in services.values():
            service.wait_ready("is reachable and safe")
        client = redis.Redis.from_url(late.url)
        site = NewsSite(http_server, feeds=1, per_feed=5)
        FeedRegistry(client, keys).sync(site.publish(), now=time.time())
        wait_for(lambda: client.xlen(keys.documents_stream) == 5, timeout=120,
                 what="5 documents", alive=alive)  # fmt: skip
        client.close()
    finally:
        stop_all(services)
        services.clear()
        late.stop()
    for name in ("worker-fetch", "worker-process", "beat"):
        log = (tmp_path / "logs" / f"{name}.log").read_text()
        assert "starting with visibility_timeout=20s" in log, log[-2000:]
        assert "process_time_limit=8s soft/10s hard" in log
        assert "answers after" in log
        assert "Traceback" not in log
