"""Near-duplicates across feeds: wire copies and syndicated text, flagged, never dropped.

The process stage asks the index, before publication, whether an earlier
document's text is nearly the same (workers/dedup/minhash.py), and adds this
one, in one atomic Lua step: of two copies processed at the same instant, one
is the other's duplicate. A near-duplicate is still published, with
`duplicate_of` (the earliest document it matches), `cluster_id` (the first
document of the cluster) and `duplicate_similarity`; consumers choose what to
do with copies.

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

The script reads candidates' document hashes by names it derives from their
ids, so it needs a standalone Redis (not Redis Cluster), as Newswire uses.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import redis

from schemas import Document
from workers.dedup.minhash import SIGNATURE_SIZE, Signature, signature
from workers.dedup.seen import DAY_SECONDS, minute_number
from workers.keys import Keys
from workers.settings import Settings

_BUCKET_BITS = 12  # of a band key, naming its bucket; the next 48 are the field
_FIELD_BITS = 48
# Ids kept per band key: the earliest documents, which are what a copy must point at.
# Three ids (48 bytes) keep the value under Redis's compact-encoding limit of 64 bytes.
BAND_IDS = 3

# KEYS: this document's hash in the current and the previous generation, then the
#       band hashes of the current generation, then those of the previous one.
# ARGV: doc id (16 bytes), compact signature, minute now, equal values needed,
#       expire-at, document-hash name prefix of the current and of the previous
#       generation, band fields (one per band).
# Returns {duplicate_of id or '', equal values, cluster id or ''}.
_CHECK_AND_ADD = """
local id, compact = ARGV[1], ARGV[2]
local size = #compact
local bands = (#KEYS - 2) / 2
local function minute_of(record)
  local a, b, c, d = string.byte(record, size + 1, size + 4)
  return ((a * 256 + b) * 256 + c) * 256 + d
end
local function entry(prefix, other)
  local bucket = string.sub(string.format('%02x%02x', string.byte(other, 1, 2)), 1, 3)
  return redis.call('HGET', prefix .. bucket, other)
end
local own = redis.call('HGET', KEYS[1], id) or redis.call('HGET', KEYS[2], id)
local minute = own and minute_of(own) or tonumber(ARGV[3])
local needed = tonumber(ARGV[4])
local best, best_minute, best_equal, best_record
local checked = {[id] = true}
for k = 3, #KEYS do
  local ids = redis.call('HGET', KEYS[k], ARGV[8 + (k - 3) % bands]) or ''
  for at = 1, #ids, 16 do
    local other = string.sub(ids, at, at + 15)
    if not checked[other] then
      checked[other] = true
      local record = entry(ARGV[6], other) or entry(ARGV[7], other)
      if record then
        local equal = 0
        for i = 1, size do
          if string.byte(record, i) == string.byte(compact, i) then equal = equal + 1 end
        end
        local m = minute_of(record)
        if equal >= needed and m <= minute and (best == nil or m < best_minute
            or (m == best_minute and (equal > best_equal
                or (equal == best_equal and other < best)))) then
          best, best_minute, best_equal, best_record = other, m, equal, record
        end
      end
    end
  end
end
local cluster = ''
if best then
  cluster = string.sub(best_record, size + 5)
  if cluster == '' then cluster = best end
end
local stamp = string.char(math.floor(minute / 16777216) % 256, math.floor(minute / 65536) % 256,
  math.floor(minute / 256) % 256, minute % 256)
redis.call('HSET', KEYS[1], id, compact .. stamp .. cluster)
redis.call('EXPIREAT', KEYS[1], ARGV[5])
for k = 3, 2 + bands do
  local field = ARGV[8 + k - 3]
  local ids = redis.call('HGET', KEYS[k], field) or ''
  local known = false
  for at = 1, #ids, 16 do
    if string.sub(ids, at, at + 15) == id then known = true end
  end
  if not known and #ids < 16 * tonumber(ARGV[#ARGV]) then
    redis.call('HSET', KEYS[k], field, ids .. id)
  end
  redis.call('EXPIREAT', KEYS[k], ARGV[5])
end
return {best or '', best_equal or 0, cluster}
"""


@dataclass(frozen=True)
class NearDuplicate:
    """Where a document stands among near-duplicates."""

    cluster_id: str
    duplicate_of: str | None = None
    similarity: float | None = None


def _band_slot(key: int) -> tuple[str, bytes]:
    """A 64-bit band key's bucket (3 hex digits) and field (6 bytes)."""
    bucket = key >> (64 - _BUCKET_BITS)
    field = (key >> (64 - _BUCKET_BITS - _FIELD_BITS)) & ((1 << _FIELD_BITS) - 1)
    return f"{bucket:03x}", field.to_bytes(_FIELD_BITS // 8, "big")


class NearDupIndex:
    """Looks up and records documents' signatures in Redis."""

    def __init__(
        self, client: redis.Redis, keys: Keys, *, window_days: int, min_similarity: float
    ) -> None:
        self._redis = client
        self._keys = keys
        self._window = window_days
        # similarity = equal values / SIGNATURE_SIZE; the tolerance absorbs float error.
        self._needed = math.ceil(min_similarity * SIGNATURE_SIZE - 1e-9)
        self._script = client.register_script(_CHECK_AND_ADD)

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
        slots = [_band_slot(key) for key in sig.band_keys()]
        keys = [
            self._keys.neardup_doc(generation, doc_id),
            self._keys.neardup_doc(generation - 1, doc_id),
            *(
                self._keys.neardup_band(generation, b, bucket)
                for b, (bucket, _) in enumerate(slots)
            ),
            *(self._keys.neardup_band(generation - 1, b, bkt) for b, (bkt, _) in enumerate(slots)),
        ]
        args: list[bytes | int | str] = [
            bytes.fromhex(doc_id),
            sig.compact(),
            minute_number(now),
            self._needed,
            (generation + 2) * self._window * DAY_SECONDS,  # end of the next generation
            self._keys.neardup_doc_prefix(generation),
            self._keys.neardup_doc_prefix(generation - 1),
            *(field for _, field in slots),
            BAND_IDS,
        ]
        best, equal, cluster = self._script(keys=keys, args=args)
        if not best:
            return NearDuplicate(cluster_id=doc_id)
        return NearDuplicate(cluster.hex(), best.hex(), round(int(equal) / SIGNATURE_SIZE, 3))


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
