"""Polling one feed: conditional GET, parse, pick the entries never seen, reschedule.

Errors never escape as exceptions: they are recorded on the feed's status with
their typed reason, and the feed is rescheduled with exponential backoff (the
due-time index is the retry mechanism for polls).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from schemas import FeedEntry, FeedRef
from workers.dedup.seen import SeenStore
from workers.errors import NewswireError, TransientError
from workers.fetching.http import HttpClient, HttpResponse
from workers.polling.adapter import parse_feed, to_entries
from workers.registry.store import FeedRecord, FeedRegistry, FeedState
from workers.settings import Settings

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 24 * 3600


@dataclass
class PollResult:
    feed_id: str
    status: (
        str  # new_entries | no_new_entries | not_modified | unchanged | error | disabled | unknown
    )
    new_entries: list[FeedEntry] = field(default_factory=list)
    error: NewswireError | None = None
    first_error_of_streak: bool = False
    problems: list[str] = field(default_factory=list)


class FeedPoller:
    """Everything one poll needs, made once per worker process."""

    def __init__(
        self, registry: FeedRegistry, seen: SeenStore, http: HttpClient, settings: Settings
    ) -> None:
        self._registry = registry
        self._seen = seen
        self._http = http
        self._settings = settings

    def poll(self, feed_id: str, *, now: float) -> PollResult:
        record = self._registry.get(feed_id)
        if record is None:
            return PollResult(feed_id, "unknown")
        if not record.source.enabled:
            return PollResult(feed_id, "disabled")
        state = record.state.model_copy()
        state.last_polled_at = now
        try:
            result = self._poll_once(record, state, now)
        except NewswireError as exc:
            result = self._record_error(record, state, exc, now)
        self._registry.save_state(feed_id, state)
        return result

    def _poll_once(self, record: FeedRecord, state: FeedState, now: float) -> PollResult:
        source = record.source
        response = self._http.get(
            str(source.url),
            max_bytes=self._settings.feed_max_bytes,
            headers=_conditional_headers(state),
        )
        state.etag = response.headers.get("etag", state.etag)
        state.last_modified = response.headers.get("last-modified", state.last_modified)
        if response.status == 304:
            return self._succeeded(record, state, now, "not_modified")
        body_hash = hashlib.sha256(response.body).hexdigest()
        if body_hash == state.body_hash:
            # The server ignored our validators but sent the same bytes: skip parsing.
            return self._succeeded(record, state, now, "unchanged")
        entries, problems = self._parse(record, response, now)
        state.body_hash = body_hash
        fresh = self._select_new(entries)
        state.entries_total += len(fresh)
        result = self._succeeded(record, state, now, "new_entries" if fresh else "no_new_entries")
        result.new_entries, result.problems = fresh, problems
        return result

    def _parse(
        self, record: FeedRecord, response: HttpResponse, now: float
    ) -> tuple[list[FeedEntry], list[str]]:
        parsed = parse_feed(response.body, response.content_type)
        source = record.source
        ref = FeedRef(id=source.id, url=str(source.url), title=parsed.title or source.title)
        entries, problems = to_entries(
            parsed, ref, feed_language=source.language, now=datetime.fromtimestamp(now, UTC)
        )
        for problem in [*parsed.warnings, *problems]:
            log.info("feed %s: %s", source.id, problem)
        return entries, problems

    def _select_new(self, entries: list[FeedEntry]) -> list[FeedEntry]:
        by_id = {e.doc_id: e for e in entries}
        unseen = self._seen.unseen(list(by_id))
        claimed = self._seen.claim_inflight(unseen, self._settings.inflight_ttl_seconds)
        return [by_id[doc_id] for doc_id in claimed]

    def _succeeded(
        self, record: FeedRecord, state: FeedState, now: float, status: str
    ) -> PollResult:
        state.last_status = status
        state.last_success_at = now
        state.consecutive_errors = 0
        state.last_error = None
        state.last_error_reason = None
        state.next_poll_at = now + self._interval(record)
        return PollResult(record.source.id, status)

    def _record_error(
        self, record: FeedRecord, state: FeedState, exc: NewswireError, now: float
    ) -> PollResult:
        feed_id = record.source.id
        interval = self._interval(record)
        state.consecutive_errors += 1
        state.last_status = "error"
        state.last_error = exc.message[:500]
        state.last_error_reason = exc.reason
        delay = min(interval * 2 ** min(state.consecutive_errors - 1, 10), MAX_BACKOFF_SECONDS)
        if isinstance(exc, TransientError) and exc.retry_after:
            delay = max(delay, exc.retry_after)
        state.next_poll_at = now + delay
        log.warning(
            "feed %s: poll failed (%s, %d in a row), next try in %.0fs: %s",
            feed_id, exc.reason, state.consecutive_errors, delay, exc.message,
        )  # fmt: skip
        return PollResult(
            feed_id, "error", error=exc, first_error_of_streak=state.consecutive_errors == 1
        )

    def _interval(self, record: FeedRecord) -> float:
        return float(record.source.poll_interval_seconds or self._settings.poll_interval_seconds)


def _conditional_headers(state: FeedState) -> dict[str, str]:
    headers = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers
