"""Polling one feed: conditional GET, parse, pick the entries never seen, reschedule.

Errors never escape as exceptions: they are recorded on the feed's state with
their typed reason, and the feed is rescheduled (the due-time index is the
retry mechanism for polls). The rules for intervals, backoff, disabling and
staleness are in workers/polling/schedule.py; this module applies them:

- success: the publishing rate learns from the entries, the next poll follows
  the adaptive interval and the server's hints; a disabled feed that answers
  again is active again; a permanent redirect (301/308) moves the feed, unless
  check_feed_move_target refuses the new address;
- failure: exponential backoff with jitter; 410 Gone, or N 404s in a row,
  disable the feed with that reason, and a disabled feed is probed once per
  revival interval;
- host busy (the shared per-host limit said "not now"): the poll is simply
  moved to when the host has room, without counting an error.

State changes, errors, stale flips and moves go to the feed-health stream.
Every poll also reckons with the entries the feed's earlier polls left in
flight (workers/polling/pending.py): one whose claim lapsed unsettled is sent
again, even when the feed answers 304.
"""

from __future__ import annotations

import hashlib
import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from schemas import FeedEntry, FeedRef
from workers.dedup.seen import SeenStore, Selection, SelectionPolicy
from workers.errors import (
    HostBusy,
    HttpStatusError,
    NewswireError,
    RefusedURL,
    TransientError,
)
from workers.fetching.addresses import AddressPolicy
from workers.fetching.http import HttpClient, HttpResponse, parse_retry_after
from workers.polling import pending as pending_entries
from workers.polling import schedule
from workers.polling.adapter import ItemProblem, parse_feed, to_entries
from workers.registry import health
from workers.registry.store import FeedRecord, FeedRegistry, FeedState, PendingWrites
from workers.settings import Settings

log = logging.getLogger(__name__)

_ALLOWED_MOVE_SCHEMES = {"http", "https"}


@dataclass
class PollResult:
    feed_id: str
    # new_entries | no_new_entries | not_modified | unchanged | error | deferred
    # | disabled (by the operator) | unknown
    status: str
    new_entries: list[FeedEntry] = field(default_factory=list)
    resent: list[FeedEntry] = field(default_factory=list)  # pending entries whose claim lapsed
    error: NewswireError | None = None
    first_error_of_streak: bool = False
    problems: list[str] = field(default_factory=list)
    rejected: list[ItemProblem] = field(default_factory=list)  # items that became no entry


def check_feed_move_target(url: str, policy: AddressPolicy | None = None) -> None:
    """May a permanent redirect move a feed to `url`? Raises RefusedURL if not.

    The target was just fetched through HttpClient, whose transport checked the
    addresses its name resolved to on connection; this check adds what the URL
    alone shows (scheme, port, an IP literal of a non-public address in any
    notation), with the client's allowlist, so that a stored feed URL never
    names an address that polling would refuse.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() not in _ALLOWED_MOVE_SCHEMES:
        raise RefusedURL(
            f"feed move to a {parts.scheme or 'schemeless'} URL: {url}", reason="scheme"
        )
    (policy or AddressPolicy()).check_url(url)


# Sends the entries chosen by a poll down the pipeline; called before the feed's new
# state is saved (see workers/tasks/poll.py).
Handoff = Callable[[list[FeedEntry]], None]


def is_host_busy(exc: NewswireError) -> bool:
    """The per-host politeness limit deferred the request: not the feed's fault."""
    return isinstance(exc, HostBusy)


@dataclass(frozen=True)
class _Claim:
    """Who claims a poll's new entries, and where they go once claimed."""

    owner: str
    handoff: Handoff | None

    def hand_off(self, entries: list[FeedEntry]) -> None:
        if entries and self.handoff is not None:
            self.handoff(entries)


