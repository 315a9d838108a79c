"""Near-duplicates across feeds: wire copies and syndicated text, flagged, never dropped.

The process stage asks the index, before publication, whether an earlier
document's text is nearly the same (workers/dedup/minhash.py), then adds this
one. A near-duplicate is still published, with `duplicate_of` (the earliest
document it matches), `cluster_id` (the first document of the cluster) and
`duplicate_similarity`; consumers choose what to do with copies.

The index lives in generations of `NEWSWIRE_NEARDUP_WINDOW_DAYS` days whose
keys expire whole (Redis 6.2 has no per-field TTL), and lookups read the
current and the previous generation: a document is compared with those of the
last one to two windows. Per generation, in 4,096 buckets each (few, full
hashes: Redis keeps them compact, and a key costs more than a field):

- band hashes, one set per band: field = 48 bits of the band key (the bucket
  is named by 12 more), value = the ids of the first BAND_IDS documents with
  that band key; an exact HGET per band finds the candidates;
- document hashes: field = doc id (16 bytes), value = compact signature (32
  bytes), first-seen minute (4 bytes), cluster id (16 bytes, absent when the
  document founded its cluster): at most 52 bytes, under the same limit.

Candidates are confirmed by their estimated similarity. Adding is one Lua
step, but looking up and adding are two: two copies processed in the same
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
from workers.keys import Keys
from workers.settings import Settings

_BUCKET_BITS = 12  # of a band key, naming its bucket; the next 48 are the field
_FIELD_BITS = 48
_MINUTE = struct.Struct(">I")
_COMPACT_SIZE = 32
_ID_BYTES = 16
# Ids kept per band key: the earliest documents, which are what a copy must point at.
# Three ids (48 bytes) keep the value under Redis's compact-encoding limit of 64 bytes.
BAND_IDS = 3

# KEYS: document hash, band hashes...; ARGV: doc id, document record, expire-at, band fields...
_ADD = f"""
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIREAT', KEYS[1], ARGV[3])
for i = 2, #KEYS do
  local field = ARGV[i + 2]
  local ids = redis.call('HGET', KEYS[i], field) or ''
  local known = false
  for at = 1, #ids, {_ID_BYTES} do
    if string.sub(ids, at, at + {_ID_BYTES - 1}) == ARGV[1] then known = true end
  end
  if not known and #ids < {_ID_BYTES * BAND_IDS} then
    redis.call('HSET', KEYS[i], field, ids .. ARGV[1])
  end
  redis.call('EXPIREAT', KEYS[i], ARGV[3])
end
return 1
"""


def _band_slot(key: int) -> tuple[str, bytes]:
    """A 64-bit band key's bucket (3 hex digits) and field (6 bytes)."""
    bucket = key >> (64 - _BUCKET_BITS)
    field = (key >> (64 - _BUCKET_BITS - _FIELD_BITS)) & ((1 << _FIELD_BITS) - 1)
    return f"{bucket:03x}", field.to_bytes(_FIELD_BITS // 8, "big")


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
        self._add_script = client.register_script(_ADD)

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
                bucket, field = _band_slot(key)
                pipe.hget(self._keys.neardup_band(generation, band, bucket), field)
        for generation in generations:
            pipe.hget(self._keys.neardup_doc(generation, doc_id), bytes.fromhex(doc_id))
        replies = pipe.execute()
        bands, own_raw = replies[: -len(generations)], replies[-len(generations) :]
        found = {
            ids[at : at + _ID_BYTES].hex()
            for ids in bands
            if ids
            for at in range(0, len(ids), _ID_BYTES)
        }
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
                pipe.hget(self._keys.neardup_doc(generation, doc_id), bytes.fromhex(doc_id))
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
        slots = [_band_slot(key) for key in band_keys]
        keys = [
            self._keys.neardup_doc(generation, entry.doc_id),
            *(
                self._keys.neardup_band(generation, b, bucket)
                for b, (bucket, _) in enumerate(slots)
            ),
        ]
        args: list[bytes | int] = [bytes.fromhex(entry.doc_id), entry.encode(), expire_at]
        args.extend(field for _, field in slots)
        self._add_script(keys=keys, args=args)


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
