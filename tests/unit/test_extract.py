"""extract_article on pages built here and on the French sample of seeds/."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from workers.errors import ExtractionError
from workers.processing.extract import (
    EXTRACTOR_CONFIG,
    EXTRACTOR_NAME,
    MAX_INPUT_ELEMENTS,
    MIN_TEXT_CHARS,
    extract_article,
    normalise_language,
    parse_date,
    split_authors,
)
from workers.settings import get_settings

URL = "https://news.example.com/world/2023/09/12/kim-putin-summit"
PARAGRAPHS = [
    "North Korean leader Kim Jong Un arrived in Russia on Tuesday for a summit with President "
    "Vladimir Putin, officials in both countries said, as Moscow seeks to replenish stocks of "
    "artillery shells depleted by its war in Ukraine.",
    "The two leaders are expected to discuss arms sales, food aid and the transfer of satellite "
    "technology, according to analysts in Seoul and Washington who have followed the "
    "preparations for several weeks.",
    "American officials warned last week that any deal supplying weapons to Russia would violate "
    "United Nations Security Council resolutions and would be met with further sanctions.",
    "Pyongyang has not confirmed the agenda of the meeting. State media described the visit as a "
    "sign of the strategic and tactical cooperation between the two neighbours.",
]
NAVIGATION = ["World news section", "Sport and football results", "Subscribe to our newsletter"]
SIDEBAR = ["Celebrity chef opens new restaurant in a Paris suburb", "Ten tips for better sleep"]
FOOTER = ["Copyright 2023 Example News Ltd. All rights reserved.", "Privacy policy"]


def links(texts: list[str]) -> str:
    return "".join(f'<li><a href="/{i}">{text}</a></li>' for i, text in enumerate(texts))


def news_page(
    paragraphs: list[str],
    *,
    head: str = "",
    lang: str = ' lang="en-GB"',
    authors: str = "Jane Doe; John Smith",
) -> str:
    body = "".join(f"<p>{html.escape(text)}</p>" for text in paragraphs)
    return f"""<!DOCTYPE html>
