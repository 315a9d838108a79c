"""Fetched pages, kept briefly in Redis between the fetch and process stages.

Broker messages carry ids and small JSON only; the page itself waits here,
zlib-compressed, with a TTL so an abandoned page cannot pin memory.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict, dataclass
from typing import cast

import redis

from workers.errors import RawContentMissing
from workers.keys import Keys


@dataclass(frozen=True)
class PageMeta:
    """HTTP facts about a fetched page, carried into the document's provenance."""

    final_url: str
    status: int
    content_type: str | None
    fetched_at: float
    fetch_ms: float
    size: int


@dataclass(frozen=True)
class RawPage:
    body: bytes
    meta: PageMeta


class RawPageStore:
    def __init__(self, client: redis.Redis, keys: Keys, *, ttl_seconds: int) -> None:
        self._redis = client
        self._keys = keys
        self._ttl = ttl_seconds

    def put(self, doc_id: str, page: RawPage) -> None:
        key = self._keys.raw_page(doc_id)
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(
            key,
            mapping={
                "body": zlib.compress(page.body, level=3),
                "meta": json.dumps(asdict(page.meta)),
            },
        )
        pipe.expire(key, self._ttl)
        pipe.execute()

    def get(self, doc_id: str) -> RawPage:
        fields = cast(dict[bytes, bytes], self._redis.hgetall(self._keys.raw_page(doc_id)))
        if b"body" not in fields:
            raise RawContentMissing(
                f"raw page of document {doc_id} is gone (expired or never stored)"
            )
        meta = PageMeta(**json.loads(fields[b"meta"]))
        return RawPage(zlib.decompress(fields[b"body"]), meta)

    def delete(self, doc_id: str) -> None:
        self._redis.delete(self._keys.raw_page(doc_id))
