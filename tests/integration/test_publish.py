"""Idempotent publication and dead-lettering, on a real Redis."""

from datetime import UTC, datetime

import redis

from schemas import (
    Document,
    FeedRef,
)
from tests.support.documents import plain_document
from tests.support.streams import read_stream
from workers.dedup.seen import EntryKey, SeenStore, content_hash, day_number, minute_number
from workers.errors import HttpStatusError
from workers.keys import Keys
from workers.publishing.deadletter import DeadLetterSink, dead_letter_for
from workers.publishing.streams import StreamPublisher

DOC_ID = "0123456789abcdef0123456789abcdef"


def document(
    text: str = "Some article text.", topics: tuple[str, ...] = ("sanctions",)
) -> Document:
    url = "https://example.org/a"
    feed = FeedRef(id="f", url="https://example.org/feed")
    return plain_document(DOC_ID, text, url=url, feed=feed, topics=topics)


def test_publishing_twice_adds_one_entry_per_stream(redis_client: redis.Redis, keys: Keys) -> None:
    publisher = StreamPublisher(redis_client, keys, maxlen=1000)
    redis_client.set(keys.inflight(DOC_ID), "1")
    first = publisher.publish(document())
    second = publisher.publish(document())
    assert (first.status, second.status) == ("published", "duplicate")
    assert redis_client.xlen(keys.documents_stream) == 1
    assert redis_client.xlen(keys.topic_stream("sanctions")) == 1
    assert not redis_client.exists(keys.inflight(DOC_ID))
    [(_, fields)] = read_stream(redis_client, keys.documents_stream)
    assert Document.model_validate_json(fields[b"doc"]) == first.document
    assert fields[b"id"].decode() == DOC_ID


def test_changed_content_is_a_new_revision(redis_client: redis.Redis, keys: Keys) -> None:
    publisher = StreamPublisher(redis_client, keys, maxlen=1000)
    publisher.publish(document("First version."))
    updated = publisher.publish(document("Corrected version.", topics=()))
    assert updated.status == "published"
    assert updated.document.revision == 2
    assert updated.document.previous_content_hash == content_hash("First version.")[7:23]
    assert redis_client.xlen(keys.documents_stream) == 2
    assert redis_client.xlen(keys.topic_stream("sanctions")) == 1


def test_dead_letter_marks_seen_unless_published(redis_client: redis.Redis, keys: Keys) -> None:
    sink = DeadLetterSink(redis_client, keys, maxlen=1000)
    seen = SeenStore(redis_client, keys)
    redis_client.set(keys.inflight(DOC_ID), "1")
    error = HttpStatusError("https://example.org/a: HTTP 404", status=404)
    record = dead_letter_for(
        error, stage="fetch", task_name="t", task_args={"x": 1}, attempts=1, doc_id=DOC_ID
    )
    sink.record(record)
    assert seen.get(DOC_ID) is not None
    assert seen.get(DOC_ID).status == "deadlettered"  # type: ignore[union-attr]
    assert seen.unseen([DOC_ID]) == []
    assert not redis_client.exists(keys.inflight(DOC_ID))
    [(_, latest)] = sink.latest()
    assert (latest.reason, latest.error_class, latest.permanent) == (
        "http_404",
        "HttpStatusError",
        True,
    )
    # A later publication of the same id (a replay) still goes through, once.
    publisher = StreamPublisher(redis_client, keys, maxlen=1000)
    assert publisher.publish(document()).status == "published"
    sink.record(record)
    assert seen.get(DOC_ID).status == "published"  # type: ignore[union-attr]


def test_streams_are_capped(redis_client: redis.Redis, keys: Keys) -> None:
    publisher = StreamPublisher(redis_client, keys, maxlen=100)
    for i in range(1000):
        doc = document(f"text {i}").model_copy(update={"id": f"{i:032x}"})
        publisher.publish(doc)
    # Approximate trimming: bounded, a little above the cap.
    assert 100 <= redis_client.xlen(keys.documents_stream) < 300


def test_inflight_claims_are_exclusive(redis_client: redis.Redis, keys: Keys) -> None:
    seen = SeenStore(redis_client, keys)
    assert seen.claim_inflight(["a" * 32, "b" * 32], 60) == ["a" * 32, "b" * 32]
    assert seen.claim_inflight(["a" * 32, "c" * 32], 60) == ["c" * 32]


