"""The embedded redis-server: starts, keeps data across a restart (AOF), stops cleanly."""

from pathlib import Path

import redis

from workers.runtime.embedded_redis import EmbeddedRedis, running_embedded_url


def test_data_survives_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "redis"
    with EmbeddedRedis(data) as server:
        assert running_embedded_url(data) == server.url
        client = redis.Redis.from_url(server.url)
        client.xadd("s", {"k": "v"})
        assert client.config_get("appendonly")["appendonly"] == "yes"
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
        client.close()
    assert running_embedded_url(data) is None
    with EmbeddedRedis(data) as again:
        client = redis.Redis.from_url(again.url)
        assert client.xlen("s") == 1
        client.close()
