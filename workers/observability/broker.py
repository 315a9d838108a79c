"""Queue depths, asked of the broker in use: Redis (kombu's lists) or RabbitMQ.

On Redis the lists are counted directly (redis_state.queue_depths); kombu's own
passive declaration does not apply its global key prefix there. On RabbitMQ a
passive queue declaration returns the messages ready in a queue without creating
it; a queue not declared yet holds nothing. Unacknowledged messages are counted
only on Redis (kombu's hash); RabbitMQ keeps them in the queue, out of the count.
"""

from __future__ import annotations

import redis
from kombu.connection import Connection

from workers.clients import broker_url, is_amqp
from workers.keys import Keys
from workers.observability import redis_state
from workers.settings import Settings

CONNECT_TIMEOUT_SECONDS = 5.0


def queue_depths(settings: Settings, client: redis.Redis, keys: Keys) -> dict[str, int]:
    """Messages waiting (not yet delivered to a worker) in each Newswire queue."""
    url = broker_url(settings)
    if not is_amqp(url):
        return redis_state.queue_depths(client, keys)
    return amqp_queue_depths(url)


def unacked_messages(settings: Settings, client: redis.Redis, keys: Keys) -> int | None:
    """Messages delivered and not acknowledged; None where the broker does not say (AMQP)."""
    if is_amqp(broker_url(settings)):
        return None
    return redis_state.unacked_messages(client, keys)


def amqp_queue_depths(url: str) -> dict[str, int]:
    depths: dict[str, int] = {}
    with Connection(url, connect_timeout=CONNECT_TIMEOUT_SECONDS) as connection:  # type: ignore[no-untyped-call]
        connection.ensure_connection(max_retries=1)
        for queue in redis_state.QUEUES:
            channel = connection.channel()
            try:
                declared = channel.queue_declare(queue=queue, passive=True)
                depths[queue] = int(declared.message_count)
            except connection.channel_errors:  # not declared yet: nothing in it
                depths[queue] = 0
            finally:
                try:
                    channel.close()
                except connection.connection_errors + connection.channel_errors:
                    pass  # RabbitMQ closed it already after the failed declaration
    return depths
