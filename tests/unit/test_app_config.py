"""The Celery configuration that the delivery promises rest on (scenarios 1, 2, 4, 10, 11)."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest

from workers.settings import Settings, get_settings
from workers.tasks import FETCH_ARTICLE, PROCESS_ARTICLE


@pytest.fixture
def app_module(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """workers.app, whose import builds the app from the settings: give it a (dead) Redis URL."""
    monkeypatch.setenv("NEWSWIRE_REDIS_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()
    import workers.app

    yield workers.app
    get_settings.cache_clear()


def test_at_least_once_json_only_one_message_at_a_time(app_module: ModuleType) -> None:
    conf = app_module.create_app(Settings(redis_url="redis://127.0.0.1:1/0")).conf
    assert (conf.task_serializer, conf.accept_content) == ("json", ["json"])
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.task_acks_on_failure_or_timeout is False  # a hard time limit requeues
    assert conf.worker_prefetch_multiplier == 1
    assert conf.worker_eta_task_limit == app_module.ETA_TASK_LIMIT
    assert conf.broker_connection_retry_on_startup
    assert conf.broker_connection_max_retries is None
    assert conf.worker_cancel_long_running_tasks_on_connection_loss
    # A tick that waited (Redis down) expires instead of bursting after the outage.
    tick = conf.beat_schedule["dispatch-due-feeds"]
    assert tick["options"]["expires"] == 2 * tick["schedule"]


def test_the_broker_redelivers_within_the_settings_bounds(app_module: ModuleType) -> None:
    settings = Settings(
        redis_url="redis://127.0.0.1:1/0", visibility_timeout=20, unacked_restore_seconds=1,
        retry_backoff_max_seconds=2, process_soft_time_limit=8, process_time_limit=10,
        fetch_time_limit=10,
    )  # fmt: skip
    options = app_module.transport_options(settings, amqp=False)
    assert options["visibility_timeout"] == 20
    assert (options["unacked_restore_interval"], options["unacked_restore_throttle"]) == (1, 1)
    assert options["unacked_mutex_expire"] == 10
    assert options["socket_timeout"] == 30
    assert app_module.transport_options(settings, amqp=True) == {"confirm_publish": True}
    conf = app_module.create_app(settings).conf
    assert conf.task_annotations[PROCESS_ARTICLE]["time_limit"] == 10
    assert conf.task_time_limit == 10
    assert conf.task_routes[FETCH_ARTICLE] == {"queue": "fetch"}
    assert conf.broker_transport == "workers.runtime.broker:Transport"
    rabbit = settings.model_copy(update={"broker_url": "amqp://guest:guest@127.0.0.1:1//"})
    assert app_module.create_app(rabbit).conf.broker_transport is None  # kombu's amqp
