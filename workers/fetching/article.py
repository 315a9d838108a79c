"""Fetching an article page, as its site's robots.txt allows, into the raw page store."""

from __future__ import annotations

import time

from schemas import FeedEntry
from workers.errors import HttpStatusError
from workers.fetching.http import HttpClient
from workers.fetching.rawstore import PageMeta, RawPage, RawPageStore
from workers.fetching.robots import RobotsPolicy

# Statuses of a page that exists but is not for us (payment, login, legal reasons):
# the feed's own summary may stand in for it.
REFUSAL_STATUSES = frozenset({401, 402, 403, 451})


def usable_summary(entry: FeedEntry, min_chars: int) -> str | None:
    """The entry's summary if it is long enough to stand in for the article."""
    summary = (entry.summary or "").strip()
    return summary if len(summary) >= min_chars else None


def fetch_article(
    entry: FeedEntry,
    *,
    http: HttpClient,
    store: RawPageStore,
    max_bytes: int,
    robots: RobotsPolicy | None = None,
) -> PageMeta:
    """GET the entry's page (limits and typed errors from HttpClient) and store it.

    With `robots`, the page and every redirect target must be allowed by their
    site's robots.txt (RobotsDisallowed otherwise).
    """
    guard = robots.check if robots is not None else None
    response = http.get(entry.url, max_bytes=max_bytes, guard=guard)
    meta = PageMeta(
        final_url=response.url,
        status=response.status,
        content_type=response.content_type,
        fetched_at=time.time(),
        fetch_ms=round(response.elapsed_ms, 2),
        size=len(response.body),
    )
    store.put(entry.doc_id, RawPage(response.body, meta))
    return meta


def fetch_article_or_refusal(
    entry: FeedEntry,
    *,
    http: HttpClient,
    store: RawPageStore,
    max_bytes: int,
    robots: RobotsPolicy | None,
    summary_min_chars: int,
) -> int | None:
    """fetch_article; or, when the page is refused and the feed's summary is usable,
    the refusal's status, around which the document is built from the summary.

    A refusal with no usable summary raises its HttpStatusError, as any other failure.
    """
    try:
        fetch_article(entry, http=http, store=store, max_bytes=max_bytes, robots=robots)
    except HttpStatusError as exc:
        if exc.status in REFUSAL_STATUSES and usable_summary(entry, summary_min_chars):
            return exc.status
        raise
    return None
