"""How a task's failure becomes a retry or a dead-letter record.

Transient errors (and unexpected exceptions, which may be bugs or outages) are
retried with exponential backoff, honouring Retry-After; permanent errors and
exhausted retries go to the dead-letter stream. Data that fails its schema
(a task message that is no FeedEntry, a Document the pipeline could not make
valid) is a SchemaViolation: dead-lettered at once with the fields at fault,
never retried, never sent on. Time limits are never
swallowed silently: a soft limit dead-letters the work with reason time_limit.
A document whose stage keeps dying before it can fail properly (a worker
killed by a poison page, a hard time limit) is counted by delivery and
dead-lettered with reason poison once it exceeds `max_deliveries`.
HostBusy (the host's politeness limit has no slot) is no failure: the task is
sent again for when a slot is expected, spending neither a retry nor a delivery.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

from celery import Task
from celery.exceptions import Retry, SoftTimeLimitExceeded
from pydantic import ValidationError

from schemas import FeedEntry
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
    deliveries = _count_delivery(context)
    if deliveries > services.settings.max_deliveries:
        # Each earlier delivery died without finishing (killed worker, hard time limit).
        context.give_up(
            PermanentError(
                f"{stage} of {doc_id} started {deliveries} times without finishing",
                reason="poison",
            )
        )
        return None
    try:
        result = work()
    except HostBusy as exc:
        _requeue_for_host(task, context, exc)
    except ConfigurationError:
        # Our fault, not the document's: leave the message unacknowledged so it is
        # redelivered once the configuration is mended, instead of dead-lettering it.
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


def entry_of_message(
    task: Task, entry_json: Any, *, stage: Stage, payload: dict[str, Any]
) -> FeedEntry | None:
    """The FeedEntry a task message carries, or None once an invalid one is dead-lettered.

    The message's own doc_id and url are kept on the record only when they look
    like what they claim to be: an invalid message is no authority on them.
    """
    try:
        return FeedEntry.model_validate(entry_json)
    except ValidationError as exc:
        claimed = entry_json if isinstance(entry_json, dict) else {}
        doc_id, url = claimed.get("doc_id"), claimed.get("url")
        record = dead_letter_for(
            SchemaViolation.of(f"{task.name} message", exc),
            stage=stage,
            task_name=task.name,
            task_args=_json_safe(payload),
            attempts=task.request.retries + 1,
            doc_id=doc_id if isinstance(doc_id, str) and _DOC_ID.match(doc_id) else None,
            url=url[:2000] if isinstance(url, str) else None,
        )
        get_services().deadletters.record(record)
        return None


_DOC_ID = re.compile(r"^[0-9a-f]{32}$")


def _json_safe(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as the dead-letter record can carry it (text JSON can encode)."""
    try:
        json.dumps(payload, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError):
        return {"unencodable": repr(payload)[:2000].encode("utf-8", "replace").decode()}
    return payload


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
        get_services().deadletters.record(record)
        self.forget_deliveries()

    def forget_deliveries(self) -> None:
        if self.delivery_key:
            get_services().redis.delete(self.delivery_key)

    def uncount_delivery(self) -> None:
        """This start ended properly without doing the work: it is no delivery."""
        key = self.delivery_key
        if key and int(get_services().redis.decr(key)) <= 0:
            get_services().redis.delete(key)


def _count_delivery(context: _FailureContext) -> int:
    """How many times this stage has started on this document, this one included."""
    key = context.delivery_key
    if key is None:
        return 1
    services = get_services()
    pipe = services.redis.pipeline(transaction=True)
    pipe.incr(key)
    # Long enough to span every redelivery after a visibility timeout.
    pipe.expire(key, services.settings.visibility_timeout * (services.settings.max_deliveries + 2))
    count, _ = pipe.execute()
    return int(count)


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
