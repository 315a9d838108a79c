"""`newswire stats` on a large registry: feed counts from five fields per feed, against
the whole health snapshot of every feed (what `stats` read before, and what
`newswire feeds status` still reads, since it shows each feed).

    PYTHONPATH=. python scripts/bench_stats.py [--feeds 100000] [--runs 3]

The feeds are registered on an embedded redis-server of the script's own, each
with the state a polled feed has (validators, body hash, publishing rate).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from schemas import FeedSource  # noqa: E402
from workers.cli.feeds_cmd import health_snapshots  # noqa: E402
from workers.cli.stats_cmd import feed_counts  # noqa: E402
from workers.keys import Keys  # noqa: E402
from workers.polling.schedule import ScheduleConfig  # noqa: E402
from workers.registry.store import FeedRegistry, FeedState  # noqa: E402
from workers.runtime.embedded_redis import EmbeddedRedis  # noqa: E402
from workers.settings import Settings  # noqa: E402

POLLED = FeedState(
    etag='"abc"', last_modified="Wed, 25 Nov 2026 07:00:00 GMT", body_hash="a" * 64,
    last_polled_at=1.0, last_success_at=1.0, last_status="not_modified", entries_total=40,
    next_poll_at=2.0, gap_seconds=3600.0, gap_samples=10, last_item_at=1.0,
)  # fmt: skip


def register(client: redis.Redis, keys: Keys, count: int) -> FeedRegistry:
    registry = FeedRegistry(client, keys)
    pipe = client.pipeline(transaction=False)
    for n in range(count):
        source = FeedSource(
            id=f"f{n}", url=f"https://h{n % 300}.example/feed{n}.xml", title=f"Feed {n}"
        )
        pipe.hset(keys.feed(source.id), "source", source.model_dump_json())
        pipe.sadd(keys.feed_ids, source.id)
        pipe.zadd(keys.feeds_due, {source.id: 0})
    pipe.execute()
    for n in range(count):
        registry.save_state(f"f{n}", POLLED)
    return registry


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cfg = ScheduleConfig.from_settings(Settings())
    with tempfile.TemporaryDirectory() as folder, EmbeddedRedis(Path(folder)) as server:
        client = redis.Redis.from_url(server.url)
        registry = register(client, Keys("bench"), args.feeds)
        now = time.time()
        counts, snapshots = [], []
        for _ in range(args.runs):  # interleaved: both see the same load
            counts.append(timed(lambda: feed_counts(registry, cfg, now=now)))
            snapshots.append(timed(lambda: health_snapshots(registry, now=now)))
        client.close()
    print(
        f"{args.feeds} feeds, median of {args.runs}: feed counts "
        f"{statistics.median(counts):.2f} s, whole health snapshots "
        f"{statistics.median(snapshots):.2f} s (runs {[round(c, 2) for c in counts]} / "
        f"{[round(s, 2) for s in snapshots]})"
    )


if __name__ == "__main__":
    main()
