"""Fetching an article page, as its site's robots.txt allows, into the raw page store."""

from __future__ import annotations

import time

from schemas import FeedEntry
from workers.fetching.http import HttpClient
from workers.fetching.rawstore import PageMeta, RawPage, RawPageStore
from workers.fetching.robots import RobotsPolicy


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
