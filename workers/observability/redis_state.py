"""Newswire's shared state as an operator reads it: queues, streams, lag, feeds, errors.

Read from Redis on demand (a Prometheus scrape, `newswire stats`, a health check);
every read is bounded: no scan of the keyspace, no read of a whole stream.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

import redis

from workers.keys import Keys
from workers.tasks import TASK_QUEUES

QUEUES = tuple(sorted(set(TASK_QUEUES.values())))

# Redis < 7 has no `lag` in XINFO GROUPS: entries after the group's last delivered
# id are counted instead, up to this many (the lag shown is then a lower bound).
LAG_COUNT_CAP = 10_000
# Most dead-letter and feed-health entries read for "errors in the last hour".
RECENT_ERRORS_CAP = 10_000


@dataclass(frozen=True)
class GroupState:
    name: str
    consumers: int
    pending: int
    lag: int | None  # None: unknown (the group's position is no longer in the stream)
    lag_capped: bool = False


@dataclass(frozen=True)
class StreamState:
    name: str  # short name: documents, deadletter, feed-health, topic:<id>
    key: str
    length: int
    groups: tuple[GroupState, ...]


@dataclass(frozen=True)
class RecentErrors:
    """Errors of the last `window_seconds`: dead letters by (stage, reason), feed errors."""

    window_seconds: int
    dead_letters: dict[tuple[str, str], int]
    feed_errors: int
    capped: bool


def queue_depths(client: redis.Redis, keys: Keys) -> dict[str, int]:
    """Messages waiting in each Celery queue (all priority lists)."""
    pipe = client.pipeline(transaction=False)
    for queue in QUEUES:
        for key in keys.celery_queue_lists(queue):
            pipe.llen(key)
    sizes = [int(n) for n in pipe.execute()]
    per_queue = len(sizes) // len(QUEUES)
    return {
        queue: sum(sizes[i * per_queue : (i + 1) * per_queue]) for i, queue in enumerate(QUEUES)
    }


def unacked_messages(client: redis.Redis, keys: Keys) -> int:
    """Messages delivered to workers and not yet acknowledged (running or prefetched)."""
    return int(client.hlen(keys.celery_unacked))


def stream_keys(keys: Keys, topics: Iterable[str]) -> dict[str, str]:
    named = {
        "documents": keys.documents_stream,
        "deadletter": keys.deadletter_stream,
        "feed-health": keys.feed_health_stream,
    }
    for topic in sorted(topics):
        named[f"topic:{topic}"] = keys.topic_stream(topic)
    return named


def stream_states(client: redis.Redis, keys: Keys, topics: Iterable[str]) -> list[StreamState]:
    """Length and consumer groups (pending, lag) of every Newswire stream that exists."""
    named = stream_keys(keys, topics)
    pipe = client.pipeline(transaction=False)
    for key in named.values():
        pipe.xlen(key)
    lengths = [int(n) for n in pipe.execute()]
    states = []
    for (name, key), length in zip(named.items(), lengths, strict=True):
        groups = _groups(client, key) if length or client.exists(key) else ()
        states.append(StreamState(name, key, length, groups))
    return states


def _groups(client: redis.Redis, key: str) -> tuple[GroupState, ...]:
    try:
        infos: list[dict[str, Any]] = client.xinfo_groups(key)
    except redis.ResponseError:  # not a stream (nothing of ours) or gone meanwhile
        return ()
    return tuple(_group_state(client, key, info) for info in infos)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _group_state(client: redis.Redis, key: str, info: dict[str, Any]) -> GroupState:
    name = _text(info["name"])
    consumers = int(info.get("consumers", 0))
    pending = int(info.get("pending", 0))
    if "lag" in info:  # Redis 7+
        lag = info["lag"]
        return GroupState(name, consumers, pending, None if lag is None else int(lag))
    after = f"({_text(info['last-delivered-id'])}"
    newer = cast(list[Any], client.xrange(key, min=after, max="+", count=LAG_COUNT_CAP))
    return GroupState(name, consumers, pending, len(newer), lag_capped=len(newer) >= LAG_COUNT_CAP)


def recent_errors(
    client: redis.Redis, keys: Keys, *, now: float | None = None, window_seconds: int = 3600
) -> RecentErrors:
    """Dead letters and feed errors whose stream entries are younger than the window."""
    since = f"{int(((now or time.time()) - window_seconds) * 1000)}-0"
    dead = cast(
        list[tuple[bytes, dict[bytes, bytes]]],
        client.xrange(keys.deadletter_stream, min=since, max="+", count=RECENT_ERRORS_CAP),
    )
    by_kind = Counter(
        (fields.get(b"stage", b"?").decode(), fields.get(b"reason", b"?").decode())
        for _, fields in dead
    )
    health = cast(
        list[tuple[bytes, dict[bytes, bytes]]],
        client.xrange(keys.feed_health_stream, min=since, max="+", count=RECENT_ERRORS_CAP),
    )
    feed_errors = sum(
        1 for _, fields in health if "error" in fields.get(b"changes", b"").decode().split(",")
    )
    capped = len(dead) >= RECENT_ERRORS_CAP or len(health) >= RECENT_ERRORS_CAP
    return RecentErrors(window_seconds, dict(by_kind), feed_errors, capped)


def beat_times(client: redis.Redis, keys: Keys) -> tuple[float | None, float | None]:
    """(beat's last tick, the last dispatch a worker ran), as epoch seconds."""
    alive, dispatched = cast(list[bytes | None], client.mget(keys.beat_alive, keys.beat_heartbeat))
    return (
        None if alive is None else float(alive),
        None if dispatched is None else float(dispatched),
    )


def feeds_registered_and_due(
    client: redis.Redis, keys: Keys, *, now: float | None = None
) -> tuple[int, int]:
    """How many feeds are registered, and how many are due (or overdue) now."""
    pipe = client.pipeline(transaction=False)
    pipe.scard(keys.feed_ids)
    pipe.zcount(keys.feeds_due, "-inf", now or time.time())
    registered, due = pipe.execute()
    return int(registered), int(due)
