import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas import FeedRef
from workers.errors import FeedParseError
from workers.polling.adapter import MAX_XML_DEPTH, parse_feed, refuse_deep_nesting, to_entries

NOW = datetime(2026, 1, 1, tzinfo=UTC)
REF = FeedRef(id="test", url="https://example.org/feed", title="Test")

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>World news</title><language>fr-FR</language><ttl>30</ttl>
<item><title>Kim en Russie</title><link>https://example.org/a?utm_source=rss</link>
<guid>a-1</guid><pubDate>Mon, 11 Sep 2023 08:00:00 +0200</pubDate>
<author>redaction@example.org (Jean Dupont)</author>
<description>&lt;p&gt;Le dirigeant &lt;b&gt;nord-cor\xc3\xa9en&lt;/b&gt; est parti.&lt;/p&gt;
</description></item>
<item><title>Same article, other tracking tail</title><link>https://example.org/a?utm_medium=x</link></item>
<item><title>No link at all</title></item>
<item><title>Hostile link</title><link>file:///etc/passwd</link></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom news</title>
<entry><title>Sanctions</title><link href="https://example.org/b"/><id>urn:b</id>
<updated>2024-02-03T10:00:00Z</updated><author><name>Ann</name></author><author><name>Bo</name></author>
<summary>EU adopts sanctions.</summary></entry></feed>"""


def test_rss_items_become_typed_entries() -> None:
    parsed = parse_feed(RSS, "application/rss+xml")
    assert parsed.format == "rss20"
    assert parsed.title == "World news"
    assert parsed.language == "fr"
    assert parsed.ttl_minutes == 30
    entries, problems = to_entries(parsed, REF, feed_language=None, now=NOW)
    # The two links differing only by tracking parameters are one document.
    assert len(entries) == 1
    entry = entries[0]
    assert entry.canonical_url == "https://example.org/a"
    assert entry.guid == "a-1"
    assert entry.summary == "Le dirigeant nord-coréen est parti."
    assert entry.published_at == datetime(2023, 9, 11, 6, 0, tzinfo=UTC)
    assert entry.language == "fr"
    assert entry.authors
    assert len(problems) == 2
    assert any(p.error.reason == "no_link" and "no link" in p.text for p in problems)
    assert any(p.error.reason == "scheme" for p in problems)


def test_atom_entry_keeps_all_authors_and_dates() -> None:
    entries, _ = to_entries(parse_feed(ATOM), REF, feed_language="en", now=NOW)
    assert entries[0].authors == ["Ann", "Bo"]
    assert entries[0].updated_at == datetime(2024, 2, 3, 10, tzinfo=UTC)
    assert entries[0].language == "en"


def test_json_feed() -> None:
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "JSON news",
            "language": "de",
            "items": [
                {
                    "id": 7,
                    "url": "https://example.org/c",
                    "title": "Waffenlieferung",
                    "content_html": "<p>Die Regierung genehmigt <i>Exporte</i>.</p>",
                    "date_published": "2024-05-01T12:00:00+02:00",
                    "authors": [{"name": "Kai"}],
                }
            ],
        }
    ).encode()
    parsed = parse_feed(body, "application/feed+json")
    assert parsed.format == "json11"
    entries, _ = to_entries(parsed, REF, feed_language=None, now=NOW)
    assert entries[0].guid == "7"
    assert entries[0].summary == "Die Regierung genehmigt Exporte."
    assert entries[0].language == "de"
    assert entries[0].published_at == datetime(2024, 5, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"<html><body><p>Just a web page</p></body></html>", "feed_parse"),
        (bytes(range(256)) * 8, "feed_parse"),
        (b'{"not": "a feed"}', "feed_parse"),
        (b"{broken json", "feed_parse"),
    ],
)
def test_non_feeds_raise_typed_errors(body: bytes, reason: str) -> None:
    with pytest.raises(FeedParseError) as caught:
        parse_feed(body, None)
    assert caught.value.reason == reason


def test_external_entities_are_not_resolved(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<rss version="2.0"><channel><title>t</title><item><title>&x;</title>'
        "<link>https://example.org/x</link></item></channel></rss>"
    ).encode()
    parsed = parse_feed(body)
    assert all("TOPSECRET" not in (i.title or "") for i in parsed.items)


@pytest.mark.corpus
def test_every_corpus_feed_yields_entries_or_a_typed_error(corpus_dir: Path) -> None:
    files = sorted(p for p in (corpus_dir / "feeds").rglob("*") if p.suffix in {".xml", ".json"})
    assert len(files) > 1000
    outcomes = {"entries": 0, "empty": 0, "error": 0}
    for path in files:
        try:
            parsed = parse_feed(path.read_bytes())
        except FeedParseError:
            outcomes["error"] += 1
            continue
        entries, _ = to_entries(parsed, REF, feed_language=None, now=NOW)
        outcomes["entries" if entries else "empty"] += 1
    # feedparser's own suite is mostly link-less fragments; the real news feeds all have items.
    news = sorted((corpus_dir / "feeds" / "news").rglob("*.xml"))
    with_entries = sum(
        1
        for path in news
        if to_entries(parse_feed(path.read_bytes()), REF, feed_language=None, now=NOW)[0]
    )
    # Three have no item links at all (a spec sample, an empty Daily Mail feed, one charset test).
    assert with_entries >= len(news) - 3, (with_entries, len(news), outcomes)


# One real sample per wire format (read in place from the corpus): (file under
# feeds/, format feedparser names, items, first entry's title and URL).
REAL_FORMAT_SAMPLES = [
    ("feedparser/wellformed/rdf/rss090_item_title.xml", "rss090", 1, None, None),
    ("news/arminreiter-FeedReader/Rss091Stadtfeuerwehr.xml", "rss091u", 15,
     "[19.08.2018 - 07:08 Uhr] Brandmeldeanlagenalarm",
     "http://www.stadtfeuerwehr-weiz.at/einsaetze/einsatz-detail/5220/"),
    ("news/arminreiter-FeedReader/Rss091FullSample.xml", "rss091n", 1, "stuff", "http://bar"),
    ("news/rbren-rss-parser/heraldsun.rss", "rss092", 2, "The First Item",
     "http://www.oreilly.com/example/001.html"),
    ("news/arminreiter-FeedReader/Rss10OrfAt.xml", "rss10", 50,
     "US-Band New Edition mit Stern auf „Walk of Fame“ geehrt", "http://orf.at/stories/2376368/"),
    ("news/spacecowboy-Feeder/rdf_slashdot.xml", "rss10", 15,
     "Ransomware Attack Hampers Prescription Drug Sales at 90% of US Pharmacies",
     "https://yro.slashdot.org/story/24/03/02/071229/"
     "ransomware-attack-hampers-prescription-drug-sales-at-90-of-us-pharmacies"),
    ("news/arminreiter-FeedReader/Rss20Spiegel.xml", "rss20", 17,
     "Polizeieinsatz in Kölner Silvesternacht: Alles richtig gemacht. Alles?",
     "http://www.spiegel.de/panorama/justiz/silvester-in-koeln-was-wir-ueber-den-"
     "polizeieinsatz-wissen-und-welche-fragen-offen-sind-a-1128896.html"),
    ("news/arminreiter-FeedReader/AtomTheVerge.xml", "atom10", 10,
     "This is the new Hulu experience with live TV",
     "http://www.theverge.com/ces/2017/1/7/14195588/hulu-live-tv-streaming-internet-ces-2017"),
    ("feedparser/wellformed/atom/entry_link_href.xml", "atom03", 1, None,
     "http://www.example.com/"),
    ("feedparser/json/example.json", "json1", 2, "post 2", "https://example.org/second-item"),
]  # fmt: skip


@pytest.mark.corpus
@pytest.mark.parametrize("sample", REAL_FORMAT_SAMPLES, ids=[s[1] for s in REAL_FORMAT_SAMPLES])
def test_real_samples_of_every_wire_format(
    corpus_dir: Path, sample: tuple[str, str, int, str | None, str | None]
) -> None:
    """RSS 0.90, 0.91 (Netscape and UserLand), 0.92, 1.0 (RDF), 2.0, Atom 0.3 and 1.0,
    JSON Feed 1: detected as such, every item read, the first entry typed."""
    name, fmt, items, title, url = sample
    parsed = parse_feed((corpus_dir / "feeds" / name).read_bytes())
    assert parsed.format == fmt
    assert len(parsed.items) == items
    entries, _ = to_entries(parsed, REF, feed_language=None, now=NOW)
    if url is None:
        return
    assert entries, name
    first = entries[0]
    assert first.canonical_url == url
    if title is not None:
        assert first.title == title
    assert first.doc_id and first.feed == REF


@pytest.mark.corpus
def test_json_feed_sample_summaries_are_text_without_scripts(corpus_dir: Path) -> None:
    parsed = parse_feed(
        (corpus_dir / "feeds" / "feedparser" / "json" / "example.json").read_bytes()
    )
    entries, _ = to_entries(parsed, REF, feed_language=None, now=NOW)
    # The sample's second item is "<p>Hello, world!</p> <script>alert();</script>".
    assert [e.summary for e in entries] == ["This is a second item.", "Hello, world!"]
    assert entries[1].authors == ["you"]


def test_only_nesting_beyond_the_depth_limit_is_refused_before_parsing() -> None:
    deep = b"<rss>" + b"<x>" * MAX_XML_DEPTH + b"</x>" * MAX_XML_DEPTH + b"</rss>"
    with pytest.raises(FeedParseError, match="nested deeper than 256 levels"):
        refuse_deep_nesting(deep)
    # libxml2 reports an 11 MB text node with the same error type: no nesting, no refusal.
    refuse_deep_nesting(b"<rss><title>" + b"a" * (11 * 2**20) + b"</title></rss>")
    refuse_deep_nesting(b"<rss><channel><item><title>unclosed <b>tags</title></rss>")
    refuse_deep_nesting(b"<rss>" + b"<x>" * 200 + b"</x>" * 200 + b"</rss>")
