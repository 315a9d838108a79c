"""Poll one feed and send one fetch task per new entry."""

from __future__ import annotations

import time

from workers.app import app
from workers.publishing.deadletter import dead_letter_for
from workers.services import get_services
from workers.tasks import FETCH_ARTICLE, POLL_FEED


@app.task(name=POLL_FEED, bind=True, ignore_result=True)
def poll_feed(self: object, feed_id: str) -> int:
    services = get_services()
    result = services.poller.poll(feed_id, now=time.time())
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
            )
        )
    for entry in result.new_entries:
        app.send_task(FETCH_ARTICLE, args=[entry.model_dump(mode="json")])
    return len(result.new_entries)
