"""The consumer library (workers.consumer) against a real Redis and real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest
import redis

from tests.conftest import REPO_ROOT
from tests.support.documents import numbered_document
from workers.consumer import (
    Consumer,
    ConsumerConfig,
    Delivery,
    GroupReader,
    read_parked,
)
from workers.keys import Keys
from workers.publishing.streams import StreamPublisher
from workers.runtime.embedded_redis import EmbeddedRedis
from workers.settings import Settings


def publish(client: redis.Redis, keys: Keys, *numbers: int) -> list[str]:
    """Publish numbered documents; their stream entry ids, in order."""
    publisher = StreamPublisher(client, keys, maxlen=1000)
    ids = [publisher.publish(numbered_document(n)).entry_id for n in numbers]
    return [entry_id for entry_id in ids if entry_id]


def consumer(
    client: redis.Redis, keys: Keys, handler: Callable[[Delivery], None], **options: object
) -> Consumer:
    settings: dict[str, object] = {"group": "team", "key_prefix": keys.prefix, "block_ms": 50}
    settings.update(options)
    return Consumer(client, ConsumerConfig(**settings), handler)  # type: ignore[arg-type]


def drain(reader: Consumer, rounds: int = 20, pause: float = 0.0) -> None:
    for _ in range(rounds):
        reader.poll_once()
        time.sleep(pause)


def pending(client: redis.Redis, stream: str, group: str = "team") -> int:
    return int(cast(dict[str, int], client.xpending(stream, group))["pending"])


def test_group_creation_is_idempotent(redis_client: redis.Redis, keys: Keys) -> None:
    publish(redis_client, keys, 1, 2, 3)
    seen: list[str] = []
    first = consumer(redis_client, keys, lambda d: seen.append(d.document.id))
    drain(first, rounds=2)
    assert len(seen) == 3
    # Creating the group again keeps its position: nothing is delivered twice.
    again = consumer(redis_client, keys, lambda d: seen.append(d.document.id))
    assert not again.reader.ensure_group()
    drain(again, rounds=2)
    assert len(seen) == 3
    groups = cast(list[dict[str, object]], redis_client.xinfo_groups(keys.documents_stream))
    assert [g["name"] for g in groups] == [b"team"]
    # A new group that starts at "$" skips what the stream already holds.
    late = GroupReader(redis_client, keys.documents_stream, "late", start_id="$")
    assert late.read_new(10, block_ms=None) == []
    publish(redis_client, keys, 4)
    [entry] = late.read_new(10, block_ms=None)
    assert entry.document().id == numbered_document(4).id


def test_handler_failure_leaves_the_entry_pending_until_redelivered(
    redis_client: redis.Redis, keys: Keys
) -> None:
    [entry_id] = publish(redis_client, keys, 1)
    attempts: list[tuple[str, int]] = []

    def flaky(delivery: Delivery) -> None:
        attempts.append((delivery.entry_id, delivery.deliveries))
        if len(attempts) == 1:
            raise RuntimeError("downstream database unavailable")

    reader = consumer(redis_client, keys, flaky, min_idle_ms=100)
    reader.poll_once()
    assert (reader.stats.failed, reader.stats.handled) == (1, 0)
    assert pending(redis_client, keys.documents_stream) == 1
    time.sleep(0.15)
    reader.poll_once()
    assert attempts == [(entry_id, 1), (entry_id, 2)]
    assert (reader.stats.handled, reader.stats.claimed) == (1, 1)
    assert pending(redis_client, keys.documents_stream) == 0
    assert read_parked(redis_client, keys.parked_stream("team")) == []


_DYING_CONSUMER = """
import os, signal, sys
import redis
from workers.consumer import Consumer, ConsumerConfig

