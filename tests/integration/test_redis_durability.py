"""What Redis's own failures look like to Newswire (scenarios 20, 22), on servers of our own.

- A truncated append-only file (the machine died mid-write) loads, minus the
  torn last command; a file corrupt in the middle stops the embedded server at
  start-up with Redis's own explanation, not a bare exit code.
- A Redis out of memory (noeviction) refuses writes: publication fails with a
  transient error, so the task is retried (and requeued if even that fails),
  never acknowledged as done.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from tests.support.faults import make_document
from workers.errors import StoreUnavailable
from workers.keys import Keys
from workers.publishing.streams import StreamPublisher
from workers.runtime.embedded_redis import EmbeddedRedis


def aof_file(data_dir: Path) -> Path:
    """The file holding the commands (Redis 6: appendonly.aof; 7: appendonlydir/*.incr.aof)."""
    candidates = [p for p in data_dir.rglob("*.aof") if p.stat().st_size > 0]
    return max(candidates, key=lambda p: p.stat().st_size)


def test_a_truncated_aof_loads_and_a_corrupt_one_is_a_clear_start_up_error(
    tmp_path: Path,
) -> None:
    data = tmp_path / "redis"
    with EmbeddedRedis(data) as server:
        client = redis.Redis.from_url(server.url)
        for i in range(100):
            client.xadd("s", {"n": str(i)})
        client.close()
    aof = aof_file(data)
    intact = aof.read_bytes()

    aof.write_bytes(intact[:-7])  # torn last command
    with EmbeddedRedis(data) as server:
        client = redis.Redis.from_url(server.url)
        assert client.xlen("s") == 99
        client.close()

    middle = len(intact) // 2
    aof.write_bytes(intact[:middle] + b"\r\n*garbage!\r\n" + intact[middle:])
    with pytest.raises(StoreUnavailable) as refused:
        EmbeddedRedis(data).start()
    message = str(refused.value)
    assert "exited with code" in message
    assert "AOF" in message or "append only file" in message.lower(), message
    assert "redis.log" in message


def test_a_redis_out_of_memory_makes_publication_fail_transiently(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path / "redis") as server:
        client = redis.Redis.from_url(server.url)
        publisher = StreamPublisher(client, Keys("oom"), maxlen=1000, seen_ttl_days=90)
        publisher.publish(make_document(1))
        client.config_set("maxmemory", "1")  # below what it holds: every write is refused
        with pytest.raises(StoreUnavailable) as refused:
            publisher.publish(make_document(2))
        assert "OOM" in str(refused.value)
        assert refused.value.retryable
        client.config_set("maxmemory", "0")
        assert publisher.publish(make_document(2)).status == "published"
        assert client.xlen(Keys("oom").documents_stream) == 2
        client.close()
