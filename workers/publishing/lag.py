"""How far behind each consumer group of each stream is, and whether trimming hurts it.

Streams are capped with approximate MAXLEN, so that a dead consumer group can
never make Redis run out of memory. The price is that a group which falls
further behind than the cap loses entries it has not read (and entries it read
but never acknowledged). That must never happen silently:

- a group whose backlog (unread entries, or entries since its oldest pending
  one) reaches `stream_lag_alert_fraction` of the cap is reported as at risk;
- a group whose read position or oldest pending entry is older than the
  stream's first entry has lost entries to trimming, and is reported as such.

The backlog is exact on Redis >= 7 (XINFO GROUPS `lag`); on older servers it is
estimated from the entry ids, which are millisecond timestamps (share of the
stream's time span not yet read, times its length). The dispatcher runs the
check periodically and logs what it finds; `newswire streams` shows it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis

from workers.keys import Keys

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GroupLag:
    stream: str
    group: str
    consumers: int
    pending: int
    length: int  # of the stream
    backlog: int  # entries the group has not read, or read and not acknowledged
    exact: bool  # backlog from Redis's own lag counter (else estimated from ids)
    trimmed_unread: bool  # entries were trimmed before the group read or acknowledged them

    def at_risk(self, maxlen: int, alert_fraction: float) -> bool:
        return self.trimmed_unread or self.backlog >= alert_fraction * maxlen

    def describe(self) -> str:
        how = "" if self.exact else "~"
        text = (
            f"{self.stream} group {self.group}: backlog {how}{self.backlog} of {self.length} "
            f"entries, {self.pending} pending, {self.consumers} consumers"
        )
        if self.trimmed_unread:
            text += "; entries were trimmed before this group read or acknowledged them"
        return text


def _id_time(entry_id: str) -> int:
    return int(entry_id.split("-", 1)[0])


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def group_lags(client: redis.Redis, stream: str) -> list[GroupLag]:
    """The lag of every consumer group of `stream` (none if the stream does not exist)."""
    try:
        info = client.xinfo_stream(stream)
        groups = client.xinfo_groups(stream)
    except redis.ResponseError:  # no such key
        return []
    facts = _StreamFacts(
        name=stream,
        length=int(info["length"]),
        first=_text(info["first-entry"][0]) if info.get("first-entry") else None,
        last=_text(info["last-generated-id"]),
    )
    return [_group_lag(client, facts, group) for group in groups]


@dataclass(frozen=True)
class _StreamFacts:
    name: str
    length: int
    first: str | None  # id of the oldest entry left
    last: str  # id of the newest entry ever added


def _group_lag(client: redis.Redis, facts: _StreamFacts, group: dict[str, Any]) -> GroupLag:
    stream, length, first, last = facts.name, facts.length, facts.first, facts.last
    name = _text(group["name"])
    delivered = _text(group["last-delivered-id"])
    pending = int(group["pending"])
    oldest_pending = None
    if pending:
        summary = client.xpending(stream, name)
        oldest_pending = _text(summary["min"]) if summary.get("min") else None
    position = min((p for p in (delivered, oldest_pending) if p), key=_id_key)
    trimmed = first is not None and _id_key(position) < _id_key(first)
    exact_lag = group.get("lag")
    if exact_lag is not None and oldest_pending is None:
        backlog, exact = int(exact_lag), True
    else:
        backlog, exact = _estimated_backlog(position, first, last, length), False
    return GroupLag(
        stream=stream,
        group=name,
        consumers=int(group["consumers"]),
        pending=pending,
        length=length,
        backlog=backlog,
        exact=exact,
        trimmed_unread=trimmed,
    )


def _estimated_backlog(position: str, first: str | None, last: str, length: int) -> int:
    """Entries after `position`, assuming entries spread evenly over the stream's time span."""
    if first is None or length == 0 or _id_key(position) >= _id_key(last):
        return 0
    if _id_key(position) < _id_key(first):
        return length
    span = _id_time(last) - _id_time(first)
    if span <= 0:
        return length // 2
    return round(length * (_id_time(last) - _id_time(position)) / span)


def newswire_streams(keys: Keys, topics: Iterable[str]) -> list[str]:
    """The documents, dead-letter and topic streams consumers read (not feed-health, whose
    cap is its own); those that do not exist are skipped by group_lags."""
    return [keys.documents_stream, keys.deadletter_stream, *map(keys.topic_stream, sorted(topics))]


def check_lag(
    client: redis.Redis, streams: Iterable[str], *, maxlen: int, alert_fraction: float
) -> list[GroupLag]:
    """Log and return the groups at risk of losing entries to trimming, or that lost some."""
    at_risk = []
    for stream in streams:
        for lag in group_lags(client, stream):
            if not lag.at_risk(maxlen, alert_fraction):
                continue
            at_risk.append(lag)
            if lag.trimmed_unread:
                log.error("consumer group lost entries to stream trimming: %s", lag.describe())
            else:
                log.warning(
                    "consumer group near the stream cap (%d): %s; entries it has not read "
                    "will be trimmed",
                    maxlen,
                    lag.describe(),
                )
    return at_risk


def check_lag_now_and_then(
    client: redis.Redis,
    keys: Keys,
    topics: Iterable[str],
    *,
    every_seconds: int,
    maxlen: int,
    alert_fraction: float,
) -> list[GroupLag] | None:
    """check_lag, at most once per `every_seconds` across every process that calls it
    (a Redis lock decides which); None when another one checked recently."""
    if not client.set(keys.lag_check_lock, "1", nx=True, ex=every_seconds):
        return None
    return check_lag(
        client, newswire_streams(keys, topics), maxlen=maxlen, alert_fraction=alert_fraction
    )
