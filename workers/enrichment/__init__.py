"""Enrichment stage: language, topics with evidence, and entities, from text alone.

    enricher = Enricher.from_seeds(settings.seeds_dir)   # once per worker process
    enrichment = enricher.enrich(text, title=..., html_lang=..., feed_lang=...)

``from_seeds`` reads the taxonomy (seeds/taxonomy/, see taxonomy.py) and the
gazetteer (seeds/gazetteer/ plus CLDR country names, see entities.py), and
compiles one matcher per language. ``enrich`` then costs, per document: one
language identification on a sample, one pass of the document language's
matcher over the text (topic terms and entity names together), a sentence
split, and the rule checks on the few hits. A document tagged arms_transfers also
gets its arms-transfer details (arms.py, rules in
seeds/taxonomy/details/arms_transfers.yaml): one more pass, of a small cue matcher.

Offsets in the result refer to ``text``. The title helps language
identification and helps topics that the text already supports (its concept hits
add their weight once each, and it counts as one more sentence for the rules),
but never produces evidence.
Documents in a language outside the taxonomy get entities (English country
names and language-neutral aliases) and no topics.
"""

from __future__ import annotations

from pathlib import Path

from schemas.enrichment import Enrichment
from workers.enrichment.arms import ArmsExtractor, arms_topic, load_arms_rules
from workers.enrichment.entities import EntityResolver, Gazetteer, load_gazetteer
from workers.enrichment.language import SUPPORTED, LanguageDetector
from workers.enrichment.lexicon import Hit, Matcher
from workers.enrichment.morph import variants_for
from workers.enrichment.taxonomy import Taxonomy, load_taxonomy, topic_entries
from workers.enrichment.text import split_sentences
from workers.enrichment.topics import TopicScorer

__all__ = ["Enricher"]

_CJK_LANGUAGES = frozenset({"zh", "ja"})


class Enricher:
    """Loaded once per worker process (taxonomy, gazetteer, compiled matchers)."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        gazetteer: Gazetteer,
        detector: LanguageDetector,
        arms: ArmsExtractor | None = None,
    ) -> None:
        self._taxonomy = taxonomy
        self._arms = arms
        self._detector = detector
        self._scorer = TopicScorer(taxonomy)
        self._resolver = EntityResolver(gazetteer)
        self._matchers = {
            lang: Matcher(
                topic_entries(taxonomy, lang) + gazetteer.entries(lang),
                variants_for(lang),
                cjk_units=lang in _CJK_LANGUAGES,
            )
            for lang in sorted(set(SUPPORTED) | taxonomy.languages)
        }
        self._fallback = Matcher(gazetteer.entries(None), variants_for(None))

    @classmethod
    def from_seeds(cls, seeds_dir: Path) -> Enricher:
        """Read and compile the seeds. Raises ConfigurationError naming file, topic and line."""
        taxonomy = load_taxonomy(seeds_dir)
        gazetteer = load_gazetteer(seeds_dir, set(SUPPORTED) | taxonomy.languages)
        arms = ArmsExtractor(load_arms_rules(seeds_dir, gazetteer, taxonomy.forms), gazetteer)
        return cls(taxonomy, gazetteer, LanguageDetector(), arms)

    @property
    def taxonomy_version(self) -> str:
        return self._taxonomy.version

    def enrich(
        self,
        text: str,
        *,
        title: str | None = None,
        html_lang: str | None = None,
        feed_lang: str | None = None,
    ) -> Enrichment:
        language = self._detector.detect(
            text, title=title, html_lang=html_lang, feed_lang=feed_lang
        )
        matcher = self._matchers.get(language.code or "", self._fallback)
        hits = matcher.scan(text)
        sentences = split_sentences(text)
        entities, entity_hits = self._resolver.resolve(text, hits, sentences)
        title_hits: list[Hit] = matcher.scan(title) if title else []
        title_entity_hits = (
            self._resolver.resolve(title, title_hits, split_sentences(title))[1]
            if title and title_hits
            else []
        )
        topics = self._scorer.score(
            text=text,
            lang=language.code,
            hits=hits,
            entity_hits=entity_hits,
            sentences=sentences,
            title=title or "",
            title_hits=title_hits,
            title_entity_hits=title_entity_hits,
        )
        arms = arms_topic(topics)
        transfers = (
            self._arms.extract(
                text=text,
                lang=language.code,
                sentences=sentences,
                hits=hits,
                entity_hits=entity_hits,
                topic=arms,
            )
            if self._arms is not None and arms is not None
            else []
        )
        return Enrichment(
            language=language,
            topics=topics,
            entities=entities,
            taxonomy_version=self._taxonomy.version,
            arms_transfers=transfers,
        )
