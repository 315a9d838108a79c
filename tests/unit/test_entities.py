"""Countries, people and organisations from the gazetteer, in several languages and scripts."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from schemas.enrichment import Entities
from workers.enrichment import Enricher
from workers.enrichment.entities import Inflection, alias_entry, load_gazetteer
from workers.enrichment.lexicon import Case, Tag
from workers.errors import ConfigurationError
from workers.settings import get_settings


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher.from_seeds(get_settings().seeds_dir)


def entities(enricher: Enricher, text: str, lang: str | None = None) -> Entities:
    result = enricher.enrich(text, html_lang=lang)
    check_offsets(text, result.entities)
    return result.entities


def check_offsets(text: str, found: Entities) -> None:
    for mention in [*found.countries, *found.people, *found.organisations]:
        assert mention.count >= 1
        assert any(text.startswith(form, mention.first_offset) for form in mention.surface_forms)
        assert all(form in text for form in mention.surface_forms)


def codes(found: Entities) -> list[str]:
    return [m.id for m in found.countries]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("North Korean troops were seen near Kursk, officials in Seoul said.", ["KP", "KR"]),
        ("Le Kremlin a salué la visite du dirigeant nord-coréen à Moscou.", ["RU", "KP"]),
        ("Die russischen Truppen rückten vor, berichtete Kiew.", ["RU", "UA"]),
        ("Москва и Пхеньян подписали договор, заявили в Вашингтоне.", ["RU", "KP", "US"]),
        ("Санкции против России и Ирана обсуждались в Москве.", ["RU", "IR"]),
        ("Sankcje wobec Rosji poparła Ukraina.", ["RU", "UA"]),
        ("وقالت واشنطن إن إيران زودت روسيا بالأسلحة.", ["US", "IR", "RU"]),
        ("美国和中国在北京举行会谈，讨论朝鲜问题。", ["US", "CN", "KP"]),
        ("北朝鮮がロシアに弾薬を供与したと米国が発表した。", ["KP", "RU", "US"]),
        ("북한이 러시아에 포탄을 공급했다고 미국이 밝혔다.", ["KP", "RU", "US"]),
        ("Rusya'nın Kuzey Kore ile yakınlaşması Ankara'yı endişelendiriyor.", ["RU", "KP", "TR"]),
    ],
)  # fmt: skip
def test_countries_from_names_demonyms_capitals_and_inflections(
    enricher: Enricher, text: str, expected: list[str]
) -> None:
    assert codes(entities(enricher, text)) == expected


def test_counts_and_first_offsets(enricher: Enricher) -> None:
    text = "Russia said on Monday that Moscow would answer. The Kremlin, Russian officials "
    "said, will act."
    (russia,) = entities(enricher, text).countries
    assert (russia.id, russia.name, russia.count, russia.first_offset) == ("RU", "Russia", 4, 0)
    assert russia.surface_forms == ["Russia", "Moscow", "Kremlin", "Russian"]


def test_case_rules(enricher: Enricher) -> None:
    assert codes(entities(enricher, "Let us see what the US decides, the envoy told us.")) == ["US"]
    assert codes(entities(enricher, "They roasted a turkey and served it on fine china.")) == []
    assert codes(entities(enricher, "Turkey and China signed a deal.")) == ["TR", "CN"]


def test_ambiguous_names_need_an_unambiguous_mention(enricher: Enricher) -> None:
    # The US state and the basketball player are not the countries...
    text = "Voters in Georgia backed the senator, and Michael Jordan endorsed him."
    assert codes(entities(enricher, text)) == []
    # ...but once the country is named without doubt, the ambiguous name counts too.
    text = "Protests filled Tbilisi again. Georgia has been in turmoil since the election."
    (georgia,) = entities(enricher, text).countries
    assert (georgia.id, georgia.count) == ("GE", 2)


def test_blocked_phrases_hide_the_name(enricher: Enricher) -> None:
    text = "The Washington Post reported that Latin American leaders met in New Mexico."
    assert codes(entities(enricher, text)) == []


def test_people_full_and_short_names(enricher: Enricher) -> None:
    text = (
        "Kim arrived on Monday. North Korean leader Kim Jong Un then met President Vladimir "
        "Putin, and Kim praised Putin. Later, Kim Il Sung's portrait was unveiled; Kim bowed."
    )
    found = entities(enricher, text)
    people = {m.id: m for m in found.people}
    assert set(people) == {"kim-jong-un", "vladimir-putin", "kim-il-sung"}
    # The first "Kim" comes before any full name and is not counted; the last one goes to
    # the most mentioned Kim so far.
    assert people["kim-jong-un"].count == 3
    assert people["kim-jong-un"].first_offset == text.index("Kim Jong Un")
    assert people["vladimir-putin"].count == 2
    assert people["kim-il-sung"].count == 1


def test_people_in_other_scripts(enricher: Enricher) -> None:
    cases = [
        ("Путин встретился с Ким Чен Ыном во Владивостоке.", "ru"),
        ("普京与金正恩在符拉迪沃斯托克举行会晤。", "zh"),
        ("푸틴 대통령은 김정은 위원장과 회담했다.", "ko"),
        ("وصل كيم جونغ أون إلى روسيا للقاء بوتين.", "ar"),
    ]
    for text, lang in cases:
        found = entities(enricher, text, lang)
        assert {m.id for m in found.people} == {"vladimir-putin", "kim-jong-un"}, text


def test_the_dish_is_not_the_president(enricher: Enricher) -> None:
    found = entities(enricher, "Au Québec, la poutine se mange avec du fromage en grains.")
    assert found.people == []


def test_organisations(enricher: Enricher) -> None:
    text = (
        "Le Conseil de sécurité de l’ONU s’est réuni. L’ONU, l’UE et l’OTAN ont réagi, "
        "tout comme l’AIEA."
    )
    found = entities(enricher, text, "fr")
    assert [m.id for m in found.organisations] == [
        "un-security-council",
        "un",
        "eu",
        "nato",
        "iaea",
    ]
    assert entities(enricher, "МАГАТЭ и ООН", "ru").organisations[0].id == "iaea"
    assert [m.id for m in entities(enricher, "联合国和北约发表声明。", "zh").organisations] == [
        "un",
        "nato",
    ]


def test_lower_case_un_is_not_the_un(enricher: Enricher) -> None:
    found = entities(enricher, "It was an un-American act, said the officer.")
    assert found.organisations == []


def test_alias_compilation() -> None:
    tag = Tag("entity", "country", "RU")
    russia = alias_entry("Россия", tag, Inflection(strip="аяоеиыйь", max_suffix=3, min_stem=4))
    assert russia is not None and russia.case is Case.TITLE
    assert russia.words[0].matches(("россией",)) and russia.words[0].matches(("россии",))
    assert not russia.words[0].matches(("российской",))
    us = alias_entry("US", Tag("entity", "country", "US"), Inflection())
    assert us is not None and us.case is Case.UPPER
    stem = alias_entry("nord-coréen*", Tag("entity", "country", "KP"), Inflection())
    assert stem is not None and stem.case is Case.ANY
    assert [w.stem for w in stem.words] == ["", "coreen"]
    cjk = alias_entry("金正恩", Tag("entity", "person", "kim"), Inflection())
    assert cjk is not None and cjk.literal == "金正恩"


def _gazetteer_dir(root: Path, countries: str) -> Path:
    folder = root / "seeds" / "gazetteer"
    folder.mkdir(parents=True)
    (folder / "countries.yaml").write_text(textwrap.dedent(countries), encoding="utf-8")
    (folder / "people.yaml").write_text("people: []\n", encoding="utf-8")
    (folder / "organisations.yaml").write_text("organisations: []\n", encoding="utf-8")
    return root / "seeds"


def test_malformed_gazetteer_names_file_and_line(tmp_path: Path) -> None:
    seeds = _gazetteer_dir(
        tmp_path, "countries:\n  RU:\n    en: [Muscovite*]\n  QQ:\n    en: [x]\n"
    )
    with pytest.raises(ConfigurationError) as caught:
        load_gazetteer(seeds, ["en"])
    assert str(caught.value) == (
        "seeds/gazetteer/countries.yaml, line 4: unknown ISO 3166-1 alpha-2 code 'QQ'"
    )


def test_gazetteer_refuses_unknown_keys(tmp_path: Path) -> None:
    seeds = _gazetteer_dir(tmp_path, "countries: {}\ncapitals: {}\n")
    with pytest.raises(ConfigurationError, match=r"countries.yaml, line 2: unknown key 'capitals'"):
        load_gazetteer(seeds, ["en"])
