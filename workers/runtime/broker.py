"""The broker transport: kombu's Redis transport, minus a crash and a needless cost.

A crash.
When Redis goes away, the worker closes its broker channel and connection before
reconnecting (and, when it stops, acknowledges what its threads finished). With
kombu 5.7 a channel can by then be detached from its transport, and any Redis
call it makes fails with an AttributeError (`'NoneType' object has no attribute
'hostname'` or `... 'client'`; seen here when Redis was killed under load).
Celery ignores connection errors at those places, but not AttributeError: the
worker process exits instead of reconnecting, or dies while stopping.

Here a detached channel raises a connection error instead, which kombu and
Celery already handle. Nothing is lost: a message whose acknowledgement could
not be written, or that could not be given back to its queue, is still in the
broker's unacknowledged set, and the visibility-timeout sweep of any worker
restores it.

A cost. kombu's Redis channel builds a new redis.Redis object, over the same
connection pool, for every message it publishes and for the bookkeeping of every
delivery and acknowledgement; building one costs redis-py more CPU than the command
itself (it fills a table of response callbacks every time). Profiled on the I/O
worker under the feed farm, those constructors took about a tenth of its CPU
(BENCHMARKS.md, "Feed polling at scale"). A client object over a pool is
thread-safe, so the channel keeps one per pool.

Everything else (the pool and its reconnection, the key prefix, the blocking BRPOP
client) is kombu's.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from kombu.transport import redis as kombu_redis

log = logging.getLogger(__name__)


class DetachedChannel(redis.ConnectionError):
    """The channel's transport is gone: a connection error, as far as kombu is concerned."""


class Channel(kombu_redis.Channel):
    _shared_client: Any = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:
            return super()._create_client(asynchronous=True)  # type: ignore[no-untyped-call]
        pool = self.pool
        client = self._shared_client
        if client is None or client.connection_pool is not pool:
            # A new pool (after kombu dropped the old one) gets a new client.
            client = self._shared_client = super()._create_client()  # type: ignore[no-untyped-call]
        return client

    def _connparams(self, asynchronous: bool = False) -> Any:
        transport = self.connection
        if transport is None or transport.client is None:
            raise DetachedChannel("the broker connection of this channel is closed")
        return super()._connparams(asynchronous=asynchronous)  # type: ignore[no-untyped-call]

    def close(self) -> None:
        try:
            super().close()  # type: ignore[no-untyped-call]  # kombu's hints are partial
        except DetachedChannel as exc:
            log.warning(
                "broker channel closed after its connection (%s); its unacknowledged "
                "messages will be restored by the visibility-timeout sweep",
                exc,
            )
            self._finish_close()

    def _finish_close(self) -> None:
        """What kombu's close does after giving unacknowledged messages back."""
        if self._cycle is not None:
            self._cycle.close()
            self._cycle = None
        if self.connection is not None:
            self.connection.close_channel(self)


class Transport(kombu_redis.Transport):
    Channel = Channel


# The name Celery's `broker_transport` setting takes.
TRANSPORT = f"{__name__}:Transport"
