"""One settings object, read from the environment with the prefix NEWSWIRE_.

Grouped by concern; every field has a type, a default and a description, and
`newswire config` (and the README's table) are generated from them.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from workers.errors import ConfigurationError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Newswire configuration. Environment: NEWSWIRE_<FIELD NAME IN CAPITALS>."""

    model_config = SettingsConfigDict(env_prefix="NEWSWIRE_", extra="ignore", frozen=True)

    # --- Redis: broker and stream store -------------------------------------------------
    redis_url: str | None = Field(
        default=None,
        description="Redis to use as broker and stream store; unset = start an embedded one.",
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
        default=5.0, gt=0, description="How often beat asks the dispatcher for due feeds."
    )
    dispatch_batch: int = Field(default=1000, ge=1, description="Most feeds claimed per tick.")
    poll_interval_seconds: int = Field(
        default=900, ge=1, description="Default interval between two polls of a feed."
    )
    poll_lease_seconds: int = Field(
        default=600,
        ge=10,
        description="A claimed feed is due again after this if its poll is lost.",
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

    # --- Pipeline --------------------------------------------------------------------------
    raw_html_ttl_seconds: int = Field(
        default=24 * 3600, ge=60, description="How long a fetched page waits in Redis."
    )
    inflight_ttl_seconds: int = Field(
        default=6 * 3600,
        ge=60,
        description="An entry in flight is not enqueued again for this long.",
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
        default=3600, ge=60, description="Broker redelivers an unacknowledged task after this."
    )

    # --- Workers (newswire run) ------------------------------------------------------------
    fetch_concurrency: int = Field(default=16, ge=1, description="Threads of the I/O worker.")
    process_concurrency: int = Field(
        default=0, ge=0, description="Processes of the CPU worker; 0 = one per core."
    )

    @model_validator(mode="after")
    def _refuse_double_delivery(self) -> Settings:
        # kombu's Redis transport redelivers any task still unacknowledged after the
        # visibility timeout: a longer task or retry delay would run twice.
        longest = max(
            self.process_time_limit, self.fetch_time_limit, self.retry_backoff_max_seconds
        )
        if longest >= self.visibility_timeout:
            raise ValueError(
                f"visibility_timeout ({self.visibility_timeout}s) must exceed the longest task "
                f"time limit or retry delay ({longest:g}s), or tasks would run twice"
            )
        if self.max_deliveries <= self.max_retries:
            raise ValueError("max_deliveries must exceed max_retries (each retry is a delivery)")
        if self.process_soft_time_limit >= self.process_time_limit:
            raise ValueError("process_soft_time_limit must be below process_time_limit")
        return self

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
