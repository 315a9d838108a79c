"""Time limits: a stage past its soft limit, or killed at its hard one, is dead-lettered.

The soft limit raises SoftTimeLimitExceeded in the task, which run_stage
(workers/tasks/failures.py) dead-letters with reason time_limit; the mark left
by the signal makes that hold even when library code swallowed the exception.
At the hard limit Celery kills the pool child; StageTask records the failure
from the worker's main process.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded

from schemas import FeedEntry
from schemas.deadletter import Stage
from workers.clients import get_impatient_redis
from workers.errors import PermanentError
from workers.observability.observed import ObservedDeadLetterSink
from workers.publishing.deadletter import dead_letter_for
from workers.services import get_services
from workers.tasks import FETCH_ARTICLE, PROCESS_ARTICLE

log = logging.getLogger(__name__)

_STAGE_OF_TASK: dict[str, Stage] = {FETCH_ARTICLE: "fetch", PROCESS_ARTICLE: "process"}


class StageTask(Task):  # type: ignore[misc]  # celery ships no type hints
    """Base of the document stage tasks (fetch, process): a hard time limit is dead-lettered.

    Celery kills the pool child and calls on_failure in the worker's main process,
    then requeues the message (acks_on_timeout is off); the record, made once for
    the task id, makes that next delivery a no-op. It is written with a client
    that does not retry: on_failure runs in the main process's event loop, and
    with Redis down (often why the task overran) retries would hold that loop for
    most of a minute, the lost broker unnoticed. Unwritten, the record is missed
    once: the requeued message counts one more delivery, up to poison.
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
    client, keys = get_impatient_redis(), services.keys
    payload: dict[str, Any] = {"entry": args[0], **kwargs}
    deliveries = client.get(keys.delivery_count(entry.doc_id, stage))
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
    sink = ObservedDeadLetterSink(client, keys, maxlen=services.settings.stream_maxlen)
    sink.record(record, task_id=task_id, marker_ttl=services.settings.given_up_marker_ttl)
    client.delete(keys.delivery_count(entry.doc_id, stage))


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
