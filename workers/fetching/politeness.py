"""One politeness limit per host, shared by every worker on every machine, kept in Redis.

Each host (the URL's host name, ports ignored: they are one server) has:

- a concurrency cap: at most `max_in_flight` of our requests at once. Each request
  holds a lease (a sorted-set member scored by its start); a lease older than the
  longest possible request is dropped, so a killed worker cannot keep a slot;
- a minimum interval between two request starts;
- a penalty after a 429 or 503: no request before now + max(Retry-After, a backoff
  that doubles while penalties follow one another), capped; a success after the
  penalty has run out ends the streak.

Every decision is one Lua script on Redis's clock (TIME), so workers on machines
whose clocks disagree still share one schedule. A worker waits in place for a slot
up to `host_max_wait_seconds`; beyond that it raises HostBusy, whose retry_after is
the next free start time not yet promised to earlier deferred work, so that work
deferred together comes back spread out rather than all at once.

Limits come from settings, with per-host overrides from a YAML file (seeds/hosts.yaml):
an entry for a domain also covers its subdomains; the most specific entry wins.
"""

from __future__ import annotations

import itertools
import logging
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workers.errors import ConfigurationError, HostBusy
from workers.keys import Keys
from workers.settings import Settings

log = logging.getLogger(__name__)

# Statuses that mean "you are asking too much": the host is paused.
PENALTY_STATUSES = frozenset({429, 503})
# The host state (interval, penalty streak, mean request time) outlives any pause.
_STATE_TTL_MS = 24 * 3600 * 1000
# Bounds of the pause before asking again whether a full host has freed a slot.
_MIN_POLL_MS = 50
_MAX_POLL_MS = 250

# KEYS: leases, state.
# ARGV: token, max_in_flight, min_interval_ms, lease_ms, budget_ms, state_ttl_ms.
# Returns {1, 0} (slot taken), {0, wait_ms} (wait that long, then ask again) or
# {-1, retry_ms} (no slot within the budget: come back after retry_ms).
_ACQUIRE = f"""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local max_in_flight = tonumber(ARGV[2])
local interval = tonumber(ARGV[3])
local lease_ms = tonumber(ARGV[4])
local budget = tonumber(ARGV[5])
local state_ttl = tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - lease_ms)
local s = redis.call('HMGET', KEYS[2], 'next_at', 'penalty_until', 'avg_ms', 'deferred_at')
local avg = tonumber(s[3]) or 500
local wait = math.max((tonumber(s[1]) or 0) - now, (tonumber(s[2]) or 0) - now, 0)
if redis.call('ZCARD', KEYS[1]) >= max_in_flight then
  -- The oldest request should end after the usual time, and cannot outlive its lease.
  local oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
  local free_in = math.min(oldest + math.min(avg, lease_ms) - now, {_MAX_POLL_MS})
  wait = math.max(wait, free_in, {_MIN_POLL_MS})
end
if wait <= 0 then
  redis.call('ZADD', KEYS[1], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], lease_ms)
  redis.call('HSET', KEYS[2], 'next_at', now + interval)
  redis.call('PEXPIRE', KEYS[2], state_ttl)
  return {{1, 0}}
end
if wait <= budget then
  return {{0, wait}}
end
local spacing = math.max(interval, math.floor(avg / max_in_flight), {_MIN_POLL_MS})
local slot = math.max(now + wait, tonumber(s[4]) or 0)
redis.call('HSET', KEYS[2], 'deferred_at', slot + spacing)
redis.call('PEXPIRE', KEYS[2], state_ttl)
return {{-1, slot - now}}
"""

# KEYS: leases, state. ARGV: token, outcome (ok | penalty | other), duration_ms (-1 = none),
# retry_after_ms (-1 = none), penalty_base_ms, penalty_cap_ms. Returns the pause set, in ms.
_RELEASE = f"""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREM', KEYS[1], ARGV[1])
local duration = tonumber(ARGV[3])
if duration >= 0 then
  local avg = tonumber(redis.call('HGET', KEYS[2], 'avg_ms'))
  if avg then avg = math.floor(avg * 0.8 + duration * 0.2) else avg = duration end
  redis.call('HSET', KEYS[2], 'avg_ms', avg)
end
local penalty_until = tonumber(redis.call('HGET', KEYS[2], 'penalty_until')) or 0
local pause = 0
if ARGV[2] == 'ok' and now >= penalty_until then
  redis.call('HDEL', KEYS[2], 'penalties')
elseif ARGV[2] == 'penalty' then
  local level = tonumber(redis.call('HGET', KEYS[2], 'penalties')) or 0
  if now >= penalty_until then
    -- A new pause; answers to requests sent before it began do not deepen it.
    level = level + 1
    redis.call('HSET', KEYS[2], 'penalties', level)
  end
  local cap = tonumber(ARGV[6])
  local backoff = math.min(tonumber(ARGV[5]) * 2 ^ (math.max(level, 1) - 1), cap)
  pause = math.floor(math.min(math.max(tonumber(ARGV[4]), backoff), cap))
  if now + pause > penalty_until then
    redis.call('HSET', KEYS[2], 'penalty_until', now + pause)
  end
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('PEXPIRE', KEYS[2], math.max({_STATE_TTL_MS}, pause))
end
return pause
"""


@dataclass(frozen=True)
class HostLimit:
    """How hard Newswire may press one host."""

    max_in_flight: int
    min_interval_seconds: float


class _HostEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_in_flight: int | None = Field(default=None, ge=1)
    min_interval_seconds: float | None = Field(default=None, ge=0)


class _HostsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hosts: dict[str, _HostEntry] = Field(default_factory=dict)


