"""The broker channel survives closing after its transport was detached (workers/runtime/broker.py).

kombu 5.7's channel, closed after a lost connection detached its transport, raises
AttributeError while giving back unacknowledged messages, and Celery lets that
kill the worker. Ours logs it and closes; the message stays in the unacknowledged
set, where the visibility-timeout sweep finds it.
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
    assert redis_client.hlen(f"{keys.prefix}:celery:unacked") == 1  # restorable by the sweep
