"""Updates, GUIDs and the seen-set's TTL: the poll stage and publication on a real Redis.

Each test serves an Atom feed on loopback, polls it with the real FeedPoller,
and publishes what the poll selected as the process stage would.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
import redis

from schemas import Document, FeedEntry, FeedSource
from tests.support.documents import plain_document
from tests.support.http_server import FixtureHttpServer
from tests.support.streams import read_stream
from workers.dedup.seen import (
    DAY_SECONDS,
    PRUNE_MARKER,
    EntryKey,
    SeenRecord,
    SeenStore,
    content_hash,
    day_number,
    hash_prefix,
)
from workers.fetching.http import HttpClient
from workers.keys import Keys, seen_field
from workers.polling.poll import FeedPoller
from workers.publishing.streams import StreamPublisher
from workers.registry.store import FeedRegistry
from workers.settings import Settings

# Day numbers and expiry times are absolute: the tests live around the present.
BASE = float(int(time.time()) // 60 * 60)
HOUR = 3600.0


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def atom(*items: tuple[str, str, float, float], version: int = 0) -> str:
    """A feed of (path, guid, published, updated) items; `version` changes its bytes only."""
    entries = "".join(
        f"<entry><title>{guid}</title><link href='https://news.example{path}'/><id>{guid}</id>"
        f"<published>{iso(published)}</published><updated>{iso(updated)}</updated></entry>"
        for path, guid, published, updated in items
    )
    return (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>News {version}</title><id>urn:feed</id>{entries}</feed>"
    )


Poll = Callable[..., list[FeedEntry]]


@pytest.fixture
def poll(
    redis_client: redis.Redis, keys: Keys, settings: Settings, http_server: FixtureHttpServer
) -> Iterator[Poll]:
    """poll(feed_xml, now=..., **settings overrides) -> the entries the poll selected."""
    registry = FeedRegistry(redis_client, keys)
    source = FeedSource(id="news", url=http_server.url("/feed"), title="News")
    registry.sync([source], now=0)
    http = HttpClient(settings)

    def run(body: str, *, now: float, **overrides: object) -> list[FeedEntry]:
        http_server.route("/feed", body)
        exact = settings.model_copy(update={"poll_jitter_fraction": 0.0, **overrides})
        poller = FeedPoller(registry, SeenStore(redis_client, keys), http, exact)
        result = poller.poll("news", now=now)
        assert result.status in {"new_entries", "no_new_entries"}, result
        return result.new_entries

    yield run
    http.close()


@pytest.fixture
def publisher(redis_client: redis.Redis, keys: Keys) -> StreamPublisher:
    return StreamPublisher(redis_client, keys, maxlen=1000, seen_ttl_days=90)


def document(entry: FeedEntry, text: str) -> Document:
    return plain_document(
        entry.doc_id,
        text,
        url=entry.url,
        canonical_url=entry.canonical_url,
        feed=entry.feed,
        title=entry.title,
    )


def publish(publisher: StreamPublisher, entry: FeedEntry, text: str, now: float) -> Document:
    result = publisher.publish(document(entry, text), entry_key=EntryKey.of(entry), now=now)
    return result.document


def test_an_updated_entry_is_fetched_again_and_published_as_a_revision(
    poll: Poll, publisher: StreamPublisher, redis_client: redis.Redis, keys: Keys
) -> None:
    published = BASE - 2 * HOUR
    [entry] = poll(atom(("/a", "a-1", published, published)), now=BASE)
    first = publish(publisher, entry, "First version of the story.", now=BASE + 10)
    # The feed says nothing changed: nothing to fetch.
    assert poll(atom(("/a", "a-1", published, published), version=1), now=BASE + HOUR) == []
    # The entry was updated after we published it: fetched again, a new revision.
    updated = BASE + 2 * HOUR
    [again] = poll(atom(("/a", "a-1", published, updated), version=2), now=BASE + 3 * HOUR)
    assert again.doc_id == entry.doc_id
    second = publish(publisher, again, "Second version, with a correction.", now=BASE + 3 * HOUR)
    assert (second.revision, second.previous_content_hash) == (2, hash_prefix(first.content_hash))
    # Once published, the same update is not a reason to fetch it again.
    assert poll(atom(("/a", "a-1", published, updated), version=3), now=BASE + 4 * HOUR) == []
    # An update that did not change the text: confirmed, no new stream entry, not re-fetched.
    touched = BASE + 5 * HOUR
    [third] = poll(atom(("/a", "a-1", published, touched), version=4), now=BASE + 6 * HOUR)
    result = publisher.publish(document(third, "Second version, with a correction."),
                               now=BASE + 6 * HOUR)  # fmt: skip
    assert result.status == "duplicate"
    assert poll(atom(("/a", "a-1", published, touched), version=5), now=BASE + 7 * HOUR) == []
    entries = read_stream(redis_client, keys.documents_stream)
    assert [fields[b"revision"] for _, fields in entries] == [b"1", b"2"]
    record = SeenStore(redis_client, keys).get(entry.doc_id)
    assert record is not None and (record.revision, record.refetches) == (2, 2)


def test_refetches_are_bounded(poll: Poll, publisher: StreamPublisher) -> None:
    published = BASE - HOUR
    [entry] = poll(atom(("/a", "a-1", published, published)), now=BASE, max_refetches=2)
    publish(publisher, entry, "Version 0", now=BASE)
    for step in range(1, 4):
        moment = BASE + 2 * step * HOUR
        feed = atom(("/a", "a-1", published, moment - HOUR), version=step)
        selected = poll(feed, now=moment, max_refetches=2)
        if step <= 2:
            assert [e.doc_id for e in selected] == [entry.doc_id]
            publish(publisher, selected[0], f"Version {step}", now=moment)
        else:  # a feed that keeps saying "updated" cannot keep a document going round
            assert selected == []


def test_a_known_guid_keeps_its_document_when_the_link_changes(
    poll: Poll, publisher: StreamPublisher, redis_client: redis.Redis, keys: Keys
) -> None:
    published = BASE - HOUR
    [entry] = poll(atom(("/2024/old-slug", "tag:news,1", published, published)), now=BASE)
    publish(publisher, entry, "The story as first told.", now=BASE)
    # Same GUID and date under a new link: the same document, already published.
    moved = ("/2024/new-slug", "tag:news,1", published, published)
    assert poll(atom(moved, version=1), now=BASE + HOUR) == []
    # Then updated: fetched again under its first id, published as a revision at its new URL.
    [again] = poll(atom((*moved[:3], BASE + HOUR), version=2), now=BASE + 2 * HOUR)
    assert again.doc_id == entry.doc_id
    assert again.url == "https://news.example/2024/new-slug"
    revised = publish(publisher, again, "The story with a new headline.", now=BASE + 2 * HOUR)
    assert (revised.id, revised.revision, revised.url) == (entry.doc_id, 2, again.url)
    assert len(read_stream(redis_client, keys.documents_stream)) == 2


def test_a_reused_guid_does_not_swallow_other_articles(
    poll: Poll, publisher: StreamPublisher
) -> None:
    first_date = BASE - 5 * HOUR
    [entry] = poll(atom(("/story-1", "latest", first_date, first_date)), now=BASE)
    publish(publisher, entry, "The first story.", now=BASE)
    # A feed that gives every new article the same GUID: a different date, a new document.
    second_date = BASE - HOUR
    [other] = poll(atom(("/story-2", "latest", second_date, second_date), version=1), now=BASE + 60)
    assert other.doc_id != entry.doc_id
    # Two entries sharing a GUID in one feed: the GUID names neither of them.
    [third] = poll(atom(("/story-3", "same", BASE, BASE), version=2), now=BASE + 120)
    publish(publisher, third, "The third story.", now=BASE + 120)
    shared = atom(("/story-3", "same", BASE, BASE), ("/story-4", "same", BASE, BASE), version=3)
    [fourth] = poll(shared, now=BASE + 180)
    assert fourth.url == "https://news.example/story-4" and fourth.doc_id != third.doc_id


def test_records_of_listed_entries_are_refreshed(
    poll: Poll, publisher: StreamPublisher, redis_client: redis.Redis, keys: Keys
) -> None:
    published = BASE - HOUR
    [entry] = poll(atom(("/a", "a-1", published, published)), now=BASE)
    publish(publisher, entry, "Story.", now=BASE)
    store = SeenStore(redis_client, keys)
    later = BASE + 30 * DAY_SECONDS  # beyond a tenth of the 90-day TTL
    assert poll(atom(("/a", "a-1", published, published), version=1), now=later) == []
    record = store.get(entry.doc_id)
    assert record is not None and record.day == day_number(later)
    entry_key = EntryKey.of(entry)
    assert entry_key is not None
    [guid] = store.guid_records([entry_key])
    assert guid is not None and (guid.doc_id, guid.day) == (entry.doc_id, day_number(later))


def test_expired_records_are_forgotten_and_pruned(
    poll: Poll, publisher: StreamPublisher, redis_client: redis.Redis, keys: Keys
) -> None:
    store = SeenStore(redis_client, keys)
    today = day_number(BASE)
    # Three records in one bucket: two older than the TTL, one recent.
    old, older, recent = ("abcd" + f"{n:028x}" for n in (1, 2, 3))
    store.remember([
        (old, SeenRecord("published", 1, "0" * 16, 1, 0, today - 91), None),
        (older, SeenRecord("deadlettered", day=today - 400), None),
        (recent, SeenRecord("published", 1, "0" * 16, 1, 0, today - 89), None),
    ])  # fmt: skip
    bucket = keys.seen_bucket(old)
    # Publication in the bucket prunes it (once a day), keeping what is recent.
    newcomer = "abcd" + f"{4:028x}"
    publisher.publish(document_with_id(newcomer), now=BASE)
    assert redis_client.hexists(bucket, seen_field(recent))
    assert not redis_client.hexists(bucket, seen_field(old))
    assert not redis_client.hexists(bucket, seen_field(older))
    assert redis_client.hget(bucket, PRUNE_MARKER) == str(today).encode()
    assert redis_client.hlen(bucket) == 3  # recent, newcomer, the marker


def document_with_id(doc_id: str) -> Document:
    now = datetime.now(UTC)
    return Document.model_validate(
        {
            "id": doc_id, "url": f"https://x.example/{doc_id}",
            "canonical_url": f"https://x.example/{doc_id}",
            "feed": {"id": "x", "url": "https://x.example/rss"}, "text": doc_id,
            "fetched_at": now, "processed_at": now,
            "language": {"code": "en", "confidence": 1.0, "source": "text"},
            "taxonomy_version": "test", "content_hash": content_hash(doc_id),
            "extraction": {"source": "article_page", "extractor": "x", "extract_ms": 1,
                           "enrich_ms": 1},
        }
    )  # fmt: skip


def test_an_expired_record_lets_an_undated_entry_come_back(
    poll: Poll, redis_client: redis.Redis, keys: Keys, http_server: FixtureHttpServer
) -> None:
    undated = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>T{v}</title>'
        "<item><title>x</title><link>https://news.example/undated</link></item></channel></rss>"
    )
    [entry] = poll(undated.format(v=0), now=BASE)
    store = SeenStore(redis_client, keys)
    store.release_inflight(entry.doc_id)
    store.remember([(entry.doc_id, SeenRecord("published", 1, "0" * 16, 1, 0,
                                              day_number(BASE)), None)])  # fmt: skip
    assert poll(undated.format(v=1), now=BASE + 60) == []
    [back] = poll(undated.format(v=2), now=BASE + 91 * DAY_SECONDS)
    assert back.doc_id == entry.doc_id


def test_a_sleeping_feed_does_not_bring_back_old_entries(
    poll: Poll, publisher: StreamPublisher
) -> None:
    """A feed unchanged (304) beyond the TTL lost its records: its old entries are not news."""
    long_ago = BASE - 200 * DAY_SECONDS
    # A feed's first poll takes everything it lists, however old.
    [first] = poll(atom(("/old-1", "o-1", long_ago, long_ago)), now=BASE)
    publish(publisher, first, "An old story.", now=BASE)
    # Later, an unknown entry dated before the TTL is taken for a pruned one; a new one is news.
    later = atom(("/old-2", "o-2", long_ago, long_ago), ("/fresh", "f-1", BASE, BASE), version=1)
    assert [e.url for e in poll(later, now=BASE + HOUR)] == ["https://news.example/fresh"]


def test_records_written_before_the_packed_layout_still_work(
    publisher: StreamPublisher, redis_client: redis.Redis, keys: Keys
) -> None:
    doc = document_with_id("ef" * 16)
    legacy = f"p:1:{hash_prefix(doc.content_hash)}"
    redis_client.hset(keys.seen_bucket(doc.id), seen_field(doc.id), legacy)
    store = SeenStore(redis_client, keys)
    record = store.get(doc.id)
    assert record is not None and (record.status, record.revision, record.day) == (
        "published",
        1,
        None,
    )
    assert publisher.publish(doc, now=BASE).status == "duplicate"
    changed = doc.model_copy(update={"text": "changed", "content_hash": content_hash("changed")})
    revised = publisher.publish(changed, now=BASE)
    assert (revised.status, revised.document.revision) == ("published", 2)
    packed = store.get(doc.id)
    assert packed is not None and packed.day == day_number(BASE) and packed.raw[:1] == b"P"
