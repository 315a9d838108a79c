"""What a worker or beat checks before it serves: Redis reachable, safe, and the values in force.

- Redis unreachable: wait and retry for as long as it takes, saying so in the log
  at each attempt (with growing pauses), instead of crashing and being restarted
  in a loop.
- Redis that could lose what it acknowledged: refused with ConfigurationError
  (the caller exits with EX_CONFIG). Refused are a `maxmemory-policy` that evicts
  keys (queued tasks, stream entries and seen records would vanish silently), an
  append-only file that is off, and an fsync policy weaker than the
  `redis_fsync` setting requires.
- The effective delivery values (visibility timeout, time limits, retries,
  deliveries, fsync) are logged once, so that a timeout set in one place only is
  visible where it takes effect.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import cast
from urllib.parse import urlsplit, urlunsplit

import redis

from workers.clients import make_impatient_redis
from workers.errors import ConfigurationError
from workers.settings import Settings

log = logging.getLogger(__name__)

FIRST_PAUSE_SECONDS = 1.0
LONGEST_PAUSE_SECONDS = 15.0
_FSYNC_STRENGTH = {"no": 0, "everysec": 1, "always": 2}


def redacted(url: str) -> str:
    """The URL without its password, fit for a log line."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


def wait_for_redis(
    client: redis.Redis,
    url: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
    max_attempts: int | None = None,
) -> int:
    """Block until Redis answers PING; returns the number of attempts it took."""
    pause = FIRST_PAUSE_SECONDS
    attempt = 0
    while True:
        attempt += 1
        try:
            client.ping()
        except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError) as exc:
            if max_attempts is not None and attempt >= max_attempts:
                raise
            log.warning(
                "waiting for Redis at %s (attempt %d): %s; next try in %.0fs",
                redacted(url), attempt, exc, pause,
            )  # fmt: skip
            sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE_SECONDS)
            continue
        if attempt > 1:
            log.info("Redis at %s answers after %d attempts", redacted(url), attempt)
        return attempt


def check_redis(client: redis.Redis, settings: Settings) -> None:
    """Refuse a Redis that could drop or lose acknowledged data (ConfigurationError)."""
    config = _config(client, "maxmemory-policy", "appendonly", "appendfsync")
    problems = []
    policy = config.get("maxmemory-policy", "")
    if policy != "noeviction":
        problems.append(
            f"maxmemory-policy is {policy!r}: Redis would evict queued tasks, stream entries "
            "and seen records under memory pressure; set it to 'noeviction'"
        )
    if config.get("appendonly") != "yes":
        problems.append("appendonly is off: a Redis restart would lose everything since the last")
    fsync = config.get("appendfsync", "")
    if _FSYNC_STRENGTH.get(fsync, -1) < _FSYNC_STRENGTH[settings.redis_fsync]:
        problems.append(
            f"appendfsync is {fsync!r} but NEWSWIRE_REDIS_FSYNC requires {settings.redis_fsync!r}"
            " (set appendfsync in Redis, or accept the loss window with "
            "NEWSWIRE_REDIS_FSYNC=everysec)"
        )
    if problems:
        raise ConfigurationError("unsafe Redis: " + "; ".join(problems))
    if fsync != "always":
        log.warning(
            "Redis appendfsync is %r: acknowledged writes of the last second or two are lost "
            "if the machine crashes",
            fsync,
        )


def _config(client: redis.Redis, *names: str) -> dict[str, str]:
    raw: dict[str, str] = {}
    try:
        for name in names:  # one at a time: Redis < 7 takes one pattern per CONFIG GET
            raw.update(cast(dict[str, str], client.config_get(name)))
    except redis.ResponseError as exc:
        # Managed Redis services often rename or forbid CONFIG.
        raise ConfigurationError(
            f"cannot verify the Redis configuration (CONFIG GET refused: {exc}); Newswire "
            "needs maxmemory-policy noeviction and appendonly yes"
        ) from exc
    return {str(k): str(v) for k, v in raw.items()}


def effective_values(settings: Settings) -> str:
    """The values that decide redelivery, retries and time limits, on one line."""
    return (
        f"visibility_timeout={settings.visibility_timeout}s "
        f"unacked_restore_every={settings.unacked_restore_seconds:g}s "
        f"process_time_limit={settings.process_soft_time_limit:g}s soft/"
        f"{settings.process_time_limit:g}s hard "
        f"fetch_time_limit={settings.fetch_time_limit:g}s "
        f"http_total_deadline={settings.http_total_deadline:g}s "
        f"max_retries={settings.max_retries} "
        f"retry_backoff={settings.retry_backoff_seconds:g}s..."
        f"{settings.retry_backoff_max_seconds:g}s "
        f"max_deliveries={settings.max_deliveries} "
        f"redis_fsync={settings.redis_fsync} "
        f"stream_maxlen~{settings.stream_maxlen}"
    )


def wait_for_redis_at(url: str) -> None:
    """wait_for_redis for a URL (`newswire run` before it syncs the feed list)."""
    # Without the retries of the shared client: each attempt is logged here.
    client = make_impatient_redis(url)
    try:
        wait_for_redis(client, url)
    finally:
        client.close()


def prepare_service(role: str, settings: Settings, url: str) -> None:
    """Everything a worker or beat does before serving (ConfigurationError if refused)."""
    log.info("%s starting with %s", role, effective_values(settings))
    # Without the retries of the shared client: each attempt is logged here.
    client = make_impatient_redis(url)
    try:
        wait_for_redis(client, url)
        check_redis(client, settings)
    finally:
        client.close()
    log.info("%s: Redis at %s is reachable and safe", role, redacted(url))
