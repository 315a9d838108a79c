"""The seen-set: which articles were published or dead-lettered, and when; and GUIDs.

Layout, chosen for memory (BENCHMARKS.md, "Seen-set memory": about 80 bytes
per URL with its GUID): ids are spread over 65,536 small hashes (the first
four hex digits of the id name the bucket), which Redis keeps as compact
listpacks, and fields and values are packed binary rather than text:

- seen bucket: field = the rest of the doc id (14 bytes), value = SeenRecord
  (18 bytes: kind, revision, re-fetches, content hash prefix, published
  minute, day last seen);
- GUID bucket: field = 8 more bytes of hash(feed id, guid), value = GuidRecord
  (23 bytes: the doc id it names, the entry's published minute, day last seen).

Both values end with a day number (days since the epoch), which is how
records expire: Redis 6.2 has no per-field TTL, so publication prunes a
bucket of records older than the TTL at most once a day (the `~` field keeps
the day of the last pruning), and polls refresh the day of entries that feeds
still list, so that an article is forgotten only after it has left its feed.

An entry counts as seen only after publication or dead-lettering, so a crash
between fetch and publish means the article is fetched again, never skipped.
While an entry travels the pipeline, a short-lived in-flight marker keeps the
next poll from enqueueing it again.
"""

from __future__ import annotations

import hashlib
import math
import struct
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import redis

from schemas import FeedEntry
from workers.keys import Keys, seen_field
from workers.settings import Settings

# A 64-bit prefix of the content hash is enough to tell revisions of one URL apart.
HASH_PREFIX_HEX = 16
DAY_SECONDS = 86400
# Field of each bucket that holds the day it was last pruned (ids are 8 or 14 bytes).
PRUNE_MARKER = b"~"

_SEEN = struct.Struct(">cHB8sIH")  # kind, revision, re-fetches, hash prefix, minute, day
_GUID = struct.Struct(">c16sIH")  # tag, doc id, entry's published minute, day
_PUBLISHED, _DEADLETTERED, _GUID_TAG = b"P", b"D", b"G"

# Lua, shared with the publication script: drop a bucket's records older than a
# day number, at most once a day. Every packed record ends with its day (2 bytes).
PRUNE_LUA = """
local function prune(key, today, oldest)
  local marker = tonumber(redis.call('HGET', key, '~') or '-1')
  if marker >= tonumber(today) then return end
  local all = redis.call('HGETALL', key)
  local limit = tonumber(oldest)
  for i = 1, #all, 2 do
    local value = all[i + 1]
    local tag = string.sub(value, 1, 1)
    if (tag == 'P' or tag == 'D' or tag == 'G') and (#value == 18 or #value == 23) then
      local day = string.byte(value, #value - 1) * 256 + string.byte(value, #value)
      if day < limit then redis.call('HDEL', key, all[i]) end
    end
  end
  redis.call('HSET', key, '~', today)
end
"""

_COMPARE_AND_SET = """
if (redis.call('HGET', KEYS[1], ARGV[1]) or '') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"""


# Claim entries in flight, each only if its seen record is still the one the poll
# read: checked and claimed in one step, so that an article published between the
# poll's read and its claim is not claimed (and fetched) again. A marker is the
# claimant's if it sets it now or set it before (a poll redelivered after its
# worker died gets its entries back).
# KEYS: seen bucket and in-flight marker of each id, in pairs.
# ARGV: TTL of the markers, the claimant, then each id's seen field and expected
# record ('' = none). Returns per id one of the CLAIM_* codes below.
_CLAIM_INFLIGHT = """
local outcomes = {}
for i = 1, #KEYS / 2 do
  local current = redis.call('HGET', KEYS[2 * i - 1], ARGV[2 * i + 1]) or ''
  local outcome = 2
  if current == ARGV[2 * i + 2] then
    local marker = KEYS[2 * i]
    outcome = 0
    if redis.call('SET', marker, ARGV[2], 'NX', 'EX', ARGV[1])
        or redis.call('GET', marker) == ARGV[2] then
      outcome = 1
    end
  end
  outcomes[i] = outcome
end
return outcomes
"""
# What _CLAIM_INFLIGHT says of each id.
CLAIM_HELD_ELSEWHERE = 0  # in flight for another claimant
CLAIM_TAKEN = 1  # claimed now, or claimed before by the same claimant
CLAIM_SETTLED = 2  # its seen record changed since it was read: published or dead-lettered


