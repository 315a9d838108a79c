"""Reading a Newswire stream as a consumer group: claim stuck entries, read new ones, ack.

At-least-once: an entry stays pending until acknowledged; entries another
consumer of the group held for longer than `min_idle_ms` are claimed first.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import cast

import redis

from schemas import Document


@dataclass(frozen=True)
class StreamEntry:
    stream: str
    entry_id: str
    fields: dict[str, str]

    def document(self) -> Document:
        return Document.model_validate_json(self.fields["doc"])


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class GroupReader:
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
        self._min_idle_ms = min_idle_ms
        self._ensure_group(start_id)

    def _ensure_group(self, start_id: str) -> None:
        try:
            self._redis.xgroup_create(self.stream, self.group, id=start_id, mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def read(self, count: int = 10, block_ms: int | None = 1000) -> list[StreamEntry]:
        """Stuck entries of dead consumers first, then new ones."""
        claimed = self._claim(count)
        if claimed:
            return claimed
        rows = self._redis.xreadgroup(
            self.group, self.consumer, {self.stream: ">"}, count=count, block=block_ms
        )
        streams = cast(list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]], rows or [])
        return [entry for _, entries in streams for entry in self._entries(entries)]

    def _claim(self, count: int) -> list[StreamEntry]:
        result = self._redis.xautoclaim(
            self.stream, self.group, self.consumer, self._min_idle_ms, "0-0", count=count
        )
        claimed = cast(list[tuple[bytes, dict[bytes, bytes]]], cast(list[object], result)[1])
        return self._entries(claimed)

    def _entries(self, rows: list[tuple[bytes, dict[bytes, bytes]]]) -> list[StreamEntry]:
        return [
            StreamEntry(
                self.stream,
                entry_id.decode(),
                {k.decode(): v.decode() for k, v in fields.items()},
            )
            for entry_id, fields in rows
            if fields  # a claimed entry trimmed away arrives without fields
        ]

    def ack(self, *entry_ids: str) -> int:
        return int(self._redis.xack(self.stream, self.group, *entry_ids)) if entry_ids else 0
