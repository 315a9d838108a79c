"""Idempotent publication of documents to the streams.

One Lua script appends the document to `documents` and to each of its topic
streams, records it in the seen-set and clears its in-flight marker, all in
one atomic step: a task that runs twice, or a redis-py retry after a lost
reply, finds the document already recorded and adds nothing. The script only
writes if the seen record is still the one the caller read (compare and set),
so two concurrent revisions of one URL cannot both win.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from schemas import Document
from workers.dedup.seen import SeenRecord, SeenStore, hash_prefix
from workers.errors import StoreUnavailable
from workers.keys import Keys, seen_field

_PUBLISH = """
local current = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if current ~= ARGV[2] then
  return {'conflict', current}
end
local fields = {}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
local entry_id = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*', unpack(fields))
for i = 4, #KEYS do
  redis.call('XADD', KEYS[i], 'MAXLEN', '~', ARGV[4], '*', unpack(fields))
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('DEL', KEYS[2])
return {'published', entry_id}
"""

_MAX_CONFLICTS = 5


@dataclass(frozen=True)
class PublishResult:
    status: str  # "published" | "duplicate"
    document: Document
    entry_id: str | None = None


class StreamPublisher:
    """Publishes documents exactly once per (id, content) to the streams."""

    def __init__(self, client: redis.Redis, keys: Keys, *, maxlen: int) -> None:
        self._redis = client
        self._keys = keys
        self._maxlen = maxlen
        self._seen = SeenStore(client, keys)
        self._script = client.register_script(_PUBLISH)

    def publish(self, document: Document) -> PublishResult:
        for _ in range(_MAX_CONFLICTS):
            previous = self._seen.get(document.id)
            if _same_content(previous, document):
                self._seen.release_inflight(document.id)
                return PublishResult("duplicate", document)
            versioned = _as_next_revision(document, previous)
            outcome = self._run_script(versioned, previous)
            if outcome[0] == b"published":
                return PublishResult("published", versioned, outcome[1].decode())
        raise StoreUnavailable(
            f"document {document.id}: seen record kept changing during publication",
            reason="publish_conflict",
        )

    def _run_script(self, document: Document, previous: SeenRecord | None) -> list[bytes]:
        record = SeenRecord("published", document.revision, hash_prefix(document.content_hash))
        keys = [
            self._keys.seen_bucket(document.id),
            self._keys.inflight(document.id),
            self._keys.documents_stream,
            *(self._keys.topic_stream(t) for t in document.topic_ids),
        ]
        args: list[str | int] = [
            seen_field(document.id),
            previous.encode() if previous else "",
            record.encode(),
            self._maxlen,
            *stream_fields(document),
        ]
        try:
            result: list[bytes] = self._script(keys=keys, args=args)
        except redis.RedisError as exc:
            raise StoreUnavailable(f"cannot publish document {document.id}: {exc}") from exc
        return result


def stream_fields(document: Document) -> list[str]:
    """The flat field/value list of a stream entry: small headers plus the JSON document."""
    return [
        "id", document.id,
        "revision", str(document.revision),
        "content_hash", document.content_hash,
        "schema_version", document.schema_version,
        "topics", ",".join(document.topic_ids),
        "doc", document.model_dump_json(),
    ]  # fmt: skip


def _same_content(previous: SeenRecord | None, document: Document) -> bool:
    return (
        previous is not None
        and previous.status == "published"
        and previous.content_hash_prefix == hash_prefix(document.content_hash)
    )


def _as_next_revision(document: Document, previous: SeenRecord | None) -> Document:
    if previous is None or previous.status != "published":
        return document
    return document.model_copy(
        update={
            "revision": previous.revision + 1,
            "previous_content_hash": previous.content_hash_prefix,
        }
    )
