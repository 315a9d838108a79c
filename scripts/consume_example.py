"""Example consumer: print the topics and title of each document Newswire publishes.

    python scripts/consume_example.py --group my-team
    python scripts/consume_example.py --group my-team --stream topic:arms_transfers --count 10

Redis comes from --redis-url (default: NEWSWIRE_REDIS_URL), the key prefix from
--key-prefix (default: NEWSWIRE_KEY_PREFIX, else "newswire"). It runs until
Ctrl-C or SIGTERM (or --count documents), acknowledging each document once
printed; see CONSUMERS.md for what the library does around the handler.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workers.consumer import Consumer, ConsumerConfig, Delivery


def print_document(delivery: Delivery) -> None:
    """The handler: one line per document. Raising here would leave it pending."""
    document = delivery.document
    topics = ",".join(document.topic_ids) or "-"
    print(f"{topics}\t{document.title or document.url}", flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--group", default="consume-example", help="Consumer group (one per team).")
    parser.add_argument("--stream", default="documents", help="documents or topic:<topic id>.")
    parser.add_argument("--redis-url", default=os.environ.get("NEWSWIRE_REDIS_URL"))
    parser.add_argument("--key-prefix", default=os.environ.get("NEWSWIRE_KEY_PREFIX", "newswire"))
    parser.add_argument("--count", type=int, default=0, help="Stop after N documents (0: never).")
    args = parser.parse_args(argv)
    if not args.redis_url:
        parser.error("give --redis-url or set NEWSWIRE_REDIS_URL")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = ConsumerConfig(group=args.group, stream=args.stream, key_prefix=args.key_prefix)
    consumer = Consumer(redis.Redis.from_url(args.redis_url), config, print_document)
    stats = consumer.run(limit=args.count or None)
    logging.info("stopped: %d handled, %d failed, %d parked, %d claimed",
                 stats.handled, stats.failed, stats.parked, stats.claimed)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
