"""The feed-polling benchmark's harness, small and fast: farm, real workers, real Redis.

A farm of 200 feeds on 10 loopback hosts (scripts/feedfarm.py, its own process),
polled every 3 seconds by a real fetch worker and beat, as scripts/bench_feed_farm.py
runs them at scale (there with a process worker too; here the entries handed to
processing stay queued, which keeps the test light). The run must poll, never
hold more requests to one host than its limit, and hand every listed item to
processing exactly once, its page fetched once.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from scripts.bench_feed_farm import BenchConfig, run_once, settings_for
from scripts.feedfarm import Farm, FarmSpec, feed_url, host_address
from workers.settings import Settings

pytestmark = pytest.mark.e2e

SMALL_FARM = BenchConfig(
    feeds=200,
    hosts=10,
    interval=3,
    warmup=5.0,
    window=6.0,
    process_worker=False,
    drain_timeout=30.0,
    host_max_in_flight=2,
    host_min_interval=0.02,  # 20 feeds per host every 3 s: about 7 requests/s per host
    dispatch_every=0.5,
    farm={
        "publishing": 0.08,
        "gap_min": 4.0,
        "gap_max": 8.0,
        "slow_min": 0.3,  # slow feeds hold their host's slots: the limit is exercised
        "slow_max": 0.8,
        "mix": (("normal", 0.75), ("slow", 0.15), ("error_500", 0.05), ("reset", 0.05)),
    },
)


def test_small_farm_run_is_polite_and_has_no_duplicates(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert settings.redis_url
    overrides = settings_for(SMALL_FARM, settings.redis_url, settings.key_prefix, tmp_path / "data")
    for name, value in overrides.items():  # so that monkeypatch restores them afterwards
        monkeypatch.setenv(f"NEWSWIRE_{name.upper()}", value)

    result = run_once(SMALL_FARM, tmp_path, settings.redis_url, "test", prefix=settings.key_prefix)

    # The run measured something: polls in the window, each matched to its due time.
    assert result["polls_per_s"] >= 5, result
    assert result["lag_s"]["p50"] >= 0, result
    assert result["lag_unmatched_polls"] == 0, result
    assert set(result["outcomes"]) >= {"304", "error_500", "reset"}, result
    # Politeness: the farm never saw more requests at once on a host than the limit,
    # and slow feeds made some host reach it (the check is not vacuous).
    assert result["hosts_over_limit"] == 0, result
    assert result["host_max_in_flight"] == 2, result
    # Every listed item was handed to processing exactly once, its page fetched once.
    assert result["items_listed"] > 0, result
    assert result["pending_after_drain"] == 0, result
    assert result["documents"] == result["items_listed"] == result["articles_fetched"], result
    assert result["duplicates"] == {"documents": 0, "article_refetches": 0}, result
    assert result["cpu_cores"]["fetch1"] > 0, result


def test_farm_answers_by_its_plan() -> None:
    """The farm's own logic: validators, 304, publication, host routing (no sockets)."""
    spec = FarmSpec(feeds=50, hosts=5, port=8000, start=time.time() - 100, gap_min=10, gap_max=20,
                    publishing=1.0, mix=(("normal", 1.0),))  # fmt: skip
    farm = Farm(spec)
    plan = farm.plans[7]
    assert feed_url(spec, 7) == f"http://{host_address(2)}:8000/feeds/7.xml"
    first = farm.respond(plan.host, "/feeds/7.xml", {}, time.time())
    assert first.status == 200 and b"<item>" in first.body
    again = farm.respond(plan.host, "/feeds/7.xml", {"if-none-match": first.headers["ETag"]},
                         time.time())  # fmt: skip
    assert again.status == 304
    later = farm.respond(plan.host, "/feeds/7.xml", {"if-none-match": first.headers["ETag"]},
                         time.time() + 40)  # fmt: skip
    assert later.status == 200 and later.headers["ETag"] != first.headers["ETag"]
    assert farm.respond(host_address(3), "/feeds/7.xml", {}, time.time()).status == 404
    assert [outcome for _, _, outcome in farm.counters.polls] == ["200_new", "304", "200_new"]
