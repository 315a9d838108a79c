"""A poll that dies between claiming its entries and saving the feed's state loses nothing.

The poll task hands its new entries to the fetch queue before it saves the
feed's validators and body hash, and claims them in flight in its own name.
Here the hand-off itself "dies" (raises, as a killed worker would stop there):
the redelivered poll (same task id) finds the feed as it was and hands the
same entries off again. Another poll in between (the feed's lease ran out
first) does not take entries in flight for someone else, and does not remember
the feed's body either, so that the redelivered poll still reads it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from schemas import FeedEntry
from tests.support.faults import NewsSite
from tests.support.http_server import FixtureHttpServer
from workers.dedup.seen import SeenStore
from workers.fetching.http import HttpClient
from workers.keys import Keys
from workers.polling.poll import FeedPoller
from workers.registry.store import FeedRegistry
from workers.settings import Settings


class WorkerDied(BaseException):
    """Stands for the worker's death: not an error the poller would record."""


@pytest.fixture
def poller(
    redis_client: redis.Redis, keys: Keys, settings: Settings
) -> Iterator[tuple[FeedRegistry, FeedPoller]]:
    registry = FeedRegistry(redis_client, keys)
    http = HttpClient(settings)
    yield registry, FeedPoller(registry, SeenStore(redis_client, keys), http, settings)
    http.close()


def test_a_redelivered_poll_hands_off_the_entries_its_first_run_claimed(
    poller: tuple[FeedRegistry, FeedPoller], http_server: FixtureHttpServer
) -> None:
    registry, feed_poller = poller
    site = NewsSite(http_server, feeds=1, per_feed=3)
    registry.sync(site.publish(), now=time.time())

    def die(entries: list[FeedEntry]) -> None:
        raise WorkerDied

    with pytest.raises(WorkerDied):
        feed_poller.poll("feed0", now=time.time(), owner="task-1", handoff=die)
    record = registry.get("feed0")
    assert record is not None and record.state.body_hash is None  # the state was not saved

    stranger: list[FeedEntry] = []
    other = feed_poller.poll("feed0", now=time.time(), owner="task-2", handoff=stranger.extend)
    assert (other.status, stranger) == ("no_new_entries", [])  # in flight for task-1
    record = registry.get("feed0")
    assert record is not None and record.state.body_hash is None  # the body is not settled

    again: list[FeedEntry] = []
    result = feed_poller.poll("feed0", now=time.time(), owner="task-1", handoff=again.extend)
    assert result.status == "new_entries"
    assert sorted(e.url for e in again) == sorted(
        http_server.url(site.page_path(n)) for n in site.article_numbers
    )
