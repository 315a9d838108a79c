"""The feed registry and its due-time index, on a real Redis."""

import threading

import redis

from schemas import FeedSource
from workers.clients import make_redis
from workers.keys import Keys
from workers.registry.store import FeedRegistry, FeedState
from workers.settings import Settings


def feed(feed_id: str, **extra: object) -> FeedSource:
    return FeedSource.model_validate(
        {"id": feed_id, "url": f"https://example.org/{feed_id}.xml", "title": feed_id, **extra}
    )


def test_sync_is_idempotent_and_keeps_state(redis_client: redis.Redis, keys: Keys) -> None:
    registry = FeedRegistry(redis_client, keys)
    first = registry.sync([feed("a"), feed("b")], now=100)
    assert sorted(first.added) == ["a", "b"]
    registry.save_state("a", FeedState(etag='"x"', next_poll_at=500))
    again = registry.sync([feed("a"), feed("b")], now=200)
    assert again.added == [] and again.updated == [] and sorted(again.unchanged) == ["a", "b"]
    renamed = registry.sync([feed("a", title="A renamed")], now=300)
    assert renamed.updated == ["a"]
    record = registry.get("a")
    assert record is not None
    assert record.source.title == "A renamed"
    assert record.state.etag == '"x"'
    assert registry.next_due("a") == 500  # sync does not reset the schedule
    assert registry.count() == 2


def test_disabled_feed_is_not_scheduled(redis_client: redis.Redis, keys: Keys) -> None:
    registry = FeedRegistry(redis_client, keys)
    registry.sync([feed("off", enabled=False)], now=0)
    assert registry.claim_due(now=10, limit=10, lease_seconds=60) == []


def test_claim_takes_only_due_feeds_and_leases_them(redis_client: redis.Redis, keys: Keys) -> None:
    registry = FeedRegistry(redis_client, keys)
    registry.sync([feed("a"), feed("b")], now=100)
    registry.save_state("b", FeedState(next_poll_at=1000))
    assert registry.claim_due(now=150, limit=10, lease_seconds=60) == ["a"]
    assert registry.claim_due(now=150, limit=10, lease_seconds=60) == []
    # The lease ran out without a poll rescheduling the feed: it is due again.
    assert registry.claim_due(now=211, limit=10, lease_seconds=60) == ["a"]


def test_concurrent_dispatchers_never_claim_a_feed_twice(
    redis_client: redis.Redis, keys: Keys, settings: Settings
) -> None:
    registry = FeedRegistry(redis_client, keys)
    registry.sync([feed(f"f{i}") for i in range(500)], now=0)
    claims: list[list[str]] = []
    lock = threading.Lock()

    def dispatcher() -> None:
        own = FeedRegistry(make_redis(str(settings.redis_url)), keys)  # its own connection
        for _ in range(20):
            got = own.claim_due(now=10, limit=17, lease_seconds=600)
            with lock:
                claims.append(got)

    threads = [threading.Thread(target=dispatcher) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = [feed_id for batch in claims for feed_id in batch]
    assert len(claimed) == 500
    assert len(set(claimed)) == 500
