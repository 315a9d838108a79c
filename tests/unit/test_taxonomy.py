"""The taxonomy files: the real seeds load, and malformed files fail with file, topic and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from workers.enrichment.forms import read_cache
from workers.enrichment.language import SUPPORTED
from workers.enrichment.lexicon import Case
from workers.enrichment.seedfile import Node, load
from workers.enrichment.taxonomy import (
    SENTENCE,
    TAXONOMY_DIRNAME,
    lemmas_by_language,
    load_taxonomy,
    parse_term,
    topic_entries,
)
from workers.errors import ConfigurationError
from workers.settings import get_settings

SEEDS = get_settings().seeds_dir
EXPECTED_TOPICS = {
    "arms_transfers",
    "sanctions",
    "nuclear_missile_programmes",
    "military_cooperation",
    "armed_conflict",
    "summit_diplomacy",
    "food_insecurity_aid",
    "labour_exports",
}

GOOD_TOPIC = """\
id: demo
description: a topic for tests
threshold: 2
concepts:
  weapon: {weight: 1}
  trade: {weight: 1}
require:
  - all: [weapon, [trade, entity:country]]
    within: 5
    weight: 2
languages:
  en:
    terms:
      weapon: [weapon, =arms, munition*]
      trade: [sell]
    exclude:
      sentence: [video game]
      phrase: [arms race]
