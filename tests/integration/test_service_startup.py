"""Worker and beat refuse, at start-up, what would lose or duplicate work (scenarios 4, 5, 20, 21).

Real `celery worker` and `celery beat` processes (the command lines of
`newswire run`) against a redis-server of the test's own: settings that would
run tasks twice, a Redis that evicts keys, an append-only file that is off or
fsynced less often than required. Each is refused with one clear line and the
EX_CONFIG exit status, so that a supervisor reports it instead of restarting
the process in a loop.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import REPO_ROOT
from workers.errors import EXIT_CONFIG, ConfigurationError
from workers.runtime.embedded_redis import EmbeddedRedis
from workers.runtime.startup import check_redis, effective_values, redacted
from workers.runtime.supervisor import beat_command, worker_command
from workers.settings import Settings

START_TIMEOUT_SECONDS = 90


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[redis.Redis]:
    with EmbeddedRedis(tmp_path / "redis") as server:
        client = redis.Redis.from_url(server.url)
        yield client
        client.close()


def run_service(
    settings: Settings, env: dict[str, str], kind: str
) -> subprocess.CompletedProcess[str]:
    command = (
        beat_command(settings)
        if kind == "beat"
        else worker_command("fetch", settings, concurrency=1)
    )
    return subprocess.run(
        command, env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **env},
        capture_output=True, text=True, timeout=START_TIMEOUT_SECONDS, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("kind", ["worker", "beat"])
def test_settings_that_would_run_tasks_twice_are_refused(settings: Settings, kind: str) -> None:
    done = run_service(settings, {"NEWSWIRE_VISIBILITY_TIMEOUT": "600"}, kind)
    assert done.returncode == EXIT_CONFIG, done.stderr[-2000:]
    assert "refusing to start" in done.stderr
    assert "visibility_timeout (600s) must exceed" in done.stderr
    assert "tasks would run twice" in done.stderr
    assert "Traceback" not in done.stderr


def url_of(client: redis.Redis) -> str:
    kwargs = client.connection_pool.connection_kwargs
    return f"redis://{kwargs['host']}:{kwargs['port']}/0"


@pytest.mark.parametrize("kind", ["worker", "beat"])
def test_a_redis_that_evicts_keys_is_refused(
    settings: Settings, own_redis: redis.Redis, kind: str
) -> None:
    own_redis.config_set("maxmemory-policy", "allkeys-lru")
    env = {"NEWSWIRE_REDIS_URL": url_of(own_redis), "NEWSWIRE_REDIS_FSYNC": "always"}
    done = run_service(settings, env, kind)
    assert done.returncode == EXIT_CONFIG, done.stderr[-2000:]
    assert f"refusing to start {'beat' if kind == 'beat' else 'worker'}" in done.stderr
    assert "maxmemory-policy is 'allkeys-lru'" in done.stderr


def test_a_redis_weaker_than_the_fsync_setting_is_refused(
    settings: Settings, own_redis: redis.Redis
) -> None:
    own_redis.config_set("appendfsync", "everysec")
    env = {"NEWSWIRE_REDIS_URL": url_of(own_redis), "NEWSWIRE_REDIS_FSYNC": "always"}
    done = run_service(settings, env, "worker")
    assert done.returncode == EXIT_CONFIG, done.stderr[-2000:]
    assert "appendfsync is 'everysec' but NEWSWIRE_REDIS_FSYNC requires 'always'" in done.stderr


def test_check_redis_accepts_a_safe_redis_and_names_every_problem(
    own_redis: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    strict, relaxed = Settings(redis_fsync="always"), Settings(redis_fsync="everysec")
    check_redis(own_redis, strict)  # the embedded Redis: noeviction, AOF, fsync always
    own_redis.config_set("appendfsync", "everysec")
    with caplog.at_level(logging.WARNING, logger="workers.runtime.startup"):
        check_redis(own_redis, relaxed)  # accepted, with a warning
    assert "lost if the machine crashes" in caplog.text
    own_redis.config_set("appendonly", "no")
    own_redis.config_set("maxmemory-policy", "volatile-lru")
    with pytest.raises(ConfigurationError) as refused:
        check_redis(own_redis, relaxed)
    assert "maxmemory-policy is 'volatile-lru'" in str(refused.value)
    assert "appendonly is off" in str(refused.value)


def test_effective_values_and_redacted_urls() -> None:
    line = effective_values(Settings(visibility_timeout=900, process_time_limit=90))
    assert "visibility_timeout=900s" in line
    assert "process_time_limit=60s soft/90s hard" in line
    assert "max_retries=5" in line and "max_deliveries=8" in line
    assert redacted("redis://:s3cret@db:6379/0") == "redis://:***@db:6379/0"
    assert redacted("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
