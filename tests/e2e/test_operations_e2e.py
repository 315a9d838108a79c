"""Operators' view of a real worker and beat: metrics scraped over HTTP, health checks
through the real CLI in another process, JSON log lines carrying the task's context."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from schemas import FeedSource
from tests.conftest import REPO_ROOT
from tests.support.http_server import FixtureHttpServer
from tests.support.processes import supervised, wait_until
from workers.keys import Keys
from workers.registry.store import FeedRegistry
from workers.runtime.supervisor import Supervisor, beat_command, worker_command
from workers.settings import Settings

pytestmark = pytest.mark.e2e

SAMPLE_PAGE = REPO_ROOT / "seeds" / "demo" / "pages" / "kim-putin-arms-fr.html"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def feed_xml(base: str) -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Monde</title><language>fr</language>
<item><title>Kim Jong Un en route vers la Russie</title>
<link>{base}/article/kim-putin</link><guid>kim-1</guid></item>
<item><title>Page disparue</title><link>{base}/article/gone</link><guid>gone-1</guid></item>
</channel></rss>"""


@dataclass
class Host:
    supervisor: Supervisor
    metrics_port: int
    log_dir: Path


@pytest.fixture
def host(settings: Settings, tmp_path: Path) -> Iterator[Host]:
    """One worker for all queues with its metrics endpoint, and beat; logs as JSON."""
    metrics_port = free_port()
    env = {
        "NEWSWIRE_DISPATCH_EVERY_SECONDS": "1",
        "NEWSWIRE_LOG_FORMAT": "json",
        "NEWSWIRE_METRICS_PORT": str(metrics_port),
    }
    with supervised(env, tmp_path / "logs") as supervisor:
        supervisor.start("worker", worker_command("all", settings, concurrency=2))
        supervisor.start("beat", beat_command(settings))
        yield Host(supervisor, metrics_port, tmp_path / "logs")


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
          **labels: str) -> float:  # fmt: skip
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def newswire(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "workers.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_metrics_health_and_logs_of_a_running_host(
    host: Host, http_server: FixtureHttpServer, redis_client: redis.Redis, keys: Keys
) -> None:
    http_server.route("/feed.xml", feed_xml(http_server.base_url), etag='"v1"')
    http_server.route("/article/kim-putin", SAMPLE_PAGE.read_bytes(),
                      headers={"Content-Type": "text/html; charset=utf-8"})  # fmt: skip
    FeedRegistry(redis_client, keys).sync(
        [FeedSource(id="monde", url=http_server.url("/feed.xml"), title="Monde", language="fr")],
        now=time.time(),
    )
    redis_client.xgroup_create(keys.documents_stream, "analysts", id="0", mkstream=True)

    def processed() -> bool:
        return bool(
            redis_client.xlen(keys.documents_stream) >= 1
            and redis_client.xlen(keys.deadletter_stream) >= 1
        )

    wait_until(processed, host.supervisor, timeout=120)
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}

    def counted() -> bool:
        nonlocal samples
        try:
            samples = scrape(host.metrics_port)
        except OSError:
            return False
        return value(samples, "newswire_documents_total", status="published") >= 1

    wait_until(counted, host.supervisor, timeout=30)

    # Counters written by pool children, added up by the main process's endpoint.
    assert value(samples, "newswire_polls_total", outcome="new_entries") >= 1
    assert value(samples, "newswire_dead_letters_total", stage="fetch", reason="http_404") == 1
    assert value(samples, "newswire_fetch_errors_total", stage="fetch", reason="http_404") == 1
    assert value(samples, "newswire_topic_documents_published_total", topic="arms_transfers") == 1
    assert value(samples, "newswire_extract_seconds_count", source="article_page") == 1
    assert value(samples, "newswire_enrich_seconds_count") >= 1
    assert value(samples, "newswire_task_seconds_count", stage="process", state="SUCCESS") >= 1
    # Gauges read from Redis at scrape time.
    assert value(samples, "newswire_redis_up") == 1
    assert value(samples, "newswire_stream_length", stream="documents") == 1
    assert value(samples, "newswire_stream_length", stream="deadletter") == 1
    assert value(samples, "newswire_stream_group_lag", stream="documents", group="analysts") == 1
    assert value(samples, "newswire_feeds_registered") == 1
    assert ("newswire_queue_depth", (("queue", "process"),)) in samples
    assert value(samples, "newswire_beat_last_tick_timestamp_seconds") > time.time() - 60

    # Health through the real CLI, in another process, as the compose healthcheck runs it.
    worker = newswire("health", "worker", "--kind", "all", "--ready")
    assert worker.returncode == 0, worker.stdout + worker.stderr
    assert "consuming feeds, fetch, process" in worker.stdout
    assert newswire("health", "worker", "--kind", "fetch", "--timeout", "1").returncode == 1
    beat = newswire("health", "beat", "--ready")
    assert beat.returncode == 0, beat.stdout + beat.stderr

    stats = newswire("stats", "--json")
    assert stats.returncode == 0, stats.stderr
    figures = json.loads(stats.stdout)
    assert figures["feeds"]["active"] == 1
    assert {"stage": "fetch", "reason": "http_404", "count": 1} in figures["errors"]["dead_letters"]

    # JSON log lines of the worker carry the task's context.
    events = [
        json.loads(line)
        for line in (host.log_dir / "worker.log").read_text().splitlines()
        if line.startswith("{")
    ]
    published = [e for e in events if e.get("event") == "publish"]
    assert published and published[0]["stage"] == "process"
    assert published[0]["feed_id"] == "monde" and published[0]["task_id"]
    assert published[0]["extract_ms"] > 0
    tasks = [e for e in events if e.get("event") == "task" and e.get("stage") == "fetch"]
    assert tasks and all("duration_ms" in e and e.get("doc_id") for e in tasks)
