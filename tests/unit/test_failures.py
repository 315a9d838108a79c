"""Failures of Redis itself never drop a task's message (workers/tasks/outage.py), and a
soft time limit caught by library code still stops the stage (workers/tasks/time_limits.py)."""

from __future__ import annotations

import contextlib
import os
import signal

import pytest
import redis
from celery.exceptions import Reject, SoftTimeLimitExceeded
from kombu.exceptions import OperationalError

from workers.errors import ConfigurationError, StoreUnavailable
from workers.tasks import outage, time_limits
from workers.tasks.outage import requeue_on_outage


@pytest.fixture(autouse=True)
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outage, "OUTAGE_PAUSE_SECONDS", 0.0)


def raising(exc: BaseException) -> None:
    raise exc


@pytest.mark.parametrize(
    "outage",
    [
        redis.ConnectionError("Connection refused"),
        redis.TimeoutError("Timeout reading from socket"),
        redis.exceptions.OutOfMemoryError("OOM command not allowed"),
        OperationalError("cannot publish"),
        StoreUnavailable("cannot publish document"),
        ConfigurationError("taxonomy file unreadable"),  # ours to mend, not the document's
    ],
)
def test_an_outage_returns_the_message_to_its_queue(outage: Exception) -> None:
    with pytest.raises(Reject) as rejected:
        requeue_on_outage(raising)(outage)
    assert rejected.value.requeue is True
    assert rejected.value.reason is outage


def test_a_retry_celery_could_not_send_is_requeued_not_dropped() -> None:
    # Task.retry raises Reject(requeue=False) when sending the retry fails.
    dropped = Reject(OperationalError("broker down"), requeue=False)
    with pytest.raises(Reject) as rejected:
        requeue_on_outage(raising)(dropped)
    assert rejected.value.requeue is True


def test_other_failures_pass_through() -> None:
    for exc in (Reject("no", requeue=False), ValueError("bug")):
        with pytest.raises(type(exc)) as raised:
            requeue_on_outage(raising)(exc)
        assert raised.value is exc


def test_the_decorated_task_keeps_its_name_and_result() -> None:
    def body(value: int) -> int:
        return value + 1

    guarded = requeue_on_outage(body)
    assert guarded(1) == 2
    assert guarded.__name__ == "body"


def test_a_swallowed_soft_time_limit_still_stops_the_stage() -> None:
    """Library code that catches every exception cannot hide the soft limit from us."""

    def billiard_like(signum: int, frame: object) -> None:
        raise SoftTimeLimitExceeded

    previous = signal.signal(signal.SIGUSR1, billiard_like)
    try:
        time_limits.SOFT_LIMIT.arm()
        time_limits.out_of_time()  # not fired: nothing happens
        with contextlib.suppress(Exception):  # what trafilatura's fallback extractors do
            os.kill(os.getpid(), signal.SIGUSR1)  # what billiard sends at the soft limit
        with pytest.raises(SoftTimeLimitExceeded):
            time_limits.out_of_time()
        time_limits.SOFT_LIMIT.arm()  # the next task starts clean, the handler wrapped once
        time_limits.out_of_time()
        assert isinstance(signal.getsignal(signal.SIGUSR1), time_limits._MarkingHandler)
    finally:
        signal.signal(signal.SIGUSR1, previous)
