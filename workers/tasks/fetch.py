"""Fetch an article page into the raw page store, then hand the entry to processing."""

from __future__ import annotations

from typing import Any

from celery import Task

from schemas import FeedEntry
from workers.app import app
from workers.fetching.article import fetch_article as fetch_page
from workers.services import get_services
from workers.tasks import FETCH_ARTICLE, PROCESS_ARTICLE
from workers.tasks.failures import run_stage


@app.task(name=FETCH_ARTICLE, bind=True, ignore_result=True)
def fetch_article(self: Task, entry_json: dict[str, Any]) -> None:
    services = get_services()
    entry = FeedEntry.model_validate(entry_json)
    fetched = run_stage(
        self,
        lambda: fetch_page(
            entry,
            http=services.http,
            store=services.raw_pages,
            max_bytes=services.settings.article_max_bytes,
            robots=services.robots,
        ),
        stage="fetch",
        payload={"entry": entry_json},
        doc_id=entry.doc_id,
        feed_id=entry.feed.id,
        url=entry.url,
    )
    if fetched is not None:
        app.send_task(PROCESS_ARTICLE, args=[entry_json])
