"""The poller, publisher and dead-letter sink as workers use them, counting what they do.

Subclasses built by workers/services.py: the stage code stays free of metrics,
and the tasks are unchanged. Counting never fails the work it counts.
"""

from __future__ import annotations

import logging

from schemas import DeadLetter, Document
from workers.dedup.seen import EntryKey
from workers.observability.metrics import get_metrics
from workers.polling.poll import FeedPoller, Handoff, PollResult
from workers.publishing.deadletter import DeadLetterSink
from workers.publishing.streams import PublishResult, StreamPublisher

log = logging.getLogger(__name__)

_ROUTINE_POLLS = frozenset({"not_modified", "no_new_entries", "unchanged", "deferred"})


class ObservedPoller(FeedPoller):
    def poll(
        self,
        feed_id: str,
        *,
        now: float,
        owner: str | None = None,
        handoff: Handoff | None = None,
    ) -> PollResult:
        result = super().poll(feed_id, now=now, owner=owner, handoff=handoff)
        observe_poll(result)
        return result


class ObservedPublisher(StreamPublisher):
    def publish(
        self, document: Document, *, entry_key: EntryKey | None = None, now: float | None = None
    ) -> PublishResult:
        result = super().publish(document, entry_key=entry_key, now=now)
        observe_publish(result)
        return result


class ObservedDeadLetterSink(DeadLetterSink):
    def record(
        self, dead: DeadLetter, *, task_id: str | None = None, marker_ttl: int = 86400
    ) -> str | None:
        entry_id = super().record(dead, task_id=task_id, marker_ttl=marker_ttl)
        if entry_id is not None:  # None: that task was dead-lettered already
            observe_dead_letter(dead)
        return entry_id


def observe_poll(result: PollResult) -> None:
    metrics = get_metrics()
    metrics.polls.labels(result.status).inc()
    if result.error is not None:
        metrics.fetch_errors.labels("poll", result.error.reason).inc()
    # The usual outcomes (at 100 polls/s, mostly 304) only when debugging.
    level = logging.DEBUG if result.status in _ROUTINE_POLLS else logging.INFO
    log.log(
        level,
        "poll %s",
        result.status,
        extra={
            "event": "poll",
            "feed_id": result.feed_id,
            "outcome": result.status,
            "new_entries": len(result.new_entries),
            "resent_entries": len(result.resent),
            **({"reason": result.error.reason} if result.error is not None else {}),
        },
    )


def observe_publish(result: PublishResult) -> None:
    metrics = get_metrics()
    document = result.document
    metrics.documents.labels(result.status).inc()
    extraction = document.extraction
    metrics.extract_seconds.labels(extraction.source).observe(extraction.extract_ms / 1000)
    metrics.enrich_seconds.observe(extraction.enrich_ms / 1000)
    if result.status == "published":
        for topic in document.topic_ids:
            metrics.topic_documents.labels(topic).inc()
    log.info(
        "document %s",
        result.status,
        extra={
            "event": "publish",
            "doc_id": document.id,
            "status": result.status,
            "topics": sorted(document.topic_ids),
            "extract_ms": round(extraction.extract_ms, 1),
            "enrich_ms": round(extraction.enrich_ms, 1),
        },
    )


def observe_dead_letter(dead: DeadLetter) -> None:
    """Counted here; the sink itself logs the record."""
    metrics = get_metrics()
    metrics.dead_letters.labels(dead.stage, dead.reason).inc()
    if dead.stage == "fetch":
        metrics.fetch_errors.labels("fetch", dead.reason).inc()
