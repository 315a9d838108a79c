"""The workers' Prometheus metrics, and the endpoint that serves them.

Prefork: Celery's process worker runs tasks in forked children, each with its own
memory, so a counter kept in memory would be one child's share and lost when the
child is replaced. prometheus_client's multiprocess mode is made for this: every
process writes its values to memory-mapped files in one directory
(PROMETHEUS_MULTIPROC_DIR) and the endpoint, served by the worker's main process
alone, adds them up at scrape time. Each worker start gets a fresh directory of
its own (files are named by pid, and a restarted container reuses pids), removed
at shutdown; counts of replaced children stay in their files, so totals never go
back. The threads pool uses the same mode (one process, same code path).

The variable must be set before prometheus_client picks its value class, so
`enable_multiprocess` (called from the worker's `celeryd_init` signal, before the
pool forks) sets it and then re-picks the class; nothing here creates a metric
before that, as every metric is built on first use.

Only counters and histograms live in the workers: gauges of shared state (queue
depths, stream lengths, lag) are read from Redis at scrape time (collector.py),
so every worker reports the same truth and none needs to keep it.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client import values as prometheus_values
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Extraction of a page takes tens of ms to seconds; enrichment a few ms to a second.
_STAGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_TASK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


@dataclass(frozen=True)
class WorkerMetrics:
    """Every counter and histogram a worker process updates."""

    polls: Counter
    fetch_errors: Counter
    documents: Counter
    topic_documents: Counter
    dead_letters: Counter
    extract_seconds: Histogram
    enrich_seconds: Histogram
    task_seconds: Histogram

    @classmethod
    def create(cls, registry: CollectorRegistry) -> WorkerMetrics:
        return cls(
            polls=Counter(
                "newswire_polls",
                "Feed polls by outcome (not_modified, new_entries, no_new_entries, "
                "unchanged, error, deferred...).",
                ["outcome"],
                registry=registry,
            ),
            fetch_errors=Counter(
                "newswire_fetch_errors",
                "Failed feed polls (stage poll) and article fetch attempts (stage fetch), "
                "by reason.",
                ["stage", "reason"],
                registry=registry,
            ),
            documents=Counter(
                "newswire_documents",
                "Documents processed to the publish step, by result (published, duplicate).",
                ["status"],
                registry=registry,
            ),
            topic_documents=Counter(
                "newswire_topic_documents_published",
                "Documents published on a topic stream, by topic.",
                ["topic"],
                registry=registry,
            ),
            dead_letters=Counter(
                "newswire_dead_letters",
                "Records written to the dead-letter stream, by stage and reason.",
                ["stage", "reason"],
                registry=registry,
            ),
            extract_seconds=Histogram(
                "newswire_extract_seconds",
                "Time to extract a document's text (the document's extraction.extract_ms).",
                ["source"],
                buckets=_STAGE_BUCKETS,
                registry=registry,
            ),
            enrich_seconds=Histogram(
                "newswire_enrich_seconds",
                "Time to enrich a document: language, topics, entities (extraction.enrich_ms).",
                buckets=_STAGE_BUCKETS,
                registry=registry,
            ),
            task_seconds=Histogram(
                "newswire_task_seconds",
                "Run time of each Celery task, by task stage and final state.",
                ["stage", "state"],
                buckets=_TASK_BUCKETS,
                registry=registry,
            ),
        )


@lru_cache(maxsize=1)
def get_metrics() -> WorkerMetrics:
    """This process tree's metrics, built on first use (after `enable_multiprocess`).

    Their own registry, not prometheus_client's global one: the endpoint reads the
    multiprocess files, and tests can build as many sets as they like.
    """
    return WorkerMetrics.create(CollectorRegistry(auto_describe=True))


def enable_multiprocess(directory: Path) -> None:
    """Write every value of this process and its future children under `directory`."""
    if get_metrics.cache_info().currsize:
        raise RuntimeError("metrics were created before multiprocess mode was enabled")
    directory.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROC_ENV] = str(directory)
    # The value class is chosen when prometheus_client is imported; choose again now.
    prometheus_values.ValueClass = prometheus_values.get_value_class()  # type: ignore[no-untyped-call]


def new_metrics_dir(name: str) -> Path:
    """A fresh directory for one worker's multiprocess files."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return Path(tempfile.mkdtemp(prefix=f"newswire-metrics-{safe}-"))


@dataclass
class MetricsServer:
    """The /metrics endpoint of one worker: multiprocess files plus collectors at scrape."""

    server: WSGIServer
    thread: threading.Thread
    directory: Path

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve_metrics(
    directory: Path, *, port: int, address: str, extra: list[Collector]
) -> MetricsServer:
    registry = CollectorRegistry(auto_describe=True)
    MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    for collector in extra:
        registry.register(collector)
    server, thread = start_http_server(port, addr=address, registry=registry)
    log.info("metrics on http://%s:%d/metrics", address, server.server_port)
    return MetricsServer(server, thread, directory)
