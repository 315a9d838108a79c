"""Topic tagging: rule mechanics on a small taxonomy, then the real one on positives and
hard negatives written for these tests in several languages."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from schemas.enrichment import TopicMatch
from workers.enrichment import Enricher
from workers.enrichment.entities import ENTITY_LAYER, EntityResolver, Gazetteer
from workers.enrichment.lexicon import Matcher, Tag
from workers.enrichment.morph import variants_for
from workers.enrichment.taxonomy import load_taxonomy, topic_entries
from workers.enrichment.text import split_sentences
from workers.enrichment.topics import TopicScorer
from workers.settings import get_settings

# -- mechanics, on a taxonomy written here ------------------------------------------------

MINI = """\
id: mini
description: weapons sold, for tests
threshold: 3
concepts:
  weapon: {weight: 1}
  trade: {weight: 1}
  bonus: {weight: 0.5}
require:
  - all: [weapon, trade, entity:country]
    within: sentence
    weight: 2
  - all: [weapon, bonus]
    within: 3
    weight: 1
languages:
  en:
    terms:
      weapon: [=rifles, =missiles, munition*]
      trade: [=sold, =shipped]
      bonus: [=secretly]
    exclude:
      sentence: [=video]
      phrase: [=missiles defence]
"""


class Mini:
    """A scorer over MINI, with 'Ruritania' as the only country."""

    def __init__(self, root: Path) -> None:
        folder = root / "seeds" / "taxonomy"
        folder.mkdir(parents=True)
        (folder / "taxonomy.yaml").write_text('version: "mini-1"\n', encoding="utf-8")
        (folder / "mini.yaml").write_text(textwrap.dedent(MINI), encoding="utf-8")
        taxonomy = load_taxonomy(root / "seeds", expand_forms=False)
        gazetteer = Gazetteer()
        gazetteer.add("en", "Ruritania", Tag(ENTITY_LAYER, "country", "RT"))
        self.matcher = Matcher(
            topic_entries(taxonomy, "en") + gazetteer.entries("en"), variants_for("en")
        )
        self.scorer = TopicScorer(taxonomy)
        self.resolver = EntityResolver(gazetteer)

    def topics(self, text: str, title: str | None = None) -> list[TopicMatch]:
        hits = self.matcher.scan(text)
        sentences = split_sentences(text)
        _, entity_hits = self.resolver.resolve(text, hits, sentences)
        title_hits = self.matcher.scan(title) if title else []
        return self.scorer.score(
            text=text,
            lang="en",
            hits=hits,
            entity_hits=entity_hits,
            sentences=sentences,
            title_hits=title_hits,
        )


@pytest.fixture
def mini(tmp_path: Path) -> Mini:
    return Mini(tmp_path)


def test_rule_needs_all_groups_in_one_sentence(mini: Mini) -> None:
    (found,) = mini.topics("Ruritania sold rifles to the rebels.")
    assert found.id == "mini"
    assert found.score == 2 + 1 + 1  # rule + weapon + trade
    assert {e.concept for e in found.evidence} == {"weapon", "trade", "entity:country"}
    assert mini.topics("Ruritania sold grain. The rebels have rifles.") == []


def test_phrase_exclusion_masks_a_false_friend(mini: Mini) -> None:
    assert mini.topics("Ruritania sold missiles defence radars.") == []
    assert mini.topics("Ruritania sold missiles and radars.") != []


def test_sentence_exclusion_vetoes_the_sentence(mini: Mini) -> None:
    assert mini.topics("In the video, Ruritania sold rifles.") == []
    text = "In the video, Ruritania sold rifles. Ruritania shipped munitions to the rebels."
    (found,) = mini.topics(text)
    assert all(e.start >= text.index("Ruritania shipped") for e in found.evidence)


def test_window_rule_counts_words(mini: Mini) -> None:
    # weapon + bonus within 3 words: holds, and alone (1 + 1 + 0.5) stays under 3...
    assert mini.topics("Rifles were secretly stored.") == []
    # ...but the title bonus (weapon 1) lifts it over the threshold.
    (found,) = mini.topics("Rifles were secretly stored.", title="Rifles")
    assert found.score == pytest.approx(1 + 1 + 0.5 + 1)
    # too far apart for the window
    assert (
        mini.topics("Rifles, they say, were in the end quite secretly stored.", title="Rifles")
        == []
    )


def test_stems_and_exact_forms(mini: Mini) -> None:
    assert mini.topics("Ruritania shipped munitions.") != []  # munition* stem
    assert mini.topics("Ruritania shipped rifle.") == []  # =rifles is exact


def test_evidence_points_into_the_text(mini: Mini) -> None:
    text = "Ruritania sold rifles.  Ruritania shipped munitions, officials said."
    (found,) = mini.topics(text)
    for evidence in found.evidence:
        assert text[evidence.start : evidence.end] == evidence.term
        at = text.find(evidence.sentence)
        assert at >= 0 and at <= evidence.start and evidence.end <= at + len(evidence.sentence)


# -- the real taxonomy ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher.from_seeds(get_settings().seeds_dir)


ARMS_POSITIVE = {
    "en": (
        "Russia has received thousands of artillery shells and ballistic missiles from North "
        "Korea, according to US officials, in exchange for oil and military technology."
    ),
    "fr": (
        "La France va livrer des canons Caesar et des missiles à l’Ukraine, a annoncé le ministre "
        "des Armées."
    ),
    "de": (
        "Deutschland wird der Ukraine weitere Panzer und Munition liefern, teilte die "
        "Bundesregierung mit."
    ),
    "es": (
        "Irán suministró drones y misiles a Rusia para su guerra en Ucrania, según Estados Unidos."
    ),
    "it": "L'Italia invierà armi e munizioni all'Ucraina, ha annunciato il governo.",
    "ru": "Северная Корея поставила России миллионы артиллерийских снарядов, сообщили в Пентагоне.",
    "uk": "США передали Україні нові ракети та боєприпаси.",
    "pl": "Polska przekazała Ukrainie czołgi i amunicję, poinformował rząd.",
    "tr": "ABD, Türkiye'ye F-16 savaş uçağı satışını onayladı.",
    "ar": (
        "قالت الولايات المتحدة إن إيران زودت روسيا بالصواريخ والطائرات المسيرة لاستخدامها في "
        "أوكرانيا."
    ),
    "zh": "美国宣布向台湾出售价值十亿美元的武器，包括导弹和无人机。",
    "ja": "北朝鮮がロシアに弾薬やミサイルを供与したと米国が発表した。",
    "ko": "북한이 러시아에 포탄과 미사일을 공급했다고 미국 정부가 밝혔다.",
}

SANCTIONS_POSITIVE = {
    "en": (
        "The European Union imposed new sanctions on Iran on Monday, freezing the assets of "
        "twelve officials."
    ),
    "fr": (
        "L’Union européenne a adopté un nouveau paquet de sanctions contre la Russie, visant des "
        "banques et des oligarques."
    ),
    "de": (
        "Die EU hat neue Sanktionen gegen Russland verhängt und Vermögen von Oligarchen "
        "eingefroren."
    ),
    "es": "Estados Unidos impuso sanciones a Venezuela y congeló activos de la petrolera estatal.",
    "pt": "A União Europeia aprovou novas sanções contra a Rússia.",
    "ru": "Евросоюз ввёл новые санкции против России, заморозив активы нескольких банков.",
    "zh": "美国财政部宣布对伊朗实施新的制裁，冻结多家企业的资产。",
    "ar": "فرضت الولايات المتحدة عقوبات جديدة على إيران تستهدف شركات النفط.",
    "ko": "미국 정부는 북한에 대한 새로운 제재를 발표했다.",
}

# Hard negatives: none of these may be tagged arms_transfers or sanctions.
HARD_NEGATIVES = {
    "sport-en": (
        "UEFA sanctioned the Spanish club and fined the player after the match against Italy."
    ),
    "approved-en": (
        "The board sanctioned the merger last week, and shareholders welcomed the decision."
    ),
    "fine-en": "The European Commission fined Google 4 billion euros for abusing its dominance.",
    "gunlaw-en": (
        "The US Congress debated a bill to ban the sale of assault weapons after another mass "
        "shooting, with gun owners and the NRA opposing background checks."
    ),
    "war-en": (
        "Russian forces fired missiles and drones at Kyiv overnight, killing three people, "
        "Ukrainian officials said. Fighting continued along the front line in the east."
    ),
    "game-en": (
        "In the new video game, players can buy weapons and sell rocket launchers to other gamers "
        "on Russia-themed maps."
    ),
    "body-en": "She held the baby in her arms and sold flowers at the market in Paris.",
    "tariff-en": "The US imposed 25% tariffs on Chinese steel and aluminium imports.",
    "press-en": "The report was released under embargo until Tuesday, the US agency said.",
    "budget-en": "Germany raised its defence budget to buy more tanks and missiles for its army.",
    "armsrace-en": "The arms race between India and Pakistan worries analysts in Washington.",
    "sport-fr": (
        "La commission de discipline de l’UEFA a sanctionné le club français après le match "
        "contre l’Italie."
    ),
    "fine-fr": (
        "L’Autorité de la concurrence a infligé une amende de 150 millions d’euros à Apple, une "
        "sanction record en France."
    ),
    "gunlaw-fr": (
        "Le débat sur la loi sur les armes à feu aux États-Unis a été relancé après la fusillade."
    ),
    "war-fr": (
        "L’armée russe a tiré des missiles sur Kiev pendant la nuit, selon les autorités "
        "ukrainiennes."
    ),
    "sport-de": (
        "Der DFB hat den Spieler nach dem Spiel gegen Frankreich mit einer Sperre sanktioniert."
    ),
    "ceasefire-de": (
        "Russland und die Ukraine verhandeln über einen Waffenstillstand, berichtet die Regierung "
        "in Kiew."
    ),
    "sport-es": "La UEFA sancionó al club español tras el partido contra Italia.",
    "law-pt": "O presidente do Brasil sancionou a lei que amplia o programa de habitação.",
    "sport-ru": "УЕФА наложил санкции на российский клуб после матча.",
    "game-zh": "在这款游戏中，玩家可以向俄罗斯出售武器。",
}


@pytest.mark.parametrize("lang", sorted(ARMS_POSITIVE))
def test_arms_transfers_positive(enricher: Enricher, lang: str) -> None:
    result = enricher.enrich(ARMS_POSITIVE[lang])
    assert result.language.code == lang
    assert "arms_transfers" in [t.id for t in result.topics]


@pytest.mark.parametrize("lang", sorted(SANCTIONS_POSITIVE))
def test_sanctions_positive(enricher: Enricher, lang: str) -> None:
    result = enricher.enrich(SANCTIONS_POSITIVE[lang])
    assert result.language.code == lang
    assert "sanctions" in [t.id for t in result.topics]


@pytest.mark.parametrize("name", sorted(HARD_NEGATIVES))
def test_hard_negative_is_not_tagged(enricher: Enricher, name: str) -> None:
    text = HARD_NEGATIVES[name]
    result = enricher.enrich(text, html_lang=name.rsplit("-", 1)[1])
    tagged = {t.id for t in result.topics} & {"arms_transfers", "sanctions"}
    assert not tagged, [(t.id, t.score, [e.term for e in t.evidence]) for t in result.topics]


def test_other_themes_are_tagged(enricher: Enricher) -> None:
    cases = {
        "nuclear_missile_programmes": "North Korea conducted its sixth nuclear test and "
        "launched an "
        "intercontinental ballistic missile, the South Korean military said.",
        "armed_conflict": "Russian troops launched a new offensive in eastern Ukraine. Heavy "
        "fighting "
        "and shelling were reported near Bakhmut, where Ukrainian forces held the front line.",
        "military_cooperation": "Russia and North Korea signed a mutual defence pact and agreed to "
        "hold joint military exercises.",
        "summit_diplomacy": "President Xi Jinping will meet Vladimir Putin at a summit in Moscow "
        "next week, the Chinese foreign ministry said.",
        "food_insecurity_aid": "Famine threatens millions in Sudan, where the World Food Programme "
        "says acute hunger has doubled and food aid convoys are blocked.",
        "labour_exports": "Thousands of North Korean workers are employed in Russia, earning "
        "foreign currency for Pyongyang despite UN sanctions on labour exports.",
    }
    for topic, text in cases.items():
        tagged = [t.id for t in enricher.enrich(text).topics]
        assert topic in tagged, (topic, tagged)


def test_civil_nuclear_and_trade_war_are_not_tagged(enricher: Enricher) -> None:
    nuclear = enricher.enrich(
        "France will build six new nuclear power plants, and the nuclear energy programme will "
        "be tested by the regulator."
    )
    assert "nuclear_missile_programmes" not in [t.id for t in nuclear.topics]
    trade_war = enricher.enrich(
        "The trade war between the United States and China escalated as both sides raised "
        "tariffs. The price war in the car market also hurt Chinese manufacturers."
    )
    assert "armed_conflict" not in [t.id for t in trade_war.topics]


def test_topics_need_the_document_language(enricher: Enricher) -> None:
    # Dutch is outside the taxonomy: entities still come, topics do not.
    text = (
        "Rusland heeft duizenden artilleriegranaten en raketten uit Noord-Korea ontvangen, "
        "volgens Amerikaanse functionarissen, in ruil voor olie en militaire technologie."
    )
    result = enricher.enrich(text)
    assert result.language.code == "nl"
    assert result.topics == []
