"""Near-duplicates across feeds: wire copies and syndicated text, flagged, never dropped.

The process stage asks the index, before publication, whether an earlier
document's text is nearly the same (workers/dedup/minhash.py), then adds this
one. A near-duplicate is still published, with `duplicate_of` (the earliest
document it matches), `cluster_id` (the first document of the cluster) and
`duplicate_similarity`; consumers choose what to do with copies.

The index lives in generations of `NEWSWIRE_NEARDUP_WINDOW_DAYS` days whose
keys expire whole (Redis 6.2 has no per-field TTL), and lookups read the
current and the previous generation: a document is compared with those of the
last one to two windows. Per generation:

- 8 band hashes per 16-bit bucket: field = doc id (16 bytes), value = the
  other 48 bits of the band key; equal band keys make a candidate;
- document hashes: field = rest of the doc id, value = compact signature
  (64 bytes), first-seen minute (4 bytes), cluster id (16 bytes, absent when
  the document founded its cluster).

Candidates are confirmed by their estimated similarity. Looking up and adding
are two round trips, not one atomic step: two copies processed in the same
instant may both found a cluster.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass

import redis

from schemas import Document
from workers.dedup.minhash import Signature, signature, similarity
from workers.dedup.seen import DAY_SECONDS, minute_number
from workers.keys import Keys, seen_field
from workers.settings import Settings

_REST_BITS = 48  # band key bits stored in the value; the other 16 name the bucket
_REST_MASK = (1 << _REST_BITS) - 1
_MINUTE = struct.Struct(">I")
_COMPACT_SIZE = 64


@dataclass(frozen=True)
class NearDuplicate:
    """Where a document stands among near-duplicates."""

    cluster_id: str
    duplicate_of: str | None = None
    similarity: float | None = None


@dataclass(frozen=True)
class _Indexed:
    """A document's entry in the index."""

    doc_id: str
    compact: bytes
    minute: int
    cluster_id: str

    def encode(self) -> bytes:
        cluster = b"" if self.cluster_id == self.doc_id else bytes.fromhex(self.cluster_id)
        return self.compact + _MINUTE.pack(self.minute) + cluster

    @classmethod
    def decode(cls, doc_id: str, raw: bytes) -> _Indexed:
        compact, rest = raw[:_COMPACT_SIZE], raw[_COMPACT_SIZE:]
        (minute,) = _MINUTE.unpack(rest[: _MINUTE.size])
        cluster = rest[_MINUTE.size :].hex() or doc_id
        return cls(doc_id, compact, minute, cluster)


class NearDupIndex:
    """Looks up and records documents' signatures in Redis."""

    def __init__(
        self, client: redis.Redis, keys: Keys, *, window_days: int, min_similarity: float
    ) -> None:
        self._redis = client
        self._keys = keys
        self._window = window_days
        self._min_similarity = min_similarity

    @classmethod
    def from_settings(cls, client: redis.Redis, keys: Keys, settings: Settings) -> NearDupIndex:
        return cls(
            client,
            keys,
            window_days=settings.neardup_window_days,
            min_similarity=settings.neardup_min_similarity,
        )

    def check_and_add(self, doc_id: str, sig: Signature, *, now: float) -> NearDuplicate | None:
        """This document's near-duplicate status, after adding it; None if its text is too short.

        A document seen before (a retry, a revision) keeps its first-seen time, and
        only documents indexed no later than it can be what it duplicates.
        """
        if not sig.usable:
            return None
        generation = int(now // DAY_SECONDS) // self._window
        generations = (generation, generation - 1)
        band_keys = sig.band_keys()
        candidates, own = self._candidates(doc_id, band_keys, generations)
        minute = own.minute if own is not None else minute_number(now)
        best = self._earliest_match(sig.compact(), candidates, generations, minute)
        cluster = best[0].cluster_id if best else doc_id
        self._add(_Indexed(doc_id, sig.compact(), minute, cluster), band_keys, generation)
        if best is None:
            return NearDuplicate(cluster_id=cluster)
        return NearDuplicate(cluster, best[0].doc_id, round(best[1], 3))

    # --- lookups ---------------------------------------------------------------------------
    def _candidates(
        self, doc_id: str, band_keys: list[int], generations: Sequence[int]
    ) -> tuple[set[str], _Indexed | None]:
        """Ids sharing a band with the signature, and this document's own entry if any."""
        pipe = self._redis.pipeline(transaction=False)
        for generation in generations:
            for band, key in enumerate(band_keys):
                pipe.hgetall(self._keys.neardup_band(generation, band, key >> _REST_BITS))
        for generation in generations:
            pipe.hget(self._keys.neardup_doc(generation, doc_id), seen_field(doc_id))
        replies = pipe.execute()
        buckets, own_raw = replies[: -len(generations)], replies[-len(generations) :]
        found: set[str] = set()
        for index, bucket in enumerate(buckets):
            rest = (band_keys[index % len(band_keys)] & _REST_MASK).to_bytes(6, "big")
            found.update(field.hex() for field, value in bucket.items() if value == rest)
        found.discard(doc_id)
        own = next((_Indexed.decode(doc_id, raw) for raw in own_raw if raw), None)
        return found, own

    def _earliest_match(
        self,
        compact: bytes,
        candidates: set[str],
        generations: Sequence[int],
        minute: int,
    ) -> tuple[_Indexed, float] | None:
        matches = []
        for entry in self._entries(sorted(candidates), generations):
            score = similarity(compact, entry.compact)
            if score >= self._min_similarity and entry.minute <= minute:
                matches.append((entry.minute, -score, entry.doc_id, entry))
        if not matches:
            return None
        _, negative_score, _, entry = min(matches)
        return entry, -negative_score

    def _entries(self, doc_ids: list[str], generations: Sequence[int]) -> list[_Indexed]:
        if not doc_ids:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for doc_id in doc_ids:
            for generation in generations:
                pipe.hget(self._keys.neardup_doc(generation, doc_id), seen_field(doc_id))
        replies = pipe.execute()
        entries = []
        for position, doc_id in enumerate(doc_ids):
            raws = replies[position * len(generations) : (position + 1) * len(generations)]
            raw = next((r for r in raws if r), None)  # the newest generation first
            if raw is not None:
                entries.append(_Indexed.decode(doc_id, raw))
        return entries

    # --- adding ----------------------------------------------------------------------------
    def _add(self, entry: _Indexed, band_keys: list[int], generation: int) -> None:
        expire_at = (generation + 2) * self._window * DAY_SECONDS  # end of the next generation
        doc_key = self._keys.neardup_doc(generation, entry.doc_id)
        pipe = self._redis.pipeline(transaction=False)
        pipe.hset(doc_key, seen_field(entry.doc_id), entry.encode())
        pipe.expireat(doc_key, expire_at)
        field = bytes.fromhex(entry.doc_id)
        for band, key in enumerate(band_keys):
            band_key = self._keys.neardup_band(generation, band, key >> _REST_BITS)
            pipe.hset(band_key, field, (key & _REST_MASK).to_bytes(6, "big"))
            pipe.expireat(band_key, expire_at)
        pipe.execute()


def mark_near_duplicates(
    document: Document, index: NearDupIndex, *, now: float | None = None
) -> Document:
    """The document with its near-duplicate fields set (unchanged if its text is too short)."""
    sig = signature(document.text, document.language.code)
    found = index.check_and_add(document.id, sig, now=time.time() if now is None else now)
    if found is None:
        return document
    return document.model_copy(
        update={
            "cluster_id": found.cluster_id,
            "duplicate_of": found.duplicate_of,
            "duplicate_similarity": found.similarity,
        }
    )