def day_number(now: float) -> int:
    return int(now // DAY_SECONDS)


def minute_number(moment: float) -> int:
    """Minutes since the epoch, rounded up: 'published at or before this minute'."""
    return math.ceil(moment / 60)


@dataclass(frozen=True)
class SeenRecord:
    """What the seen-set says about one document id."""

    status: str  # "published" | "deadlettered"
    revision: int = 0
    content_hash_prefix: str | None = None
    published_minute: int | None = None  # when this revision was published or confirmed
    refetches: int = 0  # times the article was processed again after its first publication
    day: int | None = field(default_factory=lambda: day_number(time.time()))  # last seen
    raw: bytes = field(default=b"", compare=False, repr=False)  # the stored bytes

    def encode(self) -> bytes:
        return _SEEN.pack(
            _PUBLISHED if self.status == "published" else _DEADLETTERED,
            min(self.revision, 0xFFFF),
            min(self.refetches, 0xFF),
            bytes.fromhex(self.content_hash_prefix or "0" * HASH_PREFIX_HEX),
            self.published_minute or 0,
            self.day if self.day is not None else 0,
        )

    @classmethod
    def decode(cls, raw: bytes | str) -> SeenRecord:
        data = raw.encode() if isinstance(raw, str) else raw
        if len(data) == _SEEN.size and data[:1] in (_PUBLISHED, _DEADLETTERED):
            kind, revision, refetches, prefix, minute, day = _SEEN.unpack(data)
            return cls(
                "published" if kind == _PUBLISHED else "deadlettered",
                revision,
                prefix.hex() if kind == _PUBLISHED else None,
                minute or None,
                refetches,
                day,
                data,
            )
        return cls._decode_text(data)

    @classmethod
    def _decode_text(cls, data: bytes) -> SeenRecord:
        """Records written before the packed layout (`p:<rev>:<hash>`, `d:<rev>`): no day."""
        kind, _, rest = data.decode().partition(":")
        if kind == "p":
            revision, _, prefix = rest.partition(":")
            return cls("published", int(revision), prefix, day=None, raw=data)
        return cls("deadlettered", int(rest or 0), day=None, raw=data)

    def expired(self, today: int, ttl_days: int) -> bool:
        return self.day is not None and self.day < today - ttl_days

    def touched(self, today: int) -> SeenRecord:
        """The same record, last seen today."""
        return SeenRecord(
            self.status,
            self.revision,
            self.content_hash_prefix,
            self.published_minute,
            self.refetches,
            today,
        )


@dataclass(frozen=True)
class GuidRecord:
    """The document a (feed, guid) pair was published as."""

    doc_id: str
    published_minute: int  # the entry's own published date, 0 when it had none
    day: int
    raw: bytes = field(default=b"", compare=False, repr=False)

    def encode(self) -> bytes:
        return _GUID.pack(_GUID_TAG, bytes.fromhex(self.doc_id), self.published_minute, self.day)

    @classmethod
    def decode(cls, raw: bytes) -> GuidRecord | None:
        if len(raw) != _GUID.size or raw[:1] != _GUID_TAG:
            return None
        _, doc_id, minute, day = _GUID.unpack(raw)
        return cls(doc_id.hex(), minute, day, raw)


@dataclass(frozen=True)
class EntryKey:
    """An entry's second key: its GUID within its feed, and the date that guards it.

    A (feed, guid) pair seen before names the same document even if the
    entry's link changed. The entry's published date must match too, so that
    a feed that reuses one GUID for every new article does not fold them all
    into one document.
    """

    feed_id: str
    guid: str
    published_minute: int

    @classmethod
    def of(cls, entry: FeedEntry) -> EntryKey | None:
        guid = (entry.guid or "").strip()
        if not guid:
            return None
        published = entry.published_at.timestamp() if entry.published_at else 0.0
        return cls(entry.feed.id, guid, int(published // 60))

    @property
    def digest(self) -> str:
        data = f"{self.feed_id}\n{self.guid}".encode()
        return hashlib.sha256(data).hexdigest()

    @property
    def field(self) -> bytes:
        return bytes.fromhex(self.digest[4:20])

    def record(self, doc_id: str, today: int) -> GuidRecord:
        return GuidRecord(doc_id, self.published_minute, today)


@dataclass(frozen=True)
class Selection:
    """What a poll sends down the pipeline, and the wanted entries in flight already for
    another claimant (an earlier poll, of this feed or another, that may have died before
    handing them off). `read` holds the seen record each wanted entry had when it was
    chosen (b"" = none): the record whose change tells that the entry was settled."""

    entries: list[FeedEntry]
    waiting: list[FeedEntry] = field(default_factory=list)
    read: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class SelectionPolicy:
    """The settings that decide which entries of a feed are new."""

    ttl_days: int
    max_refetches: int
    inflight_ttl_seconds: int

    @classmethod
    def from_settings(cls, settings: Settings) -> SelectionPolicy:
        return cls(settings.seen_ttl_days, settings.max_refetches, settings.inflight_ttl_seconds)

    @property
    def touch_after_days(self) -> int:
        # Refreshing a record's day costs a write: do it about ten times per TTL.
        return max(1, self.ttl_days // 10)


def content_hash(text: str) -> str:
    """The document's `content_hash`: SHA-256 of its extracted text."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def hash_prefix(content_hash: str) -> str:
    return content_hash.removeprefix("sha256:")[:HASH_PREFIX_HEX]


class SeenStore:
    """Reads the seen-set, picks new entries, manages in-flight markers.

    Publication writes the seen-set (workers/publishing/streams.py), and so
    does dead-lettering (workers/publishing/deadletter.py).
    """

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys
        self._compare_and_set = client.register_script(_COMPARE_AND_SET)
        self._claim_inflight = client.register_script(_CLAIM_INFLIGHT)

    def get(self, doc_id: str) -> SeenRecord | None:
        raw = self._redis.hget(self._keys.seen_bucket(doc_id), seen_field(doc_id))
        return None if raw is None else SeenRecord.decode(cast(bytes, raw))

    def published_since(self, doc_id: str, moment: float) -> bool:
        """Whether the document was published (or confirmed) at or after `moment`."""
        record = self.get(doc_id)
        return (
            record is not None
            and record.status == "published"
            and (record.published_minute or 0) * 60 >= moment
        )

    def get_many(self, doc_ids: Sequence[str]) -> list[SeenRecord | None]:
        pipe = self._redis.pipeline(transaction=False)
        for doc_id in doc_ids:
            pipe.hget(self._keys.seen_bucket(doc_id), seen_field(doc_id))
        return [None if raw is None else SeenRecord.decode(raw) for raw in pipe.execute()]

    def guid_records(self, entry_keys: Sequence[EntryKey]) -> list[GuidRecord | None]:
        pipe = self._redis.pipeline(transaction=False)
        for key in entry_keys:
            pipe.hget(self._keys.guid_bucket(key.digest), key.field)
        return [None if raw is None else GuidRecord.decode(raw) for raw in pipe.execute()]

    def unseen(self, doc_ids: list[str]) -> list[str]:
        """The ids among `doc_ids` that were never published nor dead-lettered."""
        pipe = self._redis.pipeline(transaction=False)
        for doc_id in doc_ids:
            pipe.hexists(self._keys.seen_bucket(doc_id), seen_field(doc_id))
        return [d for d, known in zip(doc_ids, pipe.execute(), strict=True) if not known]

    def select_new(
        self,
        entries: list[FeedEntry],
        *,
        now: float,
        policy: SelectionPolicy,
        feed_is_new: bool = False,
        owner: str | None = None,
    ) -> Selection:
        """The entries to send down the pipeline, each claimed in flight (by `owner`).

        New articles, and published ones whose feed entry says they were
        updated after we published them (at most `max_refetches` times). An
        entry whose link changed but whose GUID was published before keeps
        its first document id. Entries still listed refresh their records.
        A feed that never gave entries gives all it lists; after that, an
        unknown entry dated before the TTL is taken for one whose record was
        pruned while its feed did not change (a sleeping feed), not for news.
        Wanted entries that another claimant holds in flight are only counted.
        """
        today = day_number(now)
        entries = self._resolve_guids(entries)
        records = self.get_many([e.doc_id for e in entries])
        oldest = None if feed_is_new else now - policy.ttl_days * DAY_SECONDS
        chosen: dict[str, FeedEntry] = {}
        for entry, record in zip(entries, records, strict=True):
            if _wanted(entry, record, oldest=oldest, today=today, policy=policy):
                chosen.setdefault(entry.doc_id, entry)
        listed = [(e, r) for e, r in zip(entries, records, strict=True) if e.doc_id not in chosen]
        self._touch(listed, today, policy)
        pairs = zip(entries, records, strict=True)
        read = {entry.doc_id: record.raw if record else b"" for entry, record in pairs}
        outcomes = self.claim_outcomes(
            list(chosen),
            policy.inflight_ttl_seconds,
            owner=owner,
            expected=[read[d] for d in chosen],
        )
        by_outcome: dict[int, list[FeedEntry]] = {}
        for doc_id, outcome in zip(chosen, outcomes, strict=True):
            by_outcome.setdefault(outcome, []).append(chosen[doc_id])
        return Selection(
            by_outcome.get(CLAIM_TAKEN, []),
            by_outcome.get(CLAIM_HELD_ELSEWHERE, []),
            {doc_id: read[doc_id] for doc_id in chosen},
        )

    def claim_inflight(
        self,
        doc_ids: list[str],
        ttl_seconds: int,
        *,
        owner: str | None = None,
        expected: Sequence[bytes] | None = None,
    ) -> list[str]:
        """Mark ids as in flight; returns those claimed: not in flight already (unless
        claimed before by the same `owner`, a poll task redelivered after its worker
        died), and whose seen record is still `expected` (the raw record read before;
        b"" = none; by default: never published nor dead-lettered). Without an owner
        every call is a claimant of its own."""
        outcomes = self.claim_outcomes(doc_ids, ttl_seconds, owner=owner, expected=expected)
        return [d for d, outcome in zip(doc_ids, outcomes, strict=True) if outcome == CLAIM_TAKEN]

    def claim_outcomes(
        self,
        doc_ids: Sequence[str],
        ttl_seconds: int,
        *,
        owner: str | None = None,
        expected: Sequence[bytes] | None = None,
    ) -> list[int]:
        """claim_inflight, telling for each id why it was not claimed (CLAIM_* codes)."""
        if not doc_ids:
            return []
        claimant = owner or uuid.uuid4().hex
        records = list(expected) if expected is not None else [b""] * len(doc_ids)
        keys: list[str] = []
        args: list[int | str | bytes] = [ttl_seconds, claimant]
        for doc_id, record in zip(doc_ids, records, strict=True):
            keys += [self._keys.seen_bucket(doc_id), self._keys.inflight(doc_id)]
            args += [seen_field(doc_id), record]
        return [int(o) for o in cast(list[int], self._claim_inflight(keys=keys, args=args))]

    def release_inflight(self, doc_id: str) -> None:
        self._redis.delete(self._keys.inflight(doc_id))

    def forget_deadletter(self, doc_id: str) -> None:
        """Drop a dead-letter mark, so the document can go through again (replay).

        A published record is kept: replaying must not turn a later revision into
        revision 1 again.
        """
        record = self.get(doc_id)
        if record is not None and record.status == "deadlettered":
            self._redis.hdel(self._keys.seen_bucket(doc_id), seen_field(doc_id))

    def remember(self, records: Iterable[tuple[str, SeenRecord, EntryKey | None]]) -> int:
        """Write records as publication does, without the streams (benchmarks, tests).

        Returns how many were written.
        """
        count = 0
        pipe = self._redis.pipeline(transaction=False)
        for doc_id, record, entry_key in records:
            pipe.hset(self._keys.seen_bucket(doc_id), seen_field(doc_id), record.encode())
            if entry_key is not None:
                guid = entry_key.record(doc_id, record.day or 0).encode()
                pipe.hset(self._keys.guid_bucket(entry_key.digest), entry_key.field, guid)
            count += 1
            if count % 10_000 == 0:
                pipe.execute()
        pipe.execute()
        return count

    # --- GUIDs -----------------------------------------------------------------------------
    def _resolve_guids(self, entries: list[FeedEntry]) -> list[FeedEntry]:
        """Entries whose GUID names an earlier document, given that document's id."""
        keyed = _unambiguous_keys(entries)
        if not keyed:
            return entries
        targets = self.guid_records([key for _, key in keyed])
        moves: dict[int, str] = {}
        for (index, key), target in zip(keyed, targets, strict=True):
            if (
                target is not None
                and target.doc_id != entries[index].doc_id
                and target.published_minute == key.published_minute
            ):
                moves[index] = target.doc_id
        if not moves:
            return entries
        # Only when the link's own id is unknown and the GUID's document is known.
        own = self.get_many([entries[i].doc_id for i in moves])
        first = self.get_many(list(moves.values()))
        resolved = list(entries)
        for (index, doc_id), mine, theirs in zip(moves.items(), own, first, strict=True):
            if mine is None and theirs is not None:
                resolved[index] = entries[index].model_copy(update={"doc_id": doc_id})
        return resolved

    # --- refreshing the day of records that feeds still list --------------------------------
    def _touch(
        self, listed: list[tuple[FeedEntry, SeenRecord | None]], today: int, policy: SelectionPolicy
    ) -> None:
        """Refresh the day of records whose entries the feed still lists (not every poll)."""
        horizon = today - policy.touch_after_days
        stale = [
            (entry, record)
            for entry, record in listed
            if record is not None and (record.day is None or record.day < horizon)
        ]
        if not stale:
            return
        keyed = [(e, k) for e, _ in stale if (k := EntryKey.of(e)) is not None]
        guids = self.guid_records([k for _, k in keyed]) if keyed else []
        pipe = self._redis.pipeline(transaction=False)
        for entry, record in stale:
            bucket = self._keys.seen_bucket(entry.doc_id)
            self._cas(
                pipe, bucket, seen_field(entry.doc_id), record.raw, record.touched(today).encode()
            )
        for (entry, key), guid in zip(keyed, guids, strict=True):
            if guid is not None and guid.doc_id == entry.doc_id:
                fresh = GuidRecord(guid.doc_id, guid.published_minute, today).encode()
                self._cas(pipe, self._keys.guid_bucket(key.digest), key.field, guid.raw, fresh)
        pipe.execute()

    def _cas(self, pipe: Any, key: str, field_name: bytes, expected: bytes, value: bytes) -> None:
        """Write `value` unless the field changed since it was read (publication won)."""
        self._compare_and_set(keys=[key], args=[field_name, expected, value], client=pipe)


def _unambiguous_keys(entries: list[FeedEntry]) -> list[tuple[int, EntryKey]]:
    """(index, key) of entries whose GUID no other entry of the feed shares."""
    keys = [EntryKey.of(e) for e in entries]
    counts = Counter(k.guid for k in keys if k is not None)
    return [(i, k) for i, k in enumerate(keys) if k is not None and counts[k.guid] == 1]


def _wanted(
    entry: FeedEntry,
    record: SeenRecord | None,
    *,
    oldest: float | None,
    today: int,
    policy: SelectionPolicy,
) -> bool:
    if record is None or record.expired(today, policy.ttl_days):
        return oldest is None or not _older_than(entry, oldest)
    if record.status != "published" or entry.updated_at is None:
        return False
    if record.published_minute is None or record.refetches >= policy.max_refetches:
        return False
    return entry.updated_at.timestamp() > record.published_minute * 60


def _older_than(entry: FeedEntry, moment: float) -> bool:
    dates = [d for d in (entry.published_at, entry.updated_at) if isinstance(d, datetime)]
    return bool(dates) and max(d.timestamp() for d in dates) < moment
