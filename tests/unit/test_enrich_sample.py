"""The sample article end to end, and the evidence contract on every match of many texts."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from schemas.enrichment import Enrichment
from workers.enrichment import Enricher
from workers.settings import get_settings

SAMPLE = get_settings().seeds_dir / "kim-putin-arms-fr.txt"


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher.from_seeds(get_settings().seeds_dir)


@pytest.fixture(scope="module")
def sample(enricher: Enricher) -> tuple[str, Enrichment]:
    text = SAMPLE.read_text(encoding="utf-8")
    return text, enricher.enrich(text, title="Kim Jong Un en route vers la Russie", html_lang="fr")


def assert_contract(text: str, result: Enrichment) -> None:
    """Every offset points into `text`, every sentence is a real substring around its term."""
    for topic in result.topics:
        assert topic.evidence, topic.id
        for ev in topic.evidence:
            assert 0 <= ev.start < ev.end <= len(text)
            assert text[ev.start : ev.end] == ev.term
            at = text.find(ev.sentence, max(0, ev.end - len(ev.sentence)))
            assert at != -1 and at <= ev.start and ev.end <= at + len(ev.sentence), ev
    entities = result.entities
    for mention in [*entities.countries, *entities.people, *entities.organisations]:
        assert any(text.startswith(form, mention.first_offset) for form in mention.surface_forms)
    for group in (entities.countries, entities.people, entities.organisations):
        offsets = [m.first_offset for m in group]
        assert offsets == sorted(offsets)


def test_sample_language(sample: tuple[str, Enrichment]) -> None:
    _, result = sample
    assert result.language.code == "fr"
    assert result.language.confidence >= 0.95
    assert result.language.source == "text+html"


def test_sample_topics(sample: tuple[str, Enrichment]) -> None:
    _, result = sample
    ids = [t.id for t in result.topics]
    assert ids[:2] == ["arms_transfers", "sanctions"] or {"arms_transfers", "sanctions"} <= set(ids)
    assert set(ids) == {
        "arms_transfers",
        "sanctions",
        "nuclear_missile_programmes",
        "military_cooperation",
        "armed_conflict",
        "summit_diplomacy",
        "food_insecurity_aid",
        "labour_exports",
    }
    arms = next(t for t in result.topics if t.id == "arms_transfers")
    terms = {e.term.casefold() for e in arms.evidence}
    assert {"armes", "munitions"} & terms
    assert {"fourniture", "ventes", "approvisionnement"} & terms


def test_sample_entities(sample: tuple[str, Enrichment]) -> None:
    text, result = sample
    countries = {m.id: m for m in result.entities.countries}
    assert {"KP", "RU", "UA", "KR", "US"} <= set(countries)
    assert "RE" not in countries  # "La réunion" opens a sentence; it is not the island
    assert countries["KR"].first_offset == 0  # the dateline, SÉOUL
    assert "Moscou" in countries["RU"].surface_forms
    assert "Pyongyang" in countries["KP"].surface_forms
    people = {m.id: m for m in result.entities.people}
    assert {"kim-jong-un", "vladimir-putin", "sergei-markov", "andrei-lankov"} <= set(people)
    assert people["kim-jong-un"].count > 5  # "Kim" alone counts after the full name
    assert people["vladimir-putin"].first_offset == text.index("Vladimir Poutine")
    organisations = {m.id for m in result.entities.organisations}
    assert {"un", "un-security-council"} <= organisations


def test_sample_contract(sample: tuple[str, Enrichment], enricher: Enricher) -> None:
    text, result = sample
    assert result.taxonomy_version == enricher.taxonomy_version
    assert_contract(text, result)
    assert Enrichment.model_validate_json(result.model_dump_json()) == result


def test_enrich_edge_cases(enricher: Enricher) -> None:
    for text in ["", " ", "\n\n", "12345", "…", "a" * 10_000, "Kim", "ONU ONU ONU"]:
        result = enricher.enrich(text)
        assert_contract(text, result)


def _corpus_texts(limit: int) -> list[str]:
    root = get_settings().corpus_dir / "html"
    texts = [
        p.read_text(encoding="utf-8") for p in sorted((root / "newspaper4k" / "txt").glob("*.txt"))
    ]
    truth = root / "article-extraction-benchmark" / "ground-truth.json"
    if truth.is_file():
        items = json.loads(truth.read_text(encoding="utf-8"))
        texts += [str(v.get("articleBody", "")) for _, v in sorted(items.items())]
    return [t for t in texts if t.strip()][:limit]


@pytest.mark.corpus
def test_contract_holds_on_real_articles(enricher: Enricher) -> None:
    if not get_settings().corpus_dir.is_dir():
        pytest.skip(f"corpus not found at {get_settings().corpus_dir} (set NEWSWIRE_CORPUS)")
    texts = _corpus_texts(200)
    assert len(texts) >= 100
    tagged = 0
    for text in texts:
        result = enricher.enrich(text)
        assert_contract(text, result)
        tagged += bool(result.topics)
    assert tagged > 0


@pytest.mark.corpus
def test_us_gun_law_article_is_not_an_arms_transfer(enricher: Enricher) -> None:
    # Readability's BBC page: Obama on US gun laws, a domestic debate with no transfer.
    page = get_settings().corpus_dir / "html" / "readability" / "bbc-1" / "source.html.gz"
    if not page.is_file():
        pytest.skip(f"corpus page not found at {page} (set NEWSWIRE_CORPUS)")
    import trafilatura

    text = trafilatura.extract(gzip.decompress(page.read_bytes()).decode("utf-8")) or ""
    assert "gun" in text
    result = enricher.enrich(text)
    assert "arms_transfers" not in [t.id for t in result.topics]
    assert_contract(text, result)


def test_enricher_is_reusable_and_deterministic(enricher: Enricher) -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    first = enricher.enrich(text)
    enricher.enrich("Some other text about Moscow and sanctions on Iran.")
    assert enricher.enrich(text) == first


def test_from_seeds_reads_only_the_given_folder(tmp_path: Path) -> None:
    # A seeds folder without a taxonomy fails at start-up with a clear message.
    from workers.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"taxonomy/taxonomy.yaml: file not found"):
        Enricher.from_seeds(tmp_path / "seeds")
