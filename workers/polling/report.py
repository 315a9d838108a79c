"""What a poll leaves on the dead-letter stream: the feed's failure, and its hostile items.

A feed that stays broken is reported once per streak of errors, not at every poll;
retryable errors (timeouts, 5xx) only on the feed's status. Items refused for their
URL (a file: or private link) or their data (schema) exist only in a changed feed
body, which alone is parsed, so each is recorded when it appears, at most
MAX_REJECTED_ITEMS_RECORDED a poll: a hostile feed of ten thousand javascript:
links must not flood the stream. Items that merely lack a link are feed quirks,
logged by the poller, not dead letters.
"""

from __future__ import annotations

from workers.errors import RefusedURL, SchemaViolation
from workers.polling.poll import PollResult
from workers.publishing.deadletter import DeadLetterSink, dead_letter_for

MAX_REJECTED_ITEMS_RECORDED = 20


def record_poll_problems(
    sink: DeadLetterSink, result: PollResult, *, task_name: str, task_id: str | None
) -> None:
    feed_id = result.feed_id
    args = {"feed_id": feed_id}
    error = result.error
    if error is not None and result.first_error_of_streak and not error.retryable:
        sink.record(
            dead_letter_for(
                error, stage="poll", task_name=task_name, task_args=args, attempts=1,
                feed_id=feed_id,
            ),
            task_id=task_id,
        )  # fmt: skip
    hostile = [p for p in result.rejected if isinstance(p.error, RefusedURL | SchemaViolation)]
    for problem in hostile[:MAX_REJECTED_ITEMS_RECORDED]:
        sink.record(
            dead_letter_for(
                problem.error, stage="poll", task_name=task_name, task_args=args, attempts=1,
                feed_id=feed_id, url=(problem.item.link or "")[:2000] or None,
            )
        )  # fmt: skip
