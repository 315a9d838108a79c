"""Language identification and its reconciliation with declared languages."""

from __future__ import annotations

import html
import json
import re

import pytest

from workers.enrichment.language import (
    CONFIDENT,
    PRIOR,
    SUPPORTED,
    LanguageDetector,
    normalise_tag,
)
from workers.settings import get_settings

# News-style paragraphs of 300+ characters, one per supported language.
NEWS = {
    "en": (
        "The government announced on Tuesday that it would extend the emergency measures for "
        "another three months, citing the continuing pressure on hospitals and the slow pace of "
        "the vaccination campaign in rural areas. Opposition leaders criticised the decision, "
        "saying that businesses had not been consulted and that the compensation scheme was still "
        "not working properly."
    ),
    "fr": (
        "Le gouvernement a annoncé mardi la prolongation des mesures d'urgence pour trois mois "
        "supplémentaires, invoquant la pression persistante sur les hôpitaux et la lenteur de la "
        "campagne de vaccination dans les zones rurales. Les dirigeants de l'opposition ont "
        "critiqué cette décision, estimant que les entreprises n'avaient pas été consultées."
    ),
    "de": (
        "Die Bundesregierung hat am Dienstag angekündigt, die Notmaßnahmen um weitere drei Monate "
        "zu verlängern. Sie verwies auf die anhaltende Belastung der Krankenhäuser und das "
        "langsame Tempo der Impfkampagne in ländlichen Regionen. Die Opposition kritisierte die "
        "Entscheidung scharf und erklärte, die Unternehmen seien nicht angehört worden."
    ),
    "es": (
        "El Gobierno anunció el martes que prorrogará las medidas de emergencia durante otros "
        "tres meses, debido a la presión constante sobre los hospitales y al lento avance de la "
        "campaña de vacunación en las zonas rurales. Los líderes de la oposición criticaron la "
        "decisión y afirmaron que las empresas no habían sido consultadas."
    ),
    "it": (
        "Il governo ha annunciato martedì che prorogherà le misure di emergenza per altri tre "
        "mesi, citando la pressione continua sugli ospedali e il lento avanzamento della campagna "
        "di vaccinazione nelle zone rurali. I leader dell'opposizione hanno criticato la "
        "decisione, sostenendo che le imprese non erano state consultate."
    ),
    "pt": (
        "O governo anunciou na terça-feira que vai prorrogar as medidas de emergência por mais "
        "três meses, citando a pressão contínua sobre os hospitais e o ritmo lento da campanha de "
        "vacinação nas zonas rurais. Os líderes da oposição criticaram a decisão, afirmando que "
        "as empresas não tinham sido consultadas."
    ),
    "ru": (
        "Правительство во вторник объявило о продлении чрезвычайных мер ещё на три месяца, "
        "сославшись на сохраняющуюся нагрузку на больницы и медленные темпы вакцинации в сельской "
        "местности. Лидеры оппозиции раскритиковали это решение, заявив, что с представителями "
        "бизнеса никто не консультировался, а компенсации до сих пор не выплачены."
    ),
    "uk": (
        "Уряд у вівторок оголосив про продовження надзвичайних заходів ще на три місяці, "
        "пославшись на постійне навантаження на лікарні та повільні темпи вакцинації в сільській "
        "місцевості. Лідери опозиції розкритикували це рішення, заявивши, що з представниками "
        "бізнесу ніхто не радився, а компенсації досі не виплачено."
    ),
    "pl": (
        "Rząd ogłosił we wtorek, że przedłuży środki nadzwyczajne o kolejne trzy miesiące, "
        "powołując się na utrzymującą się presję na szpitale i powolne tempo kampanii szczepień "
        "na obszarach wiejskich. Liderzy opozycji skrytykowali tę decyzję, twierdząc, że "
        "przedsiębiorcy nie zostali w ogóle skonsultowani, a rekompensaty wciąż nie zostały "
        "wypłacone."
    ),
    "tr": (
        "Hükümet salı günü yaptığı açıklamada, hastaneler üzerindeki süren baskıyı ve kırsal "
        "bölgelerdeki aşı kampanyasının yavaş ilerleyişini gerekçe göstererek olağanüstü "
        "tedbirleri üç ay daha uzatacağını duyurdu. Muhalefet liderleri, iş dünyasına "
        "danışılmadığını söyleyerek kararı eleştirdi ve tazminat planının hâlâ işlemediğini "
        "belirtti."
    ),
    "ar": (
        "أعلنت الحكومة يوم الثلاثاء أنها ستمدد إجراءات الطوارئ لمدة ثلاثة أشهر أخرى، مشيرة إلى "
        "الضغط المستمر على المستشفيات وبطء وتيرة حملة التطعيم في المناطق الريفية. وانتقد قادة "
        "المعارضة هذا القرار، وقالوا إن الشركات لم تتم استشارتها وإن خطة التعويضات لا تعمل بشكل "
        "صحيح حتى الآن، مطالبين بتعويضات عاجلة للمتضررين."
    ),
    "zh": (
        "政府周二宣布，由于医院持续承受压力以及农村地区疫苗接种进度缓慢，紧急措施将再延长三个月。"
        "反对派领导人批评了这一决定，称政府事先没有征求企业的意见，而且补偿计划至今仍未正常运作。"
        "分析人士指出，这一决定可能会对经济复苏产生影响，尤其是服务业和小型企业将面临更大的困难。"
    ),
    "ja": (
        "政府は火曜日、病院への負担が続いていることや、地方でのワクチン接種の遅れを理由に、緊急措置をさらに三か月延長すると発表した。"
        "野党の指導者らは、企業への事前の相談がなかったとして決定を批判し、補償制度も依然として十分に機能していないと指摘した。"
    ),
    "ko": (
        "정부는 화요일 병원에 대한 부담이 계속되고 농촌 지역의 백신 접종 속도가 느리다는 이유로 "
        "비상 조치를 석 달 더 연장한다고 발표했다. 야당 지도자들은 기업들과 사전에 협의하지 "
        "않았으며 보상 제도도 여전히 제대로 작동하지 않는다며 이 결정을 비판했다."
    ),
}


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector()


