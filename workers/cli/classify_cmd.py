"""`newswire classify`: the process stage's enrichment on text given by hand, as JSON lines.

Each input is a text file, ``-`` for standard input, or with ``--jsonl`` a file
of JSON objects (``id``, ``text``, optional ``lang`` and ``title``; other keys
are ignored, so a development set file can be fed as it is). Each document
becomes one JSON line on standard output: ``id`` and everything the
enrichment computed (``language``, ``topics`` with evidence, ``entities``,
``taxonomy_version``, and whatever else schemas.Enrichment carries).

The Enricher is built as a worker builds it and called through the same
function as the process stage (workers/processing/pipeline.py), a given
``lang`` playing the part of the feed's declared language.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import click

from workers.cli.common import load_settings
from workers.enrichment import Enricher
from workers.errors import ConfigurationError
from workers.processing.pipeline import enrich_text

STDIN = "-"


@dataclass(frozen=True)
class TextInput:
    """One document to classify."""

    id: str
    text: str
    title: str | None = None
    lang: str | None = None


def build_enricher() -> Enricher:
    """The Enricher a worker process would use (workers/services.py)."""
    try:
        return Enricher.from_seeds(load_settings().seeds_dir)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc


def classify_one(enricher: Enricher, item: TextInput) -> dict[str, Any]:
    """The output object of one document."""
    enrichment = enrich_text(
        enricher, item.text, title=item.title, html_lang=None, feed_lang=item.lang
    )
    return {"id": item.id, **enrichment.model_dump(mode="json")}


def _source_name(stream: IO[str]) -> str:
    name = getattr(stream, "name", STDIN)
    return STDIN if not isinstance(name, str) or name == "<stdin>" else name


def read_text_input(stream: IO[str], title: str | None, lang: str | None) -> TextInput:
    name = _source_name(stream)
    doc_id = STDIN if name == STDIN else Path(name).name
    return TextInput(doc_id, stream.read(), title, lang)


def read_jsonl_inputs(stream: IO[str]) -> Iterator[TextInput]:
    """The documents of a JSON lines stream, one at a time; errors name the line."""
    name = _source_name(stream)
    for number, line in enumerate(stream, start=1):
        if line.strip():
            try:
                yield _jsonl_item(line)
            except ValueError as exc:
                raise click.ClickException(f"{name}, line {number}: {exc}") from exc


def _jsonl_item(line: str) -> TextInput:
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc.msg} (column {exc.colno})") from exc
    if not isinstance(raw, dict):
        raise ValueError("expected a JSON object with id and text")
    fields = cast(dict[str, Any], raw)
    doc_id, text = fields.get("id"), fields.get("text")
    if not isinstance(doc_id, str | int) or isinstance(doc_id, bool) or doc_id == "":
        raise ValueError("'id' must be a non-empty string or a number")
    if not isinstance(text, str):
        raise ValueError(f"'text' must be a string (document {doc_id!r})")
    for key in ("title", "lang"):
        if fields.get(key) is not None and not isinstance(fields[key], str):
            raise ValueError(f"{key!r} must be a string or null (document {doc_id!r})")
    return TextInput(str(doc_id), text, fields.get("title"), fields.get("lang"))


@click.command()
@click.argument(
    "sources", nargs=-1, required=True, type=click.File("r", encoding="utf-8-sig", lazy=True)
)
@click.option(
    "--jsonl", is_flag=True, help="Inputs are JSON lines: id, text, optional lang and title."
)
@click.option(
    "--lang",
    default=None,
    help="Declared language of plain-text inputs (as a feed would declare it).",
)
@click.option("--title", default=None, help="Title of plain-text inputs.")
def classify(
    sources: tuple[IO[str], ...], jsonl: bool, lang: str | None, title: str | None
) -> None:
    """Print language, topics, entities of texts (FILE... or - for stdin) as JSON lines."""
    enricher = build_enricher()
    for stream in sources:
        items = read_jsonl_inputs(stream) if jsonl else iter([read_text_input(stream, title, lang)])
        for item in items:
            click.echo(json.dumps(classify_one(enricher, item), ensure_ascii=False))
