"""Valid Documents to publish in tests, numbered so that each has its own id."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas import Document, Extraction, FeedRef, LanguageInfo, TopicMatch
from workers.dedup.seen import content_hash


def numbered_document(
    number: int,
    *,
    topics: tuple[str, ...] = ("sanctions",),
    text: str | None = None,
) -> Document:
    """Document number `number`: id, URL and title derive from it."""
    body = text if text is not None else f"Article number {number} about the news of the day."
    now = datetime.now(UTC)
    return Document(
        id=f"{number:032x}",
        url=f"https://example.org/news/{number}",
        canonical_url=f"https://example.org/news/{number}",
        feed=FeedRef(id="example", url="https://example.org/feed"),
        title=f"Headline {number}",
        text=body,
        fetched_at=now,
        processed_at=now,
        language=LanguageInfo(code="en", confidence=0.99, source="text"),
        topics=[TopicMatch(id=t, score=2.0) for t in topics],
        taxonomy_version="test",
        content_hash=content_hash(body),
        extraction=Extraction(
            source="article_page", extractor="trafilatura", extract_ms=1.0, enrich_ms=0.1
        ),
    )
