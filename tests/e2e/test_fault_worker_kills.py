"""Workers killed mid-run lose nothing and duplicate nothing (scenarios 1, 2, 6, 9, 16, 17).

200 distinct articles in 5 feeds on a loopback site go through real fetch and
process workers and beat, while the test kills them at chosen moments, each
moment observed, not timed: a poll in flight (its feed half sent), fetches in
flight (pages half sent), process tasks in flight (pool children SIGKILLed, the
worker lives), just after a publication (the whole process worker, main
process and children, SIGKILLed before it could acknowledge), and a warm
shutdown (SIGTERM) with tasks running. The broker's visibility timeout is short
here (20 s, swept every second) so that the messages of killed main processes
come back within the test. At the end: every article on the documents stream,
each exactly once, and no dead letter.

kombu's Redis transport pops a message (BRPOP) before it records it as
unacknowledged: a main process SIGKILLed in between loses that message
(RELIABILITY.md, known limits). Such an article stays claimed in flight with
no message anywhere; once its claim lapses (30 s here, hours by default), the
next poll of its feed sends it again from the feed's pending entries. The test
counts those and makes their feeds due, so that the recovery is part of the run.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from schemas import FeedSource
from tests.support.faults import (
    CLAIM_SECONDS,
    Broker,
    NewsSite,
    Service,
    document_ids,
    fault_env,
    pipeline_services,
    process_state,
    record_figures,
    send_lost_messages_again,
    stop_all,
    wait_for,
)
from tests.support.http_server import FixtureHttpServer
from workers.keys import Keys
from workers.polling.canonical import canonical_url, document_id
from workers.registry.store import FeedRegistry
from workers.settings import Settings
from workers.tasks import FETCH_ARTICLE, POLL_FEED, PROCESS_ARTICLE

# Real processes on a shared machine: the waits inside are generous, so is the budget.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

FEEDS, PER_FEED = 5, 40
RUN_TIMEOUT = 240


@pytest.fixture
def services(settings: Settings, tmp_path: Path) -> Iterator[dict[str, Service]]:
    env = fault_env(NEWSWIRE_INFLIGHT_TTL_SECONDS=str(CLAIM_SECONDS))
    started = pipeline_services(settings, env, tmp_path / "logs")
    yield started
    stop_all(started)


@dataclass
class KillRun:
    """The run under test, and the faults injected into it."""

    fetch: Service
    process: Service
    beat: Service
    site: NewsSite
    sources: list[FeedSource]
    registry: FeedRegistry
    broker: Broker
    client: redis.Redis
    keys: Keys
    kills: Counter[str] = field(default_factory=Counter)

    def alive(self) -> None:
        for service in (self.fetch, self.process, self.beat):
            service.check_alive()

    def release(self, feed: int) -> None:
        """Register one more feed: fresh work for the next fault."""
        self.registry.sync([self.sources[feed]], now=time.time())

    def wait(self, condition: Callable[[], bool], what: str, timeout: float = 90) -> None:
        wait_for(condition, timeout=timeout, what=what, alive=self.alive)

    def kill_mid_poll(self) -> None:
        """The fetch worker (threads pool: one process) dies while a feed is half sent."""
        self.release(0)
        self.wait(
            lambda: self.site.feed_requests(0) >= 1 and bool(self.broker.in_flight(POLL_FEED)),
            "a poll in flight",
        )
        self.fetch.kill()
        self.kills["poll: fetch worker SIGKILL"] += 1
        self.fetch.start().wait_ready()

    def kill_mid_fetch(self) -> None:
        """The fetch worker dies while pages are half sent."""
        self.release(1)
        self.wait(
            lambda: (
                self.site.page_requests(feed=1) >= 1 and bool(self.broker.in_flight(FETCH_ARTICLE))
            ),
            "fetches of feed 1 in flight",
        )
        self.fetch.kill()
        self.kills["fetch: fetch worker SIGKILL"] += 1
        self.fetch.start().wait_ready()

    def kill_pool_children(self, times: int) -> None:
        """The pool children die while extracting; the main process requeues their tasks."""
        self.release(2)
        for _ in range(times):
            self.wait(
                lambda: (
                    len(self.process.children()) == 2
                    and bool(self.broker.in_flight(PROCESS_ARTICLE))
                    and any(process_state(pid) == "R" for pid in self.process.children())
                ),
                "a process task running in a pool child",
            )
            self.kills["process: pool children SIGKILL"] += len(self.process.kill_children())

    def kill_after_publication(self, times: int) -> None:
        """The whole process worker dies right after a publication, before it could
        acknowledge: its messages come back after the visibility timeout."""
        self.release(3)
        for _ in range(times):
            published = self.client.xlen(self.keys.documents_stream)
            self.wait(
                lambda: self.client.xlen(self.keys.documents_stream) > published,  # noqa: B023
                "a publication",
            )
            unacked = len(self.broker.in_flight(PROCESS_ARTICLE))
            self.process.kill()
            self.kills["publish: process worker SIGKILL (main + children)"] += 1
            self.kills["publish: process messages unacknowledged at the kill"] += unacked
            self.process.start().wait_ready()

    def warm_shutdown(self) -> None:
        """SIGTERM while tasks run: they finish, or go back to their queue. While the
        process worker is down, one process message is lost as the transport loses one."""
        self.release(4)
        self.wait(lambda: bool(self.broker.in_flight(PROCESS_ARTICLE)), "process tasks running")
        assert self.process.terminate() == 0, self.process.log_tail()
        self.kills["any: process worker SIGTERM (warm shutdown)"] += 1
        lost: list[object] = []

        def lose_one() -> bool:
            published = set(document_ids(self.client, self.keys))
            lost.append(self.broker.lose_one("process", sole_for=lambda d: d not in published))
            return lost[-1] is not None

        wait_for(lose_one, timeout=90, what="a process message of its own article to lose",
                 alive=self.fetch.check_alive)  # fmt: skip
        self.kills["process: message popped and lost (as by BRPOP before its record)"] += 1
        self.process.start().wait_ready()


def test_sigkill_and_sigterm_mid_run_lose_and_duplicate_nothing(
    services: dict[str, Service],
    http_server: FixtureHttpServer,
    redis_client: redis.Redis,
    keys: Keys,
) -> None:
    site = NewsSite(http_server, FEEDS, PER_FEED, feed_drip_seconds=0.004, page_drip_seconds=0.003)
    run = KillRun(
        services["fetch"], services["process"], services["beat"], site, site.publish(),
        FeedRegistry(redis_client, keys), Broker(redis_client, keys.prefix), redis_client, keys,
    )  # fmt: skip
    started = time.monotonic()
    for service in (run.fetch, run.process, run.beat):
        service.start()
    run.fetch.wait_ready()
    run.process.wait_ready()

    run.kill_mid_poll()
    run.kill_mid_fetch()
    run.kill_pool_children(times=3)
    run.kill_after_publication(times=2)
    run.warm_shutdown()

    expected = FEEDS * PER_FEED
    urls = [http_server.url(site.page_path(n)) for n in site.article_numbers]
    recovered = send_lost_messages_again(
        redis_client, keys, expected={document_id(canonical_url(u)) for u in urls},
        feed_ids=[s.id for s in run.sources], alive=run.alive, timeout=RUN_TIMEOUT,
    )  # fmt: skip
    run.wait(
        lambda: len(set(document_ids(redis_client, keys))) >= expected and run.broker.idle(),
        f"{expected} documents and an idle broker",
        timeout=RUN_TIMEOUT,
    )
    ids = document_ids(redis_client, keys)
    duplicated = sum(count - 1 for count in Counter(ids).values())
    dead = redis_client.xlen(keys.deadletter_stream)
    record_figures(
        "test_sigkill_and_sigterm_mid_run_lose_and_duplicate_nothing",
        faults=dict(run.kills),
        documents_expected=expected,
        delivered=len(ids),
        distinct=len(set(ids)),
        duplicated=duplicated,
        lost=expected - len(set(ids)),
        messages_lost_by_the_transport_then_sent_again=recovered,
        dead_letters=dead,
        page_requests=site.page_requests(),
        tasks_received={
            "poll": run.fetch.received(POLL_FEED),
            "fetch": run.fetch.received(FETCH_ARTICLE),
            "process": run.process.received(PROCESS_ARTICLE),
        },
        seconds=round(time.monotonic() - started, 1),
    )
    assert len(set(ids)) == expected
    assert recovered >= 1  # the message lost on purpose, at least
    assert duplicated == 0
    assert dead == 0
    # Killed work was done again: more process tasks received than documents.
    assert run.process.received(PROCESS_ARTICLE) > expected
