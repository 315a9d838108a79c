"""Canonical URLs and the document ids derived from them.

Identity comes from the canonical URL (tracking parameters and fragments
stripped, host lower-cased) so that the same article linked from two feeds,
or with two different `utm_` tails, is one document.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit, urlunsplit

from courlan import normalize_url

from workers.errors import RefusedURL
from workers.fetching.http import check_url


def canonical_url(url: str) -> str:
    """The canonical form of an article URL. Raises RefusedURL for non-HTTP links."""
    check_url(url.strip())
    try:
        # Not strict: courlan's strict mode also drops parameters that name the
        # article itself (?article=5, ?story_id=9) and would merge distinct articles.
        normalised = str(normalize_url(url.strip(), strict=False))
    except ValueError as exc:
        raise RefusedURL(f"cannot normalise URL {url!r}: {exc}", reason="bad_url") from exc
    parts = urlsplit(normalised)
    if parts.fragment.startswith("!"):
        return normalised  # a "#!" route of a script-driven site names the page itself
    return urlunsplit(parts._replace(fragment=""))


def document_id(canonical: str) -> str:
    """Stable 128-bit document id (hex) of a canonical URL."""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]