def test_every_supported_language_has_a_sample() -> None:
    assert set(NEWS) == set(SUPPORTED)
    cjk = {"zh", "ja", "ko"}  # 300+ bytes there: a character carries a word's worth of text
    assert all(len(NEWS[lang]) >= 300 for lang in set(NEWS) - cjk)
    assert all(len(NEWS[lang].encode()) >= 300 for lang in cjk)


@pytest.mark.parametrize("lang", sorted(NEWS))
def test_news_paragraph_is_identified_confidently(detector: LanguageDetector, lang: str) -> None:
    info = detector.detect(NEWS[lang])
    assert info.code == lang
    assert info.detected == lang
    assert info.source == "text"
    assert CONFIDENT <= info.confidence <= 1.0


def test_declared_language_that_agrees_raises_confidence(detector: LanguageDetector) -> None:
    alone = detector.detect(NEWS["de"][:120])
    agreed = detector.detect(NEWS["de"][:120], html_lang="de-AT")
    assert agreed.code == "de"
    assert agreed.source == "text+html"
    assert agreed.html_lang == "de-AT"
    assert agreed.confidence >= alone.confidence


def test_confident_text_wins_over_a_wrong_declaration(detector: LanguageDetector) -> None:
    info = detector.detect(NEWS["fr"], html_lang="en", feed_lang="en-US")
    assert info.code == "fr"
    assert info.source == "text"
    assert info.feed_lang == "en-US"


def test_declared_language_wins_on_ambiguous_short_text(detector: LanguageDetector) -> None:
    # Short Portuguese/Spanish-looking text: the declaration settles it when plausible.
    text = "Presidente diz que a economia vai crescer"
    ranking = dict(detector.rank(text))
    assert ranking.get("pt", 0) >= 0.05
    info = detector.detect(text, feed_lang="pt-BR")
    assert info.code == "pt"
    assert info.source in ("text+feed", "text")


