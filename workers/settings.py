"""One settings object, read from the environment with the prefix NEWSWIRE_.

Grouped by concern; every field has a type, a default and a description, and
`newswire config` (and the README's table) are generated from them.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from workers.errors import ConfigurationError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# What the optional list sink pushes for each published document (see CONSUMERS.md).
ListSinkMode = Literal["off", "ids", "documents"]


class Settings(BaseSettings):
    """Newswire configuration. Environment: NEWSWIRE_<FIELD NAME IN CAPITALS>."""

    model_config = SettingsConfigDict(env_prefix="NEWSWIRE_", extra="ignore", frozen=True)

    # --- Redis: broker and stream store -------------------------------------------------
    redis_url: str | None = Field(
        default=None,
        description="Redis to use as broker and stream store; unset = start an embedded one.",
    )
    broker_url: str | None = Field(
        default=None,
        pattern=r"^(redis|rediss|amqp|amqps|pyamqp)://",
        description="Celery broker; unset = the Redis above. amqp://user:pass@host/vhost puts "
        "the queues on RabbitMQ (quorum queues) and keeps Redis for streams and state.",
    )
    data_dir: Path = Field(
        default=Path(".newswire"), description="Where the embedded Redis keeps its data and AOF."
    )
    key_prefix: str = Field(
        default="newswire", pattern=r"^[a-z][a-z0-9_-]*$", description="Prefix of every key."
    )
    stream_maxlen: int = Field(
        default=1_000_000, ge=1000, description="Approximate cap of each stream (XADD MAXLEN ~)."
    )
    list_sink: ListSinkMode = Field(
        default="off",
        description="Also LPUSH each published document (documents) or a JSON reference to it "
        "(ids: id, revision, entry_id) onto <prefix>:list:documents, for consumers that can "
        "only BRPOP.",
    )
    list_sink_maxlen: int = Field(
        default=100_000,
        ge=1,
        description="Cap of the list sink (LTRIM): beyond it the oldest unpopped items are "
        "dropped.",
    )
    redis_fsync: Literal["always", "everysec"] = Field(
        default="always",
        description="AOF fsync policy the workers require of Redis (checked at start-up; the "
        "embedded Redis runs with it). always: Redis replies, to writers and to stream readers, "
        "only once the write is on disk. everysec: up to about 2 s of acknowledged writes may "
        "be lost if the machine (not only Redis) crashes.",
    )
    stream_lag_alert_fraction: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="A consumer group whose unread backlog exceeds this share of a stream's cap "
        "is reported in the workers' log before trimming drops entries it has not read.",
    )
    stream_lag_check_seconds: int = Field(
        default=60, ge=1, description="How often the dispatcher checks consumer groups' lag."
    )

    # --- Seeds ---------------------------------------------------------------------------
    seeds_dir: Path = Field(
        default=PROJECT_ROOT / "seeds", description="Feed lists, taxonomy, gazetteer, demo."
    )
    corpus_dir: Path = Field(
        default=PROJECT_ROOT.parent / "shared" / "corpus",
        validation_alias="NEWSWIRE_CORPUS",
        description="Real-world test corpus (tests and benchmarks only).",
    )

    # --- Scheduling ------------------------------------------------------------------------
    dispatch_every_seconds: float = Field(
        # Short ticks send small batches: each host gets its polls spread out rather
        # than in bursts that its politeness limit makes wait (BENCHMARKS.md, feed polling).
        default=1.0,
        gt=0,
        description="How often beat asks the dispatcher for due feeds.",
    )
    dispatch_batch: int = Field(default=1000, ge=1, description="Most feeds claimed per tick.")
    poll_interval_seconds: int = Field(
        default=900,
        ge=1,
        description="Interval of a feed whose publishing rate is not known yet (kept in min..max).",
    )
    poll_lease_seconds: int = Field(
        default=600,
        ge=10,
        description="A claimed feed is due again after this if its poll is lost.",
    )
    poll_min_interval_seconds: int = Field(
        default=300, ge=1, description="Shortest adaptive interval between two polls of a feed."
    )
    poll_max_interval_seconds: int = Field(
        default=6 * 3600, ge=1, description="Longest adaptive interval between two polls of a feed."
    )
    poll_rate_factor: float = Field(
        default=0.5,
        gt=0,
        description="Adaptive interval = this x the feed's usual gap between new items.",
    )
    poll_jitter_fraction: float = Field(
        default=0.1,
        ge=0,
        lt=1,
        description="Random spread of every interval and backoff (0.1 = +/-10%).",
    )
    poll_backoff_max_seconds: int = Field(
        default=6 * 3600, ge=1, description="Longest wait after consecutive poll errors."
    )
    feed_disable_after_404: int = Field(
        default=3, ge=1, description="Consecutive 404s that disable a feed (410 disables at once)."
    )
    feed_revival_seconds: int = Field(
        default=24 * 3600, ge=60, description="How often a disabled feed is probed again."
    )
    feed_stale_factor: float = Field(
        default=5.0,
        gt=1,
        description="A feed silent for this many times its usual gap is flagged stale.",
    )
    feed_stale_min_seconds: int = Field(
        default=6 * 3600, ge=0, description="A feed is never flagged stale before this silence."
    )
    feed_health_maxlen: int = Field(
        default=100_000,
        ge=100,
        description="Approximate cap of the feed-health stream (XADD MAXLEN ~).",
    )

    # --- HTTP ------------------------------------------------------------------------------
    user_agent: str = Field(
        default="Newswire/0.1 (+https://github.com/newswire/newswire)",
        description="User-Agent sent with every request; name the service and a contact URL.",
    )
    http_connect_timeout: float = Field(default=5.0, gt=0, description="Seconds to connect.")
    http_read_timeout: float = Field(default=15.0, gt=0, description="Seconds between two reads.")
    http_total_deadline: float = Field(
        default=30.0, gt=0, description="Seconds for a whole response, however it drips."
    )
    feed_max_bytes: int = Field(default=10 * 2**20, ge=1024, description="Largest feed body.")
    article_max_bytes: int = Field(default=5 * 2**20, ge=1024, description="Largest page body.")
    max_redirects: int = Field(default=5, ge=0, description="Redirect hops followed per request.")
    fetch_allowlist: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Comma-separated networks (10.0.0.0/8, 127.0.0.1) and host names "
        "(intranet.example, *.corp.example) that may be fetched although not public; "
        "empty = only public addresses (loopback, private, link-local... refused).",
    )

    # --- Politeness (one limit per host, shared by every worker) ---------------------------
    host_max_in_flight: int = Field(
        default=2, ge=1, description="Requests in flight to one host, across all workers."
    )
    host_min_interval_seconds: float = Field(
        default=1.0, ge=0, description="Least time between two request starts to one host."
    )
    host_max_wait_seconds: float = Field(
        default=2.0,
        ge=0,
        description="Longest wait in a worker for a host's slot; beyond it the work is re-queued.",
    )
    host_penalty_seconds: float = Field(
        default=30.0,
        ge=0,
        description="Pause of a host after a 429/503; doubles while they keep coming.",
    )
    host_penalty_max_seconds: float = Field(
        default=3600.0,
        ge=0,
        le=86400,
        description="Longest pause of a host, whatever its Retry-After says.",
    )
    host_limits_file: Path | None = Field(
        default=None,
        description="YAML of per-host limits (host -> max_in_flight, min_interval_seconds); "
        "unset = hosts.yaml in the seeds directory.",
    )
    robots_cache_seconds: int = Field(
        default=24 * 3600,
        ge=60,
        le=24 * 3600,
        description="How long a robots.txt is trusted (RFC 9309: at most 24 hours).",
    )
    robots_error_ttl_seconds: int = Field(
        default=300,
        ge=1,
        description="An unreachable robots.txt (5xx, timeout) disallows its site this long, "
        "then is fetched again.",
    )
    robots_max_bytes: int = Field(
        default=512 * 1024,
        ge=500 * 1024,
        description="Bytes of a robots.txt parsed (RFC 9309: at least 500 KiB); the rest ignored.",
    )

    # --- Pipeline --------------------------------------------------------------------------
    raw_html_ttl_seconds: int = Field(
        default=24 * 3600, ge=60, description="How long a fetched page waits in Redis."
    )
    inflight_ttl_seconds: int = Field(
        default=6 * 3600,
        ge=5,
        description="An entry in flight is not enqueued again for this long; after it, the next "
        "poll of a feed that wanted the entry sends it again unless it was published or "
        "dead-lettered (a lost message comes back).",
    )
    max_retries: int = Field(default=5, ge=0, description="Retries of a transient failure.")
    max_deliveries: int = Field(
        default=8, ge=1, description="Starts of one stage on one document before it is poison."
    )
    retry_backoff_seconds: float = Field(default=10.0, ge=0, description="First retry delay.")
    retry_backoff_max_seconds: float = Field(
        default=600.0, ge=0, description="Longest retry delay."
    )
    process_soft_time_limit: float = Field(
        default=60.0, gt=0, description="process_article soft limit."
    )
    process_time_limit: float = Field(default=90.0, gt=0, description="process_article hard limit.")
    fetch_time_limit: float = Field(default=120.0, gt=0, description="poll/fetch hard limit.")
    visibility_timeout: int = Field(
        default=3600,
        ge=5,
        description="Broker redelivers a task still unacknowledged this long after delivery "
        "(a worker died holding it); must exceed any retry delay plus the longest time limit.",
    )
    unacked_restore_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How often each worker looks for tasks whose visibility timeout expired.",
    )

    # --- Dedup and updates -----------------------------------------------------------------
    seen_ttl_days: int = Field(
        default=90,
        ge=1,
        le=10_000,
        description="A published or dead-lettered article is forgotten this long after its "
        "feed last listed it (records are pruned lazily).",
    )
    max_refetches: int = Field(
        default=5,
        ge=0,
        le=255,
        description="Re-fetches of a published article whose feed entry says it was updated "
        "since; each may publish a new revision.",
    )
    summary_fallback_min_chars: int = Field(
        default=200,
        ge=1,
        le=8000,
        description="A page refused (401/402/403/451) or without article text is replaced by "
        "the feed's summary when it has at least this many characters; else dead-letter.",
    )
    neardup_window_days: int = Field(
        default=3,
        ge=1,
        le=365,
        description="Near-duplicates are looked for among documents of the last 1-2 windows.",
    )
    neardup_min_similarity: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Estimated Jaccard similarity of word shingles above which a document is "
        "a near-duplicate (duplicate_of) of an earlier one.",
    )

    # --- Workers (newswire run) ------------------------------------------------------------
    fetch_concurrency: int = Field(
        # Threads mostly wait: on sockets, and in place for a slot of their host's
        # politeness limit. 128 keep 100,000 feeds per 15 minutes polled with the
        # default host limits (BENCHMARKS.md, feed polling at scale).
        default=128,
        ge=1,
        description="Threads of the I/O worker.",
    )
    process_concurrency: int = Field(
        default=0, ge=0, description="Processes of the CPU worker; 0 = one per core."
    )

    # --- Operations: logs, metrics, health -------------------------------------------------
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto",
        description="Log lines as JSON (one event per line) or text; auto = text on a "
        "terminal, JSON otherwise.",
    )
    metrics_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="Port of each worker's Prometheus endpoint (/metrics); 0 = off. "
        "`newswire run` gives the process worker the next port.",
    )
    metrics_address: str = Field(
        default="127.0.0.1", description="Address the metrics endpoint listens on."
    )
    beat_stale_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Beat is unhealthy when its last tick (or, for readiness, the last "
        "dispatch a worker ran) is older than this.",
    )

    @field_validator("fetch_allowlist", mode="before")
    @classmethod
    def _split_allowlist(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part for part in value.replace(",", " ").split() if part]
        return tuple(value) if isinstance(value, list) else value

    @field_validator("fetch_allowlist")
    @classmethod
    def _check_allowlist(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from workers.fetching.addresses import Allowlist  # raises ValueError on a bad entry

        Allowlist.parse(value)
        return value

    @model_validator(mode="after")
    def _refuse_double_delivery(self) -> Settings:
        # kombu's Redis transport redelivers any task still unacknowledged after the
        # visibility timeout, counted from delivery: a task held for its retry delay
        # (an ETA the worker keeps in memory) and then run to its time limit must be
        # acknowledged before that, or a second worker runs it too.
        longest = self.retry_backoff_max_seconds + self.longest_time_limit
        if longest >= self.visibility_timeout:
            raise ValueError(
                f"visibility_timeout ({self.visibility_timeout}s) must exceed the longest retry "
                f"delay plus the longest task time limit ({self.retry_backoff_max_seconds:g}s + "
                f"{self.longest_time_limit:g}s), or tasks would run twice"
            )
        if self.max_deliveries <= self.max_retries:
            raise ValueError("max_deliveries must exceed max_retries (each retry is a delivery)")
        if self.process_soft_time_limit >= self.process_time_limit:
            raise ValueError("process_soft_time_limit must be below process_time_limit")
        if self.poll_min_interval_seconds > self.poll_max_interval_seconds:
            raise ValueError("poll_min_interval_seconds must not exceed poll_max_interval_seconds")
        return self

    @property
    def longest_time_limit(self) -> float:
        return max(self.process_time_limit, self.fetch_time_limit)

    @property
    def given_up_marker_ttl(self) -> int:
        """How long a task message given up (or a document's delivery count) is remembered:
        long enough to span every redelivery after a visibility timeout."""
        return self.visibility_timeout * (self.max_deliveries + 2)

    @property
    def effective_process_concurrency(self) -> int:
        return self.process_concurrency or (os.cpu_count() or 1)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once. Raises ConfigurationError when invalid."""
    try:
        return Settings()
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise ConfigurationError(f"invalid Newswire settings: {exc}") from exc
