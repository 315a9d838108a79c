"""Celery signal handlers: logging setup, per-task log context and timing, metrics endpoint.

Connected when workers/app.py imports this module, so the worker, beat and any
process that loads the app behave the same; the tasks themselves know nothing of it.

- setup_logging: our handler and format (NEWSWIRE_LOG_FORMAT) instead of Celery's.
- task_prerun / task_postrun: bind task id, stage, feed id and document id to the
  log context (taken from the task's arguments), then log one `task` event with its
  duration and state, and observe it in newswire_task_seconds. Celery's own
  "succeeded in" line is silenced in favour of that event, which carries the same
  facts as fields.
- task_retry: a warning line with the reason, in context; a retried article fetch
  counts in newswire_fetch_errors (its last failure is counted by the dead-letter
  sink). task_failure: the error's class joins the context, so the closing `task`
  event carries it (Celery's own error line, with the traceback, stays).
- celeryd_init / worker_ready / worker_shutdown: multiprocess metrics directory
  before the pool forks, the /metrics endpoint in the main process once the worker
  is ready (NEWSWIRE_METRICS_PORT), and its removal at shutdown.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from celery.exceptions import Retry
from celery.signals import (
    celeryd_init,
    setup_logging,
    task_failure,
    task_postrun,
    task_prerun,
    task_retry,
    worker_ready,
    worker_shutdown,
)

from workers.errors import ConfigurationError, HostBusy, NewswireError
from workers.observability import logs
from workers.observability.metrics import (
    MetricsServer,
    enable_multiprocess,
    get_metrics,
    new_metrics_dir,
    serve_metrics,
)
from workers.settings import Settings, get_settings
from workers.tasks import DISPATCH_DUE_FEEDS, FETCH_ARTICLE, POLL_FEED, PROCESS_ARTICLE

log = logging.getLogger(__name__)

STAGES = {
    DISPATCH_DUE_FEEDS: "dispatch",
    POLL_FEED: "poll",
    FETCH_ARTICLE: "fetch",
    PROCESS_ARTICLE: "process",
}

_started: ContextVar[float | None] = ContextVar("newswire_task_started", default=None)


@dataclass
class _Endpoint:
    """This worker's metrics directory and server (main process only)."""

    directory: Path | None = None
    server: MetricsServer | None = None


_endpoint = _Endpoint()


def _settings() -> Settings | None:
    try:
        return get_settings()
    except ConfigurationError as exc:  # the worker reports it itself; logs still work
        log.error("%s", exc)
        return None


# --- logging -------------------------------------------------------------------------------
@setup_logging.connect
def _setup_logging(loglevel: int | str | None = None, **_: Any) -> None:
    settings = _settings()
    logs.configure_logging(settings.log_format if settings else "auto", loglevel or logging.INFO)
    # Our `task` event carries what this line says, as fields (see the module doc).
    logging.getLogger("celery.app.trace").setLevel(logging.WARNING)


def task_context(task_name: str, args: Any, kwargs: Mapping[str, Any] | None) -> dict[str, str]:
    """The log context of a task, from its name and arguments (as sent by the tasks)."""
    context = {"task": task_name, "stage": STAGES.get(task_name, task_name)}
    first = args[0] if isinstance(args, list | tuple) and args else None
    if task_name == POLL_FEED:
        feed_id = first if first is not None else (kwargs or {}).get("feed_id")
        if isinstance(feed_id, str):
            context["feed_id"] = feed_id
    elif task_name in (FETCH_ARTICLE, PROCESS_ARTICLE):
        entry = first if first is not None else (kwargs or {}).get("entry_json")
        if isinstance(entry, Mapping):
            if isinstance(entry.get("doc_id"), str):
                context["doc_id"] = entry["doc_id"]
            feed = entry.get("feed")
            if isinstance(feed, Mapping) and isinstance(feed.get("id"), str):
                context["feed_id"] = feed["id"]
    return context


@task_prerun.connect
def _task_started(
    task_id: str | None = None,
    task: Any = None,
    args: Any = None,
    kwargs: Mapping[str, Any] | None = None,
    **_: Any,
) -> None:
    logs.clear()
    logs.bind(task_id=task_id, **task_context(getattr(task, "name", "?"), args, kwargs))
    _started.set(time.monotonic())


@task_postrun.connect
def _task_finished(task: Any = None, state: str | None = None, **_: Any) -> None:
    started = _started.get()
    name = getattr(task, "name", "?")
    duration = None if started is None else time.monotonic() - started
    if duration is not None:
        get_metrics().task_seconds.labels(STAGES.get(name, name), state or "UNKNOWN").observe(
            duration
        )
        log.log(
            logging.WARNING if state == "FAILURE" else logging.INFO,
            "task %s %s in %.1f ms",
            name,
            state,
            duration * 1000,
            extra={"event": "task", "state": state, "duration_ms": round(duration * 1000, 2)},
        )
    _started.set(None)
    logs.clear()


@task_retry.connect
def _task_retried(sender: Any = None, reason: Any = None, **_: Any) -> None:
    cause = reason.exc if isinstance(reason, Retry) and reason.exc is not None else reason
    if isinstance(cause, HostBusy):
        return  # waiting for the host's slot: no failure (workers/tasks/failures.py)
    why = cause.reason if isinstance(cause, NewswireError) else type(cause).__name__
    if getattr(sender, "name", None) == FETCH_ARTICLE:
        get_metrics().fetch_errors.labels("fetch", why).inc()
    log.warning("retry: %s", cause, extra={"event": "retry", "reason": why})


@task_failure.connect
def _task_failed(exception: BaseException | None = None, **_: Any) -> None:
    # Celery logs the failure with its traceback (in context); the closing `task` event
    # says which error it was.
    logs.bind(error_class=type(exception).__name__)


# --- metrics endpoint ----------------------------------------------------------------------
@celeryd_init.connect
def _prepare_metrics(sender: str | None = None, **_: Any) -> None:
    """Before the pool forks: the multiprocess directory every child will write in."""
    settings = _settings()
    if settings is None or not settings.metrics_port:
        return
    _endpoint.directory = new_metrics_dir(sender or "worker")
    enable_multiprocess(_endpoint.directory)


@worker_ready.connect
def _start_metrics(**_: Any) -> None:
    settings = _settings()
    if _endpoint.directory is None or settings is None:
        return
    from workers.clients import get_redis
    from workers.enrichment.taxonomy import topic_ids
    from workers.observability.collector import RedisStateCollector

    collector = RedisStateCollector(get_redis, settings, topic_ids(settings.seeds_dir))
    try:
        _endpoint.server = serve_metrics(
            _endpoint.directory,
            port=settings.metrics_port,
            address=settings.metrics_address,
            extra=[collector],
        )
    except OSError as exc:  # a taken port costs the metrics, not the ingestion
        log.error(
            "metrics endpoint not started on %s:%d: %s",
            settings.metrics_address,
            settings.metrics_port,
            exc,
            extra={"event": "metrics_unavailable"},
        )


@worker_shutdown.connect
def _stop_metrics(**_: Any) -> None:
    if _endpoint.server is not None:
        _endpoint.server.stop()
        _endpoint.server = None
    if _endpoint.directory is not None:
        shutil.rmtree(_endpoint.directory, ignore_errors=True)
