"""Language identification and its reconciliation with declared languages."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Iterator
from itertools import chain
from pathlib import Path

import pytest

from workers.enrichment.language import (
    CONFIDENT,
    DETECTOR_LANGUAGES,
    PRIOR,
    SUPPORTED,
    LanguageDetector,
    normalise_tag,
)
from workers.errors import FeedParseError
from workers.polling.adapter import parse_feed
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


# -- accuracy on labelled real text ----------------------------------------------------------

# Alphabetic scripts: 300+ characters, as the bar says. Chinese, Japanese and Korean carry
# about a word per character, so 100 of them say as much (the dev set's zh/ja texts are
# 150-400 characters long).
MIN_CHARS = 300
MIN_CJK_CHARS = 100
_CJK = {"zh", "ja", "ko"}

# Labels checked by hand and found wrong: the index gives the site's language, the text
# is in another one (or unreadable).
MISLABELLED = {
    "yna_co_kr.txt": "Yonhap's English service: the article is in English",
    "Rss20YandexRussia.xml": "UTF-8 stored as CP1252 mojibake: no language is left to read",
    "Rss20ISO88591Intranet30.xml": "a German feed that carries Swedish items",
}
# Items of Brasil de Fato's Portuguese feed written in English (titles checked by hand).
ENGLISH_IN_PORTUGUESE_FEED = ("'The population don't", "Roger Waters declares", "Largest GDP in")


def _long_enough(lang: str, text: str) -> bool:
    return len(text.strip()) >= (MIN_CJK_CHARS if lang in _CJK else MIN_CHARS)


def _plain(markup: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def _article_texts(root: Path) -> Iterator[tuple[str, str, str]]:
    """Expected article texts of newspaper4k and Readability, with the index's language."""
    index = root / "html" / "newspaper4k" / "index.json"
    if index.is_file():
        for item in json.loads(index.read_text(encoding="utf-8")):
            path = root / "html" / "newspaper4k" / item["expected_text"]
            yield (
                f"newspaper4k/{path.name}",
                str(item["language"]),
                path.read_text(encoding="utf-8"),
            )
    for folder in sorted((root / "html" / "readability").glob("*/")):
        meta = folder / "expected-metadata.json"
        lang = json.loads(meta.read_text(encoding="utf-8")).get("lang") if meta.is_file() else None
        if lang:
            body = (folder / "expected.html").read_text(encoding="utf-8")
            yield f"readability/{folder.name}", str(lang), _plain(body)


def _feed_texts(root: Path) -> Iterator[tuple[str, str, str]]:
    """Item texts (title and summary) of the news feeds, with the language read off them."""
    index = root / "feeds" / "news" / "index.json"
    if not index.is_file():
        return
    for feed in json.loads(index.read_text(encoding="utf-8"))["feeds"]:
        if not feed.get("language_text") or Path(feed["file"]).name in MISLABELLED:
            continue
        try:
            parsed = parse_feed((root / "feeds" / "news" / feed["file"]).read_bytes())
        except FeedParseError:
            continue
        for number, item in enumerate(parsed.items):
            text = f"{item.title or ''}\n{_plain(item.summary_html or '')}"
            if not text.startswith(ENGLISH_IN_PORTUGUESE_FEED):
                yield f"{feed['file']}#{number}", str(feed["language_text"]), text


