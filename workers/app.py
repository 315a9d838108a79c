"""The Celery app, and nothing else: configuration only; tasks live in workers/tasks/."""

from __future__ import annotations

from celery import Celery
from kombu.entity import Exchange, Queue

from workers.clients import redis_url
from workers.settings import Settings, get_settings
from workers.tasks import DISPATCH_DUE_FEEDS, PROCESS_ARTICLE, TASK_QUEUES

TASK_MODULES = [
    "workers.tasks.dispatch",
    "workers.tasks.poll",
    "workers.tasks.fetch",
    "workers.tasks.process",
]


def create_app(settings: Settings) -> Celery:
    app = Celery("newswire", broker=redis_url(settings), include=TASK_MODULES)
    app.conf.update(
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
        broker_transport_options={
            # Above every task time limit and retry delay (checked by Settings).
            "visibility_timeout": settings.visibility_timeout,
            "global_keyprefix": f"{settings.key_prefix}:celery:",
        },
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        # One direct exchange per queue: a message routed to one queue reaches no other.
        task_queues=[
            Queue(name, Exchange(name, type="direct"), routing_key=name)
            for name in sorted(set(TASK_QUEUES.values()))
        ],
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
        worker_hijack_root_logger=True,
        enable_utc=True,
    )
    return app


app = create_app(get_settings())
