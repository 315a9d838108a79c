"""`newswire classify`: text files, stdin and JSON lines in, one JSON object per document out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from schemas.enrichment import Enrichment
from workers.cli.main import cli
from workers.enrichment import Enricher
from workers.processing.pipeline import enrich_text
from workers.settings import get_settings

SAMPLE = get_settings().seeds_dir / "kim-putin-arms-fr.txt"
SANCTIONS_EN = (
    "WASHINGTON — The Treasury on Tuesday imposed sanctions on three shipping companies "
    "accused of carrying North Korean coal to ports in China, freezing their assets in the "
    "United States and barring Americans from dealing with them."
)


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher.from_seeds(get_settings().seeds_dir)


@pytest.fixture
def built_from(enricher: Enricher, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Path]]:
    """The command builds its Enricher with from_seeds: hand it the loaded one, note the folder."""
    calls: list[Path] = []

    def from_seeds(seeds_dir: Path) -> Enricher:
        calls.append(seeds_dir)
        return enricher

    monkeypatch.setattr(Enricher, "from_seeds", from_seeds)
    yield calls


def outputs(result: Result) -> list[dict[str, Any]]:
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    return [json.loads(line) for line in lines]


def assert_sample(out: dict[str, Any]) -> None:
    assert out["language"]["code"] == "fr"
    topic_ids = [t["id"] for t in out["topics"]]
    assert {"arms_transfers", "sanctions"} <= set(topic_ids)
    for topic in out["topics"]:
        assert topic["score"] > 0 and topic["evidence"]
        assert {"concept", "term", "start", "end", "sentence"} <= set(topic["evidence"][0])
    assert {c["id"] for c in out["entities"]["countries"]} >= {"KP", "RU", "UA", "KR", "US"}
    assert out["taxonomy_version"]


def test_text_file(built_from: list[Path], enricher: Enricher) -> None:
    [out] = outputs(CliRunner().invoke(cli, ["classify", str(SAMPLE)]))
    assert built_from == [get_settings().seeds_dir]  # built as a worker builds it
    assert out["id"] == "kim-putin-arms-fr.txt"
    assert_sample(out)
    # Exactly what the process stage's enrichment call gives, field for field.
    expected = enrich_text(
        enricher, SAMPLE.read_text(encoding="utf-8"), title=None, html_lang=None, feed_lang=None
    )
    assert Enrichment.model_validate({k: v for k, v in out.items() if k != "id"}) == expected


def test_stdin_with_declared_language_and_title(built_from: list[Path]) -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["classify", "-", "--lang", "fr", "--title", "Kim attendu en Russie"], input=text
    )
    [out] = outputs(result)
    assert out["id"] == "-"
    assert out["language"]["feed_lang"] == "fr"
    assert out["language"]["source"] == "text+feed"
    assert_sample(out)


def test_jsonl(built_from: list[Path], tmp_path: Path, enricher: Enricher) -> None:
    lines = [
        {"id": "sample", "text": SAMPLE.read_text(encoding="utf-8"), "lang": "fr"},
        {"id": 7, "text": SANCTIONS_EN, "title": "Treasury targets coal shippers"},
        {"id": "empty", "text": ""},
    ]
    path = tmp_path / "docs.jsonl"
    path.write_text(
        "\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n\n",
        encoding="utf-8",
    )
    sample, sanctions, empty = outputs(CliRunner().invoke(cli, ["classify", "--jsonl", str(path)]))
    assert [sample["id"], sanctions["id"], empty["id"]] == ["sample", "7", "empty"]
    assert_sample(sample)
    expected = enrich_text(
        enricher,
        SANCTIONS_EN,
        title="Treasury targets coal shippers",
        html_lang=None,
        feed_lang=None,
    )
    assert sanctions["topics"] == expected.model_dump(mode="json")["topics"]
    assert sanctions["language"]["code"] == "en"
    assert empty["topics"] == [] and empty["language"]["code"] is None


def test_jsonl_on_stdin_and_several_sources(built_from: list[Path]) -> None:
    line = json.dumps({"id": "a", "text": SANCTIONS_EN})
    result = CliRunner().invoke(cli, ["classify", "--jsonl", "-", "-"], input=line + "\n")
    # The second "-" finds stdin exhausted and yields nothing.
    assert [o["id"] for o in outputs(result)] == ["a"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "docs.jsonl, line 2: not valid JSON"),
        ('["a", "b"]', "docs.jsonl, line 2: expected a JSON object"),
        ('{"id": "b"}', "docs.jsonl, line 2: 'text' must be a string (document 'b')"),
        ('{"text": "x"}', "docs.jsonl, line 2: 'id' must be a non-empty string or a number"),
        ('{"id": true, "text": "x"}', "line 2: 'id' must be a non-empty string or a number"),
        ('{"id": "b", "text": "x", "lang": 3}', "line 2: 'lang' must be a string or null"),
    ],
)
def test_jsonl_errors_name_the_line(
    built_from: list[Path], tmp_path: Path, line: str, message: str
) -> None:
    path = tmp_path / "docs.jsonl"
    path.write_text(json.dumps({"id": "a", "text": "x"}) + "\n" + line + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["classify", "--jsonl", str(path)])
    assert result.exit_code == 1
    assert message in result.output
    assert json.loads(result.stdout.splitlines()[0])["id"] == "a"  # earlier lines were written


def test_missing_file(built_from: list[Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["classify", str(tmp_path / "nope.txt")])
    assert result.exit_code == 2
    assert "nope.txt" in result.output
