"""Two beats and two dispatching workers: no feed polled twice for one due time (13, 14, 15).

Two real beat processes tick the dispatcher every half second each, and two
fetch workers run the ticks (so dispatchers run concurrently); a loopback
server counts the requests for each of 20 feeds. Every feed is polled once per
due time; after one beat is SIGKILLed and every feed is made due again, the
other beat carries on alone and every feed is polled exactly once more.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from schemas import FeedSource
from tests.support.faults import Service, fault_env, record_figures, stop_all, wait_for
from tests.support.http_server import FixtureHttpServer
from workers.keys import Keys
from workers.registry.store import FeedRegistry
from workers.runtime.supervisor import beat_command, worker_command
from workers.settings import Settings
from workers.tasks import DISPATCH_DUE_FEEDS

# Real processes on a shared machine: the waits inside are generous, so is the budget.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

FEEDS = 20
EMPTY_FEED = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
    "<title>Quiet</title></channel></rss>"
)


@pytest.fixture
def services(settings: Settings, tmp_path: Path) -> Iterator[dict[str, Service]]:
    env, logs = fault_env(NEWSWIRE_DISPATCH_EVERY_SECONDS="0.5"), tmp_path / "logs"
    created = {}
    for name in ("a", "b"):
        worker = [*worker_command("fetch", settings, concurrency=4), "--hostname", f"{name}@%h"]
        created[f"worker-{name}"] = Service(f"worker-{name}", worker, env, logs)
        beat_settings = settings.model_copy(update={"data_dir": tmp_path / f"beat-{name}"})
        created[f"beat-{name}"] = Service(f"beat-{name}", beat_command(beat_settings), env, logs)
    yield created
    stop_all(created)


def ticks(beat: Service) -> int:
    return len(re.findall(r"Sending due task dispatch-due-feeds", beat.log_text()))


def test_two_beats_and_two_dispatchers_poll_each_feed_once_per_due_time(
    services: dict[str, Service],
    http_server: FixtureHttpServer,
    redis_client: redis.Redis,
    keys: Keys,
) -> None:
    paths = [f"/quiet/{i}.xml" for i in range(FEEDS)]
    for path in paths:
        http_server.route(path, EMPTY_FEED, headers={"Content-Type": "application/rss+xml"})
    sources = [
        FeedSource(id=f"quiet{i}", url=http_server.url(p), title="Quiet")
        for i, p in enumerate(paths)
    ]
    for service in services.values():
        service.start()
    for name in ("worker-a", "worker-b"):
        services[name].wait_ready()
    registry = FeedRegistry(redis_client, keys)

    def alive() -> None:
        for service in services.values():
            if service.starts and service.process and service.name != "beat-a":
                service.check_alive()

    def polls() -> list[int]:
        return [http_server.hits(p) for p in paths]

    def run_due_round(rounds: int, beats: list[Service]) -> None:
        """Wait until every feed was polled `rounds` times, then for 10 more ticks of each beat
        (room for any duplicate poll to show up)."""
        wait_for(lambda: min(polls()) >= rounds, timeout=90,
                 what=f"every feed polled {rounds} times", alive=alive)  # fmt: skip
        marks = {beat.name: ticks(beat) for beat in beats}
        wait_for(lambda: all(ticks(b) >= marks[b.name] + 10 for b in beats), timeout=60,
                 what="ten more ticks of each beat", alive=alive)  # fmt: skip

    registry.sync(sources, now=time.time())
    beats = [services["beat-a"], services["beat-b"]]
    run_due_round(1, beats)
    first_round = polls()

    services["beat-a"].kill()
    for source in sources:  # every feed due again, for the beat that is left
        redis_client.zadd(keys.feeds_due, {source.id: 0}, xx=True)
    run_due_round(2, [services["beat-b"]])
    second_round = polls()

    dispatches = {n: services[n].received(DISPATCH_DUE_FEEDS) for n in ("worker-a", "worker-b")}
    record_figures(
        "test_two_beats_and_two_dispatchers_poll_each_feed_once_per_due_time",
        faults={"second beat": 1, "second dispatching worker": 1, "beat SIGKILL": 1},
        feeds=FEEDS,
        ticks={b.name: ticks(b) for b in beats},
        dispatches_run=dispatches,
        polls_first_due_time=sum(first_round),
        polls_second_due_time=sum(second_round) - sum(first_round),
        feeds_polled_twice_for_one_due_time=sum(
            1 for a, b in zip(first_round, second_round, strict=True) if a > 1 or b - a > 1
        ),
    )
    assert first_round == [1] * FEEDS
    assert second_round == [2] * FEEDS
    assert all(count > 0 for count in dispatches.values())  # both dispatchers took ticks
