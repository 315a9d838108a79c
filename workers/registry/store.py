"""The feed registry in Redis: sources, polling state, and the due-time index.

Layout (see workers/keys.py): a set of feed ids, one hash per feed (`source`
holds the FeedSource as JSON, the other fields are its polling state) and a
sorted set of due times. The dispatcher claims due feeds with one Lua script
that moves each claimed feed's due time a lease ahead, so two dispatchers (or
two beats) can never claim the same feed for the same due time; a poll that is
lost makes its feed due again when the lease runs out.

The source is the operator's declaration and is only changed by sync; what
polling learns (a permanent redirect's new URL, health, publishing rate) lives
in the state fields, and a new declared URL resets what belonged to the old one.
Beside each feed's hash, a second hash holds the entries its polls left in
flight until they are settled (workers/polling/pending.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

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
    """What the registry remembers about a feed between two polls (one field per hash field)."""

    model_config = ConfigDict(extra="ignore")

    # conditional GET and body-hash skip
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    # outcome of the last polls
    last_polled_at: float | None = None
    last_success_at: float | None = None
    last_status: str | None = None  # new_entries | not_modified | unchanged | error ...
    last_error_at: float | None = None  # the last error is kept after a recovery
    last_error: str | None = None
    last_error_reason: str | None = None
    last_error_kind: str | None = None  # schemas.feed_health.ErrorKind
    consecutive_errors: int = 0
    consecutive_not_found: int = 0
    entries_total: int = 0
    next_poll_at: float | None = None
    # health (see workers/registry/health.py)
    health: Literal["active", "erroring", "disabled"] = "active"
    disabled_reason: str | None = None
    disabled_at: float | None = None
    stale: bool = False
    moved_url: str | None = None  # where a permanent redirect moved the feed
    # publishing rate and server hints (see workers/polling/schedule.py)
    gap_seconds: float | None = None
    gap_samples: int = 0
    last_item_at: float | None = None
    ttl_seconds: float | None = None  # RSS <ttl> of the last parsed body
    update_period_seconds: float | None = None  # its sy:updatePeriod / sy:updateFrequency
    max_age_seconds: float | None = None  # Cache-Control max-age of the last response


# Fields that belong to a feed's URL: a new declared URL forgets them and revives the feed.
_URL_BOUND_FIELDS = (
    "moved_url", "etag", "last_modified", "body_hash", "health", "disabled_reason",
    "disabled_at", "consecutive_errors", "consecutive_not_found", "max_age_seconds",
)  # fmt: skip


@dataclass(frozen=True)
class FeedRecord:
    source: FeedSource
    state: FeedState

    @property
    def url(self) -> str:
        """The URL to poll: where the feed moved to, else the declared one."""
        return self.state.moved_url or str(self.source.url)


@dataclass(frozen=True)
class PendingWrites:
    """Changes to a feed's pending entries, stored as workers/polling/pending.py encodes them."""

    put: Mapping[str, bytes] = field(default_factory=dict)
    drop: Sequence[str] = ()


@dataclass(frozen=True)
class FeedSummary:
    """What counting feeds by state needs, read without validating whole records."""

    feed_id: str
    enabled: bool
    health: str
    gap_seconds: float | None
    gap_samples: int
    last_item_at: float | None


