"""Everything entering a message or a document is validated; what fails is dead-lettered.

The failure handling of the stages runs here in this process, on a real Redis,
with a real task object given a request context (nothing crosses a process
boundary; tests/e2e/test_hostile_e2e.py sends the same invalid messages to a
real worker).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
from celery import Task
from celery.exceptions import TimeLimitExceeded

from schemas import DeadLetter, Document, FeedSource
from tests.support.http_server import FixtureHttpServer
from tests.support.streams import read_stream
from workers.keys import Keys
from workers.registry.store import FeedRegistry
from workers.settings import Settings


def dead_letters(client: redis.Redis, keys: Keys) -> list[DeadLetter]:
    return [
        DeadLetter.model_validate_json(fields[b"record"])
        for _, fields in read_stream(client, keys.deadletter_stream)
    ]


@pytest.fixture(autouse=True)
def fresh_services(settings: Settings) -> Iterator[None]:
    """The stages' services built from this test's settings (its key prefix)."""
    from workers.services import reset_services

    reset_services()
    yield
    reset_services()


@pytest.fixture
def fetch_task(settings: Settings) -> Iterator[Task]:
    """The real fetch task, with a request context as a worker would give it."""
    from workers.tasks.fetch import fetch_article  # the app reads the fixture's settings

    fetch_article.push_request(retries=0, called_directly=False)
    yield fetch_article
    fetch_article.pop_request()


VALID_ENTRY: dict[str, Any] = {
    "doc_id": "a" * 32,
    "feed": {"id": "f", "url": "https://news.example/rss"},
    "url": "https://news.example/a",
    "canonical_url": "https://news.example/a",
    "discovered_at": "2024-01-01T00:00:00Z",
}


@pytest.mark.parametrize(
    ("payload", "doc_id"),
    [
        ({"doc_id": "x"}, None),  # not an entry at all; its doc_id is no id
        ({**VALID_ENTRY, "extra": 1}, "a" * 32),  # unknown field
        ({**VALID_ENTRY, "title": "bad \ud800"}, "a" * 32),  # not encodable as UTF-8
        ({**VALID_ENTRY, "summary": "s" * 9000}, "a" * 32),  # over the summary bound
        ({**VALID_ENTRY, "published_at": "2024-01-01T00:00:00"}, "a" * 32),  # naive date
        ("not even a mapping", None),
    ],
)
def test_invalid_task_messages_are_dead_lettered_with_the_fields_at_fault(
    fetch_task: Task, redis_client: redis.Redis, keys: Keys, payload: Any, doc_id: str | None
) -> None:
    from workers.tasks.messages import entry_of_message

    assert entry_of_message(fetch_task, payload, stage="fetch", payload={"entry": payload}) is None
    [dead] = dead_letters(redis_client, keys)
    assert (dead.stage, dead.reason, dead.error_class) == ("fetch", "schema", "SchemaViolation")
    assert dead.permanent and dead.attempts == 1 and dead.doc_id == doc_id
    assert "fails its schema" in dead.message
    DeadLetter.model_validate_json(dead.model_dump_json())  # the record itself is valid JSON


def test_a_valid_message_passes(fetch_task: Task, redis_client: redis.Redis, keys: Keys) -> None:
    from workers.tasks.messages import entry_of_message

    entry = entry_of_message(fetch_task, VALID_ENTRY, stage="fetch", payload={})
    assert entry is not None and entry.doc_id == "a" * 32
    assert dead_letters(redis_client, keys) == []


def test_an_invalid_document_is_dead_lettered_at_once_not_retried(
    fetch_task: Task, redis_client: redis.Redis, keys: Keys
) -> None:
    from workers.tasks.failures import run_stage

    def work() -> Document:
        # A document whose id is no document id: the contract refuses to make it.
        return Document.model_validate({"id": "../../etc", "text": ""})

    result = run_stage(
        fetch_task, work, stage="process", payload={"entry": VALID_ENTRY}, doc_id="a" * 32
    )
    assert result is None  # given up, no Retry raised
    [dead] = dead_letters(redis_client, keys)
    assert (dead.stage, dead.reason, dead.permanent) == ("process", "schema", True)
    assert "process result fails its schema" in dead.message and "id" in dead.message


def test_refused_feed_items_are_dead_lettered_capped_per_poll(
    settings: Settings, redis_client: redis.Redis, keys: Keys, http_server: FixtureHttpServer
) -> None:
    from workers.polling.report import MAX_REJECTED_ITEMS_RECORDED, record_poll_problems
    from workers.services import get_services
    from workers.tasks import POLL_FEED

    links = [f"javascript:steal({n})" for n in range(50)]
    links += ["file:///etc/shadow", "https://news.example/fine", ""]
    items = "".join(f"<item><title>{n}</title><link>{u}</link></item>" for n, u in enumerate(links))
    http_server.route(
        "/feed", f'<?xml version="1.0"?><rss version="2.0"><channel>{items}</channel></rss>'
    )
    source = FeedSource.model_validate({"id": "f", "url": http_server.url("/feed"), "title": "F"})
    FeedRegistry(redis_client, keys).sync([source], now=0)
    services = get_services()
    result = services.poller.poll("f", now=datetime.now(UTC).timestamp())
    assert [e.url for e in result.new_entries] == ["https://news.example/fine"]
    assert len(result.rejected) == 52  # 50 scripts, the file link, the empty link
    record_poll_problems(services.deadletters, result, task_name=POLL_FEED, task_id=None)
    records = dead_letters(redis_client, keys)
    assert len(records) == MAX_REJECTED_ITEMS_RECORDED  # a flood stays a trickle
    assert {(d.stage, d.reason, d.feed_id) for d in records} == {("poll", "scheme", "f")}


def test_a_hard_time_limit_is_dead_lettered_once_from_the_main_process(
    fetch_task: Task, redis_client: redis.Redis, keys: Keys
) -> None:
    for _ in range(2):  # the requeued message killed again: still one record
        fetch_task.on_failure(TimeLimitExceeded(10.0), "task-1", [VALID_ENTRY], {}, None)
    (record,) = dead_letters(redis_client, keys)
    assert (record.reason, record.stage, record.doc_id) == ("time_limit", "fetch", "a" * 32)


def test_a_hard_time_limit_with_redis_away_does_not_stall_the_main_process(
    fetch_task: Task,
    redis_client: redis.Redis,
    keys: Keys,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """on_failure runs in the worker's event loop: with Redis down, the record is given
    up at once (the requeued message counts one more delivery) instead of retried."""
    from workers.clients import reset_clients
    from workers.settings import get_settings

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("NEWSWIRE_REDIS_URL", f"redis://127.0.0.1:{port}/0")
    get_settings.cache_clear()
    reset_clients()
    started = time.monotonic()
    fetch_task.on_failure(TimeLimitExceeded(10.0), "task-2", [VALID_ENTRY], {}, None)
    assert time.monotonic() - started < 2.0
    assert "could not dead-letter its hard time limit" in caplog.text
    assert dead_letters(redis_client, keys) == []
