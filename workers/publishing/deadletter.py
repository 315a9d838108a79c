"""The dead-letter stream: work given up for good, with what is needed to replay it.

Recording a document as dead-lettered also marks it seen (unless it was
already published) and clears its in-flight marker, so the next poll does not
fetch it again and again; replay clears the mark.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, cast

import redis

from schemas import DeadLetter
from schemas.deadletter import Stage
from workers.dedup.seen import SeenRecord
from workers.errors import NewswireError
from workers.keys import Keys, seen_field

log = logging.getLogger(__name__)


def dead_letter_for(
    error: BaseException,
    *,
    stage: Stage,
    task_name: str,
    task_args: dict[str, Any],
    attempts: int,
    doc_id: str | None = None,
    feed_id: str | None = None,
    url: str | None = None,
) -> DeadLetter:
    """Build the record of a failure; any exception maps onto the error tree's fields."""
    if isinstance(error, NewswireError):
        error_class, reason, permanent = type(error).__name__, error.reason, not error.retryable
    else:
        error_class, reason, permanent = type(error).__name__, "unexpected", False
    return DeadLetter(
        stage=stage,
        error_class=error_class,
        reason=reason,
        message=_encodable(str(error)[:2000]) or error_class,
        permanent=permanent,
        attempts=attempts,
        doc_id=doc_id,
        feed_id=feed_id,
        url=_encodable(url) if url is not None else None,
        task_name=task_name,
        task_args=task_args,
        failed_at=datetime.now(UTC),
    )


def _encodable(text: str) -> str:
    """Text quoted from hostile input, with what UTF-8 cannot carry replaced."""
    return text.encode("utf-8", "replace").decode("utf-8")


class DeadLetterSink:
    def __init__(self, client: redis.Redis, keys: Keys, *, maxlen: int) -> None:
        self._redis = client
        self._keys = keys
        self._maxlen = maxlen

    def record(self, dead: DeadLetter) -> str:
        """Append to the dead-letter stream; returns the stream entry id."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.xadd(
            self._keys.deadletter_stream,
            {
                "stage": dead.stage,
                "reason": dead.reason,
                "doc_id": dead.doc_id or "",
                "feed_id": dead.feed_id or "",
                "record": dead.model_dump_json(),
            },
            maxlen=self._maxlen,
            approximate=True,
        )
        if dead.doc_id:
            # HSETNX: a document already published keeps its published record.
            pipe.hsetnx(
                self._keys.seen_bucket(dead.doc_id),
                seen_field(dead.doc_id),
                SeenRecord("deadlettered").encode(),
            )
            pipe.delete(self._keys.inflight(dead.doc_id))
        entry_id: bytes = pipe.execute()[0]
        log.warning(
            "dead-lettered %s stage=%s reason=%s doc=%s feed=%s: %s",
            dead.error_class, dead.stage, dead.reason, dead.doc_id, dead.feed_id, dead.message,
        )  # fmt: skip
        return entry_id.decode()

    def latest(self, count: int = 100) -> list[tuple[str, DeadLetter]]:
        rows = cast(
            list[tuple[bytes, dict[bytes, bytes]]],
            self._redis.xrevrange(self._keys.deadletter_stream, count=count),
        )
        return [
            (entry_id.decode(), DeadLetter.model_validate_json(fields[b"record"]))
            for entry_id, fields in rows
        ]
