"""A forged pickle message on a queue is refused, never executed (scenario 11).

Anyone who can write to the broker can queue a message; a pickle body runs code
when it is loaded. Workers accept JSON only: the message below would create a
file if it were unpickled. The real worker refuses it, drops it, and goes on
serving the JSON tasks after it.
"""

from __future__ import annotations

import pathlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from schemas import FeedSource
from tests.support.faults import Broker, Service, fault_env, stop_all, wait_for
from tests.support.http_server import FixtureHttpServer
from workers.keys import Keys
from workers.registry.store import FeedRegistry
from workers.runtime.supervisor import worker_command
from workers.settings import Settings
from workers.tasks import POLL_FEED

pytestmark = pytest.mark.e2e


class Payload:
    """Unpickling this creates `marker`: the stand-in for arbitrary code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[Path]]:
        return pathlib.Path.touch, (self.marker,)


@pytest.fixture
def worker(settings: Settings, tmp_path: Path) -> Iterator[Service]:
    service = Service(
        "worker-fetch", worker_command("fetch", settings, concurrency=2), fault_env(), tmp_path
    )
    yield service
    stop_all({"worker": service})


def test_a_forged_pickle_message_is_refused_and_never_run(
    worker: Service,
    settings: Settings,
    *,
    http_server: FixtureHttpServer,
    redis_client: redis.Redis,
    keys: Keys,
    tmp_path: Path,
) -> None:
    from workers.app import create_app  # needs the test's settings: imported here

    marker = tmp_path / "pwned"
    sender = create_app(settings)  # this test's broker and key prefix
    sender.send_task(POLL_FEED, args=[Payload(marker)], serializer="pickle")
    http_server.route("/feed.xml", "<rss version='2.0'><channel><title>T</title></channel></rss>")
    FeedRegistry(redis_client, keys).sync(
        [FeedSource(id="f", url=http_server.url("/feed.xml"), title="T")], now=time.time()
    )
    sender.send_task(POLL_FEED, args=["f"])  # a genuine JSON task queued behind it

    worker.start()
    wait_for(lambda: http_server.hits("/feed.xml") == 1, timeout=90,
             what="the JSON task after the forged one", alive=worker.check_alive)  # fmt: skip
    wait_for(Broker(redis_client, keys.prefix).idle, timeout=30, what="an idle broker",
             alive=worker.check_alive)  # fmt: skip
    assert not marker.exists()
    assert "Refusing to deserialize untrusted content of type pickle" in worker.log_text()
