"""Start-up of worker and beat processes: wait for Redis, refuse an unsafe one, log values.

Connected to Celery's signals, so every way of starting a worker or beat (`newswire
run`, `newswire worker`, docker-compose, `celery -A workers.app ...`) goes through it.
The worker's check runs after logging is set up and before it consumes anything.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.concurrency.prefork import TaskPool as PreforkPool
from celery.signals import beat_init, celeryd_after_setup

from workers.clients import redis_url
from workers.errors import EXIT_CONFIG, ConfigurationError
from workers.runtime.startup import prepare_service
from workers.settings import get_settings

log = logging.getLogger(__name__)


def _prepare_or_exit(role: str) -> None:
    settings = get_settings()
    try:
        prepare_service(role, settings, redis_url(settings))
    except ConfigurationError as exc:
        log.critical("refusing to start %s: %s", role, exc)
        raise SystemExit(EXIT_CONFIG) from exc


@celeryd_after_setup.connect
def prepare_worker(sender: Any, instance: Any, **_: object) -> None:
    _prepare_or_exit(f"worker {sender}")
    if not issubclass(instance.pool_cls, PreforkPool):
        # Cancelling running tasks on a lost connection means killing their process:
        # only the prefork pool can. Elsewhere Celery would fail trying, with a
        # traceback; their messages come back after the visibility timeout anyway.
        instance.app.conf.worker_cancel_long_running_tasks_on_connection_loss = False


@beat_init.connect
def prepare_beat(sender: Any, **_: object) -> None:
    _prepare_or_exit("beat")
