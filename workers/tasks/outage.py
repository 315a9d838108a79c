"""A Redis outage, or our own broken configuration, never drops a task's message.

Celery drops the message of a task that raises, and of a retry it could not
send. When Redis itself is out (connection refused or reset, loading, out of
memory), nothing can be recorded and nothing is wrong with the document; nor
is anything when our own configuration is at fault (ConfigurationError):
`requeue_on_outage` turns those failures into Reject(requeue=True), so the
message goes back to its queue, or, if Redis cannot even take it back, stays
unacknowledged and is redelivered after the visibility timeout.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import redis
from celery.exceptions import Reject
from kombu.exceptions import OperationalError

from workers.errors import ConfigurationError, StoreUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
P = ParamSpec("P")

# Redis (broker and store) unreachable or unable to write: not the document's fault.
OUTAGE_ERRORS: tuple[type[Exception], ...] = (
    redis.ConnectionError,
    redis.TimeoutError,
    redis.exceptions.OutOfMemoryError,
    OperationalError,
    StoreUnavailable,
)
# Failures that are not the message's: it goes back to its queue, never dropped.
REQUEUED_ERRORS: tuple[type[Exception], ...] = (*OUTAGE_ERRORS, ConfigurationError)
# Pause before a requeued message is taken again, so an outage is not a busy loop.
OUTAGE_PAUSE_SECONDS = 1.0


def requeue_on_outage(task_body: Callable[P, T]) -> Callable[P, T]:
    """Decorate a task body: a Redis outage returns its message to the queue, never drops it."""

    @functools.wraps(task_body)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return task_body(*args, **kwargs)
        except Reject as exc:
            # Task.retry rejects without requeue when it cannot send the retry.
            if exc.requeue or not isinstance(exc.reason, OUTAGE_ERRORS):
                raise
            _pause_before_requeue(task_body.__name__, exc.reason)
            raise Reject(exc.reason, requeue=True) from exc
        except REQUEUED_ERRORS as exc:
            _pause_before_requeue(task_body.__name__, exc)
            raise Reject(exc, requeue=True) from exc

    return guarded


def _pause_before_requeue(name: str, exc: BaseException) -> None:
    what = "configuration error" if isinstance(exc, ConfigurationError) else "Redis unavailable"
    log.warning("%s: %s (%s); message returned to its queue", name, what, exc)
    time.sleep(OUTAGE_PAUSE_SECONDS)
