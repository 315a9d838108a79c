"""Fetch an article page into the raw page store, then hand the entry to processing."""

from __future__ import annotations

from typing import Any

from celery import Task

from schemas import FeedEntry
from workers.app import app
from workers.errors import HttpStatusError
from workers.fetching.article import fetch_article as fetch_page
from workers.processing.pipeline import SUMMARY_FALLBACK_STATUSES, usable_summary
from workers.services import get_services
from workers.tasks import FETCH_ARTICLE, PROCESS_ARTICLE
from workers.tasks.failures import run_stage


@app.task(name=FETCH_ARTICLE, bind=True, ignore_result=True)
def fetch_article(self: Task, entry_json: dict[str, Any]) -> None:
    services = get_services()
    entry = FeedEntry.model_validate(entry_json)

    def work() -> dict[str, Any]:
        """The process task's keyword arguments: none, or the refusal to build around."""
        try:
            fetch_page(
                entry,
                http=services.http,
                store=services.raw_pages,
                max_bytes=services.settings.article_max_bytes,
                robots=services.robots,
            )
        except HttpStatusError as exc:
            # A refused page (paywall, login, legal) with a real summary in the feed:
            # the document is built from the summary instead of dead-lettered.
            minimum = services.settings.summary_fallback_min_chars
            if exc.status not in SUMMARY_FALLBACK_STATUSES or not usable_summary(entry, minimum):
                raise
            return {"refused_status": exc.status}
        return {}

    handoff = run_stage(
        self,
        work,
        stage="fetch",
        payload={"entry": entry_json},
        doc_id=entry.doc_id,
        feed_id=entry.feed.id,
        url=entry.url,
    )
    if handoff is not None:
        app.send_task(PROCESS_ARTICLE, args=[entry_json], kwargs=handoff)
