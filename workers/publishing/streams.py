"""Idempotent publication of documents to the streams.

One Lua script appends the document to `documents` and to each of its topic
streams, records it in the seen-set (and its GUID in the GUID index), clears
its in-flight marker and prunes expired records from the buckets it wrote,
all in one atomic step: a task that runs twice, or a redis-py retry after a
lost reply, finds the document already recorded and adds nothing. The script
only writes if the seen record is still the one the caller read (compare and
set), so two concurrent revisions of one URL cannot both win.

Processing a published article again (its feed said it was updated) either
publishes a new revision, when the text changed, or only confirms the record:
the confirmation moves the record's publication time, so that the same feed
update does not send the article round again.

The optional list sink (NEWSWIRE_LIST_SINK, off by default) pushes in the
same step, and only when the streams get a new entry, so a re-run never pushes
twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis

from schemas import Document
from workers.dedup.seen import (
    PRUNE_LUA,
    EntryKey,
    SeenRecord,
    SeenStore,
    day_number,
    hash_prefix,
    minute_number,
)
from workers.errors import StoreUnavailable
from workers.keys import Keys, seen_field
from workers.settings import ListSinkMode, get_settings

# KEYS: seen bucket, in-flight marker, GUID bucket (the seen bucket when there is
#       no GUID), documents stream, list sink, topic streams...
# ARGV: seen field, expected record ('' = none), new record, GUID field ('' = none),
#       GUID record, today, oldest day kept, maxlen, list sink mode ('off', 'ids',
#       'documents'), list sink cap, stream fields... (none: confirm only)
_PUBLISH = (
    PRUNE_LUA
    + """
local current = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if current ~= ARGV[2] then
  return {'conflict', current}
end
local entry_id = ''
local outcome = 'confirmed'
if #ARGV > 10 then
  local fields, named = {}, {}
  for i = 11, #ARGV, 2 do
    fields[#fields + 1] = ARGV[i]
    fields[#fields + 1] = ARGV[i + 1]
    named[ARGV[i]] = ARGV[i + 1]
  end
  entry_id = redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[8], '*', unpack(fields))
  for i = 6, #KEYS do
    redis.call('XADD', KEYS[i], 'MAXLEN', '~', ARGV[8], '*', unpack(fields))
  end
  if ARGV[9] ~= 'off' then
    local item = named['doc']
    if ARGV[9] == 'ids' then
      item = cjson.encode({id = named['id'], revision = tonumber(named['revision']),
                           entry_id = entry_id})
    end
    redis.call('LPUSH', KEYS[5], item)
    redis.call('LTRIM', KEYS[5], 0, tonumber(ARGV[10]) - 1)
  end
  outcome = 'published'
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
  prune(KEYS[3], ARGV[6], ARGV[7])
end
redis.call('DEL', KEYS[2])
prune(KEYS[1], ARGV[6], ARGV[7])
return {outcome, entry_id}
"""
)

_MAX_CONFLICTS = 5


@dataclass(frozen=True)
class PublishResult:
    status: str  # "published" | "duplicate"
    document: Document
    entry_id: str | None = None


class StreamPublisher:
    """Publishes documents exactly once per (id, content) to the streams."""

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        *,
        maxlen: int,
        seen_ttl_days: int | None = None,
        list_sink: ListSinkMode = "off",
        list_sink_maxlen: int = 100_000,
    ) -> None:
        self._redis = client
        self._keys = keys
        self._maxlen = maxlen
        self._list_sink = list_sink
        self._list_sink_maxlen = list_sink_maxlen
        self._ttl_days = (
            seen_ttl_days if seen_ttl_days is not None else get_settings().seen_ttl_days
        )
        self._seen = SeenStore(client, keys)
        self._script = client.register_script(_PUBLISH)

    def publish(
        self, document: Document, *, entry_key: EntryKey | None = None, now: float | None = None
    ) -> PublishResult:
        """Publish `document` (or a new revision of it); `entry_key` also records its GUID."""
        moment = time.time() if now is None else now
        for _ in range(_MAX_CONFLICTS):
            previous = self._seen.get(document.id)
            if previous is not None and _same_content(previous, document):
                confirmed = _confirmation(previous, moment)
                done, _ = self._run_script(
                    document, previous, confirmed, entry_key=entry_key, now=moment, fields=[]
                )
                if done:
                    return PublishResult("duplicate", document)
                continue
            versioned = _as_next_revision(document, previous)
            record = _publication(versioned, previous, moment)
            fields = stream_fields(versioned)
            done, entry_id = self._run_script(
                versioned, previous, record, entry_key=entry_key, now=moment, fields=fields
            )
            if done:
                return PublishResult("published", versioned, entry_id)
        raise StoreUnavailable(
            f"document {document.id}: seen record kept changing during publication",
            reason="publish_conflict",
        )

    def _run_script(
        self,
        document: Document,
        previous: SeenRecord | None,
        record: SeenRecord,
        *,
        entry_key: EntryKey | None,
        now: float,
        fields: list[str],
    ) -> tuple[bool, str]:
        """Run the script; (False, '') when the seen record changed since it was read."""
        today = day_number(now)
        seen_bucket = self._keys.seen_bucket(document.id)
        keys = [
            seen_bucket,
            self._keys.inflight(document.id),
            self._keys.guid_bucket(entry_key.digest) if entry_key else seen_bucket,
            self._keys.documents_stream,
            self._keys.documents_list,
            *(self._keys.topic_stream(t) for t in document.topic_ids),
        ]
        args: list[str | int | bytes] = [
            seen_field(document.id),
            previous.raw if previous else b"",
            record.encode(),
            entry_key.field if entry_key else b"",
            entry_key.record(document.id, today).encode() if entry_key else b"",
            today,
            today - self._ttl_days,
            self._maxlen,
            self._list_sink,
            self._list_sink_maxlen,
            *fields,
        ]
        try:
            result: list[bytes] = self._script(keys=keys, args=args)
        except redis.RedisError as exc:
            raise StoreUnavailable(f"cannot publish document {document.id}: {exc}") from exc
        if result[0] == b"conflict":
            return False, ""
        return True, result[1].decode()


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


def _same_content(previous: SeenRecord, document: Document) -> bool:
    return previous.status == "published" and previous.content_hash_prefix == hash_prefix(
        document.content_hash
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


def _publication(document: Document, previous: SeenRecord | None, now: float) -> SeenRecord:
    """The seen record of a document being published (maybe as a new revision)."""
    again = previous is not None and previous.status == "published"
    return SeenRecord(
        "published",
        document.revision,
        hash_prefix(document.content_hash),
        published_minute=minute_number(now),
        refetches=previous.refetches + 1 if previous is not None and again else 0,
        day=day_number(now),
    )


def _confirmation(previous: SeenRecord, now: float) -> SeenRecord:
    """The record of a published article processed again and found unchanged."""
    return SeenRecord(
        "published",
        previous.revision,
        previous.content_hash_prefix,
        published_minute=minute_number(now),
        refetches=previous.refetches + 1,
        day=day_number(now),
    )
