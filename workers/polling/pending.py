"""Entries a feed's polls wanted and left in flight, kept until they are settled.

A wanted entry is claimed in flight, which keeps other polls from enqueueing it
again while its marker lives, and it is settled when its seen record changes
(published or dead-lettered). In between, one of its messages can still be
lost (Redis dies after kombu handed a message over and before it recorded it as
unacknowledged, or a worker dies after kombu popped a message and before it
recorded it: RELIABILITY.md), and then nothing but the marker's expiry tells.
So each feed keeps, beside its state, the entries its polls claimed or found
claimed for another poll, each with the seen record it had then; every poll of
the feed reclaims the unsettled ones, and an entry whose marker expired is
claimed and sent again, whether or not the feed still lists it and whether or
not its body changed.

That is also what lets a poll remember a body (validators, body hash) while
some of its wanted entries are in flight for a poll of another feed: should
that poll die, this feed's pending entries still bring them back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import ValidationError

from schemas import FeedEntry
from workers.dedup.seen import CLAIM_SETTLED, CLAIM_TAKEN, SeenStore, Selection
from workers.registry.store import PendingWrites

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PendingEntry:
    """A wanted entry, and the seen record it had when a poll wanted it (b"" = none)."""

    entry: FeedEntry
    read: bytes

    def encode(self) -> bytes:
        payload = {"read": self.read.hex(), "entry": self.entry.model_dump(mode="json")}
        return json.dumps(payload, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, raw: bytes) -> PendingEntry:
        """Raises ValueError for bytes that are no pending entry."""
        try:
            payload = json.loads(raw)
            return cls(FeedEntry.model_validate(payload["entry"]), bytes.fromhex(payload["read"]))
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            raise ValueError(f"not a pending entry: {exc}") from exc


@dataclass
class Reckoning:
    """What one poll does with its feed's pending entries."""

    resend: list[FeedEntry] = field(default_factory=list)  # claimed again: their claim lapsed
    writes: PendingWrites = field(default_factory=PendingWrites)


def reckon(
    seen: SeenStore,
    stored: Mapping[str, bytes],
    selection: Selection | None,
    *,
    feed_id: str,
    owner: str,
    ttl_seconds: int,
) -> Reckoning:
    """Reclaim the feed's unsettled pending entries (`stored` as the registry holds them),
    and add those its body just gave.

    Entries the body's selection decided on are not reclaimed here: it claimed
    them a moment ago. A poll that read no body (304, same bytes, an error)
    passes no selection.
    """
    before = decode_all(feed_id, stored)
    wanted = _wanted_now(selection)
    older = [doc_id for doc_id in before if doc_id not in wanted]
    outcomes = seen.claim_outcomes(
        older, ttl_seconds, owner=owner, expected=[before[d].read for d in older]
    )
    resend = [before[d].entry for d, o in zip(older, outcomes, strict=True) if o == CLAIM_TAKEN]
    settled = {d for d, o in zip(older, outcomes, strict=True) if o == CLAIM_SETTLED}
    if selection is not None:
        # Chosen by the body but neither taken nor waiting: settled between read and claim.
        settled |= set(selection.read) - set(wanted)
    after = {d: p for d, p in before.items() if d not in settled} | wanted
    put = {d: raw for d, p in after.items() if (raw := p.encode()) != stored.get(d)}
    drop = [d for d in stored if d not in after]
    return Reckoning(resend, PendingWrites(put, drop))


def decode_all(feed_id: str, stored: Mapping[str, bytes]) -> dict[str, PendingEntry]:
    """The pending entries of a feed as the registry stored them; unreadable ones are
    logged and left out (and dropped by the save that follows)."""
    pending: dict[str, PendingEntry] = {}
    for doc_id, raw in stored.items():
        try:
            pending[doc_id] = PendingEntry.decode(raw)
        except ValueError as exc:
            log.error("feed %s: pending entry %s dropped: %s", feed_id, doc_id, exc)
    return pending


def _wanted_now(selection: Selection | None) -> dict[str, PendingEntry]:
    if selection is None:
        return {}
    return {
        e.doc_id: PendingEntry(e, selection.read.get(e.doc_id, b""))
        for e in [*selection.entries, *selection.waiting]
    }
