"""Arms-transfer details: who supplies whom with what, how many, how far along.

workers/enrichment/arms.py with its data file seeds/taxonomy/details/arms_transfers.yaml,
through the Enricher as the process stage runs it. Hand-written sentences per language
cover each status, the direction in active and passive voice, denials, quantities and
texts where no direction may be stated; every detail's evidence and quantities must
point into the text. The development set lines that carry an "arms_transfer" label are
scored too (supplier, recipient and status precision and recall).
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from schemas.enrichment import ArmsTransferDetail, Enrichment
from workers.enrichment import Enricher
from workers.enrichment.arms import DETAILS_FILE, load_arms_rules
from workers.enrichment.entities import Gazetteer, load_gazetteer
from workers.enrichment.language import SUPPORTED
from workers.enrichment.taxonomy import topic_ids
from workers.errors import ConfigurationError
from workers.evaluation.devset import DEVSET_DIRNAME, ArmsTransferGold, load_devset
from workers.evaluation.runner import document_input
from workers.settings import get_settings

SEEDS = get_settings().seeds_dir
SAMPLE = SEEDS / "kim-putin-arms-fr.txt"


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher.from_seeds(SEEDS)


def check_offsets(text: str, details: Sequence[ArmsTransferDetail]) -> None:
    """Every evidence and quantity of every detail points at its own words in `text`."""
    for detail in details:
        assert detail.evidence, detail
        for ev in detail.evidence:
            assert 0 <= ev.start < ev.end <= len(text), ev
            assert text[ev.start : ev.end] == ev.term, ev
            assert ev.term in ev.sentence and ev.sentence in text, ev
            assert ev.concept in {
                "supplier",
                "recipient",
                "transfer",
                "system",
                "quantity",
                "status",
            }
        for q in detail.quantities:
            assert text[q.start : q.end] == q.text, q
            assert q.system in detail.systems, q
        assert detail.supplier is None or detail.supplier != detail.recipient, detail


def enrich(enricher: Enricher, text: str, lang: str) -> Enrichment:
    result = enricher.enrich(text, html_lang=lang, feed_lang=lang)
    assert result.language.code == lang
    check_offsets(text, result.arms_transfers)
    return result


def tagged_details(enricher: Enricher, text: str, lang: str) -> list[ArmsTransferDetail]:
    """Details of a text that must be tagged arms_transfers (the extractor's precondition)."""
    result = enrich(enricher, text, lang)
    topics = [t.id for t in result.topics]
    assert "arms_transfers" in topics, f"topic layer did not tag arms_transfers: {topics}"
    return result.arms_transfers


# -- the sample article ----------------------------------------------------------------------


def test_sample_article_states_north_korean_munitions_for_russia_under_negotiation(
    enricher: Enricher,
) -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    details = tagged_details(enricher, text, "fr")
    first = details[0]
    assert (first.supplier, first.recipient) == ("KP", "RU")
    assert (first.supplier_name, first.recipient_name) == ("North Korea", "Russia")
    assert first.status == "negotiated"
    assert "ammunition" in first.systems
    assert not any((d.supplier, d.recipient) == ("RU", "KP") for d in details)
    roles = {ev.concept: text[ev.start : ev.end] for ev in first.evidence}
    assert {"supplier", "recipient", "transfer", "system", "status"} <= roles.keys()


# -- hand-written statements, per language --------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A text, its language, and the (supplier, recipient, status) its first detail states."""

    id: str
    lang: str
    text: str
    supplier: str | None
    recipient: str | None
    status: str | None


CASES = [
    # English
    Case("en-delivered", "en",
         "North Korea has delivered more than a million artillery shells to Russia, South "
         "Korean intelligence said on Tuesday. The arms shipments breach UN resolutions.",
         "KP", "RU", "delivered"),
    Case("en-passive", "en",
         "The artillery shells were supplied to Russia by North Korea last autumn, US "
         "officials said. The arms deliveries have continued since then.",
         "KP", "RU", "delivered"),
    Case("en-passive-recipient-subject", "en",
         "Russia was supplied with ballistic missiles by North Korea, according to Kyiv. "
         "The arms transfer was confirmed by debris found in Kharkiv.",
         "KP", "RU", "delivered"),
    Case("en-agreed", "en",
         "Germany signed a contract to sell 12 howitzers to Ukraine, the defence ministry "
         "said on Monday. The arms deal is worth 300 million euros.",
         "DE", "UA", "agreed"),
    Case("en-negotiated", "en",
         "Poland is in talks with South Korea on the purchase of 180 more K2 tanks. "
         "Warsaw could sign the arms deal before the summer.",
         "KR", "PL", "negotiated"),
    Case("en-future", "en",
         "Iran will supply ballistic missiles to Russia under a new agreement, US officials "
         "warned. The arms deal alarmed Kyiv.",
         "IR", "RU", "negotiated"),
    Case("en-denied", "en",
         "Iran has denied supplying drones to Russia and called the reports baseless. "
         "Washington accuses Tehran of arms sales to Moscow.",
         "IR", "RU", "denied"),
    # French
    Case("fr-delivered", "fr",
         "La Corée du Nord a livré plus d'un million d'obus d'artillerie à la Russie, selon "
         "le renseignement sud-coréen. Ces livraisons d'armes violent les résolutions de l'ONU.",
         "KP", "RU", "delivered"),
    Case("fr-passive", "fr",
         "Des obus ont été fournis à la Russie par la Corée du Nord, affirment des "
         "responsables américains. Ces livraisons d'armes se poursuivent.",
         "KP", "RU", "delivered"),
    Case("fr-agreed", "fr",
         "La France a signé un contrat pour la vente de 26 avions de combat Rafale à l'Inde. "
         "Ce contrat d'armement est le plus important de l'année.",
         "FR", "IN", "agreed"),
    Case("fr-negotiated", "fr",
         "L'Inde négocie avec la France l'achat de 26 Rafale Marine ; New Delhi pourrait "
         "acheter ces avions de combat d'ici la fin de l'année.",
         "FR", "IN", "negotiated"),
    Case("fr-denied", "fr",
         "L'Iran a démenti avoir fourni des drones à la Russie, qualifiant ces accusations "
         "de « sans fondement ». Washington accuse Téhéran de ventes d'armes à Moscou.",
         "IR", "RU", "denied"),
    # German
    Case("de-delivered", "de",
         "Nordkorea hat Russland mehr als eine Million Artilleriegranaten geliefert, teilte "
         "der südkoreanische Geheimdienst mit. Die Waffenlieferungen verstoßen gegen "
         "UN-Resolutionen.",
         "KP", "RU", "delivered"),
    Case("de-passive", "de",
         "Die Granaten wurden von Nordkorea an Russland geliefert, sagten US-Beamte. Die "
         "Waffenlieferungen verstoßen gegen Sanktionen.",
         "KP", "RU", "delivered"),
    Case("de-agreed", "de",
         "Die Bundesregierung hat die Lieferung von zwölf Panzerhaubitzen an die Ukraine "
         "genehmigt. Der Vertrag über den Waffenexport wurde am Montag unterzeichnet.",
         "DE", "UA", "agreed"),
    Case("de-two-signatories", "de",
         "Deutschland und die Ukraine haben einen Vertrag über die Lieferung von zwölf "
         "Panzerhaubitzen unterzeichnet. Der Waffenexport wurde vom Kabinett genehmigt.",
         None, None, None),
    Case("de-negotiated", "de",
         "Polen verhandelt mit Südkorea über den Kauf von weiteren 180 Kampfpanzern. "
         "Warschau könnte die Panzer noch in diesem Jahr bestellen.",
         "KR", "PL", "negotiated"),
    Case("de-denied", "de",
         "China hat Berichte über Waffenlieferungen an Russland zurückgewiesen. Peking "
         "liefere keine Waffen an Moskau, sagte ein Sprecher.",
         "CN", "RU", "denied"),
    # Spanish
    Case("es-delivered", "es",
         "Corea del Norte ha entregado más de un millón de proyectiles de artillería a Rusia, "
         "según la inteligencia surcoreana. Estos envíos de armas violan las sanciones.",
         "KP", "RU", "delivered"),
    Case("es-passive", "es",
         "Los proyectiles fueron suministrados a Rusia por Corea del Norte, afirmaron "
         "funcionarios estadounidenses. El tráfico de armas continúa.",
         "KP", "RU", "delivered"),
    Case("es-agreed", "es",
         "España firmó un contrato para vender 12 obuses autopropulsados a Ucrania, informó "
         "el Ministerio de Defensa. La venta de armas fue aprobada por el Gobierno.",
         "ES", "UA", "agreed"),
    Case("es-negotiated", "es",
         "Colombia negocia con Suecia la compra de 16 cazas Gripen; Bogotá podría adquirir "
         "los aviones de combate este año.",
         "SE", "CO", "negotiated"),
    Case("es-denied", "es",
         "Irán negó haber suministrado drones a Rusia y calificó las acusaciones de "
         "infundadas. Washington denuncia la venta de armas a Moscú.",
         "IR", "RU", "denied"),
    # Russian
    Case("ru-delivered", "ru",
         "КНДР поставила России более миллиона артиллерийских снарядов, сообщила "
         "южнокорейская разведка. Эти поставки оружия нарушают резолюции ООН.",
         "KP", "RU", "delivered"),
    Case("ru-passive", "ru",
         "Снаряды были поставлены в Россию из Северной Кореи, заявили американские "
         "чиновники. Поставки оружия продолжаются.",
         "KP", "RU", "delivered"),
    Case("ru-agreed", "ru",
         "Россия подписала контракт на поставку Алжиру 12 истребителей Су-35, сообщили в "
         "Москве. Сделка по продаже оружия одобрена правительством.",
         "RU", "DZ", "agreed"),
    Case("ru-negotiated", "ru",
         "Алжир ведёт переговоры с Россией о покупке 14 истребителей Су-57; сделка может "
         "быть подписана в этом году.",
         "RU", "DZ", "negotiated"),
    Case("ru-denied", "ru",
         "Иран отрицает, что поставлял беспилотники России, и называет обвинения "
         "беспочвенными. Вашингтон обвиняет Тегеран в продаже оружия Москве.",
         "IR", "RU", "denied"),
    # Chinese
    Case("zh-delivered", "zh",
         "韩国情报机构称，朝鲜已向俄罗斯交付了超过100万发炮弹。这些武器运送违反了联合国决议。",
         "KP", "RU", "delivered"),
    Case("zh-passive", "zh",
         "据美国官员透露，这批炮弹由朝鲜提供给俄罗斯，已经运抵前线。军火交易引发国际关注。",
         "KP", "RU", "delivered"),
    Case("zh-agreed", "zh",
         "美国国务院批准向台湾出售两百枚导弹，总价值约20亿美元。这项军售遭到北京强烈反对。",
         "US", "TW", "agreed"),
    Case("zh-negotiated", "zh",
         "泰国正与中国谈判购买潜艇事宜，曼谷可能在年内签署采购合同。",
         "CN", "TH", "negotiated"),
    Case("zh-denied", "zh",
         "中国外交部否认向俄罗斯提供武器，称有关报道毫无根据。",
         "CN", "RU", "denied"),
    # Arabic
    Case("ar-delivered", "ar",
         "قالت الاستخبارات الكورية الجنوبية إن كوريا الشمالية سلمت روسيا أكثر من مليون قذيفة "
         "مدفعية. وتنتهك شحنات الأسلحة هذه قرارات مجلس الأمن.",
         "KP", "RU", "delivered"),
    Case("ar-passive", "ar",
         "وأفاد مسؤولون أمريكيون بأنه تم تسليم القذائف إلى روسيا من قبل كوريا الشمالية. "
         "وتثير صفقات الأسلحة قلقا دوليا.",
         "KP", "RU", None),
    Case("ar-agreed", "ar",
         "وقعت الولايات المتحدة اتفاقا لبيع 12 طائرة مقاتلة إلى السعودية، حسبما أعلنت وزارة "
         "الدفاع. وتبلغ قيمة صفقة الأسلحة ملياري دولار.",
         "US", "SA", "agreed"),
    Case("ar-negotiated", "ar",
         "تجري الجزائر مفاوضات مع روسيا لشراء مقاتلات سوخوي، وقد توقع العقد خلال العام الجاري.",
         "RU", "DZ", "negotiated"),
    Case("ar-denied", "ar",
         "نفت إيران تزويد روسيا بطائرات مسيرة، ووصفت الاتهامات بأنها لا أساس لها من الصحة.",
         "IR", "RU", "denied"),
    # the other languages, where the rules are thinner
    Case("it-delivered", "it",
         "L'Italia ha consegnato all'Ucraina un nuovo sistema di difesa aerea SAMP/T, ha "
         "annunciato il ministero della Difesa. Le forniture di armi proseguiranno.",
         "IT", "UA", "delivered"),
    Case("pt-delivered", "pt",
         "O Brasil entregou ao Paraguai seis aviões de combate Super Tucano, informou o "
         "Ministério da Defesa. A venda de armas foi aprovada no ano passado.",
         "BR", "PY", "delivered"),
    Case("uk-delivered", "uk",
         "Німеччина передала Україні ще одну систему ППО IRIS-T, повідомив міністр оборони. "
         "Постачання зброї триватиме.",
         "DE", "UA", "delivered"),
    Case("pl-delivered", "pl",
         "Polska przekazała Ukrainie kolejne czołgi Leopard, poinformował minister obrony. "
         "Dostawy broni będą kontynuowane.",
         "PL", "UA", "delivered"),
    Case("tr-delivered", "tr",
         "Türkiye, Somali'ye Bayraktar TB2 insansız hava araçları teslim etti. Silah "
         "sevkiyatı Mogadişu'da törenle karşılandı.",
         "TR", "SO", "delivered"),
    Case("ja-delivered", "ja",
         "北朝鮮がロシアに弾道ミサイルを供与したと米政府が発表した。武器取引は国連決議に違反する。",
         "KP", "RU", "delivered"),
    Case("ko-delivered", "ko",
         "북한이 러시아에 포탄을 제공했다고 국가정보원이 밝혔다. 무기 거래는 유엔 결의 위반이다.",
         "KP", "RU", "delivered"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_statement_per_language(enricher: Enricher, case: Case) -> None:
    details = tagged_details(enricher, case.text, case.lang)
    if case.supplier is None and case.recipient is None:
        assert not any(d.supplier and d.recipient for d in details), details
        return
    assert details, "no detail"
    first = details[0]
    assert (first.supplier, first.recipient, first.status) == (
        case.supplier,
        case.recipient,
        case.status,
    )
    reversed_pair = (case.recipient, case.supplier)
    assert all((d.supplier, d.recipient) != reversed_pair for d in details)


# -- no direction -----------------------------------------------------------------------------

RIVAL_SUPPLIERS = [
    ("en", "Investigators could not say whether the drones that hit Kyiv came from Iran or "
           "from North Korea. The arms shipments to Russia continue."),
    ("fr", "Les drones abattus au-dessus de Kiev proviennent soit de l'Iran, soit de la Corée "
           "du Nord, selon les enquêteurs. Les livraisons d'armes à la Russie se poursuivent."),
    ("de", "Die Drohnen wurden entweder aus dem Iran oder aus Nordkorea an Russland "
           "geliefert, sagten Ermittler. Die Waffenlieferungen gehen weiter."),
    ("es", "Los drones fueron enviados a Rusia desde Irán o desde Corea del Norte, según los "
           "investigadores. Los envíos de armas continúan."),
    ("ru", "Беспилотники были поставлены России из Ирана или из Северной Кореи, считают "
           "следователи. Поставки оружия продолжаются."),
    ("zh", "调查人员称，这些无人机是从伊朗或朝鲜运往俄罗斯的。军火交易仍在继续。"),
    ("ar", "قال محققون إن شحنة الأسلحة التي وصلت إلى روسيا مصدرها إيران أو كوريا الشمالية، "
           "ولم يتضح بعد من زود موسكو بالطائرات المسيرة."),
]  # fmt: skip


@pytest.mark.parametrize(("lang", "text"), RIVAL_SUPPLIERS, ids=[c[0] for c in RIVAL_SUPPLIERS])
def test_two_candidate_suppliers_give_no_supplier(enricher: Enricher, lang: str, text: str) -> None:
    details = tagged_details(enricher, text, lang)
    assert not any(d.supplier for d in details), details


WAR_REPORTS = [
    ("en", "Russian forces shelled Kharkiv overnight with missiles and drones, and Ukraine "
           "struck an oil refinery in Russia. Two civilians were killed."),
    ("fr", "L'armée russe a bombardé Kharkiv dans la nuit avec des missiles et des drones, "
           "tandis que l'Ukraine a frappé une raffinerie en Russie."),
    ("de", "Russische Truppen haben Charkiw in der Nacht mit Raketen und Drohnen beschossen, "
           "die Ukraine griff eine Raffinerie in Russland an."),
    ("es", "Las tropas rusas bombardearon Járkov durante la noche con misiles y drones, y "
           "Ucrania atacó una refinería en Rusia."),
    ("ru", "Российские войска ночью обстреляли Харьков ракетами и беспилотниками, а Украина "
           "атаковала нефтезавод в России."),
    ("zh", "俄军夜间用导弹和无人机袭击哈尔科夫，乌克兰则用无人机袭击了俄罗斯境内的一座炼油厂。"),
    ("ar", "قصفت القوات الروسية مدينة خاركيف ليلا بالصواريخ والطائرات المسيرة، فيما هاجمت "
           "أوكرانيا مصفاة نفط في روسيا."),
]  # fmt: skip


@pytest.mark.parametrize(("lang", "text"), WAR_REPORTS, ids=[c[0] for c in WAR_REPORTS])
def test_war_report_without_transfer_gives_no_detail(
    enricher: Enricher, lang: str, text: str
) -> None:
    assert enrich(enricher, text, lang).arms_transfers == []


def test_details_only_for_documents_tagged_arms_transfers(enricher: Enricher) -> None:
    text = (
        "The European Union extended its sanctions on Russian banks for six months, "
        "officials in Brussels said on Friday."
    )
    result = enrich(enricher, text, "en")
    assert "arms_transfers" not in [t.id for t in result.topics]
    assert result.arms_transfers == []


# -- quantities -------------------------------------------------------------------------------

QUANTITIES = [
    ("en", "North Korea has shipped 1 million shells to Russia since August, officials in "
           "Seoul said. The arms deliveries continue.", 1_000_000, "artillery_ammunition"),
    ("en", "Germany will deliver 12 howitzers to Ukraine, the defence ministry said. The "
           "arms package was approved on Monday.", 12, "artillery"),
    ("zh", "美国国务院批准向台湾出售两百枚导弹，总价值约20亿美元。这项军售遭到北京强烈反对。", 200,
     "missiles"),
    ("fr", "La France livrera 24 canons Caesar à l'Arménie, a annoncé le ministère des Armées. "
           "Ces livraisons d'armes irritent Bakou.", 24, "artillery"),
    ("de", "Deutschland liefert der Ukraine zwölf Panzerhaubitzen, teilte das Ministerium mit. "
           "Die Waffenlieferung beginnt im Frühjahr.", 12, "artillery"),
    ("es", "Corea del Norte ha entregado más de un millón de proyectiles de artillería a Rusia, "
           "según Seúl. Estos envíos de armas violan las sanciones.", 1_000_000,
     "artillery_ammunition"),
    ("ru", "КНДР поставила России более миллиона артиллерийских снарядов, сообщила разведка. "
           "Эти поставки оружия нарушают резолюции ООН.", 1_000_000, "artillery_ammunition"),
    ("ar", "وقعت الولايات المتحدة اتفاقا لبيع 12 طائرة مقاتلة إلى السعودية. وتبلغ قيمة صفقة "
           "الأسلحة ملياري دولار.", 12, "combat_aircraft"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("lang", "text", "amount", "system"), QUANTITIES, ids=[f"{q[0]}-{q[2]}" for q in QUANTITIES]
)
def test_quantities(enricher: Enricher, lang: str, text: str, amount: float, system: str) -> None:
    details = tagged_details(enricher, text, lang)
    found = [(q.amount, q.system) for d in details for q in d.quantities]
    assert (amount, system) in found, found


def test_vague_and_hedged_amounts_are_approximate(enricher: Enricher) -> None:
    text = (
        "Iran has supplied hundreds of Shahed drones to Russia, the White House said. "
        "The arms transfers began last year."
    )
    quantities = [q for d in tagged_details(enricher, text, "en") for q in d.quantities]
    assert [(q.amount, q.approximate, q.system) for q in quantities] == [(100, True, "drones")]


# -- the data file ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return load_gazetteer(SEEDS, {"en"})


MINIMAL = """\
categories:
  missiles: ballistic and cruise missiles
  weapons: weapons in general
languages:
  en:
    order: svo
    cues:
      supply_verb: [supply]
    systems:
      missiles: [missile]
"""


def write_details(seeds: Path, text: str) -> None:
    path = seeds / DETAILS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_minimal_file_loads(tmp_path: Path, gazetteer: Gazetteer) -> None:
    write_details(tmp_path, MINIMAL)
    rules = load_arms_rules(tmp_path, gazetteer, {})
    assert set(rules.languages) == {"en"}
    assert rules.categories == ("missiles", "weapons")


BROKEN = [
    ("unknown key", MINIMAL + "colour: blue\n", 11, "unknown key 'colour'"),
    ("no weapons category", MINIMAL.replace("  weapons: weapons in general\n", ""), 1,
     "'weapons' is required"),
    ("unknown cue kind", MINIMAL.replace("supply_verb", "supply_verbs"), 8,
     "unknown cue kind 'supply_verbs'"),
    ("undeclared category", MINIMAL.replace("      missiles: [missile]", "      tanks: [tank]"),
     10, "'tanks' is not declared"),
    ("bad order", MINIMAL.replace("order: svo", "order: osv"), 6, "order must be one of"),
    ("unknown language", MINIMAL.replace("  en:", "  xx:"), 5, "unknown language code 'xx'"),
    ("yaml syntax", MINIMAL.replace("[missile]", "[missile"), 11, ""),
    ("bad regex", MINIMAL + "    participle: '(ed'\n", 11, "bad pattern"),
    ("unknown party", MINIMAL + "parties:\n  nobody: group\n", 12, "unknown organisation"),
    ("bad marker role", MINIMAL + "    markers:\n      towards: [to]\n", 12, "unknown role"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "line", "message"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN]
)
def test_malformed_file_names_file_and_line(
    tmp_path: Path, gazetteer: Gazetteer, text: str, line: int, message: str
) -> None:
    write_details(tmp_path, text)
    with pytest.raises(ConfigurationError) as excinfo:
        load_arms_rules(tmp_path, gazetteer, {})
    error = str(excinfo.value)
    assert "taxonomy/details/arms_transfers.yaml" in error
    assert f"line {line}" in error
    assert message in error


def test_enricher_refuses_to_start_with_a_malformed_details_file(tmp_path: Path) -> None:
    for folder in ("taxonomy", "gazetteer"):
        shutil.copytree(SEEDS / folder, tmp_path / folder)
    write_details(tmp_path, MINIMAL.replace("supply_verb", "supply_verbs"))
    with pytest.raises(ConfigurationError, match=r"arms_transfers\.yaml, line 8: .*supply_verbs"):
        Enricher.from_seeds(tmp_path)


def test_missing_details_file_is_reported(tmp_path: Path, gazetteer: Gazetteer) -> None:
    with pytest.raises(ConfigurationError, match=r"arms_transfers\.yaml: file not found"):
        load_arms_rules(tmp_path, gazetteer, {})


def test_every_language_of_the_product_has_rules() -> None:
    data = yaml.safe_load((SEEDS / DETAILS_FILE).read_text(encoding="utf-8"))
    assert set(data["languages"]) == set(SUPPORTED)


# -- the development set ------------------------------------------------------------------------

MIN_LABELLED = 20
# (precision, recall) pinned below what was measured on all splits (P 0.78/0.75/0.82,
# R 0.45/0.51/0.41) so that a change that loses quality fails.
FLOORS = {"supplier": (0.72, 0.42), "recipient": (0.70, 0.47), "status": (0.77, 0.38)}


@dataclass
class Score:
    """Precision and recall of one part of the details over labelled documents."""

    tp: int = 0
    predicted: int = 0
    gold: int = 0

    @property
    def precision(self) -> float:
        return self.tp / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.tp / self.gold if self.gold else 1.0


def same(gold: str | None, party: str | None, name: str | None) -> bool:
    """Labels name groups in plain words ("Houthis"): a party matches by id or name."""
    if gold is None or party is None:
        return False
    return gold.casefold() in {party.casefold(), (name or "").casefold()}


def score_document(
    details: Sequence[ArmsTransferDetail], gold: ArmsTransferGold, scores: dict[str, Score]
) -> None:
    """Each distinct supplier (recipient) said counts once; the status is the one of the
    detail that best matches the labelled pair."""
    for part, label in (("supplier", gold.supplier), ("recipient", gold.recipient)):
        said = {(getattr(d, part), getattr(d, f"{part}_name")) for d in details if getattr(d, part)}
        scores[part].predicted += len(said)
        scores[part].gold += label is not None
        scores[part].tp += any(same(label, i, n) for i, n in said)

    def fit(d: ArmsTransferDetail) -> int:
        return same(gold.supplier, d.supplier, d.supplier_name) + same(
            gold.recipient, d.recipient, d.recipient_name
        )

    best = max(details, key=fit, default=None)
    status = best.status if best is not None and fit(best) else None
    scores["status"].predicted += status is not None
    scores["status"].gold += gold.status is not None
    scores["status"].tp += status is not None and status == gold.status


def test_development_set_precision_and_recall(enricher: Enricher) -> None:
    settings = get_settings()
    docs = [
        d
        for d in load_devset(settings.seeds_dir / DEVSET_DIRNAME, topic_ids(settings.seeds_dir))
        if d.arms_transfer is not None
    ]
    if len(docs) < MIN_LABELLED:
        pytest.skip(f"only {len(docs)} dev set lines carry an arms_transfer label")
    if any(d.corpus for d in docs) and not settings.corpus_dir.is_dir():
        docs = [d for d in docs if d.corpus is None]
    scores = {part: Score() for part in FLOORS}
    for doc in docs:
        given = document_input(doc, settings.corpus_dir)
        result = enricher.enrich(given.text, title=given.title, html_lang=given.html_lang)
        check_offsets(given.text, result.arms_transfers)
        assert doc.arms_transfer is not None
        score_document(result.arms_transfers, doc.arms_transfer, scores)
    report = ", ".join(
        f"{part} P={s.precision:.2f} R={s.recall:.2f} ({s.tp}/{s.predicted}/{s.gold})"
        for part, s in scores.items()
    )
    print(f"arms-transfer details on {len(docs)} labelled documents: {report}")
    for part, (precision, recall) in FLOORS.items():
        assert scores[part].precision >= precision, report
        assert scores[part].recall >= recall, report