"""


def write_seeds(
    root: Path, topic: str, *, name: str = "demo.yaml", index: str | None = None
) -> Path:
    folder = root / "seeds" / TAXONOMY_DIRNAME
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "taxonomy.yaml").write_text(index or 'version: "t1"\n', encoding="utf-8")
    (folder / name).write_text(textwrap.dedent(topic), encoding="utf-8")
    return root / "seeds"


def error_of(seeds: Path) -> str:
    with pytest.raises(ConfigurationError) as caught:
        load_taxonomy(seeds, expand_forms=False)
    return str(caught.value)


# -- the real taxonomy ---------------------------------------------------------------------


def test_real_taxonomy_loads_with_all_topics() -> None:
    taxonomy = load_taxonomy(SEEDS, expand_forms=False)
    assert taxonomy.version
    assert {t.id for t in taxonomy.topics} == EXPECTED_TOPICS
    for topic in taxonomy.topics:
        assert {"en", "fr"} <= set(topic.languages), topic.id
        assert topic.rules, f"{topic.id} has no require rule"
        assert topic.description


def test_arms_and_sanctions_cover_all_fourteen_languages() -> None:
    taxonomy = load_taxonomy(SEEDS, expand_forms=False)
    for topic in taxonomy.topics:
        if topic.id in ("arms_transfers", "sanctions"):
            assert set(topic.languages) == set(SUPPORTED), topic.id


def test_committed_forms_cache_is_complete() -> None:
    # Fails when someone edits the taxonomy without `python -m workers.enrichment forms`.
    taxonomy = load_taxonomy(SEEDS, expand_forms=False)
    for lang, lemmas in lemmas_by_language(taxonomy).items():
        cached = read_cache(SEEDS / TAXONOMY_DIRNAME, lang)
        missing = sorted(lemmas - cached.keys())
        assert not missing, (
            f"{lang}: {len(missing)} terms missing from the forms cache: {missing[:5]}"
        )


def test_lemma_forms_expand_inflections() -> None:
    taxonomy = load_taxonomy(SEEDS)
    assert {"sanction", "sanctions"} <= taxonomy.forms["fr"]["sanction"]
    assert {"supplied", "supplies"} <= taxonomy.forms["en"]["supply"]
    assert {"оружия", "оружием"} <= taxonomy.forms["ru"]["оружие"]
    assert "armee" not in taxonomy.forms["fr"]["arme"]  # "armée" is the army, not a weapon


# -- the format ----------------------------------------------------------------------------


def test_good_topic_is_parsed(tmp_path: Path) -> None:
    taxonomy = load_taxonomy(write_seeds(tmp_path, GOOD_TOPIC), expand_forms=False)
    (topic,) = taxonomy.topics
    assert taxonomy.version == "t1"
    assert topic.threshold == 2
    (rule,) = topic.rules
    assert rule.groups == (("weapon",), ("trade", "entity:country"))
    assert rule.within == 5
    assert rule.names == {"weapon", "trade", "entity:country"}
    en = topic.languages["en"]
    assert [t.written for t in en.concepts["weapon"]] == ["weapon", "=arms", "munition*"]
    assert [t.written for t in en.veto] == ["video game"]
    assert [t.written for t in en.mask] == ["arms race"]


def test_within_sentence_is_the_default(tmp_path: Path) -> None:
    topic = GOOD_TOPIC.replace("    within: 5\n", "")
    (rule,) = load_taxonomy(write_seeds(tmp_path, topic), expand_forms=False).topics[0].rules
    assert rule.within is SENTENCE


def _node(text: str = "x") -> Node:
    return Node(load_inline(text), "inline.yaml", "demo")


def load_inline(text: str) -> yaml.Node:
    node = yaml.compose(text)
    assert node is not None
    return node


def test_term_syntax() -> None:
    exact = parse_term("=Arms", _node(), "en", "c")
    assert exact.exact and exact.words[0].key == "arms"
    stem = parse_term("munition*", _node(), "en", "c")
    assert stem.words[0].stem and stem.words[0].key == "munition"
    phrase = parse_term("vente d'arme", _node(), "fr", "c")
    assert [w.key for w in phrase.words] == ["vente", "d", "arme"]
    accent = parse_term("Séoul", _node(), "fr", "c")
    assert accent.words[0].key == "seoul"
    cjk = parse_term("武器 输出", _node(), "zh", "c")
    assert cjk.cjk and cjk.words[0].key == "武器输出"


def test_capitals_make_a_case_sensitive_term(tmp_path: Path) -> None:
    topic = GOOD_TOPIC.replace("trade: [sell]", "trade: [sell, UEFA]")
    taxonomy = load_taxonomy(write_seeds(tmp_path, topic), expand_forms=False)
    cases = {e.words[0].forms: e.case for e in topic_entries(taxonomy, "en") if e.words}
    assert cases[frozenset({"uefa"})] is Case.UPPER
    assert cases[frozenset({"sell"})] is Case.ANY


# -- malformed files: file, topic and line ---------------------------------------------------


@pytest.mark.parametrize(
    ("change", "line", "words"),
    [
        (("all: [weapon, [trade, entity:country]]", "all: [weapon, [trad, entity:country]]"), 8,
         "unknown concept 'trad'"),
        (("munition*", "m*"), 14, "too short"),
        (("threshold: 2", "threshold: high"), 3, "threshold"),
        (("  en:\n", "  xx:\n"), 12, "unknown language code 'xx'"),
        (("      trade: [sell]\n", ""), 13, "'trade' is used by a rule but has no terms"),
        (("    within: 5", "    within: 500"), 9, "at most 100"),
        (("  trade: {weight: 1}", "  trade: {weight: 1}\n  trade: {weight: 2}"), 7,
         "duplicate key 'trade'"),
        (("      phrase: [arms race]", "      phrase: [arms race, 'ba*d']"), 18,
         "not a valid term"),
        (("      phrase: [arms race]", "      phrase: [arms race, '*bad*']"), 18,
         "not a valid term"),
        (("      phrase: [arms race]", "      phrase: [arms race, '*arm']"), 18,
         "compound head *'arm' is too short"),
        (("      phrase: [arms race]", "      phrase: [arms race]\n      form: [two words]"), 19,
         "must be a single word"),
        (("      weapon: [weapon", "      weapon: [weapon, 武器x"), 14, "mixes CJK"),
        (("  weapon: {weight: 1}", "  weapon: {weight: 1, colour: red}"), 5,
         "unknown key 'colour'"),
    ],
)  # fmt: skip
def test_malformed_topic_names_file_topic_and_line(
    tmp_path: Path, change: tuple[str, str], line: int, words: str
) -> None:
    old, new = change
    assert old in GOOD_TOPIC
    message = error_of(write_seeds(tmp_path, GOOD_TOPIC.replace(old, new)))
    assert message.startswith("seeds/taxonomy/demo.yaml: topic demo, line ")
    assert f"line {line}:" in message, message
    assert words in message, message


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    broken = GOOD_TOPIC.replace("      trade: [sell]", "      trade: [sell")
    message = error_of(write_seeds(tmp_path, broken))
    assert message.startswith("seeds/taxonomy/demo.yaml, line ")
    assert int(message.split("line ")[1].split(":")[0]) >= 13


def test_topic_id_must_match_file_name(tmp_path: Path) -> None:
    message = error_of(write_seeds(tmp_path, GOOD_TOPIC, name="other.yaml"))
    assert "seeds/taxonomy/other.yaml: topic other, line 1:" in message
    assert "match the file name" in message


def test_index_needs_a_version(tmp_path: Path) -> None:
    message = error_of(write_seeds(tmp_path, GOOD_TOPIC, index="max_evidence: 3\n"))
    assert message == (
        "seeds/taxonomy/taxonomy.yaml, line 1: missing `version` (for example version: '2025.1')"
    )


def test_empty_topic_file_is_refused(tmp_path: Path) -> None:
    message = error_of(write_seeds(tmp_path, "# nothing yet\n"))
    assert message == "seeds/taxonomy/demo.yaml, line 1: the file is empty"


def test_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"taxonomy\.yaml: file not found"):
        load_taxonomy(tmp_path / "seeds", expand_forms=False)


def test_seedfile_load_reports_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(ConfigurationError, match=r"bad\.yaml: cannot read"):
        load(path, "bad.yaml")
