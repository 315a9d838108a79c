"""Scale-out path: RabbitMQ as the broker (quorum queues), Redis kept for streams and state.

Real RabbitMQ (NEWSWIRE_TEST_AMQP_URL, or a vhost of its own made with rabbitmqctl on
the local server), real fetch and process workers on separate queues, real beat.
Skipped, with the reason, where no RabbitMQ can be reached.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from schemas import Document, FeedSource
from tests.conftest import REPO_ROOT
from tests.support.http_server import FixtureHttpServer
from tests.support.processes import supervised, wait_until
from tests.support.streams import read_stream
from workers.keys import Keys
from workers.registry.store import FeedRegistry
from workers.runtime.supervisor import Supervisor, beat_command, worker_command
from workers.settings import Settings

pytestmark = pytest.mark.e2e

SAMPLE_PAGE = REPO_ROOT / "seeds" / "demo" / "pages" / "kim-putin-arms-fr.html"
AMQP_HOST, AMQP_PORT = "127.0.0.1", 5672
CTL_TIMEOUT_SECONDS = 60


def _rabbitmqctl(*args: str) -> str:
    done = subprocess.run(
        ["rabbitmqctl", *args],
        capture_output=True,
        text=True,
        timeout=CTL_TIMEOUT_SECONDS,
        check=True,
    )
    return done.stdout


def _local_rabbitmq_usable() -> str | None:
    """Why the local RabbitMQ cannot be used, or None."""
    if shutil.which("rabbitmqctl") is None:
        return "rabbitmqctl not found"
    try:
        socket.create_connection((AMQP_HOST, AMQP_PORT), timeout=2).close()
    except OSError as exc:
        return f"no RabbitMQ on {AMQP_HOST}:{AMQP_PORT} ({exc})"
    return None


@pytest.fixture
def amqp_url(key_prefix: str) -> Iterator[str]:
    """A vhost of this test's own, deleted afterwards (nothing left on a shared server)."""
    given = os.environ.get("NEWSWIRE_TEST_AMQP_URL")
    if given:
        yield given
        return
    if reason := _local_rabbitmq_usable():
        pytest.skip(f"RabbitMQ broker test: {reason} (or set NEWSWIRE_TEST_AMQP_URL)")
    try:
        _rabbitmqctl("add_vhost", key_prefix)
        _rabbitmqctl("set_permissions", "-p", key_prefix, "guest", ".*", ".*", ".*")
    except (subprocess.SubprocessError, OSError) as exc:
        pytest.skip(f"RabbitMQ broker test: cannot create a vhost with rabbitmqctl ({exc})")
    yield f"amqp://guest:guest@{AMQP_HOST}:{AMQP_PORT}/{key_prefix}"
    _rabbitmqctl("delete_vhost", key_prefix)


@pytest.fixture
def services(settings: Settings, amqp_url: str, tmp_path: Path) -> Iterator[Supervisor]:
    """Fetch and process workers apart, as on separate hosts, and beat, all on RabbitMQ."""
    env = {
        "NEWSWIRE_BROKER_URL": amqp_url,
        "NEWSWIRE_DISPATCH_EVERY_SECONDS": "1",
        "NEWSWIRE_RETRY_BACKOFF_SECONDS": "1",
        "NEWSWIRE_HOST_PENALTY_SECONDS": "1",
    }
    with supervised(env, tmp_path / "logs") as supervisor:
        supervisor.start("worker-fetch", worker_command("fetch", settings, concurrency=4))
        supervisor.start("worker-process", worker_command("process", settings, concurrency=1))
        supervisor.start("beat", beat_command(settings))
        yield supervisor


def feed_xml(base: str) -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Monde</title><language>fr</language>
<item><title>Kim Jong Un en route vers la Russie</title>
<link>{base}/article/kim-putin</link><guid>kim-1</guid></item>
</channel></rss>"""


def test_pipeline_on_rabbitmq_quorum_queues_with_a_retry(
    services: Supervisor,
    http_server: FixtureHttpServer,
    redis_client: redis.Redis,
    keys: Keys,
    key_prefix: str,
) -> None:
    http_server.route("/feed.xml", feed_xml(http_server.base_url))
    # The page is unavailable at first: the fetch is retried with a countdown, which
    # quorum queues carry through Celery's native delayed delivery.
    page = http_server.route(
        "/article/kim-putin", b"busy", status=503, headers={"Retry-After": "1"}
    )
    FeedRegistry(redis_client, keys).sync(
        [FeedSource(id="monde", url=http_server.url("/feed.xml"), title="Monde", language="fr")],
        now=time.time(),
    )
    wait_until(lambda: http_server.hits("/article/kim-putin") >= 1, services, timeout=120)
    page.status, page.body = 200, SAMPLE_PAGE.read_bytes()
    page.headers = {"Content-Type": "text/html; charset=utf-8"}

    wait_until(lambda: redis_client.xlen(keys.documents_stream) >= 1, services, timeout=120)

    [(_, fields)] = read_stream(redis_client, keys.documents_stream)
    doc = Document.model_validate_json(fields[b"doc"])
    assert doc.language.code == "fr"
    assert {"arms_transfers", "sanctions"} <= set(doc.topic_ids)
    assert http_server.hits("/article/kim-putin") >= 2
    assert redis_client.xlen(keys.deadletter_stream) == 0
    # Nothing of the broker's went to Redis: the queues live on RabbitMQ, as quorum queues.
    assert not list(redis_client.scan_iter(match=f"{key_prefix}:celery:*"))
    if not os.environ.get("NEWSWIRE_TEST_AMQP_URL"):
        listed = _rabbitmqctl("list_queues", "-p", key_prefix, "--quiet", "name", "type")
        types = dict(line.split() for line in listed.splitlines() if line.strip())
        assert {types.get(q) for q in ("feeds", "fetch", "process")} == {"quorum"}
