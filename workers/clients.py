"""Clients shared by everything in one worker process: made once, remade after fork.

Celery's prefork pool forks children after import; a connection pool inherited
across fork would be shared by two processes, so each client remembers the pid
that created it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from workers.errors import ConfigurationError
from workers.keys import Keys
from workers.settings import Settings, get_settings

T = TypeVar("T")


class PerProcess(Generic[T]):
    """A value built once per process, lazily; threads share it, a forked child rebuilds it."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._value: tuple[int, T] | None = None

    def get(self) -> T:
        current = self._value
        if current is not None and current[0] == os.getpid():
            return current[1]
        with self._lock:
            if self._value is None or self._value[0] != os.getpid():
                self._value = (os.getpid(), self._factory())
            return self._value[1]

    def reset(self) -> T | None:
        """Forget the value (after settings change, in tests and CLI commands); return it
        if this process had built it, for the caller to close."""
        with self._lock:
            current, self._value = self._value, None
        return current[1] if current is not None and current[0] == os.getpid() else None


def redis_url(settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    if not settings.redis_url:
        raise ConfigurationError(
            "NEWSWIRE_REDIS_URL is not set: start Newswire with `newswire run`, "
            "which starts an embedded Redis and sets it for its workers"
        )
    return settings.redis_url


def broker_url(settings: Settings | None = None) -> str:
    """Celery's broker: NEWSWIRE_BROKER_URL when set, else the Redis Newswire uses."""
    settings = settings or get_settings()
    return settings.broker_url or redis_url(settings)


def is_amqp(url: str) -> bool:
    return url.split("://", 1)[0] in {"amqp", "amqps", "pyamqp"}


def make_redis(url: str) -> redis.Redis:
    """A Redis client that rides out short outages (restarts, failovers)."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=5,
        socket_timeout=30,
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=5, base=0.1), retries=8),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
    )


def make_impatient_redis(url: str) -> redis.Redis:
    """A Redis client that fails at once when Redis is away, for code that must not wait
    (a worker's main process, whose event loop would stall) or that waits its own way
    (the start-up probe, which logs every attempt)."""
    return redis.Redis.from_url(
        url, socket_connect_timeout=2, socket_timeout=5, retry=Retry(ExponentialBackoff(), 0)
    )


_redis = PerProcess(lambda: make_redis(redis_url()))
_impatient_redis = PerProcess(lambda: make_impatient_redis(redis_url()))


def get_redis() -> redis.Redis:
    """The process's Redis client (bytes in, bytes out)."""
    return _redis.get()


def get_impatient_redis() -> redis.Redis:
    """The process's client that never retries (see make_impatient_redis)."""
    return _impatient_redis.get()


def reset_clients() -> None:
    _redis.reset()
    _impatient_redis.reset()


def get_keys() -> Keys:
    return Keys(get_settings().key_prefix)
