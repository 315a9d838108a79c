"""The Celery app, and nothing else: configuration only; tasks live in workers/tasks/."""

from __future__ import annotations

from urllib.parse import urlsplit

from celery import Celery
from kombu.entity import Exchange, Queue

from workers.clients import broker_url, is_amqp
from workers.keys import Keys
from workers.observability import celery_hooks  # noqa: F401  (connects logging, metrics signals)
from workers.runtime.transport import TRANSPORT
from workers.settings import Settings, get_settings
from workers.tasks import DISPATCH_DUE_FEEDS, PROCESS_ARTICLE, TASK_QUEUES

TASK_MODULES = [
    "workers.tasks.dispatch",
    "workers.tasks.poll",
    "workers.tasks.fetch",
    "workers.tasks.process",
]


def create_app(settings: Settings) -> Celery:
    broker = broker_url(settings)
    app = Celery("newswire", broker=broker, include=TASK_MODULES)
    app.conf.update(
        # Plain redis:// URLs get kombu's Redis transport minus its per-command client
        # objects (see workers/runtime/transport.py); TLS and Sentinel URLs keep kombu's.
        broker_transport=TRANSPORT if urlsplit(broker).scheme == "redis" else None,
        # JSON only: a forged pickle on a queue is refused, never executed.
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        result_backend=None,
        # At-least-once: ack after the task, requeue if its worker process dies.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # A task that fails outside run_stage's handling (Redis down while recording
        # the failure) stays unacknowledged and is redelivered, never dropped.
        task_acks_on_failure_or_timeout=False,
        worker_prefetch_multiplier=1,
        broker_transport_options=_transport_options(settings, amqp=is_amqp(broker)),
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        task_queues=_queues(amqp=is_amqp(broker)),
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


def _transport_options(settings: Settings, *, amqp: bool) -> dict[str, object]:
    if amqp:
        # Publisher confirms: send_task returns once RabbitMQ has the message.
        return {"confirm_publish": True}
    return {
        # Above every task time limit and retry delay (checked by Settings).
        "visibility_timeout": settings.visibility_timeout,
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


app = create_app(get_settings())
