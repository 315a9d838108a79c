"""Poll one feed and send one fetch task per new entry.

The fetch tasks are sent before the feed's new state (validators, body hash) is
saved, and the entries are claimed in flight in the name of this poll task: if
the worker dies anywhere in between, the redelivered poll finds the feed as it
was, claims the same entries again as their owner and sends them again, instead
of finding them claimed by a poll that is gone (and skipping them for hours).
"""

from __future__ import annotations

import time
import uuid

from celery import Task

from schemas import FeedEntry
from workers.app import app
from workers.errors import RefusedURL, SchemaViolation
from workers.polling.poll import PollResult
from workers.publishing.deadletter import dead_letter_for
from workers.services import Services, get_services
from workers.tasks import FETCH_ARTICLE, POLL_FEED
from workers.tasks.failures import requeue_on_outage

# Items of one poll put on the dead-letter stream at most: a hostile feed of
# ten thousand javascript: links must not flood it.
MAX_REJECTED_ITEMS_RECORDED = 20


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
    if result.error is not None and result.first_error_of_streak and not result.error.retryable:
        # A feed that stays broken is reported once per streak, not at every poll.
        services.deadletters.record(
            dead_letter_for(
                result.error,
                stage="poll",
                task_name=POLL_FEED,
                task_args={"feed_id": feed_id},
                attempts=1,
                feed_id=feed_id,
            ),
            task_id=self.request.id,
        )
    _record_rejected_items(services, result)
    return len(result.new_entries)


def _record_rejected_items(services: Services, result: PollResult) -> None:
    """Items refused for their URL (a file: or private link) or their data (schema).

    They exist only in a changed feed body (an unchanged one is not parsed again),
    so a hostile item is recorded when it appears, not at every poll. Items that
    merely lack a link are feed quirks, logged by the poller, not dead letters.
    """
    hostile = [p for p in result.rejected if isinstance(p.error, RefusedURL | SchemaViolation)]
    for problem in hostile[:MAX_REJECTED_ITEMS_RECORDED]:
        services.deadletters.record(
            dead_letter_for(
                problem.error,
                stage="poll",
                task_name=POLL_FEED,
                task_args={"feed_id": result.feed_id},
                attempts=1,
                feed_id=result.feed_id,
                url=(problem.item.link or "")[:2000] or None,
            )
        )
