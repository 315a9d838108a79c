"""The enriched document: what downstream teams read from the streams."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from schemas._base import ContractModel
from schemas.enrichment import ArmsTransferDetail, Entities, LanguageInfo, TopicMatch
from schemas.entry import FeedRef

DOCUMENT_SCHEMA_VERSION: Literal["1.0.0"] = "1.0.0"

ExtractionSource = Literal["article_page", "feed_summary"]


class Extraction(ContractModel):
    """Provenance of `text`: where it came from, with what, how long it took."""

    source: ExtractionSource
    extractor: str = Field(description="Extractor name and version, e.g. trafilatura 2.0.0.")
    http_status: int | None = None
    final_url: str | None = Field(default=None, description="URL after redirects.")
    content_type: str | None = None
    charset: str | None = Field(default=None, description="Charset used to decode the page.")
    charset_source: str | None = Field(default=None, description="bom, header, meta or detected.")
    html_bytes: int | None = Field(default=None, ge=0)
    fetch_ms: float | None = Field(default=None, ge=0)
    extract_ms: float = Field(ge=0)
    enrich_ms: float = Field(ge=0)
    fallback_reason: str | None = Field(
        default=None,
        description="Why the feed's summary stands in for the page (source feed_summary): "
        "http_401, http_402, http_403, http_451 (refused), no_text or decode (nothing to "
        "extract).",
    )


class Document(ContractModel):
    """One enriched article. `id` is stable: it is derived from the canonical URL."""

    schema_version: Literal["1.0.0"] = DOCUMENT_SCHEMA_VERSION
    kind: Literal["document"] = "document"
    id: str = Field(pattern=r"^[0-9a-f]{32}$")
    revision: int = Field(default=1, ge=1, description="Grows when a known article changes.")
    previous_content_hash: str | None = Field(
        default=None,
        description="First 16 hex digits of the previous revision's content hash.",
    )
    url: str
    canonical_url: str
    feed: FeedRef
    title: str | None = None
    text: str = Field(min_length=1)
    summary: str | None = None
    authors: list[str] = Field(default_factory=list)
    published_at: AwareDatetime | None = None
    fetched_at: AwareDatetime
    processed_at: AwareDatetime
    language: LanguageInfo
    topics: list[TopicMatch] = Field(default_factory=list)
    taxonomy_version: str
    entities: Entities = Field(default_factory=Entities)
    arms_transfers: list[ArmsTransferDetail] = Field(
        default_factory=list,
        description="Arms-transfer details (supplier, recipient, systems, quantities, status), "
        "for documents tagged arms_transfers.",
    )
    duplicate_of: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{32}$",
        description="Id of the earliest document this one nearly duplicates (a wire copy, "
        "syndicated text), within the near-duplicate window; null when none.",
    )
    cluster_id: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{32}$",
        description="Stable id of the near-duplicate cluster: the id of its first document "
        "(this document's own id when it is the first). Null when the text is too short.",
    )
    duplicate_similarity: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Estimated share of word shingles in common with `duplicate_of` (Jaccard).",
    )
    content_hash: str = Field(pattern=r"^sha256:[0-9a-f]{64}$", description="Hash of `text`.")
    extraction: Extraction

    @property
    def topic_ids(self) -> list[str]:
        return [t.id for t in self.topics]
