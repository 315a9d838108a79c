"""The poll stage's parts on a test Redis: registry, seen-set and poller, one HTTP client."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import redis

from workers.dedup.seen import SeenStore
from workers.fetching.http import HttpClient
from workers.keys import Keys
from workers.polling.poll import FeedPoller
from workers.registry.store import FeedRegistry
from workers.settings import Settings


class PollingParts(NamedTuple):
    registry: FeedRegistry
    poller: FeedPoller
    seen: SeenStore


@contextmanager
def polling_parts(
    client: redis.Redis, keys: Keys, settings: Settings, *, exact: bool = False
) -> Iterator[PollingParts]:
    """The parts, with `exact` a poller without jitter (due times can be asserted)."""
    if exact:
        settings = settings.model_copy(update={"poll_jitter_fraction": 0.0})
    registry = FeedRegistry(client, keys)
    seen = SeenStore(client, keys)
    http = HttpClient(settings)
    try:
        yield PollingParts(registry, FeedPoller(registry, seen, http, settings), seen)
    finally:
        http.close()
