from pathlib import Path

import pytest

from workers.errors import ConfigurationError
from workers.registry.sources import feed_id_for, load_feed_file, to_opml


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_list_loads_and_derives_missing_ids(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "feeds.yaml",
        """
version: 1
feeds:
  - id: le-monde
    title: Le Monde
    url: https://www.lemonde.fr/rss/une.xml
    language: fr
    country: FR
    tags: [World, general, world]
  - title: No id given
    url: https://example.org/feed.xml
""",
    )
    feeds = load_feed_file(path)
    assert [f.id for f in feeds] == ["le-monde", feed_id_for("https://example.org/feed.xml")]
    assert feeds[0].tags == ["general", "world"]
    assert feeds[1].id.startswith("example-org-")


def test_invalid_entry_names_file_and_entry(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", "feeds:\n  - id: ok\n    title: T\n    url: ftp://x.org/f\n")
    with pytest.raises(ConfigurationError, match=r"bad\.yaml: feed #1 \(ok\)"):
        load_feed_file(path)


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    row = "  - id: same\n    title: T\n    url: https://a.org/{}\n"
    path = write(tmp_path, "dup.yaml", "feeds:\n" + row.format(1) + row.format(2))
    with pytest.raises(ConfigurationError, match="duplicate id 'same'"):
        load_feed_file(path)


def test_opml_round_trip(tmp_path: Path) -> None:
    source = write(
        tmp_path,
        "feeds.yaml",
        "feeds:\n  - id: a\n    title: A & B\n    url: https://a.org/rss\n    language: de\n"
        "    country: DE\n    tags: [world, sanctions]\n    poll_interval_seconds: 600\n"
        "  - id: paused-one\n    title: 'Quotes \"and\" <tags>'\n    url: https://b.org/feed?x=1&y=2\n"
        "    enabled: false\n",
    )
    feeds = load_feed_file(source)
    opml = write(tmp_path, "export.opml", to_opml(feeds))
    # Every field comes back, ids included: importing an export adds no copies.
    assert load_feed_file(opml) == feeds


def test_opml_from_another_reader(tmp_path: Path) -> None:
    """Folders, a feed filed twice, outlines without xmlUrl: what feed readers export."""
    opml = write(
        tmp_path,
        "reader.opml",
        """<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0"><head><title>My subscriptions</title></head><body>
  <outline text="World" title="World">
    <outline type="rss" text="Le Monde" xmlUrl="https://www.lemonde.fr/rss/une.xml"
             htmlUrl="https://www.lemonde.fr/" language="fr-FR" category="/news/world"/>
    <outline text="A bookmark, no feed" htmlUrl="https://example.org/"/>
  </outline>
  <outline text="Europe">
    <outline type="rss" text="Le Monde again" xmlUrl="https://www.lemonde.fr/rss/une.xml"
             category="europe"/>
    <outline type="rss" title="Tagesschau" text="ignored" xmlUrl="https://www.tagesschau.de/xml/rss2"/>
  </outline>
</body></opml>""",
    )
    feeds = load_feed_file(opml)
    assert [(f.id, f.title, f.language, f.tags) for f in feeds] == [
        (feed_id_for("https://www.lemonde.fr/rss/une.xml"), "Le Monde", "fr",
         ["europe", "news", "world"]),
        (feed_id_for("https://www.tagesschau.de/xml/rss2"), "Tagesschau", None, []),
    ]  # fmt: skip


def test_opml_with_entity_declarations_is_refused(tmp_path: Path) -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        '<opml version="2.0"><body><outline text="&b;" xmlUrl="https://x.org/f"/></body></opml>'
    )
    with pytest.raises(ConfigurationError, match="entity declarations"):
        load_feed_file(write(tmp_path, "bomb.opml", bomb))
