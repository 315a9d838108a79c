"""Entries a poll claimed are never lost, whatever dies between claim and publication.

The poll task hands its new entries to the fetch queue before it saves the
feed's state, and claims them in flight in its own name; the feed keeps every
entry it wanted and left in flight as pending until its seen record changes
(workers/polling/pending.py). Here the hand-off "dies" (raises, as a killed
worker would stop there) or its messages vanish (Redis lost them): the
redelivered poll, or the first poll after the claim lapsed, sends the same
entries again, even when the feed answers with the same body, and even when
the feed no longer lists them. Settled entries leave the pending set.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import cast

import pytest
import redis

from schemas import FeedEntry
from tests.support.faults import NewsSite
from tests.support.http_server import FixtureHttpServer
from tests.support.polling import PollingParts, polling_parts
from workers.dedup.seen import SeenRecord
from workers.keys import Keys
from workers.settings import Settings


class WorkerDied(BaseException):
    """Stands for the worker's death: not an error the poller would record."""


@pytest.fixture
def parts(redis_client: redis.Redis, keys: Keys, settings: Settings) -> Iterator[PollingParts]:
    with polling_parts(redis_client, keys, settings) as made:
        yield made


def urls(entries: list[FeedEntry]) -> list[str]:
    return sorted(e.url for e in entries)


def lapse_claims(redis_client: redis.Redis, keys: Keys, entries: list[FeedEntry]) -> None:
    """What the in-flight markers' expiry does, without waiting hours for it."""
    redis_client.delete(*(keys.inflight(e.doc_id) for e in entries))


def pending_ids(redis_client: redis.Redis, keys: Keys, feed_id: str) -> set[str]:
    stored = cast(list[bytes], redis_client.hkeys(keys.feed_pending(feed_id)))
    return {k.decode() for k in stored}


def test_a_redelivered_poll_hands_off_the_entries_its_first_run_claimed(
    parts: PollingParts, http_server: FixtureHttpServer
) -> None:
    registry, poller, _ = parts
    site = NewsSite(http_server, feeds=1, per_feed=3)
    registry.sync(site.publish(), now=time.time())

    def die(entries: list[FeedEntry]) -> None:
        raise WorkerDied

    with pytest.raises(WorkerDied):
        poller.poll("feed0", now=time.time(), owner="task-1", handoff=die)
    record = registry.get("feed0")
    assert record is not None and record.state.body_hash is None  # the state was not saved

    # Another poll in between (the feed's lease ran out first) takes nothing in flight
    # for task-1, but keeps it pending: it need not read this body again.
    stranger: list[FeedEntry] = []
    other = poller.poll("feed0", now=time.time(), owner="task-2", handoff=stranger.extend)
    assert (other.status, stranger) == ("no_new_entries", [])
    record = registry.get("feed0")
    assert record is not None and record.state.body_hash is not None

    again: list[FeedEntry] = []
    result = poller.poll("feed0", now=time.time(), owner="task-1", handoff=again.extend)
    assert result.status == "unchanged"  # the same bytes, not parsed again
    expected = sorted(http_server.url(site.page_path(n)) for n in site.article_numbers)
    assert urls(again) == urls(result.resent) == expected


def test_entries_whose_fetch_messages_vanished_are_sent_again_once_their_claim_lapses(
    parts: PollingParts,
    http_server: FixtureHttpServer,
    redis_client: redis.Redis,
    keys: Keys,
) -> None:
    registry, poller, _ = parts
    site = NewsSite(http_server, feeds=1, per_feed=3)
    registry.sync(site.publish(), now=time.time())
    lost: list[FeedEntry] = []
    first = poller.poll("feed0", now=time.time(), handoff=lost.extend)  # Redis lost them
    assert len(first.new_entries) == 3

    quiet: list[FeedEntry] = []
    assert poller.poll("feed0", now=time.time(), handoff=quiet.extend).status == "unchanged"
    assert quiet == []  # still claimed: not sent twice while they may be on their way

    lapse_claims(redis_client, keys, lost)
    # The feed moved on: it lists none of them any more.
    http_server.route(site.feed_path(0), site.feed_xml(0, [7, 8]))
    back: list[FeedEntry] = []
    result = poller.poll("feed0", now=time.time(), handoff=back.extend)
    assert urls(result.resent) == urls(lost)
    assert urls(back) == urls([*result.new_entries, *lost])
    assert pending_ids(redis_client, keys, "feed0") == {e.doc_id for e in back}