def _devset_texts() -> Iterator[tuple[str, str, str]]:
    """The development set's own texts (seeds/devset/, written in each language)."""
    for path in sorted((get_settings().seeds_dir / "devset").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            item = json.loads(line) if line.strip() else {}
            if item.get("text"):
                yield (
                    f"devset/{item['id']}",
                    str(item["lang"]),
                    f"{item.get('title', '')}\n{item['text']}",
                )


def _labelled(
    sources: Iterable[tuple[str, str, str]],
) -> list[tuple[str, str, str]]:
    out = []
    for name, tag, text in sources:
        lang = normalise_tag(tag) or ""
        if lang in SUPPORTED and _long_enough(lang, text) and Path(name).name not in MISLABELLED:
            out.append((name, lang, text))
    return out


def _accuracy_report(
    detector: LanguageDetector, texts: list[tuple[str, str, str]]
) -> tuple[float, dict[str, tuple[int, int]], list[tuple[str, str, str | None]]]:
    """Overall accuracy, (right, total) per language, and the misses."""
    per_lang: dict[str, list[int]] = {}
    wrong = []
    for name, lang, text in texts:
        got = detector.detect(text).code
        tally = per_lang.setdefault(lang, [0, 0])
        tally[0] += got == lang
        tally[1] += 1
        if got != lang:
            wrong.append((name, lang, got))
    accuracy = 1 - len(wrong) / max(len(texts), 1)
    return accuracy, {k: (v[0], v[1]) for k, v in sorted(per_lang.items())}, wrong


@pytest.mark.corpus
def test_accuracy_on_real_news_text(detector: LanguageDetector) -> None:
    """Expected article texts and news-feed items of the corpus (about 550 texts)."""
    root = get_settings().corpus_dir
    if not root.is_dir():
        pytest.skip(f"corpus not found at {root} (set NEWSWIRE_CORPUS)")
    texts = _labelled(chain(_article_texts(root), _feed_texts(root)))
    assert len(texts) >= 400, f"expected the corpus' article and feed texts, found {len(texts)}"
    accuracy, per_lang, wrong = _accuracy_report(detector, texts)
    assert accuracy >= 0.99, f"accuracy {accuracy:.4f} on {len(texts)} texts {per_lang}: {wrong}"


def test_accuracy_on_the_devset(detector: LanguageDetector) -> None:
    """Every language of the 14 on the dev set's texts, each language on its own."""
    texts = _labelled(_devset_texts())
    if len({lang for _, lang, _ in texts}) < len(SUPPORTED):
        pytest.skip("seeds/devset/ does not cover the 14 languages yet")
    accuracy, per_lang, wrong = _accuracy_report(detector, texts)
    assert accuracy >= 0.98, f"accuracy {accuracy:.4f} {per_lang}: {wrong}"
    assert all(right >= 0.95 * total for right, total in per_lang.values()), (per_lang, wrong)


def test_layout_before_the_text_is_skipped(detector: LanguageDetector) -> None:
    # Extracted pages often open with blank lines and a photo credit.
    text = "\n     " * 80 + "Photo\n   Credit  Harry Campbell\n" + NEWS["en"]
    info = detector.detect(text)
    assert (info.code, info.source) == ("en", "text")


# -- the fast scorer, and the hard pairs ----------------------------------------------------


def test_scores_are_exactly_py3langids(detector: LanguageDetector) -> None:
    """The detector's own walk and scoring give py3langid's probabilities, bit for bit."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    reference = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    reference.set_languages(list(DETECTOR_LANGUAGES))
    samples = ["", "a", "OK.", "12 34", "ÉTAT D'URGENCE", "日本", *NEWS.values()]
    samples += [text[:cut] for text in NEWS.values() for cut in (20, 160, 800)]
    for sample in samples:
        assert detector.rank(sample) == reference.rank(sample), sample


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        # kanji-heavy Japanese headlines: few kana, but the particles で and へ
        ("ja", "日米首脳会談、防衛協力強化で一致　共同声明発表へ　安保理決議履行確認"),
        ("ja", "政府、北朝鮮の弾道弾発射に厳重抗議　国連安保理緊急会合を要請"),
        # Chinese naming a Japanese film or brand: a little kana, still Chinese
        (
            "zh",
            "日本动画电影《君の名は。》周五在北京上映，首日票房超过一亿元，多家影院增加了场次。",
        ),
        ("zh", "索尼（ソニー）公司周二宣布，将在东京举行新产品发布会，展示多款新型游戏机和相机。"),
        ("uk", "Президент України провів зустріч із прем'єр-міністром Польщі у Києві."),
        ("ru", "Президент России провёл встречу с премьер-министром Польши в Москве."),
        ("pt", "O ministro da Defesa anunciou novas sanções contra o regime."),
        ("es", "El ministro de Defensa anunció nuevas sanciones contra el régimen."),
        ("ar", "أعلنت وزارة الخارجية أن الولايات المتحدة ستفرض عقوبات جديدة على كوريا الشمالية."),
    ],
)
def test_close_languages_on_short_text(detector: LanguageDetector, lang: str, text: str) -> None:
    assert detector.detect(text).code == lang


def test_persian_is_not_taken_for_arabic(detector: LanguageDetector) -> None:
    text = (
        "وزارت امور خارجه اعلام کرد که ایالات متحده تحریم‌های جدیدی علیه کره شمالی اعمال خواهد کرد."
    )
    assert detector.detect(text).code == "fa"
    # ... unless the page says it is Arabic and the text leaves room for doubt: it does not
    assert detector.detect(text, html_lang="ar").code == "fa"
