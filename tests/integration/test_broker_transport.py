"""A broker channel detached from its transport fails like a lost connection (broker.py).

kombu 5.7's channel, once a lost connection detached its transport, raises
AttributeError from any Redis call: when it closes (giving back unacknowledged
messages) or acknowledges a message a thread finished. Celery lets that kill the
worker. Ours raises a connection error, which kombu and Celery handle, and closes
cleanly; the message stays in the unacknowledged set for the visibility sweep.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from kombu.connection import Connection

from workers.keys import Keys
from workers.runtime.broker import TRANSPORT
from workers.settings import Settings


@pytest.fixture
def broker(settings: Settings, keys: Keys) -> Iterator[tuple[str, dict[str, Any]]]:
    yield str(settings.redis_url), {"global_keyprefix": f"{keys.prefix}:celery:"}


def hold_one_message(connection: Connection) -> Any:
    """Take a message off a queue and keep it unacknowledged; returns the channel."""
    queue = connection.SimpleQueue("faults")  # type: ignore[no-untyped-call]
    queue.put({"n": 1})
    message = queue.get(timeout=5)
    assert message.payload == {"n": 1}
    return queue.channel


def detach(connection: Connection, channel: Any) -> None:
    """The state a lost connection leaves behind in kombu 5.7."""
    channel._disconnect_pools()
    connection.transport.client = None


@pytest.mark.parametrize("transport", ["redis", TRANSPORT])
def test_closing_a_detached_channel(
    broker: tuple[str, dict[str, Any]], redis_client: redis.Redis, keys: Keys, transport: str
) -> None:
    url, options = broker
    connection = Connection(url, transport=transport, transport_options=options)  # type: ignore[no-untyped-call]
    channel = hold_one_message(connection)
    detach(connection, channel)
    if transport == "redis":
        with pytest.raises(AttributeError, match="hostname"):
            channel.close()  # kombu's own: the worker would die here
    else:
        channel.close()
    assert channel.closed
    assert redis_client.hlen(keys.celery_unacked) == 1  # restorable by the sweep


def test_acknowledging_on_a_detached_channel_is_a_connection_error(
    broker: tuple[str, dict[str, Any]], redis_client: redis.Redis, keys: Keys
) -> None:
    """What a stopping threads-pool worker does for tasks that finished meanwhile."""
    url, options = broker
    connection = Connection(url, transport=TRANSPORT, transport_options=options)  # type: ignore[no-untyped-call]
    queue = connection.SimpleQueue("faults")  # type: ignore[no-untyped-call]
    queue.put({"n": 2})
    message = queue.get(timeout=5)
    detach(connection, queue.channel)
    with pytest.raises(connection.connection_errors):
        message.ack()
    assert redis_client.hlen(keys.celery_unacked) == 1
    queue.channel.close()  # and the worker goes on stopping
