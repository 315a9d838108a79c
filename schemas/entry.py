"""The feed entry: what the poll stage hands to the fetch and process stages."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, Field

from schemas._base import ContractModel

FEED_ENTRY_SCHEMA_VERSION: Literal["1.0.0"] = "1.0.0"

# A feed summary is carried in task messages, so it is bounded.
MAX_SUMMARY_CHARS = 8000


class FeedRef(ContractModel):
    """The feed a document came from."""

    id: str
    url: str
    title: str | None = None


class FeedEntry(ContractModel):
    """One item of a feed, mapped from feedparser by a single adapter."""

    schema_version: Literal["1.0.0"] = FEED_ENTRY_SCHEMA_VERSION
    kind: Literal["feed_entry"] = "feed_entry"
    doc_id: str = Field(description="Document id, derived from the canonical URL.")
    feed: FeedRef
    url: str = Field(description="The link as the feed gives it.")
    canonical_url: str
    guid: str | None = None
    title: str | None = None
    summary: str | None = Field(default=None, max_length=MAX_SUMMARY_CHARS)
    authors: list[str] = Field(default_factory=list)
    published_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    language: str | None = Field(default=None, description="Language the feed declares.")
    discovered_at: datetime
