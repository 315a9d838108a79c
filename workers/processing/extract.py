"""Article text and metadata out of a decoded page, with trafilatura.

trafilatura returns None when it finds nothing; here that, and text too short to
be an article, become ExtractionError (reason "no_text"). Its settings are one
explicit object, `EXTRACTOR_CONFIG`, chosen among `CANDIDATES` by measurement:
scripts/bench_extraction_quality.py prints the table, BENCHMARKS.md explains the
choice.

Always pass `str` (see workers.processing.decode): handed bytes, trafilatura
guesses the charset itself and mangles Latin-1 pages.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from configparser import ConfigParser
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

import trafilatura
from lxml.html import HtmlElement
from trafilatura.settings import Document, use_config

from workers.errors import ExtractionError

EXTRACTOR_NAME = f"trafilatura {trafilatura.__version__}"

MIN_TEXT_CHARS = 100
"""Shorter text is not an article. The shortest expected article of the
article-extraction benchmark has 369 characters, the short Japanese article of
the newspaper4k corpus 201 (CJK packs more per character); what trafilatura finds
in an empty shell (a consent wall, an "enable JavaScript" notice, a teaser line)
is typically a sentence or two."""

MAX_INPUT_ELEMENTS = 200_000
"""Pages with more elements are refused before extraction. The largest of the 1,315
HTML pages of the corpus has 10,106; a generated page with millions of elements
would otherwise hold a worker for minutes (the task's hard time limit stays the
last guard). Counting, in C through XPath, takes about 1 ms for 10,000 elements."""

MAX_OUTPUT_ELEMENTS = 10_000
"""trafilatura's MAX_TREE_SIZE: most top-level blocks (paragraphs, headings, lists,
tables) in the extracted body; trafilatura discards a longer result. The longest
extraction from the 1,315 corpus pages has 673; far more is a listing or a data
dump, not an article."""

DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
"""Ask htmldate for the time and zone too, when the page gives them."""


@dataclass(frozen=True)
class ExtractorConfig:
    """Everything that decides trafilatura's behaviour, in one place."""

    name: str
    fast: bool = False
    favor_precision: bool = False
    favor_recall: bool = False
    include_comments: bool = False
    include_tables: bool = True
    extensive_date_search: bool = True
    min_extracted_size: int = 250
    max_tree_size: int = MAX_OUTPUT_ELEMENTS


CANDIDATES: dict[str, ExtractorConfig] = {
    config.name: config
    for config in (
        # trafilatura's own defaults, comments (reader comments under the article) included.
        ExtractorConfig("trafilatura-defaults", include_comments=True),
        ExtractorConfig("balanced"),
        ExtractorConfig("precision", favor_precision=True),
        ExtractorConfig("recall", favor_recall=True),
        ExtractorConfig("no-tables", include_tables=False),
        ExtractorConfig("fast", fast=True),
        ExtractorConfig("fast-precision", fast=True, favor_precision=True),
        ExtractorConfig("fast-recall", fast=True, favor_recall=True),
        # Dates from the page's metadata only: no free-text search through dateparser,
        # whose first use loads every locale (seconds of CPU per worker process).
        ExtractorConfig("fast-metadata-dates", fast=True, extensive_date_search=False),
    )
}

EXTRACTOR_CONFIG = CANDIDATES["fast-metadata-dates"]
"""The configuration the pipeline uses (see BENCHMARKS.md, "Extraction quality")."""


@dataclass(frozen=True)
class ExtractedArticle:
    """The article's text and what the page says about it."""

    text: str
    title: str | None
    authors: list[str]
    published_at: datetime | None
    html_lang: str | None
    description: str | None
    extract_ms: float


def extract_article(
    html: str, url: str | None = None, *, config: ExtractorConfig = EXTRACTOR_CONFIG
) -> ExtractedArticle:
    """Extract the main text and metadata of a page. Raises ExtractionError."""
    started = time.perf_counter()
    tree = trafilatura.load_html(html)
    if tree is None:
        raise ExtractionError(f"not an HTML page: {_where(url)}")
    # Every element takes at least three characters ("<b>"): a shorter page cannot
    # exceed the limit, and most pages are spared the count.
    elements = int(tree.xpath("count(//*)")) if len(html) > 3 * MAX_INPUT_ELEMENTS else 0
    if elements > MAX_INPUT_ELEMENTS:
        raise ExtractionError(
            f"page too large to extract: {elements} elements (limit {MAX_INPUT_ELEMENTS}): "
            f"{_where(url)}",
            reason="too_complex",
        )
    html_lang = page_language(tree)
    document = _run_trafilatura(tree, url, config)
    text = (document.text or "").strip() if document is not None else ""
    if document is None or len(text) < MIN_TEXT_CHARS:
        found = f"only {len(text)} characters of text" if text else "no article text"
        raise ExtractionError(f"{found} (need {MIN_TEXT_CHARS}): {_where(url)}")
    return ExtractedArticle(
        text=text,
        title=_clean(document.title),
        authors=split_authors(document.author),
        published_at=parse_date(document.date),
        html_lang=html_lang,
        description=_clean(document.description),
        extract_ms=(time.perf_counter() - started) * 1000,
    )


