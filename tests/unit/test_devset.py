"""The development set reader: every line checked, every error naming its file and line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from workers.enrichment.taxonomy import load_taxonomy, topic_ids
from workers.errors import ConfigurationError
from workers.evaluation.devset import ArmsTransferGold, load_devset
from workers.settings import get_settings

TOPICS = frozenset({"arms_transfers", "sanctions", "armed_conflict"})


def line(**fields: Any) -> dict[str, Any]:
    """A valid French line, with the given fields replaced (None removes a field)."""
    base: dict[str, Any] = {
        "id": "fr-001",
        "lang": "fr",
        "split": "dev",
        "title": "Des obus pour Moscou",
        "text": "Pyongyang aurait livré des obus à la Russie, selon Séoul.",
        "topics": ["arms_transfers"],
        "countries": ["KP", "RU", "KR"],
        "arms_transfer": {"supplier": "KP", "recipient": "RU", "status": "delivered"},
        "kind": "positive",
        "note": "shells delivered",
    }
    base.update(fields)
    return {key: value for key, value in base.items() if value is not None}


def write(folder: Path, name: str, *lines: dict[str, Any] | str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    rows = [row if isinstance(row, str) else json.dumps(row, ensure_ascii=False) for row in lines]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_reads_text_and_corpus_lines(tmp_path: Path) -> None:
    devset = tmp_path / "seeds" / "devset"
    write(
        devset,
        "fr.jsonl",
        line(),
        "",
        line(
            id="fr-002",
            split="test",
            text=None,
            title=None,
            corpus="html/goose3/content/test_x.html.gz",
            topics=[],
            countries=None,
            arms_transfer=None,
            kind="other",
        ),
    )
    write(
        devset, "en.jsonl", line(id="en-001", lang="en", arms_transfer=None, topics=["sanctions"])
    )
    (devset / "floors.yaml").write_text("split: all\n")  # other files are not documents
    docs = load_devset(devset, TOPICS)
    assert [d.id for d in docs] == ["en-001", "fr-001", "fr-002"]
    first, corpus = docs[1], docs[2]
    assert first.lang == "fr" and first.split == "dev" and first.kind == "positive"
    assert first.topics == {"arms_transfers"}
    assert first.countries == frozenset({"KP", "RU", "KR"})
    assert first.arms_transfer == ArmsTransferGold("KP", "RU", "delivered")
    assert first.title == "Des obus pour Moscou" and first.text is not None
    assert first.where == "seeds/devset/fr.jsonl, line 1"
    assert corpus.line == 3 and corpus.where == "seeds/devset/fr.jsonl, line 3"
    assert corpus.text is None and corpus.corpus == "html/goose3/content/test_x.html.gz"
    assert corpus.topics == frozenset() and corpus.countries is None and corpus.split == "test"


MALFORMED: list[tuple[str, dict[str, Any] | str, str]] = [
    ("bad json", '{"id": "fr-002", ', "not valid JSON"),
    ("not an object", '["fr-002"]', "expected a JSON object"),
    ("missing key", line(id="fr-002", note=None), "missing key 'note'"),
    ("unknown key", line(id="fr-002", topic=["sanctions"]), "unknown key 'topic'"),
    ("wrong language", line(id="fr-002", lang="en"), "lang 'en' does not match"),
    ("text and corpus", line(id="fr-002", corpus="a.html"), "exactly one of 'text' and 'corpus'"),
    ("no text", line(id="fr-002", text=None), "exactly one of 'text' and 'corpus'"),
    ("empty text", line(id="fr-002", text=" "), "'text' must be a non-empty string"),
    ("empty id", line(id=""), "'id' must be a non-empty string"),
    ("unknown topic", line(id="fr-002", topics=["arms_trade"]), "unknown topic 'arms_trade'"),
    ("topics not a list", line(id="fr-002", topics="sanctions"), "'topics' must be a list"),
    ("topic twice", line(id="fr-002", topics=["sanctions"] * 2), "'topics' lists an item twice"),
    ("bad split", line(id="fr-002", split="train"), "'split' must be one of dev, test"),
    ("bad kind", line(id="fr-002", kind="negative"), "'kind' must be one of positive"),
    ("bad country", line(id="fr-002", countries=["kp"]), "country 'kp' is not an ISO"),
    ("title not text", line(id="fr-002", title=3), "'title' must be a non-empty string"),
    (
        "transfer without topic",
        line(id="fr-002", topics=["sanctions"]),
        "'arms_transfer' is only for documents with the arms_transfers topic",
    ),
    (
        "bad status",
        line(id="fr-002", arms_transfer={"supplier": "KP", "status": "sold"}),
        "'status' must be one of negotiated, agreed, delivered, denied",
    ),
    (
        "unknown transfer key",
        line(id="fr-002", arms_transfer={"seller": "KP"}),
        "arms_transfer: unknown key 'seller'",
    ),
    ("absolute corpus path", line(id="fr-002", text=None, corpus="/etc/x"), "relative path"),
    ("corpus path up", line(id="fr-002", text=None, corpus="html/../../x"), "relative path"),
]


@pytest.mark.parametrize(("bad", "message"), [(m[1], m[2]) for m in MALFORMED],
                         ids=[m[0] for m in MALFORMED])  # fmt: skip
def test_malformed_line_names_file_and_line(
    tmp_path: Path, bad: dict[str, Any] | str, message: str
) -> None:
    devset = tmp_path / "seeds" / "devset"
    write(devset, "fr.jsonl", line(), "", bad)
    with pytest.raises(ConfigurationError) as caught:
        load_devset(devset, TOPICS)
    text = str(caught.value)
    assert text.startswith("seeds/devset/fr.jsonl, line 3"), text
    assert message in text


def test_error_names_the_document_id(tmp_path: Path) -> None:
    devset = tmp_path / "seeds" / "devset"
    write(devset, "fr.jsonl", line(id="fr-009", kind="maybe"))
    with pytest.raises(ConfigurationError, match=r"fr.jsonl, line 1 \(id 'fr-009'\): 'kind'"):
        load_devset(devset, TOPICS)


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    devset = tmp_path / "seeds" / "devset"
    write(devset, "en.jsonl", line(id="x-1", lang="en"))
    write(devset, "fr.jsonl", line(), line(id="x-1"))
    with pytest.raises(ConfigurationError) as caught:
        load_devset(devset, TOPICS)
    assert str(caught.value) == (
        "seeds/devset/fr.jsonl, line 2: duplicate id 'x-1' (first at seeds/devset/en.jsonl, line 1)"
    )


def test_file_must_be_named_after_a_language(tmp_path: Path) -> None:
    devset = tmp_path / "seeds" / "devset"
    write(devset, "french.jsonl", line())
    with pytest.raises(ConfigurationError, match=r"seeds/devset/french.jsonl: file name must be"):
        load_devset(devset, TOPICS)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="development set folder not found"):
        load_devset(tmp_path / "nowhere", TOPICS)


def test_not_utf8(tmp_path: Path) -> None:
    devset = tmp_path / "seeds" / "devset"
    devset.mkdir(parents=True)
    (devset / "fr.jsonl").write_bytes('{"id": "é"}'.encode("latin-1"))
    with pytest.raises(ConfigurationError, match=r"seeds/devset/fr.jsonl: cannot read"):
        load_devset(devset, TOPICS)


def test_topic_ids_are_the_taxonomy_topics() -> None:
    seeds = get_settings().seeds_dir
    taxonomy = load_taxonomy(seeds, expand_forms=False)
    assert topic_ids(seeds) == {t.id for t in taxonomy.topics}
    assert {"arms_transfers", "sanctions"} <= topic_ids(seeds)
