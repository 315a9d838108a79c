"""Hostile input end to end: real worker and beat processes, real Redis, real HTTP.

One feed mixes a good article with hostile items (script and file links, links
to the metadata service and to IPv6 loopback, a brotli bomb, a page that never
ends), and invalid task messages are put on the queues by hand. The good
article becomes a document; every other item ends on the dead-letter stream
once, with its stage and typed reason; the workers keep running.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import brotli
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
from workers.tasks import FETCH_ARTICLE, PROCESS_ARTICLE

pytestmark = pytest.mark.e2e

SAMPLE_PAGE = REPO_ROOT / "seeds" / "demo" / "pages" / "kim-putin-arms-fr.html"


def hostile_feed(base: str, port: int) -> str:
    links = [
        f"{base}/article/good",
        "javascript:alert(document.cookie)",
        "file:///etc/passwd",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        f"http://[::1]:{port}/admin",
        f"{base}/article/bomb",
        f"{base}/article/endless",
    ]
    items = "".join(
        f"<item><title>Item {n}</title><link>{link.replace('&', '&amp;')}</link>"
        f"<guid>item-{n}</guid></item>"
        for n, link in enumerate(links)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Hostile</title><language>fr</language>{items}</channel></rss>"
    )


@pytest.fixture
def services(settings: Settings, tmp_path: Path) -> Iterator[Supervisor]:
    env = {
        "NEWSWIRE_DISPATCH_EVERY_SECONDS": "1",
        # Give up at the first failure, so that transient ones are dead-lettered now.
        "NEWSWIRE_MAX_RETRIES": "0",
        "NEWSWIRE_HTTP_TOTAL_DEADLINE": "3",
        "NEWSWIRE_ARTICLE_MAX_BYTES": str(2**20),
        "NEWSWIRE_HOST_MIN_INTERVAL_SECONDS": "0",
    }
    with supervised(env, tmp_path / "logs") as supervisor:
        supervisor.start("worker", worker_command("all", settings, concurrency=2))
        supervisor.start("beat", beat_command(settings))
        yield supervisor


def endless() -> Iterator[bytes]:
    for _ in itertools.count():
        time.sleep(0.05)
        yield b"<p>" + b"x" * 1000 + b"</p>"


def test_hostile_items_and_messages_are_dead_lettered_and_the_rest_published(
    services: Supervisor,
    settings: Settings,
    http_server: FixtureHttpServer,
    redis_client: redis.Redis,
    keys: Keys,
) -> None:
    base = http_server.base_url
    http_server.route("/feed.xml", hostile_feed(base, http_server.port))
    http_server.route("/article/good", SAMPLE_PAGE.read_bytes(),
                      headers={"Content-Type": "text/html; charset=utf-8"})  # fmt: skip
    bomb = brotli.compress(b"\0" * 64 * 2**20)
    http_server.route("/article/bomb", bomb, headers={"Content-Encoding": "br"})
    http_server.route("/article/endless", chunks=endless)
    FeedRegistry(redis_client, keys).sync(
        [FeedSource.model_validate({"id": "hostile", "url": f"{base}/feed.xml", "title": "H"})],
        now=time.time(),
    )

    # Messages no stage of ours would send: a foreign shape, an unknown field, and text
    # JSON can carry but UTF-8 cannot.
    from workers.app import create_app  # importing the app needs the settings fixture's env

    producer = create_app(settings)
    good_entry = {
        "doc_id": "e" * 32,
        "feed": {"id": "hostile", "url": f"{base}/feed.xml"},
        "url": f"{base}/article/good",
        "canonical_url": f"{base}/article/good",
        "discovered_at": "2024-01-01T00:00:00Z",
    }
    producer.send_task(FETCH_ARTICLE, args=[{"doc_id": "not-an-entry", "url": 42}])
    producer.send_task(PROCESS_ARTICLE, args=[{**good_entry, "injected": "<script>"}])
    producer.send_task(FETCH_ARTICLE, args=[{**good_entry, "title": "broken \ud800 text"}])

    expected = Counter(
        {
            ("poll", "scheme"): 2,  # javascript: and file: links, refused as items
            ("fetch", "private_address"): 2,  # metadata service, IPv6 loopback
            ("fetch", "too_large"): 1,  # the brotli bomb
            ("fetch", "deadline"): 1,  # the endless page
            ("fetch", "schema"): 2,  # the foreign message, the surrogate
            ("process", "schema"): 1,  # the unknown field
        }
    )

    def dead_letters() -> list[DeadLetter]:
        return [
            DeadLetter.model_validate_json(fields[b"record"])
            for _, fields in read_stream(redis_client, keys.deadletter_stream)
        ]

    def settled() -> bool:
        return redis_client.xlen(keys.documents_stream) >= 1 and len(dead_letters()) >= sum(
            expected.values()
        )

    wait_until(settled, services, timeout=150)
    time.sleep(2)  # anything more (a duplicate, a retry) would show up now

    records = dead_letters()
    assert Counter((d.stage, d.reason) for d in records) == expected, records
    by_reason = {d.reason: d for d in records}
    assert by_reason["too_large"].permanent and by_reason["private_address"].permanent
    assert not by_reason["deadline"].permanent  # transient, out of retries
    # The refused links, as feedparser gives them (it writes file:///x as file://x).
    assert sorted((d.url or "").split(":")[0] for d in records if d.stage == "poll") == [
        "file",
        "javascript",
    ]
    assert all(d.error_class == "SchemaViolation" for d in records if d.reason == "schema")
    [(_, fields)] = read_stream(redis_client, keys.documents_stream)
    document = Document.model_validate_json(fields[b"doc"])
    assert document.url == f"{base}/article/good"
    assert not services.dead()
