"""The feed source: one row of the feed registry, as declared in feeds.yaml or OPML."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, HttpUrl, field_validator

from schemas._base import ContractModel

FEED_SOURCE_SCHEMA_VERSION: Literal["1.0.0"] = "1.0.0"


class FeedSource(ContractModel):
    """A feed that Newswire polls. `id` is stable across renames and URL moves."""

    schema_version: Literal["1.0.0"] = FEED_SOURCE_SCHEMA_VERSION
    kind: Literal["feed_source"] = "feed_source"
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$", description="Stable feed id.")
    url: HttpUrl
    title: str = Field(min_length=1, max_length=300)
    language: str | None = Field(
        default=None, pattern=r"^[a-z]{2,3}$", description="Declared language (ISO 639-1)."
    )
    country: str | None = Field(
        default=None, pattern=r"^[A-Z]{2}$", description="Publisher country (ISO 3166-1 alpha-2)."
    )
    tags: list[str] = Field(default_factory=list)
    poll_interval_seconds: int | None = Field(
        default=None, ge=60, le=7 * 24 * 3600, description="Per-feed override of the interval."
    )
    enabled: bool = True

    @field_validator("tags")
    @classmethod
    def _normalise_tags(cls, tags: list[str]) -> list[str]:
        return sorted({t.strip().lower() for t in tags if t.strip()})
