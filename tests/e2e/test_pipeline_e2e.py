"""End to end: a feed served over HTTP becomes a document on the stream, through real
Celery worker and beat processes and a real Redis. No eager mode, no fakes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from schemas import DeadLetter, Document, FeedSource
from tests.conftest import REPO_ROOT
from tests.support.http_server import FixtureHttpServer
from tests.support.processes import supervised, wait_until
from tests.support.streams import read_stream
from workers.keys import Keys
from workers.registry.store import FeedRegistry
from workers.runtime.supervisor import Supervisor, beat_command, worker_command
from workers.settings import Settings

pytestmark = pytest.mark.e2e

SAMPLE_PAGE = REPO_ROOT / "seeds" / "demo" / "pages" / "kim-putin-arms-fr.html"


def feed_xml(base: str) -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Monde</title><language>fr</language>
<item><title>Kim Jong Un en route vers la Russie</title>
<link>{base}/article/kim-putin?utm_source=rss</link><guid>kim-1</guid>
<pubDate>Mon, 11 Sep 2023 08:00:00 +0000</pubDate></item>
<item><title>Page disparue</title><link>{base}/article/gone</link><guid>gone-1</guid></item>
</channel></rss>"""


@pytest.fixture
def services(settings: Settings, tmp_path: Path) -> Iterator[Supervisor]:
    """One worker for all queues, and beat ticking every second."""
    env = {"NEWSWIRE_DISPATCH_EVERY_SECONDS": "1"}
    with supervised(env, tmp_path / "logs") as supervisor:
        supervisor.start("worker", worker_command("all", settings, concurrency=2))
        supervisor.start("beat", beat_command(settings))
        yield supervisor


def test_feed_to_stream(
    services: Supervisor,
    http_server: FixtureHttpServer,
    redis_client: redis.Redis,
    keys: Keys,
) -> None:
    http_server.route("/feed.xml", feed_xml(http_server.base_url), etag='"feed-v1"')
    http_server.route("/article/kim-putin?utm_source=rss", SAMPLE_PAGE.read_bytes(),
                      headers={"Content-Type": "text/html; charset=utf-8"})  # fmt: skip
    registry = FeedRegistry(redis_client, keys)
    source = FeedSource(id="monde", url=http_server.url("/feed.xml"), title="Monde", language="fr")
    registry.sync([source], now=time.time())

    def arrived() -> bool:
        return bool(
            redis_client.xlen(keys.documents_stream) >= 1
            and redis_client.xlen(keys.deadletter_stream) >= 1
        )

    wait_until(arrived, services, timeout=120)

    [(_, fields)] = read_stream(redis_client, keys.documents_stream)
    doc = Document.model_validate_json(fields[b"doc"])
    assert doc.language.code == "fr"
    assert len(doc.text) > 2000
    assert "Vladivostok" in doc.text
    assert {"arms_transfers", "sanctions"} <= set(doc.topic_ids)
    assert doc.canonical_url == http_server.url("/article/kim-putin")
    assert doc.feed.id == "monde"
    assert doc.extraction.source == "article_page"
    for topic in ("arms_transfers", "sanctions"):
        [(_, topic_fields)] = read_stream(redis_client, keys.topic_stream(topic))
        assert topic_fields[b"id"].decode() == doc.id

    [(_, dead_fields)] = read_stream(redis_client, keys.deadletter_stream)
    dead = DeadLetter.model_validate_json(dead_fields[b"record"])
    assert (dead.stage, dead.reason, dead.permanent) == ("fetch", "http_404", True)
    assert dead.url == http_server.url("/article/gone")
    assert dead.task_args["entry"]["doc_id"] == dead.doc_id

    # A second poll of the same feed adds nothing: 304 first, then a changed body
    # that still lists the same two articles.
    polls_before = http_server.hits("/feed.xml")
    redis_client.zadd(keys.feeds_due, {"monde": 0})
    wait_until(lambda: http_server.hits("/feed.xml") > polls_before, services, timeout=30)
    assert http_server.requests[-1].headers.get("if-none-match") == '"feed-v1"'
    http_server.route("/feed.xml", feed_xml(http_server.base_url) + "\n", etag='"feed-v2"')
    polls_before = http_server.hits("/feed.xml")
    redis_client.zadd(keys.feeds_due, {"monde": 0})
    wait_until(lambda: http_server.hits("/feed.xml") > polls_before, services, timeout=30)
    time.sleep(2)  # leave time for any (wrong) fetch and process to happen
    assert redis_client.xlen(keys.documents_stream) == 1
    assert redis_client.xlen(keys.deadletter_stream) == 1
    assert http_server.hits("/article/kim-putin?utm_source=rss") == 1
