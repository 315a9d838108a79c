"""`newswire run` on its embedded default: starts Redis and the services, moves a document
from a feed to the stream, and stops everything cleanly on Ctrl-C (SIGINT)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from tests.conftest import LOOPBACK_ALLOWLIST, REPO_ROOT
from tests.e2e.test_pipeline_e2e import SAMPLE_PAGE, feed_xml
from tests.support.http_server import FixtureHttpServer
from workers.runtime.embedded_redis import running_embedded_url

pytestmark = pytest.mark.e2e


def test_run_on_the_embedded_default(http_server: FixtureHttpServer, tmp_path: Path) -> None:
    http_server.route("/feed.xml", feed_xml(http_server.base_url))
    http_server.route("/article/kim-putin?utm_source=rss", SAMPLE_PAGE.read_bytes())
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(
        f"feeds:\n  - id: monde\n    title: Monde\n    url: {http_server.url('/feed.xml')}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWIRE_")}
    env |= {
        "NEWSWIRE_DATA_DIR": str(tmp_path / "data"),
        "NEWSWIRE_DISPATCH_EVERY_SECONDS": "1",
        "NEWSWIRE_FETCH_ALLOWLIST": LOOPBACK_ALLOWLIST,  # the fixture server
    }
    env["PYTHONPATH"] = str(REPO_ROOT)
    command = [sys.executable, "-m", "workers.cli.main", "run", "--feeds", str(feeds)]
    process = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        url = wait_for_embedded_redis(tmp_path / "data" / "redis", process)
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 120
        while client.xlen("newswire:documents") < 1:
            assert process.poll() is None, "newswire run exited early"
            assert time.monotonic() < deadline, "no document within 120 s"
            time.sleep(0.5)
        client.close()
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    log = output.decode(errors="replace")
    assert process.returncode == 0, log[-3000:]
    assert "SIGINT: stopping..." in log
    assert "embedded redis-server stopped" in log
    assert running_embedded_url(tmp_path / "data" / "redis") is None
    leftovers = subprocess.run(
        ["pgrep", "-f", str(tmp_path / "data")], check=False, capture_output=True, text=True
    ).stdout.split()
    assert leftovers == []


def wait_for_embedded_redis(data_dir: Path, process: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "newswire run exited early"
        url = running_embedded_url(data_dir)
        if url:
            return url
        time.sleep(0.2)
    raise AssertionError("embedded Redis did not start")
