"""The feed-health record: one feed's polling health, as `newswire feeds status` shows it.

Entries of the `newswire:feed-health` stream carry one of these, written when a
feed changes state, fails a poll, turns stale or fresh again, or moves to a new
URL (never for an ordinary successful poll).
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from schemas._base import ContractModel

FEED_HEALTH_SCHEMA_VERSION: Literal["1.0.0"] = "1.0.0"

# active: polled on its schedule; erroring: failing, polled with backoff;
# disabled: given up (410, repeated 404), probed slowly; paused: disabled by the operator.
FeedHealthState = Literal["active", "erroring", "disabled", "paused"]
HealthChange = Literal["state", "error", "stale", "moved"]
ErrorKind = Literal[
    "dns", "tls", "connect", "timeout", "http_4xx", "http_5xx", "parse", "refused", "too_large",
    "other",
]  # fmt: skip


class FeedHealth(ContractModel):
    """How one feed is doing, and what changed to cause this record."""

    schema_version: Literal["1.0.0"] = FEED_HEALTH_SCHEMA_VERSION
    kind: Literal["feed_health"] = "feed_health"
    feed_id: str
    url: str = Field(description="The URL polled (after any permanent redirect).")
    state: FeedHealthState
    previous_state: FeedHealthState | None = None
    changes: list[HealthChange] = Field(
        default_factory=list,
        description="Why this record was written: state changed, a poll failed, the stale "
        "flag flipped, the feed moved. Empty in a snapshot.",
    )
    stale: bool = Field(description="Nothing new for k times the feed's usual gap.")
    disabled_reason: str | None = Field(default=None, description="e.g. http_410, http_404.")
    consecutive_errors: int = Field(ge=0)
    last_success_at: AwareDatetime | None = None
    last_error_at: AwareDatetime | None = None
    last_error: str | None = None
    last_error_reason: str | None = Field(default=None, description="e.g. dns, http_503.")
    last_error_kind: ErrorKind | None = None
    items_per_day: float | None = Field(default=None, ge=0)
    usual_gap_seconds: float | None = Field(
        default=None, ge=0, description="Moving average of the gap between two new items."
    )
    last_item_at: AwareDatetime | None = None
    next_poll_at: AwareDatetime | None = None
    observed_at: AwareDatetime
