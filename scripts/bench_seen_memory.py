"""Redis memory per remembered URL: the seen-set and the GUID index (bar: under 150 bytes).

    PYTHONPATH=. python scripts/bench_seen_memory.py                 # 1,000,000 URLs
    PYTHONPATH=. python scripts/bench_seen_memory.py --count 200000 --neardup 100000
    PYTHONPATH=. python scripts/bench_seen_memory.py --redis-url redis://host:6379/0

Records are written with the code publication uses to encode them
(SeenStore.remember: the same packed values, buckets and fields), each URL
with a GUID in its feed, plus each bucket's pruning marker. The figure is the
growth of INFO memory `used_memory` divided by the number of URLs. Without
--redis-url an embedded Redis is started in a temporary folder; with one, the
keys go under a throwaway prefix that is deleted afterwards.

--neardup N also adds N documents to the near-duplicate index (random
signatures, one generation) and reports its memory per document.
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workers.dedup.minhash import SIGNATURE_SIZE, Signature  # noqa: E402
from workers.dedup.neardup import NearDupIndex  # noqa: E402
from workers.dedup.seen import (  # noqa: E402
    PRUNE_MARKER,
    EntryKey,
    SeenRecord,
    SeenStore,
    day_number,
    minute_number,
)
from workers.keys import SEEN_BUCKET_HEX, Keys  # noqa: E402
from workers.runtime.embedded_redis import EmbeddedRedis  # noqa: E402

BAR_BYTES = 150
FEEDS = 10_000  # URLs are spread over this many feeds, as GUIDs are per feed


def records(count: int, now: float) -> Iterator[tuple[str, SeenRecord, EntryKey | None]]:
    """Published articles as the pipeline records them: id, seen record, GUID key."""
    minute, day = minute_number(now), day_number(now)
    for i in range(count):
        doc_id = hashlib.sha256(f"https://site-{i % 977}.example/news/{i}".encode()).hexdigest()
        record = SeenRecord("published", 1, doc_id[32:48], minute, 0, day)
        yield (
            doc_id[:32],
            record,
            EntryKey(f"feed-{i % FEEDS}", f"urn:uuid:{uuid.UUID(int=i)}", minute),
        )


def used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def mark_buckets(client: redis.Redis, keys: Keys, today: int) -> None:
    """Each bucket's pruning marker, as the first publication of the day leaves it."""
    pipe = client.pipeline(transaction=False)
    for bucket in range(16**SEEN_BUCKET_HEX):
        name = f"{bucket:0{SEEN_BUCKET_HEX}x}"
        pipe.hset(keys.seen_bucket(name), PRUNE_MARKER, str(today))
        pipe.hset(keys.guid_bucket(name), PRUNE_MARKER, str(today))
    pipe.execute()


def bench_seen(client: redis.Redis, keys: Keys, count: int) -> dict[str, float]:
    now = time.time()
    store = SeenStore(client, keys)
    before = used_memory(client)
    started = time.perf_counter()
    store.remember(records(count, now))
    mark_buckets(client, keys, day_number(now))
    elapsed = time.perf_counter() - started
    after = used_memory(client)
    sample = keys.seen_bucket("0000")
    return {
        "urls": count,
        "bytes_per_url": (after - before) / count,
        "seconds": elapsed,
        "bucket_fields": float(client.hlen(sample)),
        "encoding_is_compact": float(
            client.object("encoding", sample) in (b"ziplist", b"listpack")
        ),
    }


def bench_neardup(client: redis.Redis, keys: Keys, count: int) -> float:
    index = NearDupIndex(client, keys, window_days=3, min_similarity=0.5)
    rng = random.Random(1)
    now = time.time()
    before = used_memory(client)
    for i in range(count):
        values = tuple(rng.getrandbits(32) for _ in range(SIGNATURE_SIZE))
        doc_id = hashlib.sha256(f"doc-{i}".encode()).hexdigest()[:32]
        index.check_and_add(doc_id, Signature(values, 100), now=now)
    return (used_memory(client) - before) / count


def delete_prefix(client: redis.Redis, prefix: str) -> None:
    batch = list(client.scan_iter(match=f"{prefix}:*", count=10_000))
    for start in range(0, len(batch), 10_000):
        client.delete(*batch[start : start + 10_000])


def run(url: str, args: argparse.Namespace) -> None:
    client = redis.Redis.from_url(url)
    keys = Keys(f"bench-seen-{uuid.uuid4().hex[:8]}")
    try:
        seen = bench_seen(client, keys, args.count) if args.count else None
        near = bench_neardup(client, keys, args.neardup) if args.neardup else None
    finally:
        delete_prefix(client, keys.prefix)
    version = client.info("server")["redis_version"]
    print(f"redis {version}, Python {platform.python_version()}, {platform.machine()}")
    if seen is not None:
        report_seen(seen)
    if near is not None:
        print(f"near-dup index:         {near:.1f} bytes per document ({args.neardup:,} documents)")


def report_seen(seen: dict[str, float]) -> None:
    print(f"URLs remembered:        {seen['urls']:,.0f} (each with a GUID in its feed)")
    print(f"fields per bucket:      {seen['bucket_fields']:.0f} (compact encoding: "
          f"{'yes' if seen['encoding_is_compact'] else 'NO'})")  # fmt: skip
    print(f"written in:             {seen['seconds']:.1f} s")
    verdict = "under" if seen["bytes_per_url"] < BAR_BYTES else "OVER"
    per_url = seen["bytes_per_url"]
    print(f"memory per URL:         {per_url:.1f} bytes ({verdict} the bar of {BAR_BYTES})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="URLs to remember (0: none)")
    parser.add_argument("--neardup", type=int, default=0, help="documents for the near-dup index")
    parser.add_argument("--redis-url", help="an existing Redis (default: start an embedded one)")
    args = parser.parse_args()
    if args.redis_url:
        run(args.redis_url, args)
        return 0
    with tempfile.TemporaryDirectory() as folder, EmbeddedRedis(Path(folder)) as server:
        run(server.url, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
