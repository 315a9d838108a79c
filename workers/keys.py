"""Every Redis key and stream name Newswire uses, in one place.

Stream names are part of the contract with downstream teams (see CONSUMERS.md):
`<prefix>:documents`, `<prefix>:topic:<topic>`, `<prefix>:deadletter`,
`<prefix>:feed-health`, with the default prefix `newswire`. Nothing outside this
module spells a key.
"""

from __future__ import annotations

from dataclasses import dataclass

# Seen-set buckets: the first SEEN_BUCKET_HEX hex digits of a document id name
# its bucket, so that each bucket stays a small, compactly encoded hash.
SEEN_BUCKET_HEX = 4

# kombu's Redis transport: separator between a queue's name and its priority step.
_KOMBU_PRIORITY_SEP = "\x06\x16"


@dataclass(frozen=True)
class Keys:
    """Key names under one prefix (the setting NEWSWIRE_KEY_PREFIX)."""

    prefix: str = "newswire"

    # --- streams (the contract) -----------------------------------------------------------
    @property
    def documents_stream(self) -> str:
        return f"{self.prefix}:documents"

    def topic_stream(self, topic_id: str) -> str:
        return f"{self.prefix}:topic:{topic_id}"

    @property
    def deadletter_stream(self) -> str:
        return f"{self.prefix}:deadletter"

    @property
    def feed_health_stream(self) -> str:
        """Feed state changes, errors and staleness (schemas.FeedHealth), for monitoring."""
        return f"{self.prefix}:feed-health"

    def named_stream(self, name: str) -> str:
        """A stream by its short name: documents, deadletter, feed-health or topic:<topic id>."""
        fixed = {
            "documents": self.documents_stream,
            "deadletter": self.deadletter_stream,
            "feed-health": self.feed_health_stream,
        }
        if name in fixed:
            return fixed[name]
        topic = name.removeprefix("topic:")
        if name.startswith("topic:") and topic and ":" not in topic:
            return self.topic_stream(topic)
        raise ValueError(f"unknown stream {name!r}: use {', '.join(fixed)} or topic:<topic id>")

    @property
    def documents_list(self) -> str:
        """List: the optional BRPOP sink (NEWSWIRE_LIST_SINK), newest first, capped."""
        return f"{self.prefix}:list:documents"

    def parked_stream(self, group: str) -> str:
        """Consumer side: entries a group gave up on (invalid, or too many deliveries)."""
        return f"{self.prefix}:parked:{group}"

    @property
    def deadletter_replayed(self) -> str:
        """Hash: dead-letter entry id -> when it was replayed (each is replayed once)."""
        return f"{self.prefix}:deadletter:replayed"

    # --- feed registry ---------------------------------------------------------------------
    @property
    def feed_ids(self) -> str:
        """Set of every registered feed id."""
        return f"{self.prefix}:feeds"

    @property
    def feeds_due(self) -> str:
        """Sorted set: feed id -> epoch seconds when it is next due."""
        return f"{self.prefix}:feeds:due"

    def feed(self, feed_id: str) -> str:
        """Hash: the feed source (as JSON) and its polling state."""
        return f"{self.prefix}:feed:{feed_id}"

    def feed_pending(self, feed_id: str) -> str:
        """Hash: doc id -> an entry the feed's polls wanted and left in flight, until it is
        settled (workers/polling/pending.py)."""
        return f"{self.prefix}:feed:{feed_id}:pending"

    # --- articles in flight ------------------------------------------------------------------
    def seen_bucket(self, doc_id: str) -> str:
        """Hash bucket of the seen-set: rest of the doc id -> publication record."""
        return f"{self.prefix}:seen:{doc_id[:SEEN_BUCKET_HEX]}"

    def guid_bucket(self, guid_digest: str) -> str:
        """Hash bucket of the GUID index: hash of (feed, guid) -> the doc id it names."""
        return f"{self.prefix}:guid:{guid_digest[:SEEN_BUCKET_HEX]}"

    # --- near-duplicates (generations of `NEWSWIRE_NEARDUP_WINDOW_DAYS`, expiring whole) ---
    def neardup_band(self, generation: int, band: int, bucket: str) -> str:
        """Hash: rest of a band key -> the first few doc ids with it, for keys in `bucket`."""
        return f"{self.prefix}:neardup:{generation}:b{band}:{bucket}"

    def neardup_doc(self, generation: int, doc_id: str) -> str:
        """Hash: doc id -> its signature, first-seen minute and cluster (bucket: 3 hex digits)."""
        return f"{self.neardup_doc_prefix(generation)}{doc_id[:3]}"

    def neardup_doc_prefix(self, generation: int) -> str:
        """neardup_doc without its bucket, for the Lua script that derives candidates' keys."""
        return f"{self.prefix}:neardup:{generation}:doc:"

    def inflight(self, doc_id: str) -> str:
        """Marker set while an entry travels fetch -> process -> publish."""
        return f"{self.prefix}:inflight:{doc_id}"

    def raw_page(self, doc_id: str) -> str:
        """Hash: the fetched page (compressed) and its HTTP metadata, with a TTL."""
        return f"{self.prefix}:raw:{doc_id}"

    def delivery_count(self, doc_id: str, stage: str) -> str:
        """How many times a stage has started on a document (for poison pills)."""
        return f"{self.prefix}:deliveries:{stage}:{doc_id}"

    def given_up(self, task_id: str) -> str:
        """Marker of a task message already dead-lettered: a redelivery of it is dropped."""
        return f"{self.prefix}:given-up:{task_id}"

    # --- politeness (per host, shared by every worker) ------------------------------------
    def host_leases(self, host: str) -> str:
        """Sorted set: lease token -> start (ms) of each request in flight to the host."""
        return f"{self.prefix}:host:{host}:leases"

    def host_state(self, host: str) -> str:
        """Hash: next allowed start, penalty (429/503) and mean request time of the host."""
        return f"{self.prefix}:host:{host}"

    def robots(self, origin: str) -> str:
        """The parsed robots.txt rules of one origin (scheme://host:port), with a TTL."""
        return f"{self.prefix}:robots:{origin}"

    def robots_fetch_lock(self, origin: str) -> str:
        """Held by the one worker fetching an origin's robots.txt."""
        return f"{self.prefix}:robots-lock:{origin}"

    # --- runtime ---------------------------------------------------------------------------
    @property
    def beat_heartbeat(self) -> str:
        """When a worker last ran beat's dispatch task (beat ticks and a feeds worker consumes)."""
        return f"{self.prefix}:beat:last-tick"

    @property
    def beat_alive(self) -> str:
        """When the beat process itself last ticked (its liveness)."""
        return f"{self.prefix}:beat:alive"

    # --- Celery's broker keys (kombu's Redis transport, under global_keyprefix) -------------
    @property
    def celery_prefix(self) -> str:
        return f"{self.prefix}:celery:"

    def celery_queue_lists(self, queue: str) -> list[str]:
        """The lists holding a queue's waiting messages: kombu keeps one per priority step
        (0, 3, 6, 9), the non-zero ones named `<queue>\x06\x16<step>`."""
        base = f"{self.celery_prefix}{queue}"
        return [base, *(f"{base}{_KOMBU_PRIORITY_SEP}{step}" for step in (3, 6, 9))]

    @property
    def celery_unacked(self) -> str:
        """Hash of messages delivered to a worker and not acknowledged yet."""
        return f"{self.celery_prefix}unacked"

    @property
    def lag_check_lock(self) -> str:
        """Held for one check interval by the dispatcher that checks consumer groups' lag."""
        return f"{self.prefix}:lag-check"


def seen_field(doc_id: str) -> bytes:
    """Field of a document id inside its seen (or near-duplicate) bucket: the rest, packed.

    Ids are hex; 14 bytes instead of 28 characters is a sixth of the seen-set's memory.
    """
    rest = doc_id[SEEN_BUCKET_HEX:]
    try:
        return bytes.fromhex(rest)
    except ValueError:  # not an id Newswire made (odd length, not hex): keep it as text
        return rest.encode()
