"""Fetch an article page into the raw page store, then hand the entry to processing."""

from __future__ import annotations

from typing import Any

from celery import Task

from workers.app import app
from workers.fetching.article import fetch_article_or_refusal
from workers.services import get_services
from workers.tasks import FETCH_ARTICLE, PROCESS_ARTICLE
from workers.tasks.failures import run_stage
from workers.tasks.messages import entry_of_message
from workers.tasks.outage import requeue_on_outage
from workers.tasks.time_limits import StageTask


@app.task(name=FETCH_ARTICLE, bind=True, ignore_result=True, base=StageTask)
@requeue_on_outage
def fetch_article(self: Task, entry_json: dict[str, Any]) -> None:
    services = get_services()
    entry = entry_of_message(self, entry_json, stage="fetch", payload={"entry": entry_json})
    if entry is None:
        return

    def work() -> dict[str, Any]:
        """The process task's keyword arguments: none, or the refusal to build around."""
        refused = fetch_article_or_refusal(
            entry,
            http=services.http,
            store=services.raw_pages,
            max_bytes=services.settings.article_max_bytes,
            robots=services.robots,
            summary_min_chars=services.settings.summary_fallback_min_chars,
        )
        return {} if refused is None else {"refused_status": refused}

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
