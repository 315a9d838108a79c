"""When to poll a feed next: the pure maths, with no Redis and no clock.

Every function takes `now` (epoch seconds) and, where jitter applies, `rand`
(a uniform draw in [0, 1)), so each rule can be tested exactly.

Rules (the settings are in workers/settings.py, read into ScheduleConfig):

- Publishing rate: an exponential moving average of the gap between two new
  items, fed by entry publication dates when the feed gives them and by
  discovery times otherwise; items per day = one day / that gap.
- Interval after a successful poll, in order of precedence:
  1. the feed's own override (feeds.yaml `poll_interval_seconds`), as is;
  2. otherwise rate x factor (the default interval while the rate is unknown),
     clamped to [min, max], then raised to the server's hints (the largest of
     RSS <ttl>, sy:updatePeriod / sy:updateFrequency and Cache-Control max-age)
     but never above max;
  3. +/- jitter, kept inside [min, max] (an override is jittered, not clamped);
  4. Retry-After, when the server sent one, is a floor on top of all of that:
     a server that asks us to wait is obeyed even over an override.
- After an error: the feed's normal interval doubled per consecutive error,
  capped (never below the normal interval), jittered, Retry-After as a floor.
- Disabled feeds (410 Gone, N consecutive 404) are probed again every
  `revival` seconds.
- Stale: nothing new for longer than max(k x usual gap, a floor).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from workers.settings import Settings

# Weight of one new gap in the moving average: about the last 6 gaps matter.
GAP_EMA_ALPHA = 0.3
# A Retry-After longer than this is read as this (a typo or a hostile server
# must not park a feed for years).
MAX_RETRY_AFTER_SECONDS = 7 * 24 * 3600
DAY_SECONDS = 24 * 3600


@dataclass(frozen=True)
class ScheduleConfig:
    """The scheduling settings, in seconds."""

    default_interval: float
    min_interval: float
    max_interval: float
    rate_factor: float
    jitter: float
    backoff_max: float
    revival_interval: float
    stale_factor: float
    stale_min_seconds: float
    disable_after_404: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ScheduleConfig:
        return cls(
            default_interval=float(settings.poll_interval_seconds),
            min_interval=float(settings.poll_min_interval_seconds),
            max_interval=float(settings.poll_max_interval_seconds),
            rate_factor=settings.poll_rate_factor,
            jitter=settings.poll_jitter_fraction,
            backoff_max=float(settings.poll_backoff_max_seconds),
            revival_interval=float(settings.feed_revival_seconds),
            stale_factor=settings.feed_stale_factor,
            stale_min_seconds=float(settings.feed_stale_min_seconds),
            disable_after_404=settings.feed_disable_after_404,
        )


@dataclass(frozen=True)
class PublishingRate:
    """What a feed's history says about how often it publishes."""

    gap_seconds: float | None = None  # moving average of the gap between new items
    samples: int = 0  # gaps observed so far
    last_item_at: float | None = None  # newest item seen (published or discovered)

    @property
    def items_per_day(self) -> float | None:
        if not self.gap_seconds:
            return None
        return DAY_SECONDS / self.gap_seconds


@dataclass(frozen=True)
class ServerHints:
    """What the server said about when to come back, in seconds."""

    ttl: float | None = None  # RSS <ttl>
    update_period: float | None = None  # sy:updatePeriod / sy:updateFrequency
    max_age: float | None = None  # Cache-Control max-age
    retry_after: float | None = None  # Retry-After

    @property
    def lower_bound(self) -> float | None:
        values = [v for v in (self.ttl, self.update_period, self.max_age) if v]
        return max(values) if values else None


def observe_items(
    rate: PublishingRate, item_times: Sequence[float], *, now: float
) -> PublishingRate:
    """Fold the times of the items in one poll into the rate.

    `item_times` are publication times when the feed dates its entries (every
    entry of the body: those not newer than the last item are ignored), or
    `now` once per new undated entry. A batch of n items after the last known
    one counts as n gaps of (newest - last) / n; on the first poll, the items
    themselves give n - 1 gaps.
    """
    times = sorted(min(t, now) for t in item_times)
    if rate.last_item_at is not None:
        times = [t for t in times if t > rate.last_item_at]
    if not times:
        return rate
    newest = times[-1]
    if rate.last_item_at is None:
        start, count = times[0], len(times) - 1
    else:
        start, count = rate.last_item_at, len(times)
    updated = replace(rate, last_item_at=newest)
    if count < 1 or newest <= start:
        return updated  # one item, or several at the same instant: no gap to learn
    gap = (newest - start) / count
    if rate.gap_seconds is None:
        average = gap
    else:
        # n gaps at once weigh as n successive updates would.
        weight = 1 - (1 - GAP_EMA_ALPHA) ** count
        average = rate.gap_seconds + weight * (gap - rate.gap_seconds)
    return replace(updated, gap_seconds=round(average, 1), samples=rate.samples + count)


