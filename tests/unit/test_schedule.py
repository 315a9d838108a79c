"""The scheduling maths (workers/polling/schedule.py), with no Redis and no clock."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from workers.errors import RefusedURL
from workers.polling import schedule
from workers.polling.adapter import parse_feed
from workers.polling.poll import check_feed_move_target
from workers.polling.schedule import PublishingRate, ScheduleConfig, ServerHints
from workers.settings import Settings

HOUR = 3600.0
DAY = 24 * HOUR

CFG = ScheduleConfig(
    default_interval=900,
    min_interval=300,
    max_interval=6 * HOUR,
    rate_factor=0.5,
    jitter=0.1,
    backoff_max=6 * HOUR,
    revival_interval=DAY,
    stale_factor=5,
    stale_min_seconds=6 * HOUR,
    disable_after_404=3,
)
NO_HINTS = ServerHints()
MIDDLE = 0.5  # the draw that adds no jitter


def interval(rate: PublishingRate, *, override: float | None = None, **hints: float) -> float:
    return schedule.poll_interval(
        CFG, rate, override=override, hints=ServerHints(**hints), rand=MIDDLE
    )


def test_config_comes_from_settings() -> None:
    cfg = ScheduleConfig.from_settings(Settings())
    assert cfg.min_interval <= cfg.default_interval <= cfg.max_interval
    assert 0 < cfg.jitter < 1 and cfg.disable_after_404 >= 1


# --- publishing rate ----------------------------------------------------------------------
def test_first_poll_learns_the_gap_from_publication_dates() -> None:
    # Five items an hour apart, in any order: four gaps of one hour.
    times = [1000 + i * HOUR for i in (3, 0, 4, 1, 2)]
    rate = schedule.observe_items(PublishingRate(), times, now=1e6)
    assert rate.gap_seconds == HOUR
    assert rate.samples == 4
    assert rate.last_item_at == 1000 + 4 * HOUR
    assert rate.items_per_day == 24


def test_later_batches_move_the_average_towards_the_new_gap() -> None:
    rate = PublishingRate(gap_seconds=HOUR, samples=10, last_item_at=0)
    # Two items in the next four hours: two gaps of two hours, weighing like two updates.
    after = schedule.observe_items(rate, [-5 * HOUR, 2 * HOUR, 4 * HOUR], now=5 * HOUR)
    weight = 1 - (1 - schedule.GAP_EMA_ALPHA) ** 2
    assert after.gap_seconds == pytest.approx(HOUR + weight * HOUR, abs=0.1)
    assert after.samples == 12 and after.last_item_at == 4 * HOUR
    # The item dated before the last known one taught nothing.
    only_old = schedule.observe_items(rate, [-HOUR, 0], now=5 * HOUR)
    assert only_old == rate


def test_undated_items_count_from_discovery_times() -> None:
    first = schedule.observe_items(PublishingRate(), [1000, 1000, 1000], now=1000)
    assert first.gap_seconds is None and first.last_item_at == 1000  # nothing to learn yet
    # Three items found 1800 s later: three gaps of 600 s.
    second = schedule.observe_items(first, [2800] * 3, now=2800)
    assert second.gap_seconds == 600 and second.samples == 3


def test_future_dates_count_as_now() -> None:
    rate = PublishingRate(gap_seconds=HOUR, samples=5, last_item_at=0)
    after = schedule.observe_items(rate, [10 * DAY], now=HOUR)
    assert after.last_item_at == HOUR
    assert after.gap_seconds == HOUR


# --- interval --------------------------------------------------------------------------
def test_interval_follows_the_rate_within_bounds() -> None:
    assert interval(PublishingRate(gap_seconds=2 * HOUR)) == HOUR  # factor 0.5
    assert interval(PublishingRate(gap_seconds=60)) == CFG.min_interval
    assert interval(PublishingRate(gap_seconds=30 * DAY)) == CFG.max_interval
    assert interval(PublishingRate()) == CFG.default_interval  # no history yet
    # A default outside the bounds is brought inside them.
    low = replace(CFG, default_interval=10)
    assert (
        schedule.poll_interval(low, PublishingRate(), override=None, hints=NO_HINTS, rand=0.5)
        == 300
    )


def test_server_hints_are_a_lower_bound_up_to_the_maximum() -> None:
    busy = PublishingRate(gap_seconds=600)  # adaptive: the 300 s minimum
    assert interval(busy, ttl=1800) == 1800
    assert interval(busy, ttl=1800, update_period=HOUR, max_age=1200) == HOUR  # the largest
    assert interval(busy, max_age=2400) == 2400
    assert interval(busy, ttl=7 * DAY) == CFG.max_interval  # never beyond the maximum
    slow = PublishingRate(gap_seconds=8 * HOUR)  # adaptive 4 h is above the hint
    assert interval(slow, ttl=HOUR) == 4 * HOUR


def test_precedence_override_then_retry_after() -> None:
    busy = PublishingRate(gap_seconds=600)
    # The feed's override beats the rate, the bounds and the hints...
    assert interval(busy, override=120, ttl=HOUR, max_age=2 * HOUR) == 120
    assert interval(PublishingRate(gap_seconds=30 * DAY), override=120) == 120
    # ...but a server's Retry-After is obeyed even over an override.
    assert interval(busy, override=120, retry_after=5000) == 5000
    assert interval(busy, retry_after=5000) == 5000
    assert interval(busy, retry_after=10) == CFG.min_interval  # a floor, not a target
    assert interval(busy, retry_after=1e9) == schedule.MAX_RETRY_AFTER_SECONDS


def test_jitter_spreads_intervals_by_ten_percent() -> None:
    draws = random.Random(7)
    rate = PublishingRate(gap_seconds=2 * HOUR)
    values = [
        schedule.poll_interval(CFG, rate, override=None, hints=NO_HINTS, rand=draws.random())
        for _ in range(2000)
    ]
    assert min(values) >= 0.9 * HOUR and max(values) <= 1.1 * HOUR
    assert min(values) < 0.91 * HOUR and max(values) > 1.09 * HOUR  # the whole range is used
    assert len({round(v) for v in values}) > 500
    # At the bounds, jitter never leaves them.
    for rand in (0.0, 0.25, 0.999):
        low = schedule.poll_interval(
            CFG, PublishingRate(gap_seconds=1), override=None, hints=NO_HINTS, rand=rand
        )
        high = schedule.poll_interval(
            CFG, PublishingRate(gap_seconds=1e9), override=None, hints=NO_HINTS, rand=rand
        )
        assert CFG.min_interval <= low <= 1.1 * CFG.min_interval
        assert 0.9 * CFG.max_interval <= high <= CFG.max_interval
    # An override is jittered too (thousands of feeds share the same override).
    assert schedule.poll_interval(
        CFG, rate, override=1000, hints=NO_HINTS, rand=0.0
    ) == pytest.approx(900)


# --- errors ------------------------------------------------------------------------------
def backoff(errors: int, *, normal: float = 600, retry_after: float | None = None) -> float:
    return schedule.backoff_delay(
        CFG, normal=normal, consecutive_errors=errors, retry_after=retry_after, rand=MIDDLE
    )


def test_backoff_doubles_then_stops_at_the_cap() -> None:
    assert [backoff(n) for n in (1, 2, 3, 4, 5)] == [600, 1200, 2400, 4800, 9600]
    assert backoff(7) == CFG.backoff_max and backoff(500) == CFG.backoff_max
    # An error never makes a feed polled more often than it normally is.
    assert backoff(1, normal=2 * CFG.backoff_max) == 2 * CFG.backoff_max
    assert backoff(1, retry_after=7200) == 7200
    assert backoff(5, retry_after=60) == 9600


def test_backoff_jitter_stays_under_the_cap() -> None:
    delays = [
        schedule.backoff_delay(CFG, normal=600, consecutive_errors=3, retry_after=None, rand=r)
        for r in (0.0, 0.5, 0.999)
    ]
    assert delays[0] == pytest.approx(2160) and delays[1] == 2400
    assert delays[2] == pytest.approx(2640, abs=1)
    capped = schedule.backoff_delay(
        CFG, normal=600, consecutive_errors=50, retry_after=None, rand=0.999
    )
    assert 0.9 * CFG.backoff_max <= capped <= CFG.backoff_max


def test_410_disables_at_once_404_after_repeats() -> None:
    assert schedule.disable_reason(CFG, status=410, consecutive_not_found=0) == "http_410"
    assert schedule.disable_reason(CFG, status=404, consecutive_not_found=2) is None
    assert schedule.disable_reason(CFG, status=404, consecutive_not_found=3) == "http_404"
    assert schedule.disable_reason(CFG, status=403, consecutive_not_found=9) is None
    assert schedule.disable_reason(CFG, status=None, consecutive_not_found=0) is None
    assert schedule.revival_delay(CFG, retry_after=None, rand=MIDDLE) == DAY


# --- stale -------------------------------------------------------------------------------
def test_stale_after_k_usual_gaps_and_never_before_the_floor() -> None:
    hourly = PublishingRate(gap_seconds=2 * HOUR, samples=10, last_item_at=0)
    assert not schedule.is_stale(CFG, hourly, now=10 * HOUR)  # exactly k gaps
    assert schedule.is_stale(CFG, hourly, now=10 * HOUR + 1)
    busy = PublishingRate(gap_seconds=300, samples=50, last_item_at=0)
    assert not schedule.is_stale(CFG, busy, now=2 * HOUR)  # 24 gaps, but under the floor
    assert schedule.is_stale(CFG, busy, now=6 * HOUR + 1)
    assert not schedule.is_stale(CFG, PublishingRate(last_item_at=0), now=1e9)  # gap unknown


# --- server hints ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("max-age=600", 600.0),
        ("public, max-age=1200, s-maxage=60", 1200.0),
        ('Max-Age="300"', 300.0),
        ("no-cache, max-age=600", None),
        ("no-store", None),
        ("max-age=soon", None),
        ("max-age=0", None),
        ("", None),
        (None, None),
    ],
)
def test_cache_control_max_age(header: str | None, expected: float | None) -> None:
    assert schedule.cache_max_age(header) == expected


def test_feed_hints_ttl_and_sy_update_period_are_parsed() -> None:
    body = b"""<?xml version="1.0"?>
    <rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel>
    <title>T</title><ttl>45</ttl><sy:updatePeriod>daily</sy:updatePeriod>
    <sy:updateFrequency>4</sy:updateFrequency><item><link>https://a.org/1</link></item>
    </channel></rss>"""
    parsed = parse_feed(body)
    assert parsed.ttl_minutes == 45
    assert parsed.update_period_seconds == 6 * 3600
    without_frequency = body.replace(b"<sy:updateFrequency>4</sy:updateFrequency>", b"")
    hourly = parse_feed(without_frequency.replace(b"daily", b"hourly"))
    assert hourly.update_period_seconds == 3600 and not hourly.warnings


# --- the move hook (issue 5 replaces its body) --------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/feed",
        "http://10.1.2.3/feed",
        "https://192.168.0.1/rss",
        "http://169.254.169.254/latest/meta-data",
        "http://100.64.0.1/feed",
        "http://0.0.0.0/feed",
        "http://[::1]/feed",
        "http://[::ffff:127.0.0.1]/feed",
        "http://2130706433/feed",
        "http://0177.0.0.1/feed",
        "file:///etc/passwd",
        "gopher://example.org/feed",
    ],
)
def test_feed_moves_to_private_addresses_or_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(RefusedURL):
        check_feed_move_target(url)


@pytest.mark.parametrize(
    "url", ["https://feeds.example.org/rss", "http://93.184.215.14/feed", "https://[2606:4700::1]/"]
)
def test_feed_moves_to_public_addresses_are_allowed(url: str) -> None:
    check_feed_move_target(url)
