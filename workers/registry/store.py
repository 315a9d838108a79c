"""The feed registry in Redis: sources, polling state, and the due-time index.

Layout (see workers/keys.py): a set of feed ids, one hash per feed (`source`
holds the FeedSource as JSON, the other fields are its polling state) and a
sorted set of due times. The dispatcher claims due feeds with one Lua script
that moves each claimed feed's due time a lease ahead, so two dispatchers (or
two beats) can never claim the same feed for the same due time; a poll that is
lost makes its feed due again when the lease runs out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import redis
from pydantic import BaseModel, ConfigDict

from schemas import FeedSource
from workers.keys import Keys

# Claim up to ARGV[2] feeds due at or before ARGV[1]; each claimed one becomes due
# again at ARGV[3] (the lease) unless its poll reschedules it first.
_CLAIM_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, feed_id in ipairs(due) do
  redis.call('ZADD', KEYS[1], 'XX', ARGV[3], feed_id)
end
return due
"""


class FeedState(BaseModel):
    """What the registry remembers about a feed between two polls."""

    model_config = ConfigDict(extra="ignore")

    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_polled_at: float | None = None
    last_success_at: float | None = None
    last_status: str | None = None  # new_entries | not_modified | unchanged | error
    last_error: str | None = None
    last_error_reason: str | None = None
    consecutive_errors: int = 0
    entries_total: int = 0
    next_poll_at: float | None = None


@dataclass(frozen=True)
class FeedRecord:
    source: FeedSource
    state: FeedState


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


class FeedRegistry:
    """Feeds and their schedule, stored in Redis."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys
        self._claim = client.register_script(_CLAIM_DUE)

    # --- sources ---------------------------------------------------------------------------
    def sync(self, feeds: list[FeedSource], *, now: float) -> SyncReport:
        """Add or update feeds; polling state is kept. Running it twice changes nothing."""
        report = SyncReport()
        for feed in feeds:
            key = self._keys.feed(feed.id)
            stored = cast(bytes | None, self._redis.hget(key, "source"))
            payload = feed.model_dump_json()
            if stored is None:
                report.added.append(feed.id)
            elif stored.decode() != payload:
                report.updated.append(feed.id)
            else:
                report.unchanged.append(feed.id)
                continue
            pipe = self._redis.pipeline(transaction=True)
            pipe.hset(key, "source", payload)
            pipe.sadd(self._keys.feed_ids, feed.id)
            if feed.enabled:
                # NX: a feed already scheduled keeps its due time.
                pipe.zadd(self._keys.feeds_due, {feed.id: now}, nx=True)
            else:
                pipe.zrem(self._keys.feeds_due, feed.id)
            pipe.execute()
        return report

    def get(self, feed_id: str) -> FeedRecord | None:
        raw = cast(dict[bytes, bytes], self._redis.hgetall(self._keys.feed(feed_id)))
        if b"source" not in raw:
            return None
        return _record_from_hash(raw)

    def all(self) -> list[FeedRecord]:
        members = cast(set[bytes], self._redis.smembers(self._keys.feed_ids))
        ids = sorted(i.decode() for i in members)
        pipe = self._redis.pipeline(transaction=False)
        for feed_id in ids:
            pipe.hgetall(self._keys.feed(feed_id))
        return [_record_from_hash(raw) for raw in pipe.execute() if b"source" in raw]

    def count(self) -> int:
        return int(self._redis.scard(self._keys.feed_ids))

    # --- schedule --------------------------------------------------------------------------
    def claim_due(self, *, now: float, limit: int, lease_seconds: float) -> list[str]:
        """Atomically take the feeds due now; each is leased for `lease_seconds`."""
        claimed = self._claim(keys=[self._keys.feeds_due], args=[now, limit, now + lease_seconds])
        return [c.decode() for c in cast(list[bytes], claimed)]

    def save_state(self, feed_id: str, state: FeedState, *, enabled: bool = True) -> None:
        """Store the state after a poll and put the feed back on the schedule."""
        fields: dict[Any, Any] = {
            k: _encode(v) for k, v in state.model_dump().items() if v is not None
        }
        empty = [k for k, v in state.model_dump().items() if v is None]
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(self._keys.feed(feed_id), mapping=fields)
        if empty:
            pipe.hdel(self._keys.feed(feed_id), *empty)
        if enabled and state.next_poll_at is not None:
            pipe.zadd(self._keys.feeds_due, {feed_id: state.next_poll_at}, xx=True)
        pipe.execute()

    def next_due(self, feed_id: str) -> float | None:
        score = self._redis.zscore(self._keys.feeds_due, feed_id)
        return None if score is None else float(score)


def _encode(value: Any) -> str:
    return str(int(value)) if isinstance(value, bool) else str(value)


def _record_from_hash(raw: dict[bytes, bytes]) -> FeedRecord:
    decoded = {k.decode(): v.decode() for k, v in raw.items()}
    source = FeedSource.model_validate_json(decoded.pop("source"))
    return FeedRecord(source=source, state=FeedState.model_validate(decoded))
