"""A consumer that dies holding entries: another member of its group claims them (scenario 18).

A real consumer process reads three documents with XREADGROUP and is SIGKILLed
before it acknowledges them. `newswire tail`, in the same group, claims them
(XAUTOCLAIM) once they have been idle long enough, prints them with the two
entries nobody read yet, and acknowledges all five: nothing stays pending.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import cast

import pytest
import redis

from tests.conftest import REPO_ROOT
from tests.support.faults import make_document, record_figures
from tests.support.streams import read_stream
from workers.keys import Keys
from workers.publishing.streams import StreamPublisher
from workers.settings import Settings

pytestmark = pytest.mark.e2e

GROUP = "team-a"

# A consumer of the group that reads three entries and then hangs, never acknowledging.
HOLDER = """
import sys, time
from workers.clients import get_keys, get_redis
from workers.consumer import GroupReader
reader = GroupReader(get_redis(), get_keys().documents_stream, sys.argv[1], "holder")
entries = reader.read(count=3, block_ms=5000)
print(" ".join(e.entry_id for e in entries), flush=True)
time.sleep(600)
"""


def publish(client: redis.Redis, keys: Keys, count: int) -> list[str]:
    publisher = StreamPublisher(client, keys, maxlen=1000)
    return [publisher.publish(make_document(n)).entry_id or "" for n in range(count)]


def test_tail_claims_what_a_dead_consumer_held(
    settings: Settings, redis_client: redis.Redis, keys: Keys
) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    entry_ids = publish(redis_client, keys, 5)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, GROUP], env=env, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    with holder.stdout:
        held = holder.stdout.readline().split()
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    assert held == entry_ids[:3]
    pending = cast(dict[str, int], redis_client.xpending(keys.documents_stream, GROUP))
    assert pending["pending"] == 3

    tail = subprocess.run(
        [sys.executable, "-m", "workers.cli.main", "tail", "--group", GROUP,
         "--consumer", "rescuer", "--min-idle", "1", "--count", "5"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert tail.returncode == 0, tail.stderr
    printed = [line.split()[0] for line in tail.stdout.splitlines()]
    after = cast(dict[str, int], redis_client.xpending(keys.documents_stream, GROUP))
    record_figures(
        "test_tail_claims_what_a_dead_consumer_held",
        faults={"consumer SIGKILL holding entries": 1},
        entries=len(entry_ids),
        held_by_dead_consumer=len(held),
        printed_by_tail=len(printed),
        pending_after=after["pending"],
    )
    assert sorted(printed) == sorted(entry_ids)  # three claimed, two never read before
    assert after["pending"] == 0
    assert len(read_stream(redis_client, keys.documents_stream)) == 5