@dataclass(frozen=True)
class HostLimits:
    """The default limit and the per-host overrides."""

    default: HostLimit
    overrides: Mapping[str, HostLimit] = field(default_factory=dict)

    def for_host(self, host: str) -> HostLimit:
        """The most specific entry: the host itself, then each parent domain."""
        labels = host.lower().rstrip(".").split(".")
        for start in range(len(labels)):
            limit = self.overrides.get(".".join(labels[start:]))
            if limit is not None:
                return limit
        return self.default

    @classmethod
    def from_settings(cls, settings: Settings) -> HostLimits:
        default = HostLimit(settings.host_max_in_flight, settings.host_min_interval_seconds)
        path = settings.host_limits_file or settings.seeds_dir / "hosts.yaml"
        if settings.host_limits_file is None and not path.exists():
            return cls(default)
        return cls(default, _load_overrides(path, default))


def _load_overrides(path: Path, default: HostLimit) -> dict[str, HostLimit]:
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        parsed = _HostsFile.model_validate(raw)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ConfigurationError(f"bad host limits file {path}: {exc}") from exc
    return {
        host.lower().rstrip("."): HostLimit(
            entry.max_in_flight or default.max_in_flight,
            default.min_interval_seconds
            if entry.min_interval_seconds is None
            else entry.min_interval_seconds,
        )
        for host, entry in parsed.hosts.items()
    }


def host_of(url: str) -> str:
    """The politeness key of a URL: its host name, lower case."""
    host = urlsplit(url).hostname
    if not host:
        raise ValueError(f"URL without a host: {url}")
    return host.rstrip(".")


@dataclass
class HostSlot:
    """A held request slot; tell it how the request ended before it is released."""

    host: str
    waited: float  # seconds spent waiting for the slot
    status: int | None = None
    retry_after: float | None = None

    def record(self, status: int, retry_after: float | None = None) -> None:
        self.status, self.retry_after = status, retry_after

    @property
    def outcome(self) -> str:
        if self.status is None:
            return "other"
        if self.status in PENALTY_STATUSES:
            return "penalty"
        return "ok" if self.status < 500 else "other"


class HostLimiter:
    """Made once per worker process; safe to share between threads."""

    def __init__(
        self, client: redis.Redis, keys: Keys, limits: HostLimits, settings: Settings
    ) -> None:
        self._redis = client
        self._keys = keys
        self._limits = limits
        self._max_wait = settings.host_max_wait_seconds
        self._penalty_base_ms = round(settings.host_penalty_seconds * 1000)
        self._penalty_cap_ms = round(settings.host_penalty_max_seconds * 1000)
        # No request outlives this (connect, then the total deadline, then one last
        # read timeout): an older lease belongs to a dead worker.
        lease = (
            settings.http_connect_timeout
            + settings.http_total_deadline
            + settings.http_read_timeout
        )
        self._lease_ms = round(lease * 1000)
        self._acquire = client.register_script(_ACQUIRE)
        self._release = client.register_script(_RELEASE)
        # Lease tokens: unique per limiter (one per worker process), then a counter;
        # cheaper than a uuid4 per request, which reads the OS's random source.
        self._token_prefix = uuid.uuid4().hex[:16]
        self._token_numbers = itertools.count()

    @contextmanager
    def slot(self, url: str) -> Iterator[HostSlot]:
        """Hold one of the URL's host's slots for one request (raises HostBusy)."""
        host = host_of(url)
        token, waited = self._take(host)
        held = HostSlot(host, waited)
        started = time.monotonic()
        try:
            yield held
        finally:
            duration = (time.monotonic() - started) if held.status is not None else None
            self._give_back(held, token, duration)

    def _take(self, host: str) -> tuple[str, float]:
        limit = self._limits.for_host(host)
        token = f"{self._token_prefix}-{next(self._token_numbers)}"
        begun = time.monotonic()
        deadline = begun + self._max_wait
        while True:
            budget_ms = max(0, round((deadline - time.monotonic()) * 1000))
            code, wait_ms = self._acquire(
                keys=[self._keys.host_leases(host), self._keys.host_state(host)],
                args=[
                    token,
                    limit.max_in_flight,
                    round(limit.min_interval_seconds * 1000),
                    self._lease_ms,
                    budget_ms,
                    _STATE_TTL_MS,
                ],
            )
            if int(code) == 1:
                return token, time.monotonic() - begun
            if int(code) == -1:
                raise HostBusy(
                    f"{host}: no request slot within {self._max_wait:g}s "
                    f"(limit {limit.max_in_flight} in flight, "
                    f"{limit.min_interval_seconds:g}s apart, or paused after 429/503)",
                    retry_after=int(wait_ms) / 1000,
                )
            time.sleep(int(wait_ms) / 1000)

    def _give_back(self, held: HostSlot, token: str, duration: float | None) -> None:
        retry_after = held.retry_after if held.outcome == "penalty" else None
        try:
            pause_ms = self._release(
                keys=[self._keys.host_leases(held.host), self._keys.host_state(held.host)],
                args=[
                    token,
                    held.outcome,
                    -1 if duration is None else round(duration * 1000),
                    -1 if retry_after is None else round(retry_after * 1000),
                    self._penalty_base_ms,
                    self._penalty_cap_ms,
                ],
            )
        except redis.RedisError as exc:
            # The lease still expires on its own; the request itself went fine.
            log.warning("could not release the slot of %s: %s", held.host, exc)
            return
        if int(pause_ms):
            log.info(
                "%s answered %s: paused for %.1fs", held.host, held.status, int(pause_ms) / 1000
            )
