"""The broker transport: kombu's Redis transport, minus one way a lost connection kills a worker.

When Redis goes away, the worker closes its broker channel before reconnecting,
and closing a channel gives its unacknowledged messages back to their queues.
With kombu 5.7 that step can find the transport already detached from its
connection (`'NoneType' object has no attribute 'hostname'`, seen here when
Redis was killed under load): the AttributeError is not a connection error, so
Celery does not ignore it, and the worker process exits instead of reconnecting.

Nothing is lost by skipping that step: the messages are still in the broker's
unacknowledged set, and the visibility-timeout sweep of any worker restores
them. This channel logs that and finishes closing; everything else is kombu's.
"""

from __future__ import annotations

import logging

from kombu.transport import redis as kombu_redis

log = logging.getLogger(__name__)


class Channel(kombu_redis.Channel):
    def close(self) -> None:
        try:
            super().close()  # type: ignore[no-untyped-call]  # kombu's hints are partial
        except AttributeError as exc:
            if getattr(self.connection, "client", None) is not None:
                raise  # not the detached-transport case: a real bug, let it show
            log.warning(
                "broker connection lost while closing its channel (%s); its unacknowledged "
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
