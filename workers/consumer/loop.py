"""The consumer loop: read, validate, hand over, acknowledge; claim, retry, give up, stop.

For each entry, in order:
- delivered more than `max_deliveries` times already (a consumer died on it
  again and again): parked without calling the handler;
- not a valid Document: parked (reason "invalid");
- handler returns: acknowledged;
- handler raises: not acknowledged, so the entry stays pending and comes back
  (to this or another consumer of the group) once idle for `min_idle_ms`;
  at its `max_deliveries`th failed delivery it is parked instead.
Parked entries go to `<prefix>:parked:<group>` (see parked.py), with an error log.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType

import redis

from schemas import Document
from workers.consumer.parked import ParkReason, park
from workers.consumer.reader import GroupReader, StreamEntry, default_consumer_name
from workers.consumer.validation import parse_document
from workers.errors import InvalidStreamEntry
from workers.keys import Keys

log = logging.getLogger(__name__)

_REDIS_DOWN_PAUSE_SECONDS = 1.0


@dataclass(frozen=True)
class Delivery:
    """What the handler receives: the validated document and the entry it came in."""

    document: Document
    entry: StreamEntry

    @property
    def entry_id(self) -> str:
        return self.entry.entry_id

    @property
    def deliveries(self) -> int:
        """1 on the first delivery; more when an earlier attempt failed or its consumer died."""
        return self.entry.deliveries


Handler = Callable[[Delivery], None]


@dataclass(frozen=True)
class ConsumerConfig:
    """Where to read and how patiently. Only `group` is required."""

    group: str  # one per consuming team (or per service of a team)
    stream: str = "documents"  # or "topic:<topic id>"
    key_prefix: str = "newswire"  # Newswire's NEWSWIRE_KEY_PREFIX
    # Unique in the group; the default (host-pid) is taken when the config is built.
    consumer: str = field(default_factory=default_consumer_name)
    start_id: str = "0"  # where a new group starts: "0" all retained entries, "$" new only
    batch_size: int = 10
    block_ms: int = 2000  # longest wait for new entries; also the longest stop delay
    min_idle_ms: int = 60_000  # pending this long = stuck: claimed, or retried after a failure
    max_deliveries: int = 5  # deliveries of one entry before it is parked
    parked_maxlen: int = 100_000  # approximate cap of the parked stream

    def __post_init__(self) -> None:
        if not self.group or not self.consumer:
            raise ValueError("group and consumer names must not be empty")
        if self.stream != "documents" and not self.stream.startswith("topic:"):
            raise ValueError(
                f"stream {self.stream!r}: the consumer reads documents or topic:<topic id> "
                "(use GroupReader for the dead-letter and feed-health streams)"
            )
        for name in ("batch_size", "block_ms", "min_idle_ms", "max_deliveries", "parked_maxlen"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")


@dataclass
class ConsumerStats:
    """Counts since the consumer started."""

    handled: int = 0  # handler returned, entry acknowledged
    failed: int = 0  # handler raised (the entry stays pending, or is parked)
    parked: int = 0
    claimed: int = 0  # entries taken over after `min_idle_ms`


class Consumer:
    """Runs `handler` on each document of one stream for one consumer of a group."""

    def __init__(self, client: redis.Redis, config: ConsumerConfig, handler: Handler) -> None:
        _check_client(client, config)
        keys = Keys(config.key_prefix)
        self.config = config
        self.stats = ConsumerStats()
        self.reader = GroupReader(
            client,
            keys.named_stream(config.stream),
            config.group,
            config.consumer,
            start_id=config.start_id,
            min_idle_ms=config.min_idle_ms,
        )
        self._redis = client
        self._handler = handler
        self._parked_stream = keys.parked_stream(config.group)
        self._stop = threading.Event()
        self._history: str | None = "0"  # own pending entries, read first (a restart)

    @property
    def parked_stream(self) -> str:
        return self._parked_stream

    def run(self, limit: int | None = None) -> ConsumerStats:
        """Consume until stop(), SIGINT or SIGTERM (or `limit` documents handled)."""
        self._stop.clear()
        with _stop_on_signals(self._stop):
            while not self._stop.is_set():
                remaining = None if limit is None else limit - self.stats.handled
                if remaining is not None and remaining <= 0:
                    break
                try:
                    self.poll_once(remaining)
                except (redis.ConnectionError, redis.TimeoutError) as exc:
                    log.warning("Redis unavailable (%s); trying again", exc)
                    self._stop.wait(_REDIS_DOWN_PAUSE_SECONDS)
                except redis.ResponseError as exc:
                    if "NOGROUP" not in str(exc):
                        raise
                    log.warning("stream or group %s deleted; creating it again", self.config.group)
                    self.reader.ensure_group(self.config.start_id)
        return self.stats

    def stop(self) -> None:
        """Ask run() to return after the current entry (or the current wait for entries)."""
        self._stop.set()

    def poll_once(self, most: int | None = None) -> int:
        """Read one batch and process it; the number of entries read."""
        size = self.config.batch_size if most is None else max(1, min(most, self.config.batch_size))
        batch = self._next_batch(size)
        for entry in batch:
            if self._stop.is_set():
                break  # the rest stay pending: this consumer (same name) or another takes them
            self._process(entry)
        return len(batch)

    def _next_batch(self, size: int) -> list[StreamEntry]:
        """Own pending entries first (after a restart), then stuck ones, then new ones."""
        if self._history is not None:
            mine = self.reader.read_mine(size, after=self._history)
            if mine:
                self._history = mine[-1].entry_id
                return mine
            self._history = None
        claimed = self.reader.claim_stuck(size)
        if claimed:
            self.stats.claimed += len(claimed)
            return claimed
        return self.reader.read_new(size, self.config.block_ms)

    def _process(self, entry: StreamEntry) -> None:
        limit = self.config.max_deliveries
        if entry.deliveries > limit:
            self._park(entry, "max_deliveries", f"delivered {entry.deliveries} times, "
                       "its consumers never finished it")  # fmt: skip
            return
        try:
            document = parse_document(entry)
        except InvalidStreamEntry as exc:
            self._park(entry, "invalid", str(exc))
            return
        try:
            self._handler(Delivery(document, entry))
        except Exception as exc:  # any handler failure: leave the entry pending
            self.stats.failed += 1
            log.warning("handler failed on %s %s (delivery %d of %d)", entry.stream,
                        entry.entry_id, entry.deliveries, limit, exc_info=True)  # fmt: skip
            if entry.deliveries >= limit:
                self._park(entry, "max_deliveries", f"{type(exc).__name__}: {exc}")
            return
        self.reader.ack(entry.entry_id)
        self.stats.handled += 1

    def _park(self, entry: StreamEntry, reason: ParkReason, error: str) -> None:
        parked_id = park(
            self._redis,
            self._parked_stream,
            group=self.config.group,
            consumer=self.config.consumer,
            entry=entry,
            reason=reason,
            error=error,
            maxlen=self.config.parked_maxlen,
        )
        self.stats.parked += 1
        log.error("parked %s %s as %s (%s): %s", entry.stream, entry.entry_id, parked_id,
                  reason, error)  # fmt: skip


def _check_client(client: redis.Redis, config: ConsumerConfig) -> None:
    """Refuse a client this loop cannot work with, at once rather than mid-stream."""
    options = client.connection_pool.connection_kwargs
    if options.get("decode_responses"):
        raise ValueError("the consumer needs a Redis client with decode_responses=False")
    timeout = options.get("socket_timeout")
    if timeout is not None and float(timeout) * 1000 <= config.block_ms:
        raise ValueError(
            f"the Redis client's socket_timeout ({timeout}s) must exceed block_ms "
            f"({config.block_ms} ms), or every wait for new entries times out"
        )


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set `stop` while the loop runs (main thread only: Python's rule)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping after the current entry", signum)
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
