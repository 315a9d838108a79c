"""An article is marked seen only once it is published (or dead-lettered) (scenario 23).

Three articles are fetched while no process worker runs: fetched, not seen.
The process worker then dies (SIGKILL, main process and children) while it
works on them: still not seen. Once their in-flight markers expire, the next
poll of their feed sends them down the pipeline again; their pages are
fetched again, never skipped. The messages of the killed worker also come
back; every article is published exactly once.

Fetch messages lost outright (Redis lost them after the poll sent them) come
back the same way, from the feed's pending entries, although the feed keeps
answering with the same bytes and is not parsed again.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support.faults import (
    Broker,
    NewsSite,
    Service,
    document_ids,
    fault_env,
    huge_page,
    pipeline_services,
    record_figures,
    start_all,
    stop_all,
    wait_for,
)
from tests.support.http_server import FixtureHttpServer
from tests.support.polling import polling_parts
from workers.dedup.seen import SeenStore
from workers.keys import Keys
from workers.polling.canonical import canonical_url, document_id
from workers.registry.store import FeedRegistry
from workers.settings import Settings
from workers.tasks import PROCESS_ARTICLE

# Real processes on a shared machine: the waits inside are generous, so is the budget.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture
def services(settings: Settings, tmp_path: Path) -> Iterator[dict[str, Service]]:
    env = fault_env(NEWSWIRE_INFLIGHT_TTL_SECONDS="8")
    created = pipeline_services(settings, env, tmp_path / "logs", process_concurrency=1)
    yield created
    stop_all(created)


def test_a_crash_between_fetch_and_publish_means_fetched_again_never_skipped(
    services: dict[str, Service],
    http_server: FixtureHttpServer,
    redis_client: redis.Redis,
    keys: Keys,
) -> None:
    fetch, process, beat = services["fetch"], services["process"], services["beat"]
    site = NewsSite(http_server, feeds=1, per_feed=3)
    sources = site.publish()
    for number in site.article_numbers:  # slow to process: the kill lands mid-task
        http_server.route(site.page_path(number), huge_page(1500))
    ids = [document_id(canonical_url(http_server.url(site.page_path(n)))) for n in range(4)]
    seen = SeenStore(redis_client, keys)
    broker = Broker(redis_client, keys.prefix)

    def alive() -> None:
        for service in (fetch, beat):
            service.check_alive()

    fetch.start()
    beat.start()
    fetch.wait_ready()
    FeedRegistry(redis_client, keys).sync(sources, now=time.time())
    wait_for(lambda: broker.queued("process") == 3, timeout=90,
             what="three fetched articles waiting for processing", alive=alive)  # fmt: skip
    assert seen.unseen(ids[:3]) == ids[:3]  # fetched is not seen

    process.start()
    wait_for(lambda: bool(broker.in_flight(PROCESS_ARTICLE)), timeout=120,
             what="a process task running", alive=alive)  # fmt: skip
    process.kill()
    unpublished = [i for i in ids[:3] if i not in document_ids(redis_client, keys)]
    assert unpublished, "everything was published before the kill"
    assert seen.unseen(unpublished) == unpublished  # a crash before publication: not seen

    wait_for(lambda: not any(redis_client.exists(keys.inflight(i)) for i in unpublished),
             timeout=60, what="the in-flight markers to expire", alive=alive)  # fmt: skip
    fetched_before = {i: http_server.hits(site.page_path(ids.index(i))) for i in unpublished}
    http_server.route(site.feed_path(0), site.feed_xml(0, [0, 1, 2, 3]))
    http_server.route(site.page_path(3), huge_page(1500))
    redis_client.zadd(keys.feeds_due, {sources[0].id: 0}, xx=True)
    wait_for(
        lambda: all(http_server.hits(site.page_path(ids.index(i))) > fetched_before[i]
                    for i in unpublished),
        timeout=90, what="the unpublished articles fetched again", alive=alive,
    )  # fmt: skip

    process.start()
    wait_for(
        lambda: set(document_ids(redis_client, keys)) == set(ids) and broker.idle(),
        timeout=180, what="four documents and an idle broker", alive=alive,
    )  # fmt: skip
    published = document_ids(redis_client, keys)
    record_figures(
        "test_a_crash_between_fetch_and_publish_means_fetched_again_never_skipped",
        faults={"process worker SIGKILL before publication": 1},
        unpublished_at_kill=len(unpublished),
        refetched=sum(
            1 for i in unpublished if http_server.hits(site.page_path(ids.index(i))) >= 2
        ),
        documents_expected=4,
        delivered=len(published),
        duplicated=sum(c - 1 for c in Counter(published).values()),
    )
    assert sorted(published) == sorted(ids)


def test_fetch_messages_lost_after_the_poll_come_back_once_their_claim_lapses(
    services: dict[str, Service],
    http_server: FixtureHttpServer,
    redis_client: redis.Redis,
    keys: Keys,
    settings: Settings,
) -> None:
    site = NewsSite(http_server, feeds=1, per_feed=3)
    sources = site.publish()
    ids = [document_id(canonical_url(http_server.url(site.page_path(n)))) for n in range(3)]
    registry = FeedRegistry(redis_client, keys)
    registry.sync(sources, now=time.time())
    # The poll as the worker makes it, but its fetch messages vanish (Redis lost them).
    lapsing = settings.model_copy(update={"inflight_ttl_seconds": 8})
    with polling_parts(redis_client, keys, lapsing) as (_, poller, _):
        lost = poller.poll(sources[0].id, now=time.time(), handoff=lambda entries: None)
    assert sorted(e.doc_id for e in lost.new_entries) == sorted(ids)

    alive = start_all(services)

    broker = Broker(redis_client, keys.prefix)
    wait_for(lambda: not any(redis_client.exists(keys.inflight(i)) for i in ids),
             timeout=60, what="the in-flight markers to expire", alive=alive)  # fmt: skip
    polls_before = site.feed_requests(0)
    redis_client.zadd(keys.feeds_due, {sources[0].id: 0}, xx=True)
    wait_for(
        lambda: sorted(document_ids(redis_client, keys)) == sorted(ids) and broker.idle(),
        timeout=120, what="the three lost articles published", alive=alive,
    )  # fmt: skip
    record = registry.get(sources[0].id)
    assert record is not None and record.state.last_status == "unchanged"  # not parsed
    published = document_ids(redis_client, keys)
    record_figures(
        "test_fetch_messages_lost_after_the_poll_come_back_once_their_claim_lapses",
        faults={"fetch messages lost": 3},
        feed_polls_after_the_loss=site.feed_requests(0) - polls_before,
        pages_fetched=site.page_requests(),
        documents_expected=3,
        delivered=len(published),
        duplicated=sum(c - 1 for c in Counter(published).values()),
    )
    assert site.page_requests() == 3  # each page once
