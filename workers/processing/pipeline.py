"""From a fetched page to an enriched Document: decode, extract, enrich, hash."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from schemas import Document, Enrichment, Extraction, FeedEntry
from workers.dedup.seen import content_hash
from workers.enrichment import Enricher
from workers.errors import DecodeError, ExtractionError
from workers.fetching.article import usable_summary
from workers.fetching.rawstore import PageMeta, RawPage
from workers.processing.decode import DecodedPage, decode_page
from workers.processing.extract import EXTRACTOR_NAME, ExtractedArticle, extract_article


def read_page(
    body: bytes, content_type: str | None, url: str | None
) -> tuple[DecodedPage, ExtractedArticle]:
    """Decode a page's bytes and extract its article. Raises DecodeError or ExtractionError."""
    decoded = decode_page(body, content_type)
    return decoded, extract_article(decoded.html, url=url)


def enrich_text(
    enricher: Enricher,
    text: str,
    *,
    title: str | None,
    html_lang: str | None,
    feed_lang: str | None,
) -> Enrichment:
    """The process stage's enrichment of an article (also `newswire classify` and `eval`)."""
    return enricher.enrich(text, title=title, html_lang=html_lang, feed_lang=feed_lang)


def build_document(entry: FeedEntry, page: RawPage, enricher: Enricher) -> Document:
    """The enriched document of an entry whose page was fetched.

    Raises DecodeError or ExtractionError (permanent) when the page yields no text.
    """
    decoded, article = read_page(page.body, page.meta.content_type, page.meta.final_url)
    started = time.perf_counter()
    enrichment = enrich_text(
        enricher,
        article.text,
        title=article.title,
        html_lang=article.html_lang,
        feed_lang=entry.language,
    )
    enrich_ms = (time.perf_counter() - started) * 1000
    return Document(
        id=entry.doc_id,
        url=entry.url,
        canonical_url=entry.canonical_url,
        feed=entry.feed,
        title=article.title or entry.title,
        text=article.text,
        summary=entry.summary or article.description,
        authors=article.authors or entry.authors,
        published_at=entry.published_at or article.published_at,
        fetched_at=datetime.fromtimestamp(page.meta.fetched_at, UTC),
        processed_at=datetime.now(UTC),
        language=enrichment.language,
        topics=enrichment.topics,
        taxonomy_version=enrichment.taxonomy_version,
        entities=enrichment.entities,
        arms_transfers=enrichment.arms_transfers,
        content_hash=content_hash(article.text),
        extraction=Extraction(
            source="article_page",
            extractor=EXTRACTOR_NAME,
            http_status=page.meta.status,
            final_url=page.meta.final_url,
            content_type=page.meta.content_type,
            charset=decoded.charset,
            charset_source=decoded.source,
            html_bytes=page.meta.size,
            fetch_ms=page.meta.fetch_ms,
            extract_ms=round(article.extract_ms, 2),
            enrich_ms=round(enrich_ms, 2),
        ),
    )


# --- the feed's summary, when the page cannot give the article -----------------------------
# The page was refused (fetching.article.REFUSAL_STATUSES) or holds no article text.
SUMMARY_EXTRACTOR = "feed summary"


def build_document_or_summary(
    entry: FeedEntry, page: RawPage, enricher: Enricher, *, summary_min_chars: int
) -> Document:
    """build_document, or the feed's summary when the page yields no article text.

    Raises DecodeError or ExtractionError when neither gives a document.
    """
    try:
        return build_document(entry, page, enricher)
    except (DecodeError, ExtractionError) as exc:
        if usable_summary(entry, summary_min_chars) is None:
            raise
        return build_summary_document(entry, enricher, reason=exc.reason, page=page.meta)


def build_summary_document(
    entry: FeedEntry,
    enricher: Enricher,
    *,
    reason: str,
    page: PageMeta | None = None,
    http_status: int | None = None,
) -> Document:
    """The enriched document of an entry built from its feed summary, marked as such.

    `page` is what was fetched (a page without article text); `http_status` the
    refusal when nothing was. Raises ExtractionError if the entry has no summary.
    """
    text = usable_summary(entry, 1)
    if text is None:
        raise ExtractionError(f"no feed summary to stand in for {entry.url}")
    started = time.perf_counter()
    enrichment = enrich_text(
        enricher, text, title=entry.title, html_lang=None, feed_lang=entry.language
    )
    enrich_ms = (time.perf_counter() - started) * 1000
    now = datetime.now(UTC)
    return Document(
        id=entry.doc_id,
        url=entry.url,
        canonical_url=entry.canonical_url,
        feed=entry.feed,
        title=entry.title,
        text=text,
        summary=entry.summary,
        authors=entry.authors,
        published_at=entry.published_at,
        fetched_at=datetime.fromtimestamp(page.fetched_at, UTC) if page else now,
        processed_at=now,
        # Every field enrichment computes, whatever it grows to hold.
        **{
            n: getattr(enrichment, n) for n in Enrichment.model_fields if n in Document.model_fields
        },
        content_hash=content_hash(text),
        extraction=Extraction(
            source="feed_summary",
            extractor=SUMMARY_EXTRACTOR,
            http_status=page.status if page else http_status,
            final_url=page.final_url if page else None,
            content_type=page.content_type if page else None,
            html_bytes=page.size if page else None,
            fetch_ms=page.fetch_ms if page else None,
            extract_ms=0.0,
            enrich_ms=round(enrich_ms, 2),
            fallback_reason=reason,
        ),
    )
