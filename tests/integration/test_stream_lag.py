"""Stream trimming never drops a consumer group's unread entries silently (scenario 19).

On a real Redis: a group that falls behind is reported before the cap reaches
its backlog, and a group that lost entries to trimming (unread, or read and not
acknowledged) is reported as such, by the check the dispatcher runs every
`stream_lag_check_seconds`. (The consumer's side, acknowledging entries trimmed
away and giving up entries delivered too often, is in test_consumer.py.)
"""

from __future__ import annotations

import logging
from typing import cast

import pytest
import redis

from workers.keys import Keys
from workers.publishing.lag import check_lag, group_lags, newswire_streams
from workers.settings import Settings


def fill(client: redis.Redis, stream: str, count: int) -> list[str]:
    return [
        cast(bytes, client.xadd(stream, {"id": f"{i:032x}", "doc": "{}"})).decode()
        for i in range(count)
    ]


def test_a_lagging_group_is_reported_before_trimming_reaches_it(
    redis_client: redis.Redis, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    stream = keys.documents_stream
    fill(redis_client, stream, 100)
    redis_client.xgroup_create(stream, "slow", id="0")
    redis_client.xgroup_create(stream, "fast", id="$")
    redis_client.xreadgroup("slow", "c", {stream: ">"}, count=10)
    lags = {lag.group: lag for lag in group_lags(redis_client, stream)}
    assert lags["fast"].backlog == 0 and not lags["fast"].trimmed_unread
    assert 80 <= lags["slow"].backlog <= 100  # 90 unread, 10 unacknowledged
    with caplog.at_level(logging.WARNING, logger="workers.publishing.lag"):
        at_risk = check_lag(redis_client, [stream], maxlen=110, alert_fraction=0.8)
    assert [lag.group for lag in at_risk] == ["slow"]
    assert "near the stream cap" in caplog.text and "group slow" in caplog.text


def test_entries_trimmed_before_a_group_read_them_are_reported(
    settings: Settings, redis_client: redis.Redis, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    stream = keys.documents_stream
    fill(redis_client, stream, 50)
    redis_client.xgroup_create(stream, "asleep", id="0")
    redis_client.xreadgroup("asleep", "c", {stream: ">"}, count=5)
    redis_client.xtrim(stream, maxlen=20, approximate=False)
    with caplog.at_level(logging.ERROR, logger="workers.publishing.lag"):
        [lost] = check_lag(redis_client, newswire_streams(keys, ["sanctions"]), maxlen=1000,
                           alert_fraction=0.8)  # fmt: skip
    assert lost.trimmed_unread and lost.group == "asleep"
    assert "lost entries to stream trimming" in caplog.text