def die(delivery):
    print(delivery.entry_id, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

config = ConsumerConfig(group="team", consumer="doomed", key_prefix=sys.argv[1], batch_size=3)
Consumer(redis.Redis.from_url(os.environ["NEWSWIRE_REDIS_URL"]), config, die).run()
"""


def test_entries_of_a_killed_consumer_are_claimed_after_min_idle(
    settings: Settings, redis_client: redis.Redis, keys: Keys
) -> None:
    entry_ids = publish(redis_client, keys, 1, 2, 3)
    child = subprocess.run(
        [sys.executable, "-c", _DYING_CONSUMER, keys.prefix],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        check=False,
    )
    assert child.returncode == -9, child.stderr
    assert child.stdout.split() == entry_ids[:1]
    assert pending(redis_client, keys.documents_stream) == 3  # held by the dead consumer

    handled: list[tuple[str, int]] = []
    patient = consumer(redis_client, keys, lambda d: handled.append((d.entry_id, d.deliveries)))
    drain(patient, rounds=2)  # 60 s min idle: too early to claim anything
    assert handled == []

    rescuer = consumer(
        redis_client,
        keys,
        lambda d: handled.append((d.entry_id, d.deliveries)),
        min_idle_ms=200,
        consumer="rescuer",
    )
    time.sleep(0.25)
    drain(rescuer, rounds=2)
    assert handled == [(entry_id, 2) for entry_id in entry_ids]
    assert rescuer.stats.claimed == 3
    assert pending(redis_client, keys.documents_stream) == 0


def test_invalid_entries_are_parked_and_acknowledged(redis_client: redis.Redis, keys: Keys) -> None:
    good = json.loads(numbered_document(1).model_dump_json())
    newer = {**good, "schema_version": "1.4.0", "sentiment": 0.2}
    newer["extraction"] = {**good["extraction"], "paywall": False}
    no_text = {k: v for k, v in good.items() if k != "text"}
    stream = keys.documents_stream

    def add(fields: dict[str, str]) -> str:
        return cast(bytes, redis_client.xadd(stream, fields)).decode()  # type: ignore[arg-type]

    bad_entries = {
        add({"id": good["id"]}): "no 'doc' field",
        add({"doc": "{not json"}): "not JSON",
        add({"doc": json.dumps(no_text)}): "text",
        add({"doc": json.dumps({**good, "schema_version": "2.0.0"})}): "reads 1.x",
        add({"id": "f" * 32, "doc": json.dumps(good)}): "header id",
    }
    tolerated = add({"id": good["id"], "doc": json.dumps(newer)})
    handled: list[Delivery] = []
    reader = consumer(redis_client, keys, handled.append)
    drain(reader, rounds=2)

    assert [d.entry_id for d in handled] == [tolerated]
    assert handled[0].document.id == good["id"]
    assert json.loads(handled[0].entry.fields["doc"])["sentiment"] == 0.2  # still in the raw
    parked = read_parked(redis_client, keys.parked_stream("team"))
    assert [p.entry_id for p in parked] == list(bad_entries)
    for record, expected in zip(parked, bad_entries.values(), strict=True):
        assert record.reason == "invalid"
        assert expected in record.error
        assert (record.stream, record.group, record.deliveries) == (stream, "team", 1)
    assert parked[1].fields == {"doc": "{not json"}
    assert pending(redis_client, stream) == 0
    assert reader.stats.parked == 5


def test_an_entry_is_parked_after_max_deliveries(redis_client: redis.Redis, keys: Keys) -> None:
    [entry_id] = publish(redis_client, keys, 1)
    attempts: list[int] = []

    def always_fails(delivery: Delivery) -> None:
        attempts.append(delivery.deliveries)
        raise ValueError("cannot store this one")

    reader = consumer(redis_client, keys, always_fails, min_idle_ms=50, max_deliveries=3)
    drain(reader, rounds=15, pause=0.07)
    assert attempts == [1, 2, 3]
    [parked] = read_parked(redis_client, keys.parked_stream("team"))
    assert (parked.entry_id, parked.reason, parked.deliveries) == (entry_id, "max_deliveries", 3)
    assert parked.error == "ValueError: cannot store this one"
    assert json.loads(parked.fields["doc"])["id"] == numbered_document(1).id
    assert pending(redis_client, keys.documents_stream) == 0


def test_an_entry_its_consumers_never_finish_is_parked_unhandled(
    redis_client: redis.Redis, keys: Keys
) -> None:
    """A poison entry that kills its consumer never returns an error: the count decides."""
    [entry_id] = publish(redis_client, keys, 1)
    ghost = GroupReader(redis_client, keys.documents_stream, "team", "ghost")
    ghost.read_new(1, block_ms=None)
    # As if delivered (and fatal) five times already, long ago.
    redis_client.xclaim(
        keys.documents_stream, "team", "ghost", 0, [entry_id], idle=600_000, retrycount=5
    )
    handled: list[Delivery] = []
    reader = consumer(redis_client, keys, handled.append, min_idle_ms=1000, max_deliveries=5)
    drain(reader, rounds=2)
    assert handled == []
    [parked] = read_parked(redis_client, keys.parked_stream("team"))
    assert (parked.entry_id, parked.reason, parked.deliveries) == (entry_id, "max_deliveries", 6)


def test_two_consumers_split_the_work_without_doubles(
    redis_client: redis.Redis, keys: Keys, settings: Settings
) -> None:
    handled: dict[str, list[str]] = {"one": [], "two": []}
    lock = threading.Lock()
    total = 40

    def handler_of(name: str) -> Callable[[Delivery], None]:
        def handle(delivery: Delivery) -> None:
            with lock:
                handled[name].append(delivery.document.id)
                done = sum(len(ids) for ids in handled.values()) >= total
            time.sleep(0.002)  # some work, so that the other consumer gets its share
            if done:
                for reader in readers:
                    reader.stop()

        return handle

    readers = [
        consumer(
            redis.Redis.from_url(str(settings.redis_url)),
            keys,
            handler_of(name),
            consumer=name,
            batch_size=2,
            block_ms=200,
        )
        for name in handled
    ]
    threads = [threading.Thread(target=reader.run) for reader in readers]
    for thread in threads:
        thread.start()
    time.sleep(0.3)  # both are waiting for entries
    publish(redis_client, keys, *range(total))
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    every = handled["one"] + handled["two"]
    assert sorted(every) == sorted(numbered_document(n).id for n in range(total))
    assert len(set(every)) == total  # no document handled twice
    assert handled["one"] and handled["two"]
    assert pending(redis_client, keys.documents_stream) == 0


def test_pending_entries_trimmed_away_are_acknowledged(
    redis_client: redis.Redis, keys: Keys
) -> None:
    publish(redis_client, keys, 1, 2)
    GroupReader(redis_client, keys.documents_stream, "team", "gone").read_new(2, block_ms=None)
    redis_client.xtrim(keys.documents_stream, maxlen=0, approximate=False)
    handled: list[Delivery] = []
    reader = consumer(redis_client, keys, handled.append, min_idle_ms=1)
    time.sleep(0.01)
    drain(reader, rounds=2)
    assert handled == []
    assert pending(redis_client, keys.documents_stream) == 0


def test_a_restarted_consumer_takes_its_own_pending_entries_first(
    redis_client: redis.Redis, keys: Keys
) -> None:
    entry_ids = publish(redis_client, keys, 1, 2)
    GroupReader(redis_client, keys.documents_stream, "team", "worker-1").read_new(2, None)
    handled: list[tuple[str, int]] = []
    restarted = consumer(
        redis_client, keys, lambda d: handled.append((d.entry_id, d.deliveries)),
        consumer="worker-1",
    )  # fmt: skip
    restarted.poll_once()
    assert handled == [(entry_id, 2) for entry_id in entry_ids]
    assert pending(redis_client, keys.documents_stream) == 0


def test_topic_streams_and_bad_settings(redis_client: redis.Redis, keys: Keys) -> None:
    publish(redis_client, keys, 1)
    handled: list[Delivery] = []
    topic = consumer(redis_client, keys, handled.append, stream="topic:sanctions")
    drain(topic, rounds=1)
    assert [d.entry.stream for d in handled] == [keys.topic_stream("sanctions")]
    with pytest.raises(ValueError, match="unknown stream"):
        consumer(redis_client, keys, handled.append, stream="topic:a:b")
    with pytest.raises(ValueError, match="GroupReader"):
        consumer(redis_client, keys, handled.append, stream="deadletter")
    with pytest.raises(ValueError, match="max_deliveries"):
        ConsumerConfig(group="team", max_deliveries=0)
    decoding = redis.Redis(
        connection_pool=redis.ConnectionPool(
            **{**redis_client.connection_pool.connection_kwargs, "decode_responses": True}
        )
    )
    with pytest.raises(ValueError, match="decode_responses"):
        consumer(decoding, keys, handled.append)
    with pytest.raises(ValueError, match="socket_timeout"):
        consumer(redis_client, keys, handled.append, block_ms=60_000)  # client: 30 s


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_the_loop_rides_out_a_redis_restart(tmp_path: Path) -> None:
    """Its own Redis, stopped and started again under the loop (AOF keeps the group)."""
    keys = Keys("nwtest-restart")
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    client = redis.Redis.from_url(server.url, socket_timeout=5, socket_connect_timeout=1)
    publisher_client = redis.Redis.from_url(server.url)
    handled: list[str] = []
    try:
        reader = consumer(client, keys, lambda d: handled.append(d.document.id), block_ms=200)
        thread = threading.Thread(target=reader.run)
        thread.start()
        publish(publisher_client, keys, 1)
        wait_for(lambda: len(handled) == 1)
        server.stop()
        time.sleep(0.5)  # the loop meets the closed connection and waits
        server.start()
        publish(publisher_client, keys, 2)
        wait_for(lambda: len(handled) == 2)
        reader.stop()
        thread.join(timeout=30)
        assert not thread.is_alive()
        assert handled == [numbered_document(1).id, numbered_document(2).id]
        assert pending(publisher_client, keys.documents_stream) == 0
    finally:
        client.close()
        publisher_client.close()
        server.stop()