@dataclass
class _Outcome:
    status: str
    entries: list[FeedEntry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    rejected: list[ItemProblem] = field(default_factory=list)
    moved: bool = False
    selection: Selection | None = None  # what the seen-set said of a parsed body


class FeedPoller:
    """Everything one poll needs, made once per worker process."""

    def __init__(
        self,
        registry: FeedRegistry,
        seen: SeenStore,
        http: HttpClient,
        settings: Settings,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self._registry = registry
        self._seen = seen
        self._http = http
        self._settings = settings
        self._cfg = schedule.ScheduleConfig.from_settings(settings)
        self._rng = rng or random.Random()

    def poll(
        self,
        feed_id: str,
        *,
        now: float,
        owner: str | None = None,
        handoff: Handoff | None = None,
    ) -> PollResult:
        """Poll a feed once. New entries are claimed in flight by `owner` (by default a
        claimant of this call's own) and given to `handoff` before the feed's state is
        saved, so that a crash in between makes the same owner's next try find and hand
        off the same entries."""
        record, stored_pending = self._registry.get_for_poll(feed_id)
        if record is None:
            return PollResult(feed_id, "unknown")
        if not record.source.enabled:
            return PollResult(feed_id, "disabled")
        claim = _Claim(owner or uuid.uuid4().hex, handoff)
        before = record.state
        state = before.model_copy()
        state.last_polled_at = now
        error: NewswireError | None = None
        outcome = _Outcome("error")
        try:
            outcome = self._poll_once(record, state, now, claim)
        except NewswireError as exc:
            if is_host_busy(exc):
                return self._defer(feed_id, exc, now)
            error = exc
            self._record_error(record, state, exc, now)
        reckoning = self._reckon_pending(feed_id, stored_pending, outcome.selection, claim)
        state.stale = schedule.is_stale(self._cfg, health.rate_of(state), now=now)
        self._save(
            record, before, state, now,
            failed=error is not None, moved=outcome.moved, pending=reckoning.writes,
        )  # fmt: skip
        if error is not None:
            first = state.consecutive_errors == 1
            return PollResult(
                feed_id, "error", resent=reckoning.resend, error=error, first_error_of_streak=first
            )
        return PollResult(
            feed_id,
            outcome.status,
            outcome.entries,
            reckoning.resend,
            problems=outcome.problems,
            rejected=outcome.rejected,
        )

    def _reckon_pending(
        self,
        feed_id: str,
        stored: dict[str, bytes],
        selection: Selection | None,
        claim: _Claim,
    ) -> pending_entries.Reckoning:
        """Send again the pending entries whose claim lapsed; say what the feed keeps."""
        reckoning = pending_entries.reckon(
            self._seen,
            stored,
            selection,
            feed_id=feed_id,
            owner=claim.owner,
            ttl_seconds=self._settings.inflight_ttl_seconds,
        )
        if reckoning.resend:
            log.warning(
                "feed %s: %d entries sent again, their claim lapsed unsettled",
                feed_id, len(reckoning.resend),
            )  # fmt: skip
        claim.hand_off(reckoning.resend)
        return reckoning

    # --- one request -----------------------------------------------------------------------
    def _poll_once(
        self, record: FeedRecord, state: FeedState, now: float, claim: _Claim
    ) -> _Outcome:
        response = self._http.get(
            record.url,
            max_bytes=self._settings.feed_max_bytes,
            headers=_conditional_headers(state),
        )
        outcome = self._read_body(record, state, response, now, claim)
        # Validators only after the body was read and parsed: a broken body must not
        # be answered with 304s (and counted a success) from now on.
        state.etag = response.headers.get("etag", state.etag)
        state.last_modified = response.headers.get("last-modified", state.last_modified)
        max_age = schedule.cache_max_age(response.headers.get("cache-control"))
        if response.status != 304 or max_age is not None:
            state.max_age_seconds = max_age  # a bare 304 keeps what the last 200 said
        outcome.moved = self._follow_move(record, state, response, outcome)
        self._succeeded(record, state, now, outcome.status, response)
        return outcome

    def _read_body(
        self,
        record: FeedRecord,
        state: FeedState,
        response: HttpResponse,
        now: float,
        claim: _Claim,
    ) -> _Outcome:
        if response.status == 304:
            return _Outcome("not_modified")
        body_hash = hashlib.sha256(response.body).hexdigest()
        if body_hash == state.body_hash:
            # The server ignored our validators but sent the same bytes: skip parsing.
            return _Outcome("unchanged")
        entries, rejected = self._parse(record, state, response, now)
        selection = self._select_new(
            entries, now, feed_is_new=state.entries_total == 0, owner=claim.owner
        )
        fresh = selection.entries
        claim.hand_off(fresh)
        # Wanted entries in flight for another poll need no second reading of this body:
        # they stay pending for the feed until settled (workers/polling/pending.py).
        state.body_hash = body_hash
        state.entries_total += len(fresh)
        self._learn_rate(state, entries, fresh, now)
        status = "new_entries" if fresh else "no_new_entries"
        problems = [p.text for p in rejected]
        return _Outcome(status, fresh, problems, rejected, selection=selection)

    def _parse(
        self, record: FeedRecord, state: FeedState, response: HttpResponse, now: float
    ) -> tuple[list[FeedEntry], list[ItemProblem]]:
        parsed = parse_feed(response.body, response.content_type)
        source = record.source
        ref = FeedRef(id=source.id, url=record.url, title=parsed.title or source.title)
        entries, problems = to_entries(
            parsed, ref, feed_language=source.language, now=datetime.fromtimestamp(now, UTC)
        )
        state.ttl_seconds = parsed.ttl_minutes * 60.0 if parsed.ttl_minutes else None
        state.update_period_seconds = (
            float(parsed.update_period_seconds) if parsed.update_period_seconds else None
        )
        for problem in [*parsed.warnings, *(p.text for p in problems)]:
            log.info("feed %s: %s", source.id, problem)
        return entries, problems

    def _select_new(
        self, entries: list[FeedEntry], now: float, *, feed_is_new: bool, owner: str
    ) -> Selection:
        """New entries and updated ones to fetch again, claimed (the seen-set decides)."""
        policy = SelectionPolicy.from_settings(self._settings)
        return self._seen.select_new(
            entries, now=now, policy=policy, feed_is_new=feed_is_new, owner=owner
        )

    @staticmethod
    def _learn_rate(
        state: FeedState, entries: list[FeedEntry], fresh: list[FeedEntry], now: float
    ) -> None:
        # Publication dates tell when items appeared; without them, discovery does.
        dated = [e.published_at.timestamp() for e in entries if e.published_at is not None]
        times = dated or [now] * len(fresh)
        rate = schedule.observe_items(health.rate_of(state), times, now=now)
        state.gap_seconds, state.gap_samples = rate.gap_seconds, rate.samples
        state.last_item_at = rate.last_item_at

    def _follow_move(
        self, record: FeedRecord, state: FeedState, response: HttpResponse, outcome: _Outcome
    ) -> bool:
        target = response.permanent_redirect_to
        if not target or target == record.url:
            return False
        try:
            check_feed_move_target(target, self._http.policy)
        except RefusedURL as exc:
            log.warning("feed %s: permanent redirect not followed: %s", record.source.id, exc)
            outcome.problems.append(f"permanent redirect refused ({exc.reason}): {target}")
            return False
        log.info("feed %s: moved permanently from %s to %s", record.source.id, record.url, target)
        state.moved_url = None if target == str(record.source.url) else target
        return True

    # --- outcomes --------------------------------------------------------------------------
    def _succeeded(
        self, record: FeedRecord, state: FeedState, now: float, status: str, response: HttpResponse
    ) -> None:
        state.last_status = status
        state.last_success_at = now
        state.consecutive_errors = 0
        state.consecutive_not_found = 0
        state.health = "active"  # also revives a disabled feed that answers again
        state.disabled_reason = None
        state.disabled_at = None
        hints = self._hints(
            state, retry_after=parse_retry_after(response.headers.get("retry-after"))
        )
        interval = schedule.poll_interval(
            self._cfg,
            health.rate_of(state),
            override=record.source.poll_interval_seconds,
            hints=hints,
            rand=self._rng.random(),
        )
        state.next_poll_at = now + interval

    def _record_error(
        self, record: FeedRecord, state: FeedState, exc: NewswireError, now: float
    ) -> None:
        status = exc.status if isinstance(exc, HttpStatusError) else None
        state.consecutive_errors += 1
        state.consecutive_not_found = state.consecutive_not_found + 1 if status == 404 else 0
        state.last_status = "error"
        state.last_error_at = now
        state.last_error = exc.message[:500]
        state.last_error_reason = exc.reason
        state.last_error_kind = health.error_kind(exc)
        retry_after = exc.retry_after if isinstance(exc, TransientError) else None
        reason = schedule.disable_reason(
            self._cfg, status=status, consecutive_not_found=state.consecutive_not_found
        )
        if reason is not None and state.health != "disabled":
            state.health, state.disabled_reason, state.disabled_at = "disabled", reason, now
        if state.health == "disabled":
            delay = schedule.revival_delay(
                self._cfg, retry_after=retry_after, rand=self._rng.random()
            )
        else:
            state.health = "erroring"
            delay = schedule.backoff_delay(
                self._cfg,
                normal=self._normal_interval(record, state),
                consecutive_errors=state.consecutive_errors,
                retry_after=retry_after,
                rand=self._rng.random(),
            )
        state.next_poll_at = now + delay
        log.warning(
            "feed %s: poll failed (%s, %d in a row, %s), next try in %.0fs: %s",
            record.source.id, exc.reason, state.consecutive_errors, state.health, delay,
            exc.message,
        )  # fmt: skip

    def _defer(self, feed_id: str, exc: NewswireError, now: float) -> PollResult:
        wait = (exc.retry_after if isinstance(exc, TransientError) else None) or 1.0
        # Spread the feeds of one busy host, or they all come back at the same instant.
        at = now + wait * (1 + self._cfg.jitter * self._rng.random())
        self._registry.reschedule(feed_id, at)
        log.debug("feed %s: host busy, poll moved by %.1fs", feed_id, at - now)
        return PollResult(feed_id, "deferred")

    # --- helpers ---------------------------------------------------------------------------
    def _hints(self, state: FeedState, *, retry_after: float | None = None) -> schedule.ServerHints:
        return schedule.ServerHints(
            ttl=state.ttl_seconds,
            update_period=state.update_period_seconds,
            max_age=state.max_age_seconds,
            retry_after=retry_after,
        )

    def _normal_interval(self, record: FeedRecord, state: FeedState) -> float:
        return schedule.normal_interval(
            self._cfg,
            health.rate_of(state),
            override=record.source.poll_interval_seconds,
            hints=self._hints(state),
        )

    def _save(
        self,
        record: FeedRecord,
        before: FeedState,
        state: FeedState,
        now: float,
        *,
        failed: bool,
        moved: bool,
        pending: PendingWrites,
    ) -> None:
        changes = health.changes_between(before, state, failed=failed, moved=moved)
        event = None
        if changes:
            after = FeedRecord(record.source, state)
            snap = health.snapshot(after, now=now, cfg=self._cfg, previous=before, changes=changes)
            event = health.stream_fields(snap)
        self._registry.save_state(
            record.source.id,
            state,
            health_event=event,
            health_maxlen=self._settings.feed_health_maxlen,
            pending=pending,
        )


def _conditional_headers(state: FeedState) -> dict[str, str]:
    headers = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers
