"""Fetched pages, kept briefly in Redis between the fetch and process stages.

Broker messages carry ids and small JSON only; the page itself waits here,
compressed, with a TTL so an abandoned page cannot pin memory. LZ4 rather than
zlib: on 180 KB news pages it compresses in 0.4 ms instead of 2.1 ms (a third
of HTML's size instead of a quarter), and every millisecond here is taken from
extraction on a busy host (BENCHMARKS.md, "Pipeline throughput"). Pages
written by an older version (zlib, no `codec` field) are still read.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict, dataclass
from typing import cast

import lz4.frame
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
                "body": lz4.frame.compress(page.body),
                "codec": "lz4",
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
        codec = fields.get(b"codec", b"zlib")
        body = (
            lz4.frame.decompress(fields[b"body"])
            if codec == b"lz4"
            else zlib.decompress(fields[b"body"])
        )
        return RawPage(body, meta)

    def delete(self, doc_id: str) -> None:
        self._redis.delete(self._keys.raw_page(doc_id))