def _run_trafilatura(
    tree: HtmlElement, url: str | None, config: ExtractorConfig
) -> Document | None:
    result = trafilatura.bare_extraction(tree, url=url, **trafilatura_options(config))
    return result if isinstance(result, Document) else None


def trafilatura_options(config: ExtractorConfig) -> dict[str, Any]:
    """The keyword arguments of trafilatura.bare_extraction for a configuration.

    Public so that benchmarks compare the pipeline with the very same call.
    """
    return {
        "fast": config.fast,
        "favor_precision": config.favor_precision,
        "favor_recall": config.favor_recall,
        "include_comments": config.include_comments,
        "include_tables": config.include_tables,
        "include_formatting": False,
        "include_links": False,
        "include_images": False,
        "with_metadata": True,
        "date_extraction_params": _date_params(config.extensive_date_search, date.today()),
        "config": _trafilatura_settings(config.min_extracted_size, config.max_tree_size),
    }


def _date_params(extensive: bool, today: date) -> dict[str, Any]:
    # Built per call: a fixed latest date would reject news once the worker has run a day.
    # One day of slack, for pages from time zones ahead of the worker's. A date in the URL
    # is only a fallback: the page's own metadata also gives the time and zone.
    return {
        "original_date": True,
        "extensive_search": extensive,
        "max_date": (today + timedelta(days=1)).isoformat(),
        "outputformat": DATE_FORMAT,
        "deferred_url_extractor": True,
    }


@lru_cache(maxsize=16)
def _trafilatura_settings(min_extracted_size: int, max_tree_size: int) -> ConfigParser:
    settings = use_config()  # a fresh parser: trafilatura's module default stays untouched
    settings.set("DEFAULT", "MIN_EXTRACTED_SIZE", str(min_extracted_size))
    settings.set("DEFAULT", "MAX_TREE_SIZE", str(max_tree_size))
    return settings


def split_authors(author: str | None) -> list[str]:
    """trafilatura joins authors with '; '; give them back one by one, without repeats."""
    if not author:
        return []
    names = (name.strip() for name in author.split(";"))
    return list(dict.fromkeys(name for name in names if name))


def parse_date(value: str | None) -> datetime | None:
    """htmldate's output as an aware datetime; a page that gives no zone is taken as UTC."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


_LANG_META_XPATH = (
    "//meta[@property='og:locale']/@content",
    "//meta[translate(@http-equiv, 'CONTENT-LANGUAGE', 'content-language')"
    "='content-language']/@content",
)
_LANG_TAG = re.compile(r"^\s*([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]+)*\s*$")
_DEPRECATED_LANG = {"iw": "he", "in": "id", "ji": "yi", "jw": "jv", "mo": "ro"}


def page_language(tree: HtmlElement) -> str | None:
    """The page's declared language as ISO 639-1: <html lang>, then og:locale, then
    Content-Language. None when absent or not a language (e.g. "x-default", "zxx")."""
    for value in _declared_languages(tree):
        # Content-Language may list several languages: the first one is the main one.
        code = normalise_language(value.split(",")[0]) if value else None
        if code is not None:
            return code
    return None


def _declared_languages(tree: HtmlElement) -> Iterator[str | None]:
    # Lazily: the meta lookups run only when <html lang> says nothing usable.
    yield tree.get("lang")
    yield tree.get("xml:lang")
    for xpath in _LANG_META_XPATH:
        yield from (str(value) for value in tree.xpath(xpath))


def normalise_language(tag: str) -> str | None:
    """'en-US' -> 'en', 'fr_FR' -> 'fr', 'deu' -> 'de', 'iw' -> 'he'; None if not a language."""
    found = _LANG_TAG.match(tag)
    if found is None:
        return None
    code = found.group(1).lower()
    if len(code) == 3:
        return _alpha2_of(code)
    return _DEPRECATED_LANG.get(code, code)


@lru_cache(maxsize=512)
def _alpha2_of(alpha3: str) -> str | None:
    import pycountry  # loads its database: only when a page uses a three-letter code

    language = pycountry.languages.get(alpha_3=alpha3) or pycountry.languages.get(
        bibliographic=alpha3
    )
    return getattr(language, "alpha_2", None) if language is not None else None


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _where(url: str | None) -> str:
    return url or "page without URL"
