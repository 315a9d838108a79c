"""Run the process stage's enrichment over labelled documents and score it.

A document with ``text`` is enriched as `newswire classify` does it; one that
names a corpus page goes through the process stage's own decoding and
extraction first (read_page), so its text, title and HTML language are what a
worker would have had. The gold language is never passed as the feed's
language: language identification is one of the things measured.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from workers.enrichment import Enricher
from workers.errors import ConfigurationError, DecodeError, ExtractionError
from workers.evaluation.devset import DevDoc
from workers.evaluation.scoring import (
    ALL,
    DocResult,
    Party,
    PredictedTransfer,
    Report,
    Skipped,
)
from workers.processing.pipeline import enrich_text, read_page

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Input:
    """What the enrichment gets for one document."""

    text: str
    title: str | None
    html_lang: str | None


def select(docs: Iterable[DevDoc], split: str) -> list[DevDoc]:
    """The documents of a split (``all``, ``dev`` or ``test``)."""
    return [doc for doc in docs if split in (ALL, doc.split)]


def evaluate(
    enricher: Enricher,
    docs: Iterable[DevDoc],
    *,
    split: str,
    topics: Iterable[str],
    corpus_dir: Path,
) -> Report:
    """Enrich every document of the split and collect the scores."""
    results: list[DocResult] = []
    skipped: list[Skipped] = []
    for doc in select(docs, split):
        if doc.corpus is not None and not corpus_dir.is_dir():
            reason = f"corpus not found at {corpus_dir} (set NEWSWIRE_CORPUS)"
            log.warning("%s: skipped %s: %s", doc.where, doc.id, reason)
            skipped.append(Skipped(doc, reason))
            continue
        results.append(classify_doc(enricher, doc, document_input(doc, corpus_dir)))
    return Report(split, tuple(sorted(topics)), tuple(results), tuple(skipped))


def classify_doc(enricher: Enricher, doc: DevDoc, given: Input) -> DocResult:
    enrichment = enrich_text(
        enricher, given.text, title=given.title, html_lang=given.html_lang, feed_lang=None
    )
    return DocResult(
        doc=doc,
        text_chars=len(given.text),
        language=enrichment.language.code,
        topics=frozenset(t.id for t in enrichment.topics),
        countries=frozenset(c.id for c in enrichment.entities.countries),
        transfers=tuple(
            PredictedTransfer(
                Party(t.supplier, t.supplier_name), Party(t.recipient, t.recipient_name), t.status
            )
            for t in enrichment.arms_transfers
        ),
    )


def document_input(doc: DevDoc, corpus_dir: Path) -> Input:
    """The text to enrich. Raises ConfigurationError when a corpus page is missing or empty."""
    if doc.corpus is None:
        return Input(str(doc.text), doc.title, None)
    path = corpus_dir / doc.corpus
    if not path.is_file():
        raise ConfigurationError(f"{doc.where}: corpus page {doc.corpus!r} not found")
    body = path.read_bytes()
    if path.suffix == ".gz":
        body = gzip.decompress(body)
    try:
        _, article = read_page(body, None, None)
    except (DecodeError, ExtractionError) as exc:
        raise ConfigurationError(f"{doc.where}: corpus page {doc.corpus!r}: {exc}") from exc
    return Input(article.text, doc.title or article.title, article.html_lang)
