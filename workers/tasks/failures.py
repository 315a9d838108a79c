"""How a stage task's failure becomes a retry or a dead-letter record.

Transient errors (and unexpected exceptions, which may be bugs or outages) are
retried with exponential backoff, honouring Retry-After; permanent errors and
exhausted retries go to the dead-letter stream. A Document the pipeline could
not make valid is a SchemaViolation: dead-lettered at once with the fields at
fault, never retried, never sent on (an invalid task message too:
workers/tasks/messages.py). Time limits are never swallowed silently
(workers/tasks/time_limits.py). A document whose stage keeps dying before it
can fail properly (a worker killed by a poison page, a hard time limit) is
counted by delivery and dead-lettered with reason poison once it exceeds
`max_deliveries`. HostBusy (the host's politeness limit has no slot) is no
failure: the task is sent again for when a slot is expected, spending neither
a retry nor a delivery. Outages and configuration errors are not the
document's: they requeue the message (workers/tasks/outage.py).

Giving up is recorded once per task message (see DeadLetterSink.record): a
message that comes back after it was given up (its worker died before the
acknowledgement, or a hard time limit requeued it) is dropped at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

from celery import Task
from celery.exceptions import Retry, SoftTimeLimitExceeded
from pydantic import ValidationError

from schemas.deadletter import Stage
from workers.errors import (
    ConfigurationError,
    HostBusy,
    PermanentError,
    SchemaViolation,
    TransientError,
)
from workers.publishing.deadletter import dead_letter_for
from workers.services import get_services
from workers.tasks.time_limits import SOFT_LIMIT

log = logging.getLogger(__name__)

T = TypeVar("T")


def retry_delay(retries: int, *, base: float, cap: float, retry_after: float | None) -> float:
    """Exponential backoff: base, 2*base, 4*base... capped, never shorter than Retry-After."""
    delay = min(base * 2.0**retries, cap)
    return float(min(max(delay, retry_after or 0.0), cap))


def run_stage(
    task: Task,
    work: Callable[[], T],
    *,
    stage: Stage,
    payload: dict[str, Any],
    doc_id: str | None = None,
    feed_id: str | None = None,
    url: str | None = None,
) -> T | None:
    """Run a stage's work; on failure retry or dead-letter. Returns None when given up."""
    services = get_services()
    context = _FailureContext(task, stage, payload, doc_id, feed_id, url)
    deliveries, given_up = _count_delivery(context)
    if given_up:
        log.info("%s[%s]: dead-lettered already; message dropped", task.name, task.request.id)
        context.uncount_delivery()
        return None
    if deliveries > services.settings.max_deliveries:
        # Each earlier delivery died without finishing (killed worker, hard time limit).
        context.give_up(
            PermanentError(
                f"{stage} of {doc_id} started {deliveries} times without finishing",
                reason="poison",
            )
        )
        return None
    SOFT_LIMIT.arm()
    try:
        result = work()
    except HostBusy as exc:
        _requeue_for_host(task, context, exc)
    except ConfigurationError:
        # Our fault, not the document's: requeue_on_outage sends the message back to
        # its queue (redelivered once the configuration is mended), never dead-letters it.
        raise
    except PermanentError as exc:
        context.give_up(exc)
        return None
    except ValidationError as exc:
        context.give_up(SchemaViolation.of(f"{stage} result", exc))
        return None
    except SoftTimeLimitExceeded as exc:
        context.give_up(
            PermanentError(f"{stage} exceeded its soft time limit ({exc!r})", reason="time_limit")
        )
        return None
    except Exception as exc:
        _retry_or_give_up(task, exc)
        context.give_up(exc)
        return None
    context.forget_deliveries()
    return result


@dataclass(frozen=True)
class _FailureContext:
    task: Task
    stage: Stage
    payload: dict[str, Any]
    doc_id: str | None
    feed_id: str | None
    url: str | None

    @property
    def delivery_key(self) -> str | None:
        if self.doc_id is None:
            return None
        return get_services().keys.delivery_count(self.doc_id, self.stage)

    def give_up(self, failure: BaseException) -> None:
        record = dead_letter_for(
            failure,
            stage=self.stage,
            task_name=self.task.name,
            task_args=self.payload,
            attempts=self.task.request.retries + 1,
            doc_id=self.doc_id,
            feed_id=self.feed_id,
            url=self.url,
        )
        services = get_services()
        ttl = services.settings.given_up_marker_ttl
        services.deadletters.record(record, task_id=self.task.request.id, marker_ttl=ttl)
        self.forget_deliveries()

    def forget_deliveries(self) -> None:
        if self.delivery_key:
            get_services().redis.delete(self.delivery_key)

    def uncount_delivery(self) -> None:
        """This start ended properly without doing the work: it is no delivery."""
        key = self.delivery_key
        if key and int(get_services().redis.decr(key)) <= 0:
            get_services().redis.delete(key)


def _count_delivery(context: _FailureContext) -> tuple[int, bool]:
    """How many times this stage has started on this document, this one included, and
    whether this very message was given up already."""
    key = context.delivery_key
    task_id = context.task.request.id
    if key is None and not task_id:
        return 1, False
    services = get_services()
    pipe = services.redis.pipeline(transaction=True)
    if task_id:
        pipe.exists(services.keys.given_up(task_id))
    if key is not None:
        pipe.incr(key)
        pipe.expire(key, services.settings.given_up_marker_ttl)
    replies = pipe.execute()
    given_up = bool(replies[0]) if task_id else False
    count = int(replies[1 if task_id else 0]) if key is not None else 1
    return count, given_up


def _requeue_for_host(task: Task, context: _FailureContext, exc: HostBusy) -> NoReturn:
    """Send the task again for when its host should have a slot, and raise celery's Retry.

    task.retry would count a retry; this copy keeps the retries count it came with.
    The delay stays under the retry cap, hence under the visibility timeout.
    """
    settings = get_services().settings
    countdown = min(max(exc.retry_after or 0.0, 0.1), settings.retry_backoff_max_seconds)
    context.uncount_delivery()
    if task.request.called_directly:
        raise exc
    again = task.signature_from_request(
        task.request, countdown=countdown, retries=task.request.retries
    )
    again.apply_async()
    log.info("%s: %s; again in %.1fs", task.name, exc.message, countdown)
    raise Retry(exc=exc, when=countdown, sig=again) from exc


def _retry_or_give_up(task: Task, exc: Exception) -> None:
    """Raise celery's Retry while retries remain; return when they are used up."""
    settings = get_services().settings
    if task.request.retries >= settings.max_retries:
        return
    retry_after = exc.retry_after if isinstance(exc, TransientError) else None
    if not isinstance(exc, TransientError):
        log.exception("unexpected error in %s, will retry", task.name)
    countdown = retry_delay(
        task.request.retries,
        base=settings.retry_backoff_seconds,
        cap=settings.retry_backoff_max_seconds,
        retry_after=retry_after,
    )
    raise task.retry(exc=exc, countdown=countdown)