def clamp(value: float, low: float, high: float) -> float:
    return max(low, min(value, high))


def normal_interval(
    cfg: ScheduleConfig, rate: PublishingRate, *, override: float | None, hints: ServerHints
) -> float:
    """The interval before jitter and Retry-After (precedence rules 1 and 2)."""
    if override:
        return float(override)
    if rate.gap_seconds is None:
        adaptive = cfg.default_interval
    else:
        adaptive = rate.gap_seconds * cfg.rate_factor
    adaptive = clamp(adaptive, cfg.min_interval, cfg.max_interval)
    bound = hints.lower_bound
    if bound:
        adaptive = min(max(adaptive, bound), cfg.max_interval)
    return adaptive


def jittered(value: float, fraction: float, rand: float) -> float:
    """`value` moved by up to +/- `fraction` of itself, uniformly by `rand` in [0, 1)."""
    return value * (1 + fraction * (2 * rand - 1))


def retry_after_floor(value: float, retry_after: float | None) -> float:
    if not retry_after:
        return value
    return max(value, min(retry_after, MAX_RETRY_AFTER_SECONDS))


def poll_interval(
    cfg: ScheduleConfig,
    rate: PublishingRate,
    *,
    override: float | None,
    hints: ServerHints,
    rand: float,
) -> float:
    """Seconds from a successful poll to the next one (all four precedence rules)."""
    base = normal_interval(cfg, rate, override=override, hints=hints)
    value = jittered(base, cfg.jitter, rand)
    if not override:
        value = clamp(value, cfg.min_interval, cfg.max_interval)
    return retry_after_floor(value, hints.retry_after)


def backoff_delay(
    cfg: ScheduleConfig,
    *,
    normal: float,
    consecutive_errors: int,
    retry_after: float | None,
    rand: float,
) -> float:
    """Seconds from a failed poll to the next try: exponential, capped, jittered."""
    cap = max(cfg.backoff_max, normal)  # an error never makes a feed polled faster
    exponent = min(max(consecutive_errors, 1) - 1, 30)
    delay = min(normal * 2**exponent, cap)
    delay = min(jittered(delay, cfg.jitter, rand), cap)
    return retry_after_floor(delay, retry_after)


def revival_delay(cfg: ScheduleConfig, *, retry_after: float | None, rand: float) -> float:
    """Seconds until a disabled feed is probed again."""
    return retry_after_floor(jittered(cfg.revival_interval, cfg.jitter, rand), retry_after)


def disable_reason(
    cfg: ScheduleConfig, *, status: int | None, consecutive_not_found: int
) -> str | None:
    """Why a failed poll disables its feed, or None: 410 at once, 404 after N in a row."""
    if status == 410:
        return "http_410"
    if status == 404 and consecutive_not_found >= cfg.disable_after_404:
        return "http_404"
    return None


def is_stale(cfg: ScheduleConfig, rate: PublishingRate, *, now: float) -> bool:
    """True when the feed has published nothing for k times its usual gap (and the floor)."""
    if rate.gap_seconds is None or rate.last_item_at is None:
        return False
    silence = now - rate.last_item_at
    return silence > max(cfg.stale_factor * rate.gap_seconds, cfg.stale_min_seconds)


def cache_max_age(header: str | None) -> float | None:
    """Seconds of Cache-Control max-age, or None (absent, no-cache, no-store, malformed)."""
    if not header:
        return None
    max_age: float | None = None
    for directive in header.lower().split(","):
        name, _, value = directive.strip().partition("=")
        if name in {"no-cache", "no-store"}:
            return None
        if name == "max-age":
            value = value.strip().strip('"')
            if not value.isdigit():
                return None
            max_age = float(value)
    return max_age if max_age and math.isfinite(max_age) else None
