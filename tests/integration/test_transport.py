"""The broker transport: kombu's Redis transport with one client object per channel.

workers.app builds its app from the settings at import, so it is imported once the
`settings` fixture has set them.
"""

from __future__ import annotations

import json

import redis
from celery import Celery

from workers.keys import Keys
from workers.runtime.broker import Channel
from workers.settings import Settings
from workers.tasks import POLL_FEED


def make_app(settings: Settings) -> Celery:
    from workers.app import create_app

    return create_app(settings)


def test_the_app_uses_it_and_messages_still_land_in_the_prefixed_queue(
    settings: Settings, redis_client: redis.Redis, keys: Keys
) -> None:
    app = make_app(settings)
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        assert isinstance(channel, Channel)
        # One client object per channel, over kombu's pool; the blocking one apart.
        first = channel._create_client()
        assert channel._create_client() is first
        assert first.connection_pool is channel.pool
        assert channel._create_client(asynchronous=True) is not first
        with app.producer_or_acquire() as producer:
            for number in range(3):
                app.send_task(POLL_FEED, args=[f"feed-{number}"], producer=producer)
    queued = redis_client.lrange(f"{keys.prefix}:celery:feeds", 0, -1)
    bodies = [json.loads(message)["headers"]["argsrepr"] for message in queued]
    assert sorted(bodies) == ["['feed-0']", "['feed-1']", "['feed-2']"]


def test_a_new_pool_gets_a_new_client(settings: Settings) -> None:
    app = make_app(settings)
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        old = channel._create_client()
        channel._disconnect_pools()  # what kombu does when it drops a broken connection
        new = channel._create_client()
        assert new is not old and new.connection_pool is channel.pool
        assert new.ping()


def test_tls_urls_keep_kombus_own_transport(settings: Settings) -> None:
    tls = settings.model_copy(update={"redis_url": "rediss://localhost:6380/0"})
    assert make_app(tls).conf.broker_transport is None
