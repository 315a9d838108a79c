"""Turn a fetched page (or, failing that, the feed's summary) into a document and publish it."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from celery.signals import worker_init

from workers.app import app
from workers.errors import EXIT_CONFIG, ConfigurationError
from workers.processing.stage import process_entry
from workers.services import get_services
from workers.services import load_enricher as load_enricher_of
from workers.settings import get_settings
from workers.tasks import PROCESS_ARTICLE, TASK_QUEUES
from workers.tasks.failures import run_stage
from workers.tasks.messages import entry_of_message
from workers.tasks.outage import requeue_on_outage
from workers.tasks.time_limits import StageTask, out_of_time

log = logging.getLogger(__name__)


@worker_init.connect
def load_enricher(sender: Any, **_: object) -> None:
    """Load taxonomy and gazetteer in the worker's main process, before the pool forks.

    The children inherit the loaded copy (nothing to load on their first document),
    and a malformed seed file stops the worker at start-up with the file and line,
    instead of failing every document in the pool.
    """
    queues = sender.app.amqp.queues  # as selected by the worker's -Q option
    if TASK_QUEUES[PROCESS_ARTICLE] not in (queues.consume_from or queues):
        return  # a poll or fetch worker: no enrichment here
    try:
        load_enricher_of(get_settings().seeds_dir)
    except ConfigurationError as exc:
        log.critical("refusing to start a process worker: %s", exc)
        raise SystemExit(EXIT_CONFIG) from exc


@app.task(name=PROCESS_ARTICLE, bind=True, ignore_result=True, base=StageTask)
@requeue_on_outage
def process_article(
    self: Task, entry_json: dict[str, Any], refused_status: int | None = None
) -> None:
    """`refused_status`: the fetch stage was refused the page (401/402/403/451) and the
    feed's summary stands in for it."""
    services = get_services()
    payload: dict[str, Any] = {"entry": entry_json}
    if refused_status is not None:
        payload["refused_status"] = refused_status
    entry = entry_of_message(self, entry_json, stage="process", payload=payload)
    if entry is None:
        return

    def work() -> str:
        return process_entry(
            entry,
            refused_status=refused_status,
            raw_pages=services.raw_pages,
            seen=services.seen,
            enricher=services.enricher,
            near_duplicates=services.near_duplicates,
            publisher=services.publisher,
            summary_min_chars=services.settings.summary_fallback_min_chars,
            before_publish=out_of_time,  # a soft time limit swallowed by library code
        )

    run_stage(
        self,
        work,
        stage="process",
        payload=payload,
        doc_id=entry.doc_id,
        feed_id=entry.feed.id,
        url=entry.url,
    )
