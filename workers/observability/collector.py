"""Gauges read from Redis at scrape time: queue depths, stream lengths, group lag, beat.

Every worker serves the same values (they describe the shared Redis, not the
worker); dashboards take max() across instances. A scrape that cannot reach
Redis reports newswire_redis_up 0 instead of failing the whole endpoint.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator

import redis
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from workers.keys import Keys
from workers.observability import broker, redis_state
from workers.settings import Settings

log = logging.getLogger(__name__)


def metric_families() -> dict[str, GaugeMetricFamily]:
    """The (empty) families this collector fills at scrape time, by short name."""
    return {
        "up": GaugeMetricFamily("newswire_redis_up", "1 when this scrape could read Redis."),
        "broker_up": GaugeMetricFamily(
            "newswire_broker_up", "1 when this scrape could read the broker's queue depths."
        ),
        "queue": GaugeMetricFamily(
            "newswire_queue_depth", "Messages waiting in a Celery queue.", labels=["queue"]
        ),
        "unacked": GaugeMetricFamily(
            "newswire_queue_unacked",
            "Messages delivered to workers, not yet acknowledged (Redis broker only).",
        ),
        "length": GaugeMetricFamily(
            "newswire_stream_length", "Entries in a stream (capped by MAXLEN).", labels=["stream"]
        ),
        "lag": GaugeMetricFamily(
            "newswire_stream_group_lag",
            "Entries of a stream not yet delivered to a consumer group.",
            labels=["stream", "group"],
        ),
        "pending": GaugeMetricFamily(
            "newswire_stream_group_pending",
            "Entries delivered to a consumer group and not acknowledged.",
            labels=["stream", "group"],
        ),
        "feeds": GaugeMetricFamily("newswire_feeds_registered", "Feeds in the registry."),
        "due": GaugeMetricFamily(
            "newswire_feeds_due", "Feeds due (or overdue) for a poll at scrape time."
        ),
        "beat": GaugeMetricFamily(
            "newswire_beat_last_tick_timestamp_seconds", "When beat last ticked (epoch seconds)."
        ),
        "dispatch": GaugeMetricFamily(
            "newswire_dispatch_last_run_timestamp_seconds",
            "When a worker last ran beat's dispatch task (epoch seconds).",
        ),
    }


class RedisStateCollector(Collector):
    """A Prometheus collector over redis_state; `topics` names the topic streams to read."""

    def __init__(
        self,
        client_factory: Callable[[], redis.Redis],
        settings: Settings,
        topics: Iterable[str],
    ) -> None:
        self._client_factory = client_factory
        self._settings = settings
        self._keys = Keys(settings.key_prefix)
        self._topics = tuple(sorted(topics))

    def describe(self) -> Iterator[Metric]:
        yield from metric_families().values()

    def collect(self) -> Iterator[Metric]:
        families = metric_families()
        try:
            self._fill(families, self._client_factory())
        except redis.RedisError as exc:
            log.warning("metrics: cannot read Redis: %s", exc)
            families = {"up": families["up"]}
            families["up"].add_metric([], 0)
        yield from families.values()

    def _fill(self, families: dict[str, GaugeMetricFamily], client: redis.Redis) -> None:
        self._fill_queues(families, client)
        for stream in redis_state.stream_states(client, self._keys, self._topics):
            families["length"].add_metric([stream.name], stream.length)
            for group in stream.groups:
                families["pending"].add_metric([stream.name, group.name], group.pending)
                if group.lag is not None:
                    families["lag"].add_metric([stream.name, group.name], group.lag)
        registered, due = redis_state.feeds_registered_and_due(client, self._keys, now=time.time())
        families["feeds"].add_metric([], registered)
        families["due"].add_metric([], due)
        beat, dispatch = redis_state.beat_times(client, self._keys)
        if beat is not None:
            families["beat"].add_metric([], beat)
        if dispatch is not None:
            families["dispatch"].add_metric([], dispatch)
        families["up"].add_metric([], 1)

    def _fill_queues(self, families: dict[str, GaugeMetricFamily], client: redis.Redis) -> None:
        """Queue gauges; a broker out of reach (RabbitMQ) costs only these."""
        try:
            depths = broker.queue_depths(self._settings, client, self._keys)
            unacked = broker.unacked_messages(self._settings, client, self._keys)
        except redis.RedisError:
            raise
        except Exception as exc:  # kombu/amqp raise their own connection errors
            log.warning("metrics: cannot read the broker's queues: %s", exc)
            families["broker_up"].add_metric([], 0)
            return
        for queue, depth in depths.items():
            families["queue"].add_metric([queue], depth)
        if unacked is not None:
            families["unacked"].add_metric([], unacked)
        families["broker_up"].add_metric([], 1)
