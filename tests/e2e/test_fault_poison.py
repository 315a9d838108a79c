"""Poison pages and runaway tasks (scenarios 3, 12; dead-letter replay: 18's cousin).

- A page whose processing kills its worker every time (as an out-of-memory kill
  or a segfault in a C extension would): the test SIGKILLs the pool child each
  time it starts that document, seen by the document's delivery counter. After
  `max_deliveries` starts the document is dead-lettered (reason poison) instead
  of looping forever, the other documents are published, and a replay of the
  dead letter publishes it once; replaying it again does nothing.
- Runaway tasks: a huge page runs past the soft time limit (dead-lettered,
  reason time_limit); a task frozen where no Python signal handler can run
  (the test SIGSTOPs its process, as a parser stuck in C code would be) is
  killed by the hard time limit, dead-lettered once with reason time_limit, and
  the worker goes on to the next document.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from schemas import DeadLetter
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
from tests.support.streams import read_stream
from workers.keys import Keys
from workers.polling.canonical import canonical_url, document_id
from workers.registry.store import FeedRegistry
from workers.settings import Settings
from workers.tasks import PROCESS_ARTICLE

# Real processes on a shared machine: the waits inside are generous, so is the budget.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def dead_letters(client: redis.Redis, keys: Keys) -> list[DeadLetter]:
    return [
        DeadLetter.model_validate_json(fields[b"record"])
        for _, fields in read_stream(client, keys.deadletter_stream)
    ]


def page_doc_id(site: NewsSite, number: int) -> str:
    return document_id(canonical_url(site.server.url(site.page_path(number))))


@pytest.fixture
def services(settings: Settings, tmp_path: Path) -> Iterator[dict[str, Service]]:
    created: dict[str, Service] = {}
    yield created
    stop_all(created)


def newswire(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "workers.cli.main", *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_page_that_kills_its_worker_every_time_is_dead_lettered_then_replayed_once(
    settings: Settings,
    services: dict[str, Service],
    *,
    http_server: FixtureHttpServer,
    redis_client: redis.Redis,
    keys: Keys,
    tmp_path: Path,
) -> None:
    max_deliveries = 3
    env = fault_env(NEWSWIRE_MAX_DELIVERIES=str(max_deliveries), NEWSWIRE_MAX_RETRIES="2")
    services.update(pipeline_services(settings, env, tmp_path / "logs", process_concurrency=1))
    site = NewsSite(http_server, feeds=1, per_feed=6)
    sources = site.publish()
    http_server.route(site.page_path(2), huge_page(4000))  # long enough to be caught in
    poison = page_doc_id(site, 2)
    counter = keys.delivery_count(poison, "process")
    process = services["process"]
    alive = start_all(services)
    process.wait_ready()
    FeedRegistry(redis_client, keys).sync(sources, now=time.time())

    def poisoned() -> bool:
        return any(d.doc_id == poison for d in dead_letters(redis_client, keys))

    kills, seen_starts = 0, 0
    deadline = time.monotonic() + 180
    while not poisoned():
        assert time.monotonic() < deadline, f"not dead-lettered after {kills} kills"
        alive()
        starts = int(redis_client.get(counter) or 0)
        if seen_starts < starts <= max_deliveries:
            process.kill_children()  # the page "kills" the process working on it
            kills += 1
        seen_starts = starts
        time.sleep(0.02)

    [record] = [d for d in dead_letters(redis_client, keys) if d.doc_id == poison]
    assert (record.stage, record.reason, record.permanent) == ("process", "poison", True)
    assert f"started {max_deliveries + 1} times" in record.message
    assert kills == max_deliveries
    others = {page_doc_id(site, n) for n in site.article_numbers} - {poison}
    wait_for(lambda: set(document_ids(redis_client, keys)) == others, timeout=120,
             what="the five other documents", alive=alive)  # fmt: skip

    # Replay: the page no longer kills anyone; the document is published, once.
    replayed = newswire(env, "deadletter", "replay", "--reason", "poison")
    assert replayed.strip().endswith("refetch"), replayed
    wait_for(lambda: poison in document_ids(redis_client, keys), timeout=120,
             what="the replayed document", alive=alive)  # fmt: skip
    again = newswire(env, "deadletter", "replay", "--reason", "poison")
    assert again.strip().endswith("skipped: already replayed"), again
    broker = Broker(redis_client, keys.prefix)
    wait_for(broker.idle, timeout=60, what="an idle broker", alive=alive)
    ids = document_ids(redis_client, keys)
    record_figures(
        "test_a_page_that_kills_its_worker_every_time_is_dead_lettered_then_replayed_once",
        faults={"pool child SIGKILL at each start of the poison document": kills},
        max_deliveries=max_deliveries,
        dead_lettered_after_starts=max_deliveries + 1,
        documents_expected=len(site.article_numbers),
        delivered=len(ids),
        duplicated=len(ids) - len(set(ids)),
        replays=2,
        replayed_published=Counter(ids)[poison],
    )
    assert Counter(ids)[poison] == 1
    assert sorted(ids) == sorted(others | {poison})


def test_runaway_tasks_are_stopped_by_time_limits_and_dead_lettered(
    settings: Settings,
    services: dict[str, Service],
    *,
    http_server: FixtureHttpServer,
    redis_client: redis.Redis,
    keys: Keys,
    tmp_path: Path,
) -> None:
    env = fault_env(
        NEWSWIRE_PROCESS_SOFT_TIME_LIMIT="2",
        NEWSWIRE_PROCESS_TIME_LIMIT="8",
        NEWSWIRE_ARTICLE_MAX_BYTES=str(48 * 2**20),
    )
    services.update(pipeline_services(settings, env, tmp_path / "logs", process_concurrency=1))
    site = NewsSite(http_server, feeds=1, per_feed=5)
    sources = site.publish()
    soft, hard = 1, 3  # article numbers
    # About 20 MB of text: many seconds of work, far past the soft limit even on a fast
    # machine. Python code runs most of that time, so the soft limit can interrupt it.
    http_server.route(site.page_path(soft), huge_page(9000, weight=4))
    http_server.route(site.page_path(hard), huge_page(2000))
    hard_counter = keys.delivery_count(page_doc_id(site, hard), "process")
    process = services["process"]
    alive = start_all(services)
    process.wait_ready()
    FeedRegistry(redis_client, keys).sync(sources, now=time.time())

    # The hard case: freeze the child as soon as it starts that document.
    wait_for(lambda: bool(redis_client.get(hard_counter)), timeout=120,
             what="the frozen document's start", alive=alive)  # fmt: skip
    [child] = process.children()
    os.kill(child, signal.SIGSTOP)

    reasons = {page_doc_id(site, n): n for n in (soft, hard)}
    normal = {page_doc_id(site, n) for n in site.article_numbers} - set(reasons)
    broker = Broker(redis_client, keys.prefix)
    wait_for(
        lambda: len(dead_letters(redis_client, keys)) == 2
        and set(document_ids(redis_client, keys)) == normal
        and broker.idle(),
        timeout=180, what="two dead letters, three documents, an idle broker", alive=alive,
    )  # fmt: skip
    records = {reasons[d.doc_id or ""]: d for d in dead_letters(redis_client, keys)}
    assert {n: r.reason for n, r in records.items()} == {soft: "time_limit", hard: "time_limit"}
    assert "soft time limit" in records[soft].message
    assert "hard time limit" in records[hard].message
    assert child not in process.children()  # the frozen child was killed and replaced
    # The frozen document's message was requeued by Celery and dropped on redelivery.
    received = process.received(PROCESS_ARTICLE)
    record_figures(
        "test_runaway_tasks_are_stopped_by_time_limits_and_dead_lettered",
        faults={"page over the soft limit": 1, "child frozen (SIGSTOP) past the hard limit": 1},
        limits_seconds={"soft": 2, "hard": 8},
        dead_letters={"time_limit (soft)": 1, "time_limit (hard)": 1},
        soft_record=records[soft].message[:160],
        documents_expected=3,
        delivered=len(document_ids(redis_client, keys)),
        process_tasks_received=received,
    )
    assert received == len(site.article_numbers) + 1