def test_an_article_published_after_the_poll_read_the_seen_set_is_not_claimed_again(
    redis_client: redis.Redis, keys: Keys
) -> None:
    """Poll A reads "unseen", the article's first trip publishes it (and clears its
    in-flight marker), then A claims: the claim sees the new record and refuses."""
    seen = SeenStore(redis_client, keys)
    publisher = StreamPublisher(redis_client, keys, maxlen=1000)
    assert seen.get(DOC_ID) is None  # what poll A read
    assert seen.claim_inflight([DOC_ID], 60) == [DOC_ID]  # the first trip
    publisher.publish(document())
    assert not redis_client.exists(keys.inflight(DOC_ID))
    assert seen.claim_inflight([DOC_ID], 60, expected=[b""]) == []
    # A re-fetch (its feed says updated) claims only against the record it read.
    record = seen.get(DOC_ID)
    assert record is not None
    assert seen.claim_inflight([DOC_ID], 60, expected=[record.raw]) == [DOC_ID]
    assert seen.claim_inflight([DOC_ID], 60, expected=[record.raw]) == []  # in flight now
    redis_client.delete(keys.inflight(DOC_ID))
    publisher.publish(document("changed text"))  # another trip published a revision
    assert seen.claim_inflight([DOC_ID], 60, expected=[record.raw]) == []


def test_unchanged_content_published_again_only_confirms_the_record(
    redis_client: redis.Redis, keys: Keys
) -> None:
    """A re-fetch that found nothing new moves the record's time, so it is not re-fetched."""
    publisher = StreamPublisher(redis_client, keys, maxlen=1000)
    seen = SeenStore(redis_client, keys)
    now = datetime.now(UTC).timestamp()
    publisher.publish(document(), now=now)
    first = seen.get(DOC_ID)
    assert first is not None and (first.published_minute, first.refetches) == (
        minute_number(now),
        0,
    )
    later = now + 7200
    assert publisher.publish(document(), now=later).status == "duplicate"
    confirmed = seen.get(DOC_ID)
    assert confirmed is not None
    assert (confirmed.revision, confirmed.content_hash_prefix) == (1, first.content_hash_prefix)
    assert (confirmed.published_minute, confirmed.refetches) == (minute_number(later), 1)
    assert redis_client.xlen(keys.documents_stream) == 1


def test_publication_records_the_entry_guid(redis_client: redis.Redis, keys: Keys) -> None:
    publisher = StreamPublisher(redis_client, keys, maxlen=1000)
    entry_key = EntryKey("f", "urn:article:1", 0)
    now = datetime.now(UTC).timestamp()
    publisher.publish(document(), entry_key=entry_key, now=now)
    [record] = SeenStore(redis_client, keys).guid_records([entry_key])
    assert record is not None and (record.doc_id, record.day) == (DOC_ID, day_number(now))
    # The GUID is per feed: the same GUID in another feed names nothing.
    [elsewhere] = SeenStore(redis_client, keys).guid_records([EntryKey("g", "urn:article:1", 0)])
    assert elsewhere is None


def test_a_task_is_dead_lettered_once_however_often_it_comes_back(
    redis_client: redis.Redis, keys: Keys
) -> None:
    """A message redelivered after its worker died between giving up and acknowledging
    (or requeued by a hard time limit) is not dead-lettered twice."""
    sink = DeadLetterSink(redis_client, keys, maxlen=1000)
    record = dead_letter_for(
        HttpStatusError("gone", status=404), stage="fetch", task_name="t", task_args={},
        attempts=1, doc_id=DOC_ID,
    )  # fmt: skip
    assert not sink.given_up("task-1")
    assert sink.record(record, task_id="task-1", marker_ttl=60) is not None
    assert sink.record(record, task_id="task-1", marker_ttl=60) is None
    assert sink.given_up("task-1")
    assert redis_client.xlen(keys.deadletter_stream) == 1
    assert 0 < int(redis_client.ttl(keys.given_up("task-1"))) <= 60
    assert sink.record(record) is not None  # without a task id: no marker, recorded again
    assert redis_client.xlen(keys.deadletter_stream) == 2


def test_published_since_tells_a_late_duplicate_message_from_new_work(
    redis_client: redis.Redis, keys: Keys
) -> None:
    """A process message for an entry discovered before the document's publication is a
    duplicate of work done; one discovered after it (a re-fetch) is new work."""
    publisher = StreamPublisher(redis_client, keys, maxlen=1000)
    seen = SeenStore(redis_client, keys)
    published_at = datetime.now(UTC).timestamp()
    assert not seen.published_since(DOC_ID, published_at - 60)
    publisher.publish(document(), now=published_at)
    assert seen.published_since(DOC_ID, published_at - 60)
    assert not seen.published_since(DOC_ID, published_at + 120)
