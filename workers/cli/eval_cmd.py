"""`newswire eval`: precision, recall and F1 of the enrichment on the development set.

Reads seeds/devset/*.jsonl (format in workers/evaluation/devset.py), enriches
every document of the chosen split as the process stage would, and prints per
topic (all languages, then each language) precision, recall and F1, language
identification accuracy on texts of 300+ characters, country precision and
recall where the labels give countries, and how often the labelled
arms-transfer supplier, recipient and status are found. ``--check`` compares
the scores with seeds/devset/floors.yaml and exits 1 when a floor is not met;
``--suggest-floors`` prints floors pinned just below the current scores.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

from workers.cli.classify_cmd import build_enricher
from workers.cli.common import load_settings
from workers.cli.progress import progress
from workers.enrichment.seedfile import display_name
from workers.enrichment.taxonomy import topic_ids
from workers.errors import ConfigurationError
from workers.evaluation.devset import DEVSET_DIRNAME, DevDoc, load_devset
from workers.evaluation.floors import FLOORS_FILE, Floors, Outcome, check, load_floors, suggest
from workers.evaluation.runner import evaluate
from workers.evaluation.scoring import ALL, LANGUAGE_MIN_CHARS, Accuracy, Counts, Report
from workers.settings import Settings

COUNT_COLUMNS = ("gold", "tp", "fp", "fn", "P", "R", "F1")


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _count_cells(counts: Counts) -> list[str]:
    return [
        str(counts.support),
        str(counts.tp),
        str(counts.fp),
        str(counts.fn),
        _num(counts.precision),
        _num(counts.recall),
        _num(counts.f1),
    ]


def topic_table(report: Report, topics: tuple[str, ...]) -> Table:
    table = Table(
        Column("topic", no_wrap=True),
        "lang",
        *COUNT_COLUMNS,
        title=f"Topics (split {report.split}, {len(report.results)} documents)",
    )
    for topic in topics:
        table.add_row(topic, ALL, *_count_cells(report.topic_counts(topic)), style="bold")
        for lang in report.languages:
            counts = report.topic_counts(topic, lang)
            if counts.support or counts.fp:  # nothing to score otherwise
                table.add_row("", lang, *_count_cells(counts))
        table.add_section()
    return table


def language_table(report: Report) -> Table:
    table = Table(
        "lang",
        "docs",
        "correct",
        "accuracy",
        "mistaken for",
        "any length",
        title=f"Language identification (texts of {LANGUAGE_MIN_CHARS}+ characters)",
    )
    for scope in (*report.languages, ALL):
        acc = report.language_accuracy(scope)
        anyhow = report.language_accuracy(scope, min_chars=0)
        table.add_row(
            scope,
            str(acc.total),
            str(acc.correct),
            _num(acc.rate),
            escape(_mistakes(acc)),
            f"{anyhow.correct}/{anyhow.total}",
            style="bold" if scope == ALL else None,
        )
    return table


def country_table(report: Report) -> Table:
    table = Table(
        "lang",
        "docs",
        *COUNT_COLUMNS,
        title="Countries (documents labelled with countries)",
    )
    for scope in (*report.languages, ALL):
        docs = report.country_documents(scope)
        if docs:
            style = "bold" if scope == ALL else None
            table.add_row(
                scope, str(docs), *_count_cells(report.country_counts(scope)), style=style
            )
    return table


def transfer_table(report: Report) -> Table:
    table = Table(
        "lang",
        "docs",
        "pair",
        "pair acc.",
        "found instead",
        "status",
        "status acc.",
        Column("said instead", overflow="fold"),
        title="Arms-transfer details (supplier and recipient; then status of that pair)",
    )
    for scope in (*report.languages, ALL):
        pair = report.transfer_pair_accuracy(scope)
        status = report.transfer_status_accuracy(scope)
        if pair.total:
            table.add_row(
                scope,
                str(pair.total),
                str(pair.correct),
                _num(pair.rate),
                escape(_mistakes(pair)),
                f"{status.correct}/{status.total}",
                _num(status.rate),
                escape(_mistakes(status)),
                style="bold" if scope == ALL else None,
            )
    return table


def _mistakes(accuracy: Accuracy) -> str:
    return ", ".join(f"{said} x{n}" for said, n in accuracy.mistakes.most_common())


def error_table(report: Report, topics: tuple[str, ...]) -> Table:
    """Documents with a wrong topic among ``topics``, or a wrong language."""
    table = Table(
        Column("id", no_wrap=True),
        "kind",
        Column("missed", overflow="fold"),
        Column("spurious", overflow="fold"),
        "language",
        title="Documents scored wrong",
    )
    for result in report.errors():
        missed = sorted(result.missed.intersection(topics))
        spurious = sorted(result.spurious.intersection(topics))
        language = result.language if result.language != result.doc.lang else ""
        if missed or spurious or language:
            table.add_row(
                escape(result.doc.id),
                result.doc.kind,
                ", ".join(missed),
                ", ".join(spurious),
                escape(str(language or "")),
            )
    return table


def _outcome_dict(outcome: Outcome) -> dict[str, Any]:
    return {
        "bar": outcome.bar.subject,
        "scope": outcome.scope,
        "measured": None if outcome.measured is None else round(outcome.measured, 4),
        "needs": outcome.bar.value,
        "met": outcome.met,
    }


def _print_check(console: Console, floors: list[Outcome], targets: list[Outcome]) -> None:
    failed = [o for o in floors if not o.met]
    console.print(f"floors: {len(floors) - len(failed)} of {len(floors)} met")
    for outcome in failed:
        console.print(f"[red]floor not met[/red]: {escape(outcome.describe())}")
    for outcome in targets:
        if not outcome.met:
            console.print(f"below target: {escape(outcome.describe())}")


@click.command("eval")
@click.option(
    "--split",
    type=click.Choice(["dev", "test", ALL]),
    default=None,
    help="Documents to score [default: all; with --check, the floors' split].",
)
@click.option("--topic", "only_topics", multiple=True, help="Show only this topic (repeatable).")
@click.option("--errors", "show_errors", is_flag=True, help="List the documents scored wrong.")
@click.option(
    "--check", "check_floors", is_flag=True, help="Exit 1 when a floor of floors.yaml is not met."
)
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
@click.option(
    "--suggest-floors",
    "margin",
    type=click.FloatRange(0, 1),
    default=None,
    metavar="MARGIN",
    help="Print only a floors: block for floors.yaml, MARGIN below each measured score.",
)
@click.option(
    "--devset",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of <lang>.jsonl files [default: seeds/devset].",
)
@click.option(
    "--floors",
    "floors_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Floors file [default: floors.yaml of the devset folder].",
)
def eval_command(  # noqa: PLR0917 (one parameter per click option)
    split: str | None,
    only_topics: tuple[str, ...],
    show_errors: bool,
    check_floors: bool,
    as_json: bool,
    margin: float | None,
    devset: Path | None,
    floors_file: Path | None,
) -> None:
    """Score topics, language, countries and arms-transfer details on the development set."""
    settings = load_settings()
    topics = topic_ids(settings.seeds_dir)
    unknown = sorted(set(only_topics) - topics)
    if unknown:
        raise click.BadParameter(f"unknown topic {unknown[0]!r}", param_hint="--topic")
    docs, floors = _read_inputs(settings, topics, devset, floors_file, check_floors)
    if floors is not None and split not in (None, floors.split):
        raise click.UsageError(f"the floors were measured on split {floors.split}, not {split}")
    chosen = split or (floors.split if floors else ALL)
    try:
        tracked = progress(docs, total=len(docs), description="scoring")
        report = evaluate(
            build_enricher(), tracked, split=chosen, topics=topics, corpus_dir=settings.corpus_dir
        )
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc
    for skipped in report.skipped:
        click.echo(f"skipped {skipped.doc.id}: {skipped.reason}", err=True)
    floor_outcomes = check(report, floors.floors) if floors else []
    target_outcomes = check(report, floors.targets) if floors else []
    if margin is not None:
        click.echo(suggest(report, margin), nl=False)
    elif as_json:
        _print_json(report, floors, floor_outcomes, target_outcomes)
    else:
        console = Console()
        shown = tuple(t for t in report.topics if not only_topics or t in only_topics)
        for table in _tables(report, shown, show_errors):
            console.print(table)
        if floors:
            _print_check(console, floor_outcomes, target_outcomes)
    if any(not o.met for o in floor_outcomes):
        sys.exit(1)


def _read_inputs(
    settings: Settings,
    topics: frozenset[str],
    devset: Path | None,
    floors_file: Path | None,
    with_floors: bool,
) -> tuple[list[DevDoc], Floors | None]:
    """The labelled documents and, when asked for, the floors (next to them by default)."""
    folder = devset or settings.seeds_dir / DEVSET_DIRNAME
    try:
        docs = load_devset(folder, topics)
        if not with_floors:
            return docs, None
        path = floors_file or folder / FLOORS_FILE
        return docs, load_floors(path, display_name(path, settings.seeds_dir), topics)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc


def _tables(report: Report, topics: tuple[str, ...], show_errors: bool) -> list[Table]:
    tables = [
        topic_table(report, topics),
        language_table(report),
        country_table(report),
        transfer_table(report),
    ]
    return [*tables, error_table(report, topics)] if show_errors else tables


def _print_json(
    report: Report, floors: Floors | None, floor_outcomes: list[Outcome], targets: list[Outcome]
) -> None:
    out = report.as_dict()
    if floors is not None:
        out["check"] = {
            "split": floors.split,
            "floors": [_outcome_dict(o) for o in floor_outcomes],
            "targets": [_outcome_dict(o) for o in targets],
        }
    click.echo(json.dumps(out, ensure_ascii=False, indent=2))
