"""The dead-letter stream: work given up for good, with what is needed to replay it.

Recording a document as dead-lettered also marks it seen (unless it was
already published) and clears its in-flight marker, so the next poll does not
fetch it again and again; replay clears the mark.

A record can name the message it gives up (its task id): the record and a marker
of that message are written in one atomic step, so a message redelivered after
its worker died between giving up and acknowledging (or requeued by a hard time
limit) is recognised and dropped, and is never dead-lettered twice.
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


# KEYS: dead-letter stream, given-up marker, seen bucket, in-flight marker (the last
#       three only read when their ARGV says so)
# ARGV: maxlen, marker TTL ('' = no marker), seen field ('' = no document), seen record,
#       stream fields...
_RECORD = """
if ARGV[2] ~= '' then
  if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2]) then return false end
end
local fields = {}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
local entry_id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(fields))
if ARGV[3] ~= '' then
  -- HSETNX: a document already published keeps its published record.
  redis.call('HSETNX', KEYS[3], ARGV[3], ARGV[4])
  redis.call('DEL', KEYS[4])
end
return entry_id
"""


class DeadLetterSink:
    def __init__(self, client: redis.Redis, keys: Keys, *, maxlen: int) -> None:
        self._redis = client
        self._keys = keys
        self._maxlen = maxlen
        self._record = client.register_script(_RECORD)

    def record(
        self, dead: DeadLetter, *, task_id: str | None = None, marker_ttl: int = 86400
    ) -> str | None:
        """Append to the dead-letter stream; returns the stream entry id.

        With `task_id`, at most once per task id: None when that message was
        already dead-lettered (within `marker_ttl` seconds).
        """
        stream = self._keys.deadletter_stream
        marker = self._keys.given_up(task_id) if task_id else stream
        doc_id = dead.doc_id or ""
        keys = [
            stream,
            marker,
            self._keys.seen_bucket(doc_id) if doc_id else stream,
            self._keys.inflight(doc_id) if doc_id else stream,
        ]
        args: list[str | int | bytes] = [
            self._maxlen,
            marker_ttl if task_id else "",
            seen_field(doc_id) if doc_id else "",
            SeenRecord("deadlettered").encode(),
            "stage", dead.stage,
            "reason", dead.reason,
            "doc_id", doc_id,
            "feed_id", dead.feed_id or "",
            "record", dead.model_dump_json(),
        ]  # fmt: skip
        entry_id = cast(bytes | None, self._record(keys=keys, args=args))
        if entry_id is None:
            log.info("task %s was already dead-lettered; not recorded again", task_id)
            return None
        log.warning(
            "dead-lettered %s stage=%s reason=%s doc=%s feed=%s: %s",
            dead.error_class, dead.stage, dead.reason, dead.doc_id, dead.feed_id, dead.message,
        )  # fmt: skip
        return entry_id.decode()

    def given_up(self, task_id: str) -> bool:
        """Whether the message with this task id was dead-lettered already."""
        return bool(self._redis.exists(self._keys.given_up(task_id)))

    def latest(self, count: int = 100) -> list[tuple[str, DeadLetter]]:
        rows = cast(
            list[tuple[bytes, dict[bytes, bytes]]],
            self._redis.xrevrange(self._keys.deadletter_stream, count=count),
        )
        return [
            (entry_id.decode(), DeadLetter.model_validate_json(fields[b"record"]))
            for entry_id, fields in rows
        ]