<html{lang}><head>
<meta charset="utf-8">
<title>Kim arrives in Russia for arms talks | Example News</title>
<meta property="og:title" content="Kim arrives in Russia for arms talks">
<meta name="description" content="The North Korean leader is expected to discuss weapons.">
<meta name="author" content="{authors}">
{head}
</head><body>
<header><nav><ul>{links(NAVIGATION)}</ul></nav></header>
<main><article><h1>Kim arrives in Russia for arms talks</h1>{body}</article></main>
<aside><h2>Most read</h2><ul>{links(SIDEBAR)}</ul></aside>
<footer><p>{FOOTER[0]}</p><p><a href="/privacy">{FOOTER[1]}</a></p></footer>
</body></html>"""


PUBLISHED = '<meta property="article:published_time" content="2023-09-12T08:30:00+09:00">'


def test_article_text_without_boilerplate() -> None:
    article = extract_article(news_page(PARAGRAPHS, head=PUBLISHED), URL)
    for paragraph in PARAGRAPHS:
        assert paragraph in article.text
    for boilerplate in NAVIGATION + SIDEBAR + FOOTER:
        assert boilerplate not in article.text
    assert article.extract_ms > 0


def test_metadata() -> None:
    article = extract_article(news_page(PARAGRAPHS, head=PUBLISHED), URL)
    assert article.title == "Kim arrives in Russia for arms talks"
    assert article.authors == ["Jane Doe", "John Smith"]
    assert article.published_at == datetime(2023, 9, 12, 8, 30, tzinfo=timezone(timedelta(hours=9)))
    assert article.html_lang == "en"
    assert article.description == "The North Korean leader is expected to discuss weapons."


def test_date_without_zone_is_utc() -> None:
    head = '<meta property="article:published_time" content="2023-09-12T08:30:00">'
    article = extract_article(news_page(PARAGRAPHS, head=head), URL)
    assert article.published_at == datetime(2023, 9, 12, 8, 30, tzinfo=UTC)


def test_language_from_og_locale_when_html_has_none() -> None:
    head = '<meta property="og:locale" content="de_DE">'
    article = extract_article(news_page(PARAGRAPHS, head=head, lang=""), URL)
    assert article.html_lang == "de"


def test_language_from_content_language_meta() -> None:
    head = '<meta http-equiv="Content-Language" content="pt-BR, en">'
    article = extract_article(news_page(PARAGRAPHS, head=head, lang=' lang="x-default"'), URL)
    assert article.html_lang == "pt"


def test_page_without_language_or_date() -> None:
    article = extract_article(news_page(PARAGRAPHS, lang="", authors=""), None)
    assert article.html_lang is None
    assert article.authors == []
    assert article.published_at is None or article.published_at.tzinfo is not None


@pytest.mark.parametrize(
    ("tag", "code"),
    [
        ("en-US", "en"),
        ("fr_FR", "fr"),
        ("ZH-Hans-CN", "zh"),
        ("deu", "de"),
        ("fre", "fr"),
        ("iw", "he"),
        ("x-default", None),
        ("zxx", None),
        ("", None),
        ("english", None),
    ],
)
def test_normalise_language(tag: str, code: str | None) -> None:
    assert normalise_language(tag) == code


@pytest.mark.parametrize(
    ("joined", "names"),
    [
        ("Jane Doe; John Smith", ["Jane Doe", "John Smith"]),
        ("Jane Doe", ["Jane Doe"]),
        (" Jane Doe ;; Jane Doe; ", ["Jane Doe"]),
        (None, []),
        ("", []),
    ],
)
def test_split_authors(joined: str | None, names: list[str]) -> None:
    assert split_authors(joined) == names


def test_parse_date_forms() -> None:
    assert parse_date("2024-02-29") == datetime(2024, 2, 29, tzinfo=UTC)
    assert parse_date("2024-02-29T23:00:00+0100") == datetime(2024, 2, 29, 22, tzinfo=UTC)
    assert parse_date("not a date") is None
    assert parse_date(None) is None


HEADING = "<h1>Kim arrives in Russia for arms talks</h1>"


def test_boilerplate_only_page_is_refused() -> None:
    page = news_page([], lang="").replace(HEADING, "")
    with pytest.raises(ExtractionError) as caught:
        extract_article(page, URL)
    assert caught.value.reason == "no_text"
    assert URL in str(caught.value)


def test_empty_page_is_refused() -> None:
    with pytest.raises(ExtractionError) as caught:
        extract_article("<html><body></body></html>", None)
    assert caught.value.reason == "no_text"


def test_text_shorter_than_an_article_is_refused() -> None:
    teaser = "Read the full story in our app."
    assert len(teaser) < MIN_TEXT_CHARS
    page = f"<html><body><article><p>{teaser}</p></article></body></html>"
    with pytest.raises(ExtractionError, match="characters of text"):
        extract_article(page, URL)


def test_page_with_too_many_elements_is_refused_before_extraction() -> None:
    cells = "<span>x</span>" * MAX_INPUT_ELEMENTS
    page = news_page(PARAGRAPHS).replace("</main>", f"</main><div>{cells}</div>")
    with pytest.raises(ExtractionError, match="elements") as caught:
        extract_article(page, URL)
    assert caught.value.reason == "too_complex"


def test_extractor_name_and_config_are_explicit() -> None:
    assert re.fullmatch(r"trafilatura \d+\.\d+\.\d+", EXTRACTOR_NAME)
    assert not EXTRACTOR_CONFIG.include_comments  # reader comments are not the article


# --- the French sample of seeds/ ----------------------------------------------------------

FRENCH_SAMPLE = get_settings().seeds_dir / "kim-putin-arms-fr.txt"


def test_french_sample_wrapped_in_html() -> None:
    if not FRENCH_SAMPLE.is_file():
        pytest.fail(f"seed file missing: {FRENCH_SAMPLE}")
    paragraphs = [p.strip() for p in FRENCH_SAMPLE.read_text(encoding="utf-8").split("\n\n")]
    paragraphs = [p for p in paragraphs if p]
    article = extract_article(news_page(paragraphs, lang=' lang="fr"'), URL)
    key_sentences = [
        "Kim a été invité par Poutine à arriver dans les prochains jours, selon l’agence de "
        "presse russe Tass et les médias d’État nord-coréens.",
        "Kim demandera probablement une aide alimentaire et des technologies d’armement en "
        "échange de la fourniture à la Russie de munitions de conception soviétique",
    ]
    for sentence in key_sentences:
        assert sentence in article.text
    assert paragraphs[0][:80] in article.text
    assert paragraphs[-1][-80:] in article.text
    assert article.html_lang == "fr"
