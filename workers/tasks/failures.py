"""How a task's failure becomes a retry or a dead-letter record.

Transient errors (and unexpected exceptions, which may be bugs or outages) are
retried with exponential backoff, honouring Retry-After; permanent errors and
exhausted retries go to the dead-letter stream. Time limits are never
swallowed silently: a soft limit dead-letters the work with reason time_limit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded

from schemas.deadletter import Stage
from workers.errors import PermanentError, TransientError
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
    try:
        return work()
    except PermanentError as exc:
        failure: BaseException = exc
    except SoftTimeLimitExceeded as exc:
        failure = PermanentError(
            f"{stage} exceeded its soft time limit ({exc!r})", reason="time_limit"
        )
    except Exception as exc:
        _retry_or_give_up(task, exc)
        failure = exc
    services = get_services()
    record = dead_letter_for(
        failure,
        stage=stage,
        task_name=task.name,
        task_args=payload,
        attempts=task.request.retries + 1,
        doc_id=doc_id,
        feed_id=feed_id,
        url=url,
    )
    services.deadletters.record(record)
    return None


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
