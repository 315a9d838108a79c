"""What operators read from Redis: queues, streams and lag, recent errors, beat's heartbeat,
health checks and `newswire stats`, against a real Redis and a real Celery producer."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import redis
from celery import Celery
from click.testing import CliRunner

from schemas import DeadLetter, FeedSource

# A RabbitMQ vhost of the test's own (skips where no RabbitMQ can be reached).
from tests.e2e.test_rabbitmq_broker import amqp_url  # noqa: F401
from workers.cli.feeds_cmd import health_snapshots
from workers.cli.main import cli
from workers.cli.stats_cmd import feed_counts
from workers.errors import HttpStatusError
from workers.keys import Keys
from workers.observability import broker, redis_state
from workers.observability.beat import HeartbeatScheduler
from workers.observability.collector import RedisStateCollector
from workers.observability.health import check_beat, check_worker
from workers.observability.metrics import get_metrics
from workers.observability.observed import ObservedDeadLetterSink
from workers.polling.schedule import ScheduleConfig
from workers.publishing.deadletter import dead_letter_for
from workers.registry.store import FeedRegistry, FeedState
from workers.runtime.supervisor import Supervisor
from workers.settings import Settings, get_settings
from workers.tasks import FETCH_ARTICLE, POLL_FEED


@pytest.fixture
def app(settings: Settings) -> Celery:
    """A Celery app on the test Redis and prefix (workers.app reads settings on import)."""
    from workers.app import create_app

    return create_app(settings)


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def test_queue_depths_count_every_priority_list(app: Celery, redis_client: redis.Redis,
                                                keys: Keys) -> None:  # fmt: skip
    for feed_id in ("a", "b", "c"):
        app.send_task(POLL_FEED, args=[feed_id])
    app.send_task(FETCH_ARTICLE, args=[{}], priority=6)  # a list of its own in kombu
    depths = redis_state.queue_depths(redis_client, keys)
    assert depths == {"feeds": 3, "fetch": 1, "process": 0}
    assert redis_state.unacked_messages(redis_client, keys) == 0


def test_stream_lengths_groups_and_lag(redis_client: redis.Redis, keys: Keys) -> None:
    for n in range(3):
        redis_client.xadd(keys.documents_stream, {"id": f"d{n}"})
    redis_client.xgroup_create(keys.documents_stream, "analysts", id="0")
    redis_client.xreadgroup("analysts", "c1", {keys.documents_stream: ">"}, count=2)

    states = {s.name: s for s in redis_state.stream_states(redis_client, keys, ["sanctions"])}

    documents = states["documents"]
    assert documents.length == 3
    [group] = documents.groups
    assert (group.name, group.consumers, group.pending, group.lag) == ("analysts", 1, 2, 1)
    assert states["topic:sanctions"].length == 0 and states["topic:sanctions"].groups == ()


def test_recent_errors_keep_to_the_window(redis_client: redis.Redis, keys: Keys) -> None:
    now = time.time()
    old_id = f"{int((now - 7200) * 1000)}-0"
    redis_client.xadd(keys.deadletter_stream, {"stage": "fetch", "reason": "old"}, id=old_id)
    sink = ObservedDeadLetterSink(redis_client, keys, maxlen=1000)
    for _ in range(2):
        sink.record(_dead_letter())
    redis_client.xadd(keys.feed_health_stream, {"feed_id": "f", "changes": "state,error"})
    redis_client.xadd(keys.feed_health_stream, {"feed_id": "f", "changes": "stale"})

    errors = redis_state.recent_errors(redis_client, keys, now=now + 1)

    assert errors.dead_letters == {("fetch", "http_404"): 2}
    assert errors.feed_errors == 1 and not errors.capped


def test_dead_letters_are_counted_for_metrics(redis_client: redis.Redis, keys: Keys) -> None:
    counter = get_metrics().dead_letters.labels("fetch", "http_404")
    fetch_errors = get_metrics().fetch_errors.labels("fetch", "http_404")
    before, before_fetch = _count(counter), _count(fetch_errors)
    ObservedDeadLetterSink(redis_client, keys, maxlen=1000).record(_dead_letter())
    assert _count(counter) == before + 1
    assert _count(fetch_errors) == before_fetch + 1


def test_collector_reads_redis_and_reports_when_it_cannot(
    settings: Settings, redis_client: redis.Redis, keys: Keys
) -> None:
    redis_client.xadd(keys.deadletter_stream, {"stage": "poll", "reason": "timeout"})
    redis_client.sadd(keys.feed_ids, "a", "b")
    redis_client.zadd(keys.feeds_due, {"a": 0, "b": time.time() + 3600})
    samples = _samples(RedisStateCollector(lambda: redis_client, settings, ["sanctions"]))
    assert samples[("newswire_redis_up", ())] == 1
    assert samples[("newswire_stream_length", (("stream", "deadletter"),))] == 1
    assert samples[("newswire_feeds_registered", ())] == 2
    assert samples[("newswire_feeds_due", ())] == 1
    assert samples[("newswire_queue_depth", (("queue", "feeds"),))] == 0
    assert samples[("newswire_broker_up", ())] == 1

    unreachable = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    down = _samples(RedisStateCollector(lambda: unreachable, settings, []))
    assert down == {("newswire_redis_up", ()): 0}


def test_beat_heartbeat_and_health(settings: Settings, app: Celery, redis_client: redis.Redis,
                                   keys: Keys, tmp_path: Path) -> None:  # fmt: skip
    stale = settings.beat_stale_seconds
    assert not check_beat(redis_client, keys, ready=False, stale_seconds=stale).ok

    scheduler = HeartbeatScheduler(app=app, schedule_filename=str(tmp_path / "schedule"), lazy=True)
    scheduler.setup_schedule()
    scheduler.tick()
    scheduler.close()

    live = check_beat(redis_client, keys, ready=False, stale_seconds=stale)
    assert live.ok, live.details
    # Ready needs a worker to have run the dispatch task too.
    assert not check_beat(redis_client, keys, ready=True, stale_seconds=stale).ok
    redis_client.set(keys.beat_heartbeat, str(time.time()))
    assert check_beat(redis_client, keys, ready=True, stale_seconds=stale).ok
    later = time.time() + stale + 1
    assert not check_beat(redis_client, keys, ready=False, stale_seconds=stale, now=later).ok


def test_worker_health_fails_fast_without_workers(app: Celery) -> None:
    health = check_worker(app, kind="fetch", ready=True, timeout=0.5)
    assert not health.ok
    assert "no fetch worker" in health.details[0]


def test_health_command_exit_status(settings: Settings, redis_client: redis.Redis,
                                    keys: Keys) -> None:  # fmt: skip
    runner = CliRunner()
    assert runner.invoke(cli, ["health", "beat"]).exit_code == 1
    redis_client.set(keys.beat_alive, str(time.time()))
    result = runner.invoke(cli, ["health", "beat"])
    assert result.exit_code == 0, result.output
    assert "beat last ticked" in result.output
    assert runner.invoke(cli, ["health", "beat", "--quiet"]).output == ""


def test_stats_command(app: Celery, redis_client: redis.Redis, keys: Keys) -> None:
    registry = FeedRegistry(redis_client, keys)
    registry.sync(
        [
            FeedSource(id=f"f{n}", url=f"https://example.org/{n}.xml", title=f"Feed {n}")
            for n in range(3)
        ],
        now=time.time(),
    )
    ObservedDeadLetterSink(redis_client, keys, maxlen=1000).record(_dead_letter())
    app.send_task(POLL_FEED, args=["f0"])
    runner = CliRunner()

    result = runner.invoke(cli, ["stats", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["feeds"]["active"] == 3 and figures["feeds"]["due"] == 3
    assert figures["queues"]["feeds"] == 1
    assert figures["errors"]["dead_letters"] == [
        {"stage": "fetch", "reason": "http_404", "count": 1}
    ]
    streams = {s["name"]: s["length"] for s in figures["streams"]}
    assert streams["deadletter"] == 1 and streams["documents"] == 0

    screen = runner.invoke(cli, ["stats"])
    assert screen.exit_code == 0, screen.output
    for title in ("Feeds", "Queues", "Streams", "Errors in the last hour", "http_404"):
        assert title in screen.output


def test_stats_counts_feeds_as_their_health_snapshots_say(
    settings: Settings, redis_client: redis.Redis, keys: Keys
) -> None:
    """The counts come from a few fields per feed, not whole records: the same verdicts."""
    registry = FeedRegistry(redis_client, keys)
    now = time.time()
    sources = [
        FeedSource(id=f"f{n}", url=f"https://example.org/{n}.xml", title=f"Feed {n}",
                   enabled=n != 1)
        for n in range(5)
    ]  # fmt: skip
    registry.sync(sources, now=now)
    registry.save_state("f2", FeedState(health="disabled", disabled_reason="gone"))
    stale = FeedState(health="erroring", gap_seconds=600.0, gap_samples=5,
                      last_item_at=now - 30 * 86400)  # fmt: skip
    registry.save_state("f3", stale)
    registry.save_state("f4", FeedState(gap_seconds=600.0, gap_samples=5, last_item_at=now))

    counts = feed_counts(registry, ScheduleConfig.from_settings(settings), now=now)
    snapshots = health_snapshots(registry, now=now)
    expected = Counter(h.state for h in snapshots)
    assert {k: v for k, v in counts.items() if k != "stale" and v} == expected
    assert expected == {"active": 2, "paused": 1, "disabled": 1, "erroring": 1}
    assert counts["stale"] == sum(h.stale for h in snapshots) == 1


def _dead_letter() -> DeadLetter:
    return dead_letter_for(
        HttpStatusError("404 Not Found", status=404),
        stage="fetch",
        task_name=FETCH_ARTICLE,
        task_args={"entry": {}},
        attempts=1,
        doc_id="ab" * 14,
        url="https://example.org/gone",
    )


def _count(child: object) -> float:
    [metric] = child.collect()  # type: ignore[attr-defined]
    return float(next(s.value for s in metric.samples if s.name.endswith("_total")))


def _samples(
    collector: RedisStateCollector,
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in collector.collect()
        for s in family.samples
    }


def test_queue_depths_on_rabbitmq(
    amqp_url: str,  # noqa: F811 (the fixture imported above)
    monkeypatch: pytest.MonkeyPatch,
    redis_client: redis.Redis,
    keys: Keys,
) -> None:
    """With RabbitMQ as broker the depths come from the broker, not from Redis."""
    monkeypatch.setenv("NEWSWIRE_BROKER_URL", amqp_url)
    get_settings.cache_clear()
    settings = get_settings()
    from workers.app import create_app

    assert broker.queue_depths(settings, redis_client, keys) == {
        "feeds": 0,
        "fetch": 0,
        "process": 0,
    }
    app = create_app(settings)
    for feed_id in ("a", "b"):
        app.send_task(POLL_FEED, args=[feed_id])
    depths = broker.queue_depths(settings, redis_client, keys)
    assert depths["feeds"] == 2
    assert broker.unacked_messages(settings, redis_client, keys) is None
    samples = _samples(RedisStateCollector(lambda: redis_client, settings, []))
    assert samples[("newswire_queue_depth", (("queue", "feeds"),))] == 2
    assert ("newswire_queue_unacked", ()) not in samples


def test_supervisor_gives_one_child_its_own_variables(tmp_path: Path) -> None:
    """`newswire run` starts the process worker with the next metrics port this way."""
    supervisor = Supervisor({"NEWSWIRE_METRICS_PORT": "9100", "PATH": ""}, log_dir=tmp_path)
    show = [sys.executable, "-c", "import os; print(os.environ['NEWSWIRE_METRICS_PORT'])"]
    supervisor.start("first", show)
    supervisor.start("second", show, env={"NEWSWIRE_METRICS_PORT": "9101"})
    deadline = time.monotonic() + 30
    while len(supervisor.dead()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    supervisor.stop()
    assert (tmp_path / "first.log").read_text().strip() == "9100"
    assert (tmp_path / "second.log").read_text().strip() == "9101"
