"""The optional list sink (NEWSWIRE_LIST_SINK): pushed in the idempotent publish step."""

from __future__ import annotations

import json
from typing import cast

import pytest
import redis

from schemas import Document
from tests.support.documents import numbered_document
from workers.keys import Keys
from workers.publishing.streams import StreamPublisher
from workers.services import Services
from workers.settings import Settings, get_settings


def items(client: redis.Redis, keys: Keys) -> list[bytes]:
    """The list, oldest first (the order BRPOP hands them out)."""
    return list(reversed(cast(list[bytes], client.lrange(keys.documents_list, 0, -1))))


def test_ids_mode_pushes_each_publication_once(redis_client: redis.Redis, keys: Keys) -> None:
    publisher = StreamPublisher(redis_client, keys, maxlen=1000, list_sink="ids")
    first = publisher.publish(numbered_document(1))
    assert publisher.publish(numbered_document(1)).status == "duplicate"  # a re-run
    revised = publisher.publish(numbered_document(1, text="Corrected article text."))
    assert revised.document.revision == 2
    references = [json.loads(item) for item in items(redis_client, keys)]
    assert references == [
        {"id": numbered_document(1).id, "revision": 1, "entry_id": first.entry_id},
        {"id": numbered_document(1).id, "revision": 2, "entry_id": revised.entry_id},
    ]
    popped = cast(tuple[bytes, bytes], redis_client.brpop([keys.documents_list], timeout=1))
    assert json.loads(popped[1])["revision"] == 1  # first in, first out


def test_documents_mode_pushes_the_document(redis_client: redis.Redis, keys: Keys) -> None:
    publisher = StreamPublisher(redis_client, keys, maxlen=1000, list_sink="documents")
    published = publisher.publish(numbered_document(7)).document
    [item] = items(redis_client, keys)
    assert Document.model_validate_json(item) == published


def test_the_list_is_capped_dropping_the_oldest(redis_client: redis.Redis, keys: Keys) -> None:
    publisher = StreamPublisher(
        redis_client, keys, maxlen=1000, list_sink="ids", list_sink_maxlen=5
    )
    for number in range(8):
        publisher.publish(numbered_document(number))
    kept = [json.loads(item)["id"] for item in items(redis_client, keys)]
    assert kept == [numbered_document(n).id for n in range(3, 8)]


def test_off_by_default(redis_client: redis.Redis, keys: Keys) -> None:
    StreamPublisher(redis_client, keys, maxlen=1000).publish(numbered_document(1))
    assert redis_client.xlen(keys.documents_stream) == 1
    assert not redis_client.exists(keys.documents_list)


def test_the_setting_reaches_the_workers_publisher(
    settings: Settings, redis_client: redis.Redis, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert settings.list_sink == "off"
    monkeypatch.setenv("NEWSWIRE_LIST_SINK", "documents")
    monkeypatch.setenv("NEWSWIRE_LIST_SINK_MAXLEN", "2")
    get_settings.cache_clear()
    services = Services(get_settings(), redis_client)
    for number in range(3):
        services.publisher.publish(numbered_document(number))
    assert redis_client.llen(keys.documents_list) == 2
