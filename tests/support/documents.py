"""Valid Documents to publish in tests, without running the pipeline."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas import Document, Extraction, FeedRef, LanguageInfo, TopicMatch
from workers.dedup.seen import content_hash


def plain_document(
    doc_id: str,
    text: str,
    *,
    url: str,
    feed: FeedRef,
    canonical_url: str | None = None,
    title: str | None = None,
    topics: tuple[str, ...] = (),
) -> Document:
    """An English article page's document, processed now, with the given identity and text."""
    now = datetime.now(UTC)
    return Document(
        id=doc_id,
        url=url,
        canonical_url=canonical_url or url,
        feed=feed,
        title=title,
        text=text,
        fetched_at=now,
        processed_at=now,
        language=LanguageInfo(code="en", confidence=0.99, source="text"),
        topics=[TopicMatch(id=t, score=2.0) for t in topics],
        taxonomy_version="test",
        content_hash=content_hash(text),
        extraction=Extraction(
            source="article_page", extractor="trafilatura", extract_ms=1.0, enrich_ms=0.1
        ),
    )


def numbered_document(
    number: int,
    *,
    topics: tuple[str, ...] = ("sanctions",),
    text: str | None = None,
) -> Document:
    """Document number `number`: id, URL and title derive from it."""
    body = text if text is not None else f"Article number {number} about the news of the day."
    return plain_document(
        f"{number:032x}",
        body,
        url=f"https://example.org/news/{number}",
        feed=FeedRef(id="example", url="https://example.org/feed"),
        title=f"Headline {number}",
        topics=topics,
    )
