"""The Celery app, and nothing else: configuration only; tasks live in workers/tasks/."""

from __future__ import annotations

import logging
import sys
from urllib.parse import urlsplit

from celery import Celery
from kombu.entity import Exchange, Queue

from workers.clients import broker_url, is_amqp
from workers.errors import EXIT_CONFIG, ConfigurationError
from workers.keys import Keys
from workers.observability import celery_hooks  # noqa: F401  (connects logging, metrics signals)
from workers.runtime.broker import TRANSPORT as REDIS_TRANSPORT
from workers.settings import Settings, get_settings
from workers.tasks import DISPATCH_DUE_FEEDS, PROCESS_ARTICLE, TASK_QUEUES

ETA_TASK_LIMIT = 1000

TASK_MODULES = [
    "workers.tasks.lifecycle",
    "workers.tasks.dispatch",
    "workers.tasks.poll",
    "workers.tasks.fetch",
    "workers.tasks.process",
]


def create_app(settings: Settings) -> Celery:
    broker = broker_url(settings)
    app = Celery("newswire", broker=broker, include=TASK_MODULES)
    amqp = is_amqp(broker)
    app.conf.update(
        # Plain redis:// URLs get kombu's Redis transport minus a crash on reconnection
        # and its per-command client objects (workers/runtime/broker.py); TLS and
        # Sentinel URLs keep kombu's.
        broker_transport=REDIS_TRANSPORT if urlsplit(broker).scheme == "redis" else None,
        # JSON only: a forged pickle on a queue is refused, never executed.
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        result_backend=None,
        # At-least-once: ack after the task, requeue if its worker process dies.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # A hard time limit requeues the task (its next delivery finds it dead-lettered
        # and is dropped: see workers/tasks/time_limits.py). Celery drops a task that
        # raises; ours raise only Reject(requeue=True) during a Redis outage.
        task_acks_on_failure_or_timeout=False,
        worker_prefetch_multiplier=1,
        # ETA tasks (retries, host-busy requeues) wait in the worker, unacknowledged;
        # beyond this many it takes no more messages until some are due (bounded memory).
        worker_eta_task_limit=ETA_TASK_LIMIT,
        broker_transport_options=transport_options(settings, amqp=amqp),
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        task_queues=_queues(amqp=amqp),
        task_default_queue="feeds",
        task_routes={name: {"queue": queue} for name, queue in TASK_QUEUES.items()},
        # Hard limits need the prefork pool; the threads pool relies on the HTTP
        # client's total deadline instead.
        task_time_limit=settings.fetch_time_limit,
        task_annotations={
            PROCESS_ARTICLE: {
                "soft_time_limit": settings.process_soft_time_limit,
                "time_limit": settings.process_time_limit,
            }
        },
        beat_schedule={
            "dispatch-due-feeds": {
                "task": DISPATCH_DUE_FEEDS,
                "schedule": settings.dispatch_every_seconds,
                # A tick that waited longer than two periods is stale: drop it
                # rather than burst after an outage.
                "options": {"expires": settings.dispatch_every_seconds * 2},
            }
        },
        # Celery's scheduler, writing beat's own heartbeat at every tick (health checks).
        beat_scheduler="workers.observability.beat:HeartbeatScheduler",
        worker_hijack_root_logger=True,
        enable_utc=True,
    )
    return app


def transport_options(settings: Settings, *, amqp: bool) -> dict[str, object]:
    """The broker transport's options: RabbitMQ's confirms, or kombu's Redis transport's
    acknowledgement emulation and connection handling."""
    if amqp:
        # Publisher confirms: send_task returns once RabbitMQ has the message.
        return {"confirm_publish": True}
    restore_every = settings.unacked_restore_seconds
    return {
        # Above every retry delay plus time limit (checked by Settings).
        "visibility_timeout": settings.visibility_timeout,
        # Sweep for tasks of dead workers every `restore_every` seconds (kombu's
        # default scans only every tenth 10 s tick).
        "unacked_restore_interval": restore_every,
        "unacked_restore_throttle": 1,
        # A worker killed while it held the sweep's lock blocks sweeps this long.
        "unacked_mutex_expire": max(10, round(3 * restore_every)),
        # A broker connection that went silent (failover, half-open socket) fails
        # instead of hanging; BRPOP itself returns every second.
        "socket_timeout": 30,
        "socket_connect_timeout": 5,
        "global_keyprefix": Keys(settings.key_prefix).celery_prefix,
    }


def _queues(*, amqp: bool) -> list[Queue]:
    """One exchange per queue, so that a message routed to one queue reaches no other.

    On RabbitMQ: replicated, durable quorum queues, behind topic exchanges (Celery's
    native delayed delivery, which retries with a countdown use on quorum queues,
    cannot route through direct ones).
    """
    names = sorted(set(TASK_QUEUES.values()))
    if not amqp:
        return [Queue(name, Exchange(name, type="direct"), routing_key=name) for name in names]
    return [
        Queue(
            name,
            Exchange(name, type="topic", durable=True),
            routing_key=name,
            durable=True,
            queue_arguments={"x-queue-type": "quorum"},
        )
        for name in names
    ]


def _app_or_exit() -> Celery:
    """The app, or a one-line refusal and EX_CONFIG (a supervisor must not loop on it)."""
    try:
        return create_app(get_settings())
    except ConfigurationError as exc:
        logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger("workers.app").critical("refusing to start: %s", exc)
        sys.exit(EXIT_CONFIG)


app = _app_or_exit()