_SUMMARY_FIELDS = ("source", "health", "gap_seconds", "gap_samples", "last_item_at")


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
            new_url = stored is not None and _declared_url(stored) != str(feed.url)
            pipe = self._redis.pipeline(transaction=True)
            pipe.hset(key, "source", payload)
            pipe.sadd(self._keys.feed_ids, feed.id)
            if new_url:
                # The operator gave a new URL: forget the old one's validators and verdicts.
                pipe.hdel(key, *_URL_BOUND_FIELDS)
            if feed.enabled:
                # NX: a feed already scheduled keeps its due time (a new URL is polled now).
                pipe.zadd(self._keys.feeds_due, {feed.id: now}, nx=not new_url)
            else:
                pipe.zrem(self._keys.feeds_due, feed.id)
            pipe.execute()
        return report

    def get(self, feed_id: str) -> FeedRecord | None:
        raw = cast(dict[bytes, bytes], self._redis.hgetall(self._keys.feed(feed_id)))
        if b"source" not in raw:
            return None
        return _record_from_hash(raw)

    def get_for_poll(self, feed_id: str) -> tuple[FeedRecord | None, dict[str, bytes]]:
        """The feed and its pending entries (doc id -> stored bytes), in one round trip."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.hgetall(self._keys.feed(feed_id))
        pipe.hgetall(self._keys.feed_pending(feed_id))
        raw, pending = cast(tuple[dict[bytes, bytes], dict[bytes, bytes]], pipe.execute())
        if b"source" not in raw:
            return None, {}
        return _record_from_hash(raw), {k.decode(): v for k, v in pending.items()}

    def all(self) -> list[FeedRecord]:
        members = cast(set[bytes], self._redis.smembers(self._keys.feed_ids))
        ids = sorted(i.decode() for i in members)
        pipe = self._redis.pipeline(transaction=False)
        for feed_id in ids:
            pipe.hgetall(self._keys.feed(feed_id))
        return [_record_from_hash(raw) for raw in pipe.execute() if b"source" in raw]

    def summaries(self, *, chunk: int = 2000) -> Iterator[FeedSummary]:
        """Every feed's FeedSummary, `chunk` feeds per round trip (100,000 feeds stay cheap)."""
        members = cast(set[bytes], self._redis.smembers(self._keys.feed_ids))
        ids = sorted(i.decode() for i in members)
        for start in range(0, len(ids), chunk):
            pipe = self._redis.pipeline(transaction=False)
            for feed_id in ids[start : start + chunk]:
                pipe.hmget(self._keys.feed(feed_id), _SUMMARY_FIELDS)
            for feed_id, values in zip(ids[start : start + chunk], pipe.execute(), strict=True):
                if values[0] is not None:
                    yield _summary(feed_id, values)

    def count(self) -> int:
        return int(self._redis.scard(self._keys.feed_ids))

    # --- schedule --------------------------------------------------------------------------
    def claim_due(self, *, now: float, limit: int, lease_seconds: float) -> list[str]:
        """Atomically take the feeds due now; each is leased for `lease_seconds`."""
        claimed = self._claim(keys=[self._keys.feeds_due], args=[now, limit, now + lease_seconds])
        return [c.decode() for c in cast(list[bytes], claimed)]

    def save_state(
        self,
        feed_id: str,
        state: FeedState,
        *,
        enabled: bool = True,
        health_event: Mapping[str, str] | None = None,
        health_maxlen: int = 100_000,
        pending: PendingWrites | None = None,
    ) -> None:
        """Store the state after a poll and put the feed back on the schedule.

        A health event, when given, goes to the feed-health stream in the same
        transaction, so the stream never tells of a state the registry lacks;
        so do the changes to the feed's pending entries, so that validators are
        never saved without the entries in flight that they skip.
        """
        values = state.model_dump()
        fields: dict[Any, Any] = {k: _encode(v) for k, v in values.items() if v is not None}
        empty = [k for k, v in values.items() if v is None]
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(self._keys.feed(feed_id), mapping=fields)
        if empty:
            pipe.hdel(self._keys.feed(feed_id), *empty)
        if pending is not None:
            self._write_pending(pipe, feed_id, pending)
        if enabled and state.next_poll_at is not None:
            pipe.zadd(self._keys.feeds_due, {feed_id: state.next_poll_at}, xx=True)
        if health_event is not None:
            event_fields: dict[Any, Any] = dict(health_event)
            pipe.xadd(
                self._keys.feed_health_stream,
                event_fields,
                maxlen=health_maxlen,
                approximate=True,
            )
        pipe.execute()

    def _write_pending(self, pipe: Any, feed_id: str, pending: PendingWrites) -> None:
        key = self._keys.feed_pending(feed_id)
        if pending.put:
            pipe.hset(key, mapping=cast(Mapping[Any, Any], pending.put))
        if pending.drop:
            pipe.hdel(key, *pending.drop)

    def reschedule(self, feed_id: str, at: float) -> None:
        """Move a feed's next poll, touching nothing else (a deferred poll)."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(self._keys.feed(feed_id), "next_poll_at", _encode(at))
        pipe.zadd(self._keys.feeds_due, {feed_id: at}, xx=True)
        pipe.execute()

    def due_times(self) -> dict[str, float]:
        """Every scheduled feed's next due time (one round trip, for status listings)."""
        rows = cast(
            list[tuple[bytes, float]],
            self._redis.zrange(self._keys.feeds_due, 0, -1, withscores=True),
        )
        return {feed_id.decode(): float(score) for feed_id, score in rows}

    def next_due(self, feed_id: str) -> float | None:
        score = self._redis.zscore(self._keys.feeds_due, feed_id)
        return None if score is None else float(score)


def _encode(value: Any) -> str:
    return str(int(value)) if isinstance(value, bool) else str(value)


def _declared_url(stored_source: bytes) -> str:
    return str(FeedSource.model_validate_json(stored_source).url)


def _summary(feed_id: str, values: list[bytes | None]) -> FeedSummary:
    source, health, gap, samples, last_item = values
    declared = json.loads(source or b"{}")
    return FeedSummary(
        feed_id,
        enabled=bool(declared.get("enabled", True)),
        health=health.decode() if health else "active",
        gap_seconds=float(gap) if gap else None,
        gap_samples=int(samples) if samples else 0,
        last_item_at=float(last_item) if last_item else None,
    )


def _record_from_hash(raw: dict[bytes, bytes]) -> FeedRecord:
    decoded = {k.decode(): v.decode() for k, v in raw.items()}
    source = FeedSource.model_validate_json(decoded.pop("source"))
    return FeedRecord(source=source, state=FeedState.model_validate(decoded))
