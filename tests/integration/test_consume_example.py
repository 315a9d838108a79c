"""scripts/consume_example.py, run as a process against a real Redis with published documents."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import cast

import redis

from tests.conftest import REPO_ROOT
from tests.support.documents import numbered_document
from workers.keys import Keys
from workers.publishing.streams import StreamPublisher
from workers.settings import Settings

SCRIPT = REPO_ROOT / "scripts" / "consume_example.py"


def environment() -> dict[str, str]:
    # The fixture `settings` put NEWSWIRE_REDIS_URL and NEWSWIRE_KEY_PREFIX in os.environ.
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT)}


def publish_three(client: redis.Redis, keys: Keys) -> None:
    publisher = StreamPublisher(client, keys, maxlen=1000)
    publisher.publish(numbered_document(1, topics=("arms_transfers", "sanctions")))
    publisher.publish(numbered_document(2, topics=()))
    publisher.publish(numbered_document(3, topics=("sanctions",)))


def pending(client: redis.Redis, keys: Keys, group: str) -> int:
    return int(cast(dict[str, int], client.xpending(keys.documents_stream, group))["pending"])


def test_example_prints_topics_and_titles(
    settings: Settings, redis_client: redis.Redis, keys: Keys
) -> None:
    publish_three(redis_client, keys)
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--group", "example", "--count", "3"],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "arms_transfers,sanctions\tHeadline 1",
        "-\tHeadline 2",
        "sanctions\tHeadline 3",
    ]
    assert "3 handled, 0 failed, 0 parked" in result.stderr
    assert pending(redis_client, keys, "example") == 0


def test_example_reads_a_topic_stream(
    settings: Settings, redis_client: redis.Redis, keys: Keys
) -> None:
    publish_three(redis_client, keys)
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--stream", "topic:arms_transfers", "--count", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["arms_transfers,sanctions\tHeadline 1"]


def test_example_stops_cleanly_on_sigterm(
    settings: Settings, redis_client: redis.Redis, keys: Keys
) -> None:
    publish_three(redis_client, keys)
    with subprocess.Popen(
        [sys.executable, str(SCRIPT), "--group", "follow"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(),
    ) as child:
        assert child.stdout is not None
        lines = [child.stdout.readline() for _ in range(3)]  # it has handled all three
        child.send_signal(signal.SIGTERM)
        _, errors = child.communicate(timeout=30)
    assert child.returncode == 0, errors
    assert [line.split("\t")[1].strip() for line in lines] == [
        "Headline 1",
        "Headline 2",
        "Headline 3",
    ]
    assert "3 handled" in errors
    assert pending(redis_client, keys, "follow") == 0
