"""One consumer of one consumer group on one stream: the Redis commands, typed.

At-least-once: an entry stays pending in the group until it is acknowledged.
Entries any consumer of the group has held for longer than `min_idle_ms` are
claimed with XAUTOCLAIM (a dead consumer's, or our own that a handler failed
on), and every entry read carries how many times the group has delivered it.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, replace
from typing import cast

import redis

from schemas import Document

log = logging.getLogger(__name__)

Row = tuple[bytes | None, dict[bytes, bytes] | None]


@dataclass(frozen=True)
class StreamEntry:
    """One stream entry as delivered to this consumer."""

    stream: str
    entry_id: str
    fields: dict[str, str]
    deliveries: int = 1  # times the group has delivered it, this delivery included

    def document(self) -> Document:
        """The `doc` field as a Document; raises InvalidStreamEntry (see validation.py)."""
        from workers.consumer.validation import parse_document

        return parse_document(self)


def default_consumer_name() -> str:
    """Unique per process: host name and pid."""
    return f"{socket.gethostname()}-{os.getpid()}"


def stream_id(entry_id: str) -> tuple[int, int]:
    """A stream entry id ("1700000000000-3") as a tuple that sorts like the stream."""
    millis, _, sequence = entry_id.partition("-")
    return int(millis), int(sequence or 0)


class GroupReader:
    """Reads, claims and acknowledges the entries of `stream` for `consumer` in `group`.

    The group is created when missing (XGROUP CREATE ... MKSTREAM), starting at
    `start_id`: "0" = every entry the stream still holds, "$" = only new ones.
    Creating it again is harmless: an existing group keeps its position.
    """

    def __init__(
        self,
        client: redis.Redis,
        stream: str,
        group: str,
        consumer: str | None = None,
        *,
        start_id: str = "0",
        min_idle_ms: int = 60_000,
    ) -> None:
        self._redis = client
        self.stream = stream
        self.group = group
        self.consumer = consumer or default_consumer_name()
        self.min_idle_ms = min_idle_ms
        self._claim_cursor = "0-0"
        self.ensure_group(start_id)

    def ensure_group(self, start_id: str = "0") -> bool:
        """Create the group if missing; True when this call created it."""
        try:
            self._redis.xgroup_create(self.stream, self.group, id=start_id, mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
            return False
        return True

    def read(self, count: int = 10, block_ms: int | None = 1000) -> list[StreamEntry]:
        """Stuck entries first, else new ones (waiting up to `block_ms` for them)."""
        return self.claim_stuck(count) or self.read_new(count, block_ms)

    def read_new(self, count: int, block_ms: int | None) -> list[StreamEntry]:
        """Entries never delivered to the group before (XREADGROUP >)."""
        rows = self._redis.xreadgroup(
            self.group, self.consumer, {self.stream: ">"}, count=count, block=block_ms
        )
        return self._entries(_stream_rows(rows))

    def read_mine(self, count: int, after: str = "0") -> list[StreamEntry]:
        """This consumer's own pending entries after `after` (a restart under the same name)."""
        rows = self._redis.xreadgroup(self.group, self.consumer, {self.stream: after}, count=count)
        mine = _stream_rows(rows)
        self._forget_trimmed(mine)
        return self._with_deliveries(self._entries(mine))

    def claim_stuck(self, count: int) -> list[StreamEntry]:
        """Take over entries idle for `min_idle_ms` or more (XAUTOCLAIM), oldest first."""
        result = cast(
            list[object],
            self._redis.xautoclaim(
                self.stream,
                self.group,
                self.consumer,
                self.min_idle_ms,
                self._claim_cursor,
                count=count,
            ),
        )
        cursor = cast(bytes, result[0]).decode()
        rows = cast(list[Row], result[1])
        # Redis 7 drops trimmed entries from the group itself and lists them; 6.2 returns
        # them as empty rows and keeps them pending.
        trimmed = len(cast(list[object], result[2])) if len(result) > 2 else 0
        if trimmed:
            log.warning("%d pending entries of %s were trimmed before being handled",
                        trimmed, self.stream)  # fmt: skip
        self._forget_trimmed(rows)
        self._claim_cursor = cursor  # "0-0" once a pass over the pending entries is complete
        return self._with_deliveries(self._entries(rows))

    def ack(self, *entry_ids: str) -> int:
        return int(self._redis.xack(self.stream, self.group, *entry_ids)) if entry_ids else 0

    def pending_count(self) -> int:
        """Entries delivered to the group and not acknowledged yet (by any consumer)."""
        summary = cast(dict[str, object], self._redis.xpending(self.stream, self.group))
        return int(cast(int, summary["pending"]))

    def drop_trimmed(self) -> int:
        """Acknowledge our pending entries that the stream's cap trimmed away; their number."""
        first = cast(list[tuple[bytes, object]], self._redis.xrange(self.stream, count=1))
        oldest_kept = stream_id(first[0][0].decode()) if first else None
        gone: list[str] = []
        pending = cast(
            list[dict[str, object]],
            self._redis.xpending_range(
                self.stream, self.group, "-", "+", 1000, consumername=self.consumer
            ),
        )
        for row in pending:
            entry_id = cast(bytes, row["message_id"]).decode()
            if oldest_kept is None or stream_id(entry_id) < oldest_kept:
                gone.append(entry_id)
        if gone:
            log.warning("%d pending entries of %s were trimmed before being handled; "
                        "acknowledged", len(gone), self.stream)  # fmt: skip
        return self.ack(*gone)

    def _forget_trimmed(self, rows: list[Row]) -> None:
        """Acknowledge pending entries returned without fields: the stream no longer has them."""
        if any(entry_id is None for entry_id, _ in rows):  # Redis 6.2 XAUTOCLAIM: no id either
            self.drop_trimmed()
            return
        gone = [entry_id.decode() for entry_id, fields in rows if entry_id and not fields]
        if gone:
            log.warning("%d pending entries of %s were trimmed before being handled; "
                        "acknowledged", len(gone), self.stream)  # fmt: skip
            self.ack(*gone)

    def _entries(self, rows: list[Row]) -> list[StreamEntry]:
        return [
            StreamEntry(
                self.stream,
                entry_id.decode(),
                {k.decode(): v.decode() for k, v in fields.items()},
            )
            for entry_id, fields in rows
            if entry_id is not None and fields  # none: trimmed away
        ]

    def _with_deliveries(self, entries: list[StreamEntry]) -> list[StreamEntry]:
        """The entries with their delivery counts (one XPENDING per entry, one round trip)."""
        if not entries:
            return entries
        pipe = self._redis.pipeline(transaction=False)
        for entry in entries:
            pipe.xpending_range(
                self.stream, self.group, entry.entry_id, entry.entry_id, 1, self.consumer
            )
        counts = cast(list[list[dict[str, object]]], pipe.execute())
        return [
            replace(entry, deliveries=int(cast(int, rows[0]["times_delivered"]))) if rows else entry
            for entry, rows in zip(entries, counts, strict=True)
        ]


def _stream_rows(reply: object) -> list[Row]:
    """The entries of an XREADGROUP reply for one stream."""
    streams = cast(list[tuple[bytes, list[Row]]], reply or [])
    return [row for _, rows in streams for row in rows]
