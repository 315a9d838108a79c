"""Turn a fetched page into an enriched document and publish it to the streams."""

from __future__ import annotations

from typing import Any

from celery import Task
from celery.signals import worker_process_init

from schemas import FeedEntry
from workers.app import app
from workers.processing.pipeline import build_document
from workers.services import get_services
from workers.tasks import PROCESS_ARTICLE
from workers.tasks.failures import run_stage


@worker_process_init.connect
def load_enricher(**_: object) -> None:
    """Load taxonomy and gazetteer as the pool process starts, not on its first document."""
    get_services().enricher  # noqa: B018 (the property loads it)


@app.task(name=PROCESS_ARTICLE, bind=True, ignore_result=True)
def process_article(self: Task, entry_json: dict[str, Any]) -> None:
    services = get_services()
    entry = FeedEntry.model_validate(entry_json)

    def work() -> str:
        page = services.raw_pages.get(entry.doc_id)
        document = build_document(entry, page, services.enricher)
        result = services.publisher.publish(document)
        services.raw_pages.delete(entry.doc_id)
        return result.status

    run_stage(
        self,
        work,
        stage="process",
        payload={"entry": entry_json},
        doc_id=entry.doc_id,
        feed_id=entry.feed.id,
        url=entry.url,
    )