def test_too_little_text_falls_back_to_html_then_feed(detector: LanguageDetector) -> None:
    assert detector.detect("", html_lang="it").code == "it"
    assert detector.detect("", html_lang="it").source == "html"
    assert detector.detect("", html_lang="it").confidence == PRIOR["html"]
    info = detector.detect("12 34", feed_lang="sv-SE")
    assert (info.code, info.source) == ("sv", "feed")
    none = detector.detect("  ")
    assert (none.code, none.source, none.confidence) == (None, "default", 0.0)


def test_title_helps_a_short_body(detector: LanguageDetector) -> None:
    info = detector.detect(
        "OK.", title="Le gouvernement prolonge les mesures d'urgence pour trois mois"
    )
    assert info.code == "fr"


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("fr-FR", "fr"),
        ("EN_us", "en"),
        ("zh-Hans-CN", "zh"),
        ("jp", "ja"),
        ("ua", "uk"),
        ("iw", "he"),
        ("", None),
        (None, None),
        ("x-klingon-1", None),
        ("123", None),
    ],
)
def test_normalise_tag(tag: str | None, expected: str | None) -> None:
    assert normalise_tag(tag) == expected


def test_cjk_languages_are_told_apart_by_script(detector: LanguageDetector) -> None:
    # Kanji-heavy Japanese: the kana decide, whatever the n-gram model prefers.
    kanji_heavy = (
        "日本政府は北朝鮮の弾道ミサイル発射を強く非難し、国連安全保障理事会の緊急会合を要請した。"
    )
    assert detector.detect(kanji_heavy).code == "ja"
    chinese = "日本政府强烈谴责朝鲜发射弹道导弹，并要求联合国安理会召开紧急会议。"
    assert detector.detect(chinese).code == "zh"
    korean = "일본 정부는 북한의 탄도미사일 발사를 강하게 비난하고 유엔 안보리 긴급회의를 요청했다."
    assert detector.detect(korean).code == "ko"


# The corpus index gives a page's site language; these texts are in another one.
MISLABELLED = {"yna_co_kr.txt"}  # Yonhap's English service: the article is in English


def _corpus_texts() -> list[tuple[str, str, str]]:
    """(name, language, text) from the corpus' expected article texts, 300+ characters."""
    root = get_settings().corpus_dir / "html"
    out: list[tuple[str, str, str]] = []
    index = root / "newspaper4k" / "index.json"
    if index.is_file():
        for item in json.loads(index.read_text(encoding="utf-8")):
            path = root / "newspaper4k" / item["expected_text"]
            out.append((path.name, str(item["language"]), path.read_text(encoding="utf-8")))
    for folder in sorted((root / "readability").glob("*/")):
        meta = folder / "expected-metadata.json"
        if meta.is_file() and json.loads(meta.read_text(encoding="utf-8")).get("lang"):
            lang = str(json.loads(meta.read_text(encoding="utf-8"))["lang"])
            body = re.sub(r"<[^>]+>", " ", (folder / "expected.html").read_text(encoding="utf-8"))
            out.append((folder.name, lang, html.unescape(body)))
    return [
        (name, normalise_tag(lang) or "", text)
        for name, lang, text in out
        if normalise_tag(lang) in SUPPORTED and len(text.strip()) >= 300 and name not in MISLABELLED
    ]


@pytest.mark.corpus
def test_accuracy_on_real_news_text(detector: LanguageDetector) -> None:
    if not get_settings().corpus_dir.is_dir():
        pytest.skip(f"corpus not found at {get_settings().corpus_dir} (set NEWSWIRE_CORPUS)")
    texts = _corpus_texts()
    assert len(texts) >= 30, "expected the newspaper4k and readability texts"
    wrong = [(name, lang, detector.detect(text).code) for name, lang, text in texts]
    wrong = [w for w in wrong if w[1] != w[2]]
    accuracy = 1 - len(wrong) / len(texts)
    assert accuracy >= 0.98, f"accuracy {accuracy:.3f} on {len(texts)} texts; wrong: {wrong}"


def test_layout_before_the_text_is_skipped(detector: LanguageDetector) -> None:
    # Extracted pages often open with blank lines and a photo credit.
    text = "\n     " * 80 + "Photo\n   Credit  Harry Campbell\n" + NEWS["en"]
    info = detector.detect(text)
    assert (info.code, info.source) == ("en", "text")
