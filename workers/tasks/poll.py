"""Poll one feed and send one fetch task per new entry.

The fetch tasks are sent before the feed's new state (validators, body hash) is
saved, and the entries are claimed in flight in the name of this poll task: if
the worker dies anywhere in between, the redelivered poll finds the feed as it
was, claims the same entries again as their owner and sends them again, instead
of finding them claimed by a poll that is gone (and skipping them for hours).
Entries whose fetch message was lost after it was sent come back through the
feed's pending entries once their claim lapses (workers/polling/pending.py).
"""

from __future__ import annotations

import time
import uuid

from celery import Task

from schemas import FeedEntry
from workers.app import app
from workers.polling.report import record_poll_problems
from workers.services import get_services
from workers.tasks import FETCH_ARTICLE, POLL_FEED
from workers.tasks.outage import requeue_on_outage


@app.task(name=POLL_FEED, bind=True, ignore_result=True)
@requeue_on_outage
def poll_feed(self: Task, feed_id: str) -> int:
    services = get_services()

    def hand_off(entries: list[FeedEntry]) -> None:
        for entry in entries:
            app.send_task(FETCH_ARTICLE, args=[entry.model_dump(mode="json")])

    result = services.poller.poll(
        feed_id, now=time.time(), owner=self.request.id or uuid.uuid4().hex, handoff=hand_off
    )
    record_poll_problems(services.deadletters, result, task_name=POLL_FEED, task_id=self.request.id)
    return len(result.new_entries) + len(result.resent)
