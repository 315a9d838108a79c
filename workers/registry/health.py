"""Feed health as data: the FeedHealth record of a feed, and when it goes to the stream.

A record goes to the feed-health stream when a poll changes the feed's state
(active, erroring, disabled), fails, flips the stale flag, or moves the feed to
a new URL; an ordinary success (a 304, new items) writes nothing, so the
stream's volume follows trouble, not traffic.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from schemas import FeedHealth
from schemas.feed_health import ErrorKind, FeedHealthState, HealthChange
from workers import errors
from workers.polling.schedule import PublishingRate, ScheduleConfig, is_stale
from workers.registry.store import FeedRecord, FeedState


def error_kind(exc: errors.NewswireError) -> ErrorKind:
    """The coarse class of a poll error, for monitoring: dns, tls, timeout, http_4xx..."""
    if isinstance(exc, errors.ConnectError):
        return cast(ErrorKind, exc.reason) if exc.reason in {"dns", "tls"} else "connect"
    if isinstance(exc, errors.FetchTimeout):
        return "timeout"
    if isinstance(exc, errors.UpstreamUnavailable):
        return "http_4xx" if exc.reason == "http_429" else "http_5xx"
    if isinstance(exc, errors.HttpStatusError):
        return "http_4xx"
    if isinstance(exc, errors.FeedParseError | errors.DecodeError):
        return "parse"
    if isinstance(exc, errors.RefusedURL):
        return "refused"
    if isinstance(exc, errors.ResponseTooLarge):
        return "too_large"
    return "other"


def rate_of(state: FeedState) -> PublishingRate:
    return PublishingRate(state.gap_seconds, state.gap_samples, state.last_item_at)


def changes_between(
    before: FeedState, after: FeedState, *, failed: bool, moved: bool
) -> list[HealthChange]:
    """What a poll changed that monitoring should hear about (empty: write nothing)."""
    changes: list[HealthChange] = []
    if before.health != after.health:
        changes.append("state")
    if failed:
        changes.append("error")
    if before.stale != after.stale:
        changes.append("stale")
    if moved:
        changes.append("moved")
    return changes


def snapshot(
    record: FeedRecord,
    *,
    now: float,
    cfg: ScheduleConfig,
    next_poll_at: float | None = None,
    previous: FeedState | None = None,
    changes: list[HealthChange] | None = None,
) -> FeedHealth:
    """The FeedHealth of a feed at `now` (stale is computed for `now`)."""
    state = record.state
    rate = rate_of(state)
    current: FeedHealthState = state.health if record.source.enabled else "paused"
    return FeedHealth(
        feed_id=record.source.id,
        url=record.url,
        state=current,
        previous_state=previous.health if previous is not None else None,
        changes=changes or [],
        stale=is_stale(cfg, rate, now=now),
        disabled_reason=state.disabled_reason,
        consecutive_errors=state.consecutive_errors,
        last_success_at=_aware(state.last_success_at),
        last_error_at=_aware(state.last_error_at),
        last_error=state.last_error,
        last_error_reason=state.last_error_reason,
        last_error_kind=cast(ErrorKind | None, state.last_error_kind),
        items_per_day=None if rate.items_per_day is None else round(rate.items_per_day, 2),
        usual_gap_seconds=rate.gap_seconds,
        last_item_at=_aware(rate.last_item_at),
        next_poll_at=_aware(next_poll_at if next_poll_at is not None else state.next_poll_at),
        observed_at=datetime.fromtimestamp(now, UTC),
    )


def stream_fields(event: FeedHealth) -> dict[str, str]:
    """One feed-health stream entry: a few fields to filter on, and the whole record."""
    return {
        "feed_id": event.feed_id,
        "state": event.state,
        "stale": "1" if event.stale else "0",
        "changes": ",".join(event.changes),
        "record": event.model_dump_json(),
    }


def _aware(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)
