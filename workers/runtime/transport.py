"""Celery's Redis transport, with one Redis client object per channel, not one per command.

kombu's Redis channel builds a new redis.Redis object, over the same connection
pool, for every message it publishes and for the bookkeeping of every delivery
and acknowledgement; building one costs redis-py more CPU than the command
itself (it fills a table of response callbacks every time). Profiled on the I/O
worker under the feed farm, those constructors took about a tenth of its CPU
(BENCHMARKS.md, "Feed polling at scale"). A client object over a pool is
thread-safe, so the channel keeps one per pool. Everything else (the pool and its
reconnection, the key prefix, the blocking BRPOP client) is kombu's, unchanged.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis


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


class Transport(kombu_redis.Transport):
    Channel = Channel


# The value of Celery's broker_transport setting that selects this transport.
TRANSPORT = f"{__name__}:Transport"
