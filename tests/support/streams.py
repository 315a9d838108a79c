"""Reading streams in tests, typed (redis-py's own return types are loose unions)."""

from __future__ import annotations

from typing import cast

import redis

Entry = tuple[bytes, dict[bytes, bytes]]


def read_stream(client: redis.Redis, stream: str) -> list[Entry]:
    """Every entry of a stream, oldest first."""
    return cast(list[Entry], client.xrange(stream))


def stream_field(client: redis.Redis, stream: str, field: bytes) -> list[bytes]:
    return [fields[field] for _, fields in read_stream(client, stream)]
