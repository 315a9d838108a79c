"""Newswire's consumer library: read a document stream as a consumer group, the safe way.

The public import path is `workers.consumer` (see CONSUMERS.md):

    import redis
    from workers.consumer import Consumer, ConsumerConfig, Delivery

    def handle(delivery: Delivery) -> None:
        print(delivery.document.title)   # raise to have the entry delivered again later

    client = redis.Redis.from_url("redis://localhost:6379/0")
    Consumer(client, ConsumerConfig(group="my-team"), handle).run()  # until SIGINT/SIGTERM

The loop creates the group when missing, validates each entry against the
Document schema, acknowledges after the handler returns, leaves the entry
pending when it raises, claims entries stuck with dead consumers (XAUTOCLAIM),
and parks invalid entries and entries delivered `max_deliveries` times on
`<prefix>:parked:<group>`. `GroupReader` is the lower-level reader underneath.
"""

from workers.consumer.loop import Consumer, ConsumerConfig, ConsumerStats, Delivery, Handler
from workers.consumer.parked import ParkedEntry, ParkReason, read_parked
from workers.consumer.reader import GroupReader, StreamEntry, default_consumer_name
from workers.consumer.validation import document_from_json, parse_document
from workers.errors import InvalidStreamEntry

__all__ = [
    "Consumer",
    "ConsumerConfig",
    "ConsumerStats",
    "Delivery",
    "GroupReader",
    "Handler",
    "InvalidStreamEntry",
    "ParkReason",
    "ParkedEntry",
    "StreamEntry",
    "default_consumer_name",
    "document_from_json",
    "parse_document",
    "read_parked",
]
