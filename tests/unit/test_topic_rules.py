"""Rule mechanics added for morphology and salience: compound heads, accent-sensitive
false friends, the shared `all` language, the title as a sentence, `distinct` parties
and `if_title`. On a small taxonomy written here, so that each test shows one mechanism."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from schemas.enrichment import TopicMatch
from workers.enrichment.entities import ENTITY_LAYER, EntityResolver, Gazetteer
from workers.enrichment.lexicon import Matcher, Tag
from workers.enrichment.morph import variants_for
from workers.enrichment.taxonomy import load_taxonomy, topic_entries
from workers.enrichment.text import split_sentences
from workers.enrichment.topics import TopicScorer

RULES = """\
id: rules
description: rule mechanics, for tests
threshold: 3
concepts:
  weapon: {weight: 1}
  trade: {weight: 1}
  buy: {weight: 1}
require:
  - all: [weapon, trade, entity:country]
    within: sentence
    weight: 2
  - all: [weapon, buy, entity:country]
    within: sentence
    distinct: 2
    weight: 2
  - all: [weapon, trade, entity:country]
    within: 12
    if_title: [weapon]
    weight: 2
languages:
  all:
    terms:
      weapon: [HIMARS]
  en:
    terms:
      weapon: [=rifles]
      trade: [=shipped]
      buy: [=bought]
  de:
    terms:
      weapon: ['*Waffe']
      trade: [=geliefert]
      buy: [=gekauft]
  fr:
    terms:
      weapon: [arme, =armes]
      trade: [=livré]
      buy: [=acheté]
    exclude:
      form: [armé, armés]
"""

COUNTRIES = {"Ruritania": "RT", "Borduria": "BD", "Syldavia": "SY"}


class Rules:
    """A scorer over RULES, with three made-up countries."""

    def __init__(self, root: Path) -> None:
        folder = root / "seeds" / "taxonomy"
        folder.mkdir(parents=True)
        (folder / "taxonomy.yaml").write_text('version: "rules-1"\n', encoding="utf-8")
        (folder / "rules.yaml").write_text(textwrap.dedent(RULES), encoding="utf-8")
        self.taxonomy = load_taxonomy(root / "seeds", expand_forms=False)
        self.gazetteer = Gazetteer()
        for lang in ("en", "de", "fr"):
            for name, code in COUNTRIES.items():
                self.gazetteer.add(lang, name, Tag(ENTITY_LAYER, "country", code))
        self.scorer = TopicScorer(self.taxonomy)
        self.resolver = EntityResolver(self.gazetteer)

    def topics(self, text: str, lang: str = "en", title: str = "") -> list[TopicMatch]:
        matcher = Matcher(
            topic_entries(self.taxonomy, lang) + self.gazetteer.entries(lang), variants_for(lang)
        )
        hits = matcher.scan(text)
        sentences = split_sentences(text)
        _, entity_hits = self.resolver.resolve(text, hits, sentences)
        title_hits = matcher.scan(title) if title else []
        _, title_entities = self.resolver.resolve(title, title_hits, split_sentences(title))
        return self.scorer.score(
            text=text,
            lang=lang,
            hits=hits,
            entity_hits=entity_hits,
            sentences=sentences,
            title=title,
            title_hits=title_hits,
            title_entity_hits=title_entities,
        )


@pytest.fixture
def rules(tmp_path: Path) -> Rules:
    return Rules(tmp_path)


def test_compound_head_matches_the_end_of_a_german_compound(rules: Rules) -> None:
    assert rules.topics("Ruritania hat Handfeuerwaffe geliefert.", "de")
    assert rules.topics("Ruritania hat Waffe geliefert.", "de")  # the head alone
    # too few letters before the head, or the head not at the end: no weapon
    assert rules.topics("Ruritania hat Exwaffe geliefert.", "de") == []
    assert rules.topics("Ruritania hat Waffeleisen geliefert.", "de") == []


def test_excluded_forms_keep_their_accents(rules: Rules) -> None:
    # "armés" folds to "armes" but is the adjective "armed": never a weapon
    assert rules.topics("Ruritania a livré des hommes armés.", "fr") == []
    assert rules.topics("Ruritania a livré des armes.", "fr")


def test_all_block_terms_reach_every_language(rules: Rules) -> None:
    assert rules.topics("Ruritania shipped HIMARS.", "en")
    assert rules.topics("Ruritania hat HIMARS geliefert.", "de")


def test_title_counts_as_one_more_sentence(rules: Rules) -> None:
    # the text alone names the arms and the country in different sentences: no rule holds
    text = "Rifles were mentioned. Ruritania is far away."
    assert rules.topics(text) == []
    (found,) = rules.topics(text, title="Ruritania shipped rifles")
    assert {e.concept for e in found.evidence} <= {"weapon", "entity:country"}
    assert all(text[e.start : e.end] == e.term for e in found.evidence)  # evidence: the text
    # a title alone, with no hit of the topic in the text, tags nothing
    assert rules.topics("Nothing to see here.", title="Ruritania shipped rifles") == []


def test_distinct_needs_two_different_parties(rules: Rules) -> None:
    assert rules.topics("Ruritania bought rifles for Ruritania.") == []
    (found,) = rules.topics("Ruritania bought rifles from Borduria.")
    parties = {e.term for e in found.evidence if e.concept == "entity:country"}
    assert parties == {"Ruritania", "Borduria"}


def test_if_title_rule_needs_the_concept_in_the_title(rules: Rules) -> None:
    text = "Ruritania shipped them. The rifles arrived."  # spread over two sentences
    assert rules.topics(text) == []
    assert rules.topics(text, title="Rifles for Borduria")
    assert rules.topics(text, title="News from Borduria") == []
