"""The objects one worker process shares between its tasks, built once (and again after fork)."""

from __future__ import annotations

import gc
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import redis

from workers.clients import PerProcess, get_redis
from workers.dedup.neardup import NearDupIndex
from workers.dedup.seen import SeenStore
from workers.enrichment import Enricher
from workers.enrichment.taxonomy import topic_ids
from workers.fetching.http import HttpClient
from workers.fetching.politeness import HostLimiter, HostLimits
from workers.fetching.rawstore import RawPageStore
from workers.fetching.robots import RobotsPolicy
from workers.keys import Keys
from workers.observability.observed import (
    ObservedDeadLetterSink,
    ObservedPoller,
    ObservedPublisher,
)
from workers.polling.poll import FeedPoller
from workers.publishing.deadletter import DeadLetterSink
from workers.publishing.streams import StreamPublisher
from workers.registry.store import FeedRegistry
from workers.settings import Settings, get_settings


@dataclass
class Services:
    settings: Settings
    redis: redis.Redis

    @cached_property
    def keys(self) -> Keys:
        return Keys(self.settings.key_prefix)

    @cached_property
    def registry(self) -> FeedRegistry:
        return FeedRegistry(self.redis, self.keys)

    @cached_property
    def seen(self) -> SeenStore:
        return SeenStore(self.redis, self.keys)

    @cached_property
    def host_limiter(self) -> HostLimiter:
        limits = HostLimits.from_settings(self.settings)
        return HostLimiter(self.redis, self.keys, limits, self.settings)

    @cached_property
    def http(self) -> HttpClient:
        # Polls and article fetches share it, and so share each host's limit.
        return HttpClient(self.settings, limiter=self.host_limiter)

    @cached_property
    def robots(self) -> RobotsPolicy:
        return RobotsPolicy(self.redis, self.keys, self.http, self.settings)

    @cached_property
    def raw_pages(self) -> RawPageStore:
        return RawPageStore(self.redis, self.keys, ttl_seconds=self.settings.raw_html_ttl_seconds)

    @cached_property
    def publisher(self) -> StreamPublisher:
        # Observed*: the same objects, counting for metrics and logging (observability/).
        return ObservedPublisher(
            self.redis,
            self.keys,
            maxlen=self.settings.stream_maxlen,
            list_sink=self.settings.list_sink,
            list_sink_maxlen=self.settings.list_sink_maxlen,
        )

    @cached_property
    def deadletters(self) -> DeadLetterSink:
        return ObservedDeadLetterSink(self.redis, self.keys, maxlen=self.settings.stream_maxlen)

    @cached_property
    def near_duplicates(self) -> NearDupIndex:
        return NearDupIndex.from_settings(self.redis, self.keys, self.settings)

    @cached_property
    def poller(self) -> FeedPoller:
        return ObservedPoller(self.registry, self.seen, self.http, self.settings)

    @cached_property
    def topic_ids(self) -> frozenset[str]:
        """The taxonomy's topics (one stream each), listed once per process."""
        return topic_ids(self.settings.seeds_dir)

    @property
    def enricher(self) -> Enricher:
        # Loaded only where processing happens: taxonomy and gazetteer take a moment.
        return load_enricher(self.settings.seeds_dir)


@lru_cache(maxsize=4)
def load_enricher(seeds_dir: Path) -> Enricher:
    """The enricher of a seeds folder, loaded once per process.

    Unlike the clients above it is plain read-only data, so a pool child may keep
    the copy it inherits across fork: loaded in the worker's main process, it
    costs the children nothing.
    """
    enricher = Enricher.from_seeds(seeds_dir)
    settle_heap()
    return enricher


def settle_heap() -> None:
    """Take what is loaded so far out of the cyclic garbage collector's sight.

    The enricher is a quarter of a million long-lived objects (taxonomy, gazetteer,
    matchers); left in view, every full collection walks them all (about 50 ms),
    and walking them also writes to pages a forked pool child would share.
    """
    gc.collect()
    gc.freeze()


_services = PerProcess(lambda: Services(get_settings(), get_redis()))


def get_services() -> Services:
    """This process's services; threads share them, a forked child builds its own."""
    return _services.get()


def reset_services() -> None:
    """Forget this process's services (after settings change, in tests), closing the
    HTTP client they opened."""
    previous = _services.reset()
    if previous is not None and "http" in previous.__dict__:  # built: cached_property
        previous.http.close()
