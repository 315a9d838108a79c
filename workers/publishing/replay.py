"""Replaying dead-lettered work, each entry once.

A document's replay starts again from the fetch stage (its page may be gone or
have changed): its seen mark and delivery counters are cleared so that the
pipeline treats it as new, and its fresh result is published once as usual. A
feed's replay makes the feed due now. Replayed entry ids are remembered, so a
second replay of the same entry does nothing unless forced.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import redis

from schemas import DeadLetter
from workers.dedup.seen import SeenStore
from workers.keys import Keys
from workers.tasks import FETCH_ARTICLE

SendTask = Callable[[str, list[Any]], None]

_DOCUMENT_STAGES = {"fetch", "process", "publish"}


@dataclass(frozen=True)
class ReplayOutcome:
    entry_id: str
    action: str  # "refetch" | "repoll" | "skipped: <why>"


class Replayer:
    def __init__(self, client: redis.Redis, keys: Keys, send: SendTask) -> None:
        self._redis = client
        self._keys = keys
        self._send = send
        self._seen = SeenStore(client, keys)

    def replay(
        self, entries: Iterable[tuple[str, DeadLetter]], *, force: bool = False
    ) -> list[ReplayOutcome]:
        return [self._replay_one(entry_id, dead, force) for entry_id, dead in entries]

    def _replay_one(self, entry_id: str, dead: DeadLetter, force: bool) -> ReplayOutcome:
        if not force and self._redis.hexists(self._keys.deadletter_replayed, entry_id):
            return ReplayOutcome(entry_id, "skipped: already replayed")
        if dead.stage in _DOCUMENT_STAGES and "entry" in dead.task_args and dead.doc_id:
            self._reset_document(dead.doc_id)
            self._send(FETCH_ARTICLE, [dead.task_args["entry"]])
            action = "refetch"
        elif dead.feed_id:
            self._redis.zadd(self._keys.feeds_due, {dead.feed_id: 0}, xx=True)
            action = "repoll"
        else:
            return ReplayOutcome(entry_id, "skipped: nothing to replay")
        self._redis.hset(self._keys.deadletter_replayed, entry_id, str(time.time()))
        return ReplayOutcome(entry_id, action)

    def _reset_document(self, doc_id: str) -> None:
        self._seen.forget_deadletter(doc_id)
        self._redis.delete(
            *(self._keys.delivery_count(doc_id, stage) for stage in sorted(_DOCUMENT_STAGES))
        )
