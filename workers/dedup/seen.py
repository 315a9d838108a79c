"""The seen-set: which document ids have been published or dead-lettered, and how.

Ids are spread over 65,536 small hashes (the first four hex digits name the
bucket), which Redis stores compactly; the value records the outcome:
`p:<revision>:<content hash prefix>` once published, `d:<epoch>` once
dead-lettered. An entry counts as seen only after one of those outcomes, so a
crash between fetch and publish means the article is fetched again, never
skipped. While an entry travels the pipeline, a short-lived in-flight marker
keeps the next poll from enqueueing it again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import redis

from workers.keys import Keys, seen_field

# A 64-bit prefix of the content hash is enough to tell revisions of one URL apart.
HASH_PREFIX_HEX = 16


@dataclass(frozen=True)
class SeenRecord:
    """What the seen-set says about one document id."""

    status: str  # "published" | "deadlettered"
    revision: int = 0
    content_hash_prefix: str | None = None

    def encode(self) -> str:
        if self.status == "published":
            return f"p:{self.revision}:{self.content_hash_prefix}"
        return f"d:{self.revision}"

    @classmethod
    def decode(cls, raw: bytes | str) -> SeenRecord:
        text = raw.decode() if isinstance(raw, bytes) else raw
        kind, _, rest = text.partition(":")
        if kind == "p":
            revision, _, prefix = rest.partition(":")
            return cls("published", int(revision), prefix)
        return cls("deadlettered", int(rest or 0))


def content_hash(text: str) -> str:
    """The document's `content_hash`: SHA-256 of its extracted text."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def hash_prefix(content_hash: str) -> str:
    return content_hash.removeprefix("sha256:")[:HASH_PREFIX_HEX]


class SeenStore:
    """Reads the seen-set and manages in-flight markers; publication writes the seen-set."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys

    def get(self, doc_id: str) -> SeenRecord | None:
        raw = self._redis.hget(self._keys.seen_bucket(doc_id), seen_field(doc_id))
        return None if raw is None else SeenRecord.decode(raw)

    def unseen(self, doc_ids: list[str]) -> list[str]:
        """The ids among `doc_ids` that were never published nor dead-lettered."""
        pipe = self._redis.pipeline(transaction=False)
        for doc_id in doc_ids:
            pipe.hexists(self._keys.seen_bucket(doc_id), seen_field(doc_id))
        return [d for d, known in zip(doc_ids, pipe.execute(), strict=True) if not known]

    def claim_inflight(self, doc_ids: list[str], ttl_seconds: int) -> list[str]:
        """Mark ids as in flight; returns those that were not already (SET NX)."""
        pipe = self._redis.pipeline(transaction=False)
        for doc_id in doc_ids:
            pipe.set(self._keys.inflight(doc_id), b"1", nx=True, ex=ttl_seconds)
        return [d for d, fresh in zip(doc_ids, pipe.execute(), strict=True) if fresh]

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
