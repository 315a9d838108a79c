"""The raw page store: compressed pages with a TTL, legacy zlib pages still readable."""

import json
import zlib
from dataclasses import asdict

import pytest
import redis

from workers.errors import RawContentMissing
from workers.fetching.rawstore import PageMeta, RawPage, RawPageStore
from workers.keys import Keys

META = PageMeta("https://example.org/a", 200, "text/html", 1.0, 2.0, 3)
DOC_ID = "ab" * 16


def test_round_trip_with_ttl(redis_client: redis.Redis, keys: Keys) -> None:
    store = RawPageStore(redis_client, keys, ttl_seconds=600)
    body = "<html><body>Élysée</body></html>".encode() * 500
    store.put(DOC_ID, RawPage(body, META))
    assert 0 < redis_client.ttl(keys.raw_page(DOC_ID)) <= 600
    stored = redis_client.hget(keys.raw_page(DOC_ID), "body")
    assert isinstance(stored, bytes) and len(stored) < len(body) / 5
    assert store.get(DOC_ID) == RawPage(body, META)
    store.delete(DOC_ID)
    with pytest.raises(RawContentMissing):
        store.get(DOC_ID)


def test_pages_written_by_older_versions_are_read(redis_client: redis.Redis, keys: Keys) -> None:
    body = b"<html>older</html>"
    redis_client.hset(
        keys.raw_page(DOC_ID),
        mapping={"body": zlib.compress(body), "meta": json.dumps(asdict(META))},
    )
    assert RawPageStore(redis_client, keys, ttl_seconds=60).get(DOC_ID).body == body
