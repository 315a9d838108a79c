"""The parked stream of a consumer group: entries the group gave up on, kept visible.

An entry is parked when it is not a valid Document, or when the group has
delivered it `max_deliveries` times without the handler succeeding. Parking
appends a record to `<prefix>:parked:<group>` and acknowledges the entry in
one MULTI/EXEC, so the entry is either still pending or parked, never lost.
Read them with `read_parked` (or XRANGE); delete what you have dealt with (XDEL).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, cast

import redis

from workers.consumer.reader import StreamEntry

ParkReason = Literal["invalid", "max_deliveries"]


@dataclass(frozen=True)
class ParkedEntry:
    """One record of the parked stream."""

    parked_id: str  # id of this record in the parked stream (for XDEL)
    stream: str  # where the entry came from
    entry_id: str  # its id there
    group: str
    consumer: str  # the consumer that gave up
    reason: ParkReason
    error: str
    deliveries: int
    parked_at: datetime
    fields: dict[str, str]  # the entry's own fields, `doc` included


def park(
    client: redis.Redis,
    parked_stream: str,
    *,
    group: str,
    consumer: str,
    entry: StreamEntry,
    reason: ParkReason,
    error: str,
    maxlen: int,
) -> str:
    """Record `entry` on the parked stream and acknowledge it, atomically; the record's id."""
    record = {
        "stream": entry.stream,
        "entry_id": entry.entry_id,
        "group": group,
        "consumer": consumer,
        "reason": reason,
        "error": error[:2000],
        "deliveries": str(entry.deliveries),
        "parked_at": datetime.now(UTC).isoformat(),
        "fields": json.dumps(entry.fields),
    }
    pipe = client.pipeline(transaction=True)
    pipe.xadd(parked_stream, record, maxlen=maxlen, approximate=True)  # type: ignore[arg-type]
    pipe.xack(entry.stream, group, entry.entry_id)
    parked_id, _ = cast(list[object], pipe.execute())
    return cast(bytes, parked_id).decode()


def read_parked(client: redis.Redis, parked_stream: str, count: int = 100) -> list[ParkedEntry]:
    """The oldest `count` parked records."""
    rows = cast(list[tuple[bytes, dict[bytes, bytes]]], client.xrange(parked_stream, count=count))
    return [_parked(entry_id.decode(), fields) for entry_id, fields in rows]


def _parked(parked_id: str, raw: dict[bytes, bytes]) -> ParkedEntry:
    fields = {k.decode(): v.decode() for k, v in raw.items()}
    return ParkedEntry(
        parked_id=parked_id,
        stream=fields["stream"],
        entry_id=fields["entry_id"],
        group=fields["group"],
        consumer=fields["consumer"],
        reason=cast(ParkReason, fields["reason"]),
        error=fields["error"],
        deliveries=int(fields["deliveries"]),
        parked_at=datetime.fromisoformat(fields["parked_at"]),
        fields=cast(dict[str, str], json.loads(fields["fields"])),
    )