def test_settled_entries_leave_the_pending_set_and_are_not_sent_again(
    parts: PollingParts,
    http_server: FixtureHttpServer,
    redis_client: redis.Redis,
    keys: Keys,
) -> None:
    registry, poller, seen = parts
    site = NewsSite(http_server, feeds=1, per_feed=3)
    registry.sync(site.publish(), now=time.time())
    entries = poller.poll("feed0", now=time.time()).new_entries
    assert pending_ids(redis_client, keys, "feed0") == {e.doc_id for e in entries}

    published, deadlettered, lost = entries
    seen.remember(
        [
            (published.doc_id, SeenRecord("published", 1, "ab" * 8), None),
            (deadlettered.doc_id, SeenRecord("deadlettered"), None),
        ]
    )
    lapse_claims(redis_client, keys, entries)
    sent: list[FeedEntry] = []
    result = poller.poll("feed0", now=time.time(), handoff=sent.extend)
    assert (result.status, urls(sent)) == ("unchanged", [lost.url])
    assert pending_ids(redis_client, keys, "feed0") == {lost.doc_id}


def test_a_feed_keeps_its_body_while_another_feeds_poll_holds_a_shared_entry(
    parts: PollingParts,
    http_server: FixtureHttpServer,
    redis_client: redis.Redis,
    keys: Keys,
) -> None:
    """Wire copies: two feeds list the same article. The second feed's poll finds it in
    flight for the first feed's poll, remembers its body all the same (the next polls
    do not parse it), and sends the article itself if that poll's claim lapses."""
    registry, poller, _ = parts
    site = NewsSite(http_server, feeds=2, per_feed=2)
    registry.sync(site.publish(), now=time.time())
    shared = site.article_numbers[0]
    http_server.route(site.feed_path(1), site.feed_xml(1, [shared, *site.article_numbers[2:]]))
    lost: list[FeedEntry] = []
    poller.poll("feed0", now=time.time(), handoff=lost.extend)

    mine = poller.poll("feed1", now=time.time()).new_entries
    assert http_server.url(site.page_path(shared)) not in urls(mine)
    assert poller.poll("feed1", now=time.time()).status == "unchanged"

    wire = [e for e in lost if e.url == http_server.url(site.page_path(shared))]
    lapse_claims(redis_client, keys, [*lost, *mine])
    sent: list[FeedEntry] = []
    poller.poll("feed1", now=time.time(), handoff=sent.extend)
    assert http_server.url(site.page_path(shared)) in urls(sent)
    # The first feed's next poll finds it claimed again, by the second's poll: not twice.
    again: list[FeedEntry] = []
    poller.poll("feed0", now=time.time(), handoff=again.extend)
    assert urls(again) == sorted(set(urls(lost)) - set(urls(wire)))


def test_an_unreadable_pending_entry_is_dropped_by_the_next_poll(
    parts: PollingParts,
    http_server: FixtureHttpServer,
    redis_client: redis.Redis,
    keys: Keys,
) -> None:
    registry, poller, _ = parts
    site = NewsSite(http_server, feeds=1, per_feed=1)
    registry.sync(site.publish(), now=time.time())
    redis_client.hset(keys.feed_pending("feed0"), "f" * 32, b"{truncated")
    entries = poller.poll("feed0", now=time.time()).new_entries
    assert pending_ids(redis_client, keys, "feed0") == {e.doc_id for e in entries}
