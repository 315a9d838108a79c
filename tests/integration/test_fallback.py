"""When the page cannot give the article, the feed's summary stands in, marked as such.

A refused page (401, 402, 403, 451: paywall, login, legal) or a page with no
extractable text (a script-only shell) becomes a document built from the
feed's summary when it has at least NEWSWIRE_SUMMARY_FALLBACK_MIN_CHARS
characters; otherwise, and for pages that are gone (404, 410), the entry is
dead-lettered as before. The last test runs the real fetch and process tasks
in a real Celery worker.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from celery.exceptions import SoftTimeLimitExceeded

from schemas import DeadLetter, Document, FeedEntry, FeedRef, FeedSource
from tests.conftest import REPO_ROOT
from tests.support.http_server import FixtureHttpServer
from tests.support.streams import read_stream
from workers.dedup.neardup import NearDupIndex
from workers.dedup.seen import SeenStore
from workers.enrichment import Enricher
from workers.errors import ExtractionError, RawContentMissing
from workers.fetching.rawstore import PageMeta, RawPage, RawPageStore
from workers.keys import Keys
from workers.processing.pipeline import build_document_or_summary, build_summary_document
from workers.processing.stage import process_entry
from workers.publishing.streams import StreamPublisher
from workers.registry.store import FeedRegistry
from workers.runtime.supervisor import Supervisor, beat_command, worker_command
from workers.settings import Settings, get_settings

SUMMARY = (
    "Le gouvernement a annoncé mardi de nouvelles sanctions contre les exportateurs d'armes "
    "accusés d'avoir livré des obus d'artillerie et des missiles à la Russie, en violation "
    "de l'embargo décidé par le Conseil de sécurité. Les entreprises visées verront leurs "
    "avoirs gelés et leurs dirigeants interdits de séjour, a précisé le ministère."
)
JS_SHELL = (
    b"<!doctype html><html><head><title>Loading</title></head><body><div id='app'></div>"
    b"<script>window.__APP__ = {route: 'article'}; render(document.getElementById('app'))"
    b"</script></body></html>"
)


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher.from_seeds(get_settings().seeds_dir)


def entry(url: str, summary: str | None = SUMMARY) -> FeedEntry:
    return FeedEntry(
        doc_id="5" * 32,
        feed=FeedRef(id="monde", url="https://monde.example/rss", title="Monde"),
        url=url,
        canonical_url=url,
        title="Nouvelles sanctions contre des exportateurs d'armes",
        summary=summary,
        language="fr",
        discovered_at=datetime.now(UTC),
    )


def page(body: bytes, status: int = 200) -> RawPage:
    meta = PageMeta(
        final_url="https://monde.example/a", status=status, content_type="text/html",
        fetched_at=time.time(), fetch_ms=12.5, size=len(body),
    )  # fmt: skip
    return RawPage(body, meta)


def test_a_page_without_text_gives_way_to_the_summary(enricher: Enricher) -> None:
    doc = build_document_or_summary(
        entry("https://monde.example/a"), page(JS_SHELL), enricher, summary_min_chars=200
    )
    assert doc.text == SUMMARY
    assert doc.extraction.source == "feed_summary"
    assert doc.extraction.fallback_reason == "no_text"
    # What was fetched stays in the provenance.
    assert (doc.extraction.http_status, doc.extraction.html_bytes) == (200, len(JS_SHELL))
    assert doc.extraction.final_url == "https://monde.example/a"
    # It is enriched like any document.
    assert doc.language.code == "fr"
    assert "sanctions" in doc.topic_ids


def test_without_a_long_enough_summary_the_error_stands(enricher: Enricher) -> None:
    with pytest.raises(ExtractionError):
        build_document_or_summary(
            entry("https://monde.example/a", summary="Trop court."), page(JS_SHELL), enricher,
            summary_min_chars=200,
        )  # fmt: skip
    with pytest.raises(ExtractionError):
        build_summary_document(entry("https://monde.example/a", summary=None), enricher,
                               reason="http_403", http_status=403)  # fmt: skip


def test_a_refused_page_is_built_from_the_summary(enricher: Enricher) -> None:
    doc = build_summary_document(
        entry("https://monde.example/a"), enricher, reason="http_403", http_status=403
    )
    assert (doc.extraction.source, doc.extraction.fallback_reason) == ("feed_summary", "http_403")
    assert doc.extraction.http_status == 403 and doc.extraction.html_bytes is None
    assert doc.title == "Nouvelles sanctions contre des exportateurs d'armes"


# --- the whole stage, as the process task runs it ----------------------------------------


def process(
    item: FeedEntry,
    redis_client: redis.Redis,
    keys: Keys,
    enricher: Enricher,
    *,
    refused_status: int | None = None,
    before_publish: Callable[[], None] = lambda: None,
) -> str:
    return process_entry(
        item,
        refused_status=refused_status,
        raw_pages=RawPageStore(redis_client, keys, ttl_seconds=600),
        seen=SeenStore(redis_client, keys),
        enricher=enricher,
        near_duplicates=NearDupIndex(redis_client, keys, window_days=3, min_similarity=0.8),
        publisher=StreamPublisher(redis_client, keys, maxlen=1000, seen_ttl_days=90),
        summary_min_chars=200,
        before_publish=before_publish,
    )


def test_the_stage_publishes_once_and_drops_the_page(
    settings: Settings, redis_client: redis.Redis, keys: Keys, enricher: Enricher
) -> None:
    item = entry("https://monde.example/a")
    RawPageStore(redis_client, keys, ttl_seconds=600).put(item.doc_id, page(JS_SHELL))
    calls: list[str] = []
    status = process(item, redis_client, keys, enricher, before_publish=lambda: calls.append("x"))
    assert (status, calls) == ("published", ["x"])
    assert not redis_client.exists(keys.raw_page(item.doc_id))
    # A second message for the same work: the page is gone, the document published.
    assert process(item, redis_client, keys, enricher) == "duplicate"
    assert len(read_stream(redis_client, keys.documents_stream)) == 1


def test_the_stage_fails_on_a_missing_page_never_published(
    settings: Settings, redis_client: redis.Redis, keys: Keys, enricher: Enricher
) -> None:
    with pytest.raises(RawContentMissing):
        process(entry("https://monde.example/b"), redis_client, keys, enricher)


def test_the_stage_stops_before_publishing_when_told(
    settings: Settings, redis_client: redis.Redis, keys: Keys, enricher: Enricher
) -> None:
    def out_of_time() -> None:
        raise SoftTimeLimitExceeded

    with pytest.raises(SoftTimeLimitExceeded):
        process(entry("https://monde.example/c"), redis_client, keys, enricher,
                  refused_status=403, before_publish=out_of_time)  # fmt: skip
    assert read_stream(redis_client, keys.documents_stream) == []


# --- through the real tasks ---------------------------------------------------------------


def feed_xml(base: str) -> str:
    items = [
        ("paywall", SUMMARY),  # 403, long summary: from the summary
        ("shell", SUMMARY),  # a page without text, long summary: from the summary
        ("forbidden", "Réservé aux abonnés."),  # 403, short summary: dead letter
        ("gone", SUMMARY),  # 404 means gone, not refused: dead letter
    ]
    body = "".join(
        f"<item><title>{name}</title><link>{base}/{name}</link><guid>{name}</guid>"
        f"<description>{summary}</description></item>"
        for name, summary in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Monde</title>'
        f"<language>fr</language>{body}</channel></rss>"
    )


@pytest.fixture
def worker(settings: Settings, tmp_path: Path) -> Iterator[Supervisor]:
    env = {**os.environ, "NEWSWIRE_DISPATCH_EVERY_SECONDS": "1", "PYTHONPATH": str(REPO_ROOT)}
    supervisor = Supervisor(env, log_dir=tmp_path / "logs")
    supervisor.start("worker", worker_command("all", settings, concurrency=2))
    supervisor.start("beat", beat_command(settings))
    yield supervisor
    supervisor.stop()
    for log in sorted((tmp_path / "logs").glob("*.log")):
        print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")


@pytest.mark.e2e
def test_fetch_and_process_tasks_fall_back_or_dead_letter(
    worker: Supervisor, http_server: FixtureHttpServer, redis_client: redis.Redis, keys: Keys
) -> None:
    http_server.route("/feed.xml", feed_xml(http_server.base_url))
    http_server.route("/paywall", "<html>Subscribe</html>", status=403)
    http_server.route("/shell", JS_SHELL, headers={"Content-Type": "text/html"})
    http_server.route("/forbidden", "<html>No</html>", status=403)
    http_server.route("/gone", "<html>Not found</html>", status=404)
    registry = FeedRegistry(redis_client, keys)
    registry.sync([FeedSource(id="monde", url=http_server.url("/feed.xml"), title="Monde")],
                  now=time.time())  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert not worker.dead(), f"{worker.dead()} exited"
        arrived = (
            redis_client.xlen(keys.documents_stream),
            redis_client.xlen(keys.deadletter_stream),
        )
        if arrived[0] >= 2 and arrived[1] >= 2:
            break
        time.sleep(0.3)
    documents = {
        d.url.rsplit("/", 1)[1]: d
        for d in (
            Document.model_validate_json(f[b"doc"])
            for _, f in read_stream(redis_client, keys.documents_stream)
        )
    }
    assert set(documents) == {"paywall", "shell"}
    paywall, shell = documents["paywall"], documents["shell"]
    assert (paywall.extraction.source, paywall.extraction.fallback_reason) == (
        "feed_summary",
        "http_403",
    )
    assert paywall.extraction.http_status == 403 and paywall.text == SUMMARY
    assert (shell.extraction.source, shell.extraction.fallback_reason) == (
        "feed_summary",
        "no_text",
    )
    assert shell.extraction.http_status == 200
    dead = [
        DeadLetter.model_validate_json(f[b"record"])
        for _, f in read_stream(redis_client, keys.deadletter_stream)
    ]
    assert sorted((d.url or "").rsplit("/", 1)[1] + ":" + d.reason for d in dead) == [
        "forbidden:http_403",
        "gone:http_404",
    ]
    # The process stage also looked for near-duplicates: the two share one text. (Processed
    # at the same instant they may both found a cluster; neither is ever dropped.)
    assert paywall.cluster_id is not None and shell.cluster_id is not None
    for doc, other in ((paywall, shell), (shell, paywall)):
        assert doc.duplicate_of in (None, other.id)
