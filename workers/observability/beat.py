"""Beat's scheduler: Celery's own, plus a heartbeat in Redis at every tick.

The dispatch task writes when it last ran (Keys.beat_heartbeat), but that shows
beat *and* a feeds worker at once; this heartbeat (Keys.beat_alive) is written by
the beat process itself, so `newswire health beat` can tell which one stopped.
Selected by the app's `beat_scheduler` setting.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from celery.beat import PersistentScheduler

from workers.clients import make_redis, redis_url
from workers.keys import Keys
from workers.settings import get_settings

log = logging.getLogger(__name__)

# Beat ticks at least every dispatch period; one write a second at most is plenty.
_MIN_WRITE_INTERVAL_SECONDS = 1.0


class HeartbeatScheduler(PersistentScheduler):  # type: ignore[misc]  # Celery is untyped
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._redis: redis.Redis | None = None
        self._keys = Keys(get_settings().key_prefix)
        self._last_write = 0.0

    def tick(self, *args: Any, **kwargs: Any) -> float:
        interval = float(super().tick(*args, **kwargs))
        self._beat()
        return interval

    def _beat(self) -> None:
        now = time.time()
        if now - self._last_write < _MIN_WRITE_INTERVAL_SECONDS:
            return
        try:
            if self._redis is None:
                self._redis = make_redis(redis_url())
            self._redis.set(self._keys.beat_alive, repr(now))
            self._last_write = now
        except redis.RedisError as exc:  # beat keeps scheduling; health will show it
            log.warning("beat heartbeat not written: %s", exc)
