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

Giving up is recorded once per task message (see DeadLetterSink.record): a
message that comes back after it was given up (its worker died before the
acknowledgement, or a hard time limit requeued it) is dropped at once.

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
import json
import logging
import re
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any, NoReturn, ParamSpec, TypeVar

import redis
from celery import Task
from celery.exceptions import Reject, Retry, SoftTimeLimitExceeded, TimeLimitExceeded
from kombu.exceptions import OperationalError
from pydantic import ValidationError

from schemas import FeedEntry
from schemas.deadletter import Stage
from workers.errors import (
    ConfigurationError,
    HostBusy,
    PermanentError,
    SchemaViolation,
    StoreUnavailable,
    TransientError,
)
from workers.publishing.deadletter import dead_letter_for
from workers.services import get_services
from workers.tasks import FETCH_ARTICLE, PROCESS_ARTICLE

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

_STAGE_OF_TASK: dict[str, Stage] = {FETCH_ARTICLE: "fetch", PROCESS_ARTICLE: "process"}


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


class StageTask(Task):  # type: ignore[misc]  # celery ships no type hints
    """Base of the document stage tasks (fetch, process): a hard time limit is dead-lettered.

    Celery kills the pool child and calls on_failure in the worker's main process,
    then requeues the message (acks_on_timeout is off); the record, made once for
    the task id, makes that next delivery a no-op.
    """

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        if not isinstance(exc, TimeLimitExceeded):
            return
        try:
            _record_hard_time_limit(self, exc, task_id, list(args), dict(kwargs))
        except Exception:
            # The requeued message will count as one more delivery, up to poison.
            log.exception("%s[%s]: could not dead-letter its hard time limit", self.name, task_id)


def _record_hard_time_limit(
    task: Task, exc: TimeLimitExceeded, task_id: str, args: list[Any], kwargs: dict[str, Any]
) -> None:
    services = get_services()
    stage = _STAGE_OF_TASK.get(task.name)
    entry = FeedEntry.model_validate(args[0]) if args else None
    if stage is None or entry is None:
        return
    payload: dict[str, Any] = {"entry": args[0], **kwargs}
    deliveries = services.redis.get(services.keys.delivery_count(entry.doc_id, stage))
    record = dead_letter_for(
        PermanentError(
            f"{stage} of {entry.doc_id} exceeded its hard time limit ({exc}); "
            "its worker process was killed",
            reason="time_limit",
        ),
        stage=stage,
        task_name=task.name,
        task_args=payload,
        attempts=max(1, int(deliveries or 1)),
        doc_id=entry.doc_id,
        feed_id=entry.feed.id,
        url=entry.url,
    )
    services.deadletters.record(record, task_id=task_id, marker_ttl=_marker_ttl())
    services.redis.delete(services.keys.delivery_count(entry.doc_id, stage))


def _marker_ttl() -> int:
    """Long enough to span every redelivery after a visibility timeout."""
    settings = get_services().settings
    return settings.visibility_timeout * (settings.max_deliveries + 2)


def retry_delay(retries: int, *, base: float, cap: float, retry_after: float | None) -> float:
    """Exponential backoff: base, 2*base, 4*base... capped, never shorter than Retry-After."""
    delay = min(base * 2.0**retries, cap)
    return float(min(max(delay, retry_after or 0.0), cap))


class _SoftLimitWatch:
    """Remembers that the soft time limit fired during the current task.

    Celery's soft limit raises SoftTimeLimitExceeded wherever the task happens to
    be, and library code that catches every exception (trafilatura does, around
    its fallback extractors) can swallow it: the task would then run on to its
    hard limit, or finish and publish late. The signal handler that raises it is
    wrapped (once per pool process, at its first task) to leave a mark first, and
    the stage checks the mark before its side effects (`out_of_time`).
    Only in a prefork child's main thread: the threads pool has no soft limit.
    """

    def __init__(self) -> None:
        self.fired = False

    def arm(self) -> None:
        self.fired = False
        if _SOFT_SIGNAL is None or threading.current_thread() is not threading.main_thread():
            return
        current = signal.getsignal(_SOFT_SIGNAL)
        if isinstance(current, _MarkingHandler) or not callable(current):
            return
        signal.signal(_SOFT_SIGNAL, _MarkingHandler(self, current))

    def check(self) -> None:
        """Raise SoftTimeLimitExceeded if the soft limit fired, even if it was swallowed."""
        if self.fired:
            raise SoftTimeLimitExceeded("the soft time limit passed during this task")


@dataclass(frozen=True)
class _MarkingHandler:
    watch: _SoftLimitWatch
    original: Callable[[int, FrameType | None], Any]

    def __call__(self, signum: int, frame: FrameType | None) -> Any:
        self.watch.fired = True
        return self.original(signum, frame)


_SOFT_SIGNAL = getattr(signal, "SIGUSR1", None)  # billiard's soft time limit signal
SOFT_LIMIT = _SoftLimitWatch()


def out_of_time() -> None:
    """A stage calls this before its side effects (publishing): past the soft time limit,
    even if the exception was caught on the way, it dead-letters instead."""
    SOFT_LIMIT.check()


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
        get_services().deadletters.record(record, task_id=task.request.id, marker_ttl=_marker_ttl())
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
        get_services().deadletters.record(
            record, task_id=self.task.request.id, marker_ttl=_marker_ttl()
        )
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
        pipe.expire(key, _marker_ttl())
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
