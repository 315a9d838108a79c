"""The process stage, as one plain function: page (or feed summary) -> document -> stream.

The Celery task (workers/tasks/process.py) only validates its message and runs
this under the failure policy of workers/tasks/failures.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from schemas import Document, FeedEntry
from workers.dedup.neardup import NearDupIndex, mark_near_duplicates
from workers.dedup.seen import EntryKey, SeenStore
from workers.enrichment import Enricher
from workers.errors import RawContentMissing
from workers.fetching.rawstore import RawPageStore
from workers.processing.pipeline import build_document_or_summary, build_summary_document
from workers.publishing.streams import StreamPublisher

log = logging.getLogger(__name__)


def process_entry(
    entry: FeedEntry,
    *,
    refused_status: int | None,
    raw_pages: RawPageStore,
    seen: SeenStore,
    enricher: Enricher,
    near_duplicates: NearDupIndex,
    publisher: StreamPublisher,
    summary_min_chars: int,
    before_publish: Callable[[], None] = lambda: None,
) -> str:
    """Build the entry's document, mark its near-duplicates, publish it, drop its page.

    Returns the publication's status, or "duplicate" for a second message of work
    already done (a redelivery after a worker died, a fetch done twice): the first
    one published and dropped the page. `refused_status`: the fetch stage was
    refused the page (401/402/403/451) and the feed's summary stands in for it.
    `before_publish` may raise to stop the stage before its side effects.
    """
    try:
        built = _document(entry, refused_status, raw_pages, enricher, summary_min_chars)
    except RawContentMissing:
        if seen.published_since(entry.doc_id, entry.discovered_at.timestamp()):
            log.info("process %s: published already; redelivered message dropped", entry.doc_id)
            return "duplicate"
        raise
    document = mark_near_duplicates(built, near_duplicates)
    before_publish()
    result = publisher.publish(document, entry_key=EntryKey.of(entry))
    raw_pages.delete(entry.doc_id)
    return result.status


def _document(
    entry: FeedEntry,
    refused_status: int | None,
    raw_pages: RawPageStore,
    enricher: Enricher,
    summary_min_chars: int,
) -> Document:
    if refused_status is not None:
        return build_summary_document(
            entry, enricher, reason=f"http_{refused_status}", http_status=refused_status
        )
    return build_document_or_summary(
        entry, raw_pages.get(entry.doc_id), enricher, summary_min_chars=summary_min_chars
    )
