"""Quality floors that CI holds the enrichment to (``seeds/devset/floors.yaml``).

::

    split: all                  # the documents the floors were measured on
    targets:                    # where we want to be: reported, never failing
      topic_f1:
        sanctions: {all: 0.90, each_language: 0.80}
      language_accuracy: {each_language: 0.98}
    floors:                     # what must not get worse: `newswire eval --check` fails below
      topic_f1:
        sanctions: {all: 0.85, en: 0.80, fr: 0.75}
      language_accuracy: {all: 0.97, ja: 1.0}
      country_precision: {all: 0.90}
      country_recall: {all: 0.90}
      transfer_pair_accuracy: {all: 0.60}     # labelled supplier and recipient found
      transfer_status_accuracy: {all: 0.50}   # ... with the labelled status

A scope is ``all`` (every language together), a language code, or
``each_language`` (every language that has documents in the run). A floor
whose score cannot be measured (no document in that scope) is not met.
Malformed files raise ConfigurationError naming the file and the line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from workers.enrichment.language import SUPPORTED
from workers.enrichment.seedfile import Node, load
from workers.evaluation.devset import SPLITS
from workers.evaluation.scoring import ALL, Report

FLOORS_FILE = "floors.yaml"
EACH_LANGUAGE = "each_language"
TOPIC_F1 = "topic_f1"
_MEASURES: dict[str, Callable[[Report, str], float | None]] = {
    "language_accuracy": lambda report, scope: report.language_accuracy(scope).rate,
    "country_precision": lambda report, scope: report.country_counts(scope).precision,
    "country_recall": lambda report, scope: report.country_counts(scope).recall,
    "transfer_pair_accuracy": lambda report, scope: report.transfer_pair_accuracy(scope).rate,
    "transfer_status_accuracy": lambda report, scope: report.transfer_status_accuracy(scope).rate,
}
PER_SCOPE_METRICS = tuple(_MEASURES)
"""Metrics with no topic: their bars are per scope."""


@dataclass(frozen=True)
class Bar:
    """A minimum for one score in one scope (``topic`` only for topic_f1)."""

    metric: str
    topic: str | None
    scope: str
    value: float
    line: int

    @property
    def subject(self) -> str:
        return f"{self.metric} {self.topic}" if self.topic else self.metric


@dataclass(frozen=True)
class Outcome:
    """A bar checked against a report (each_language bars yield one outcome per language)."""

    bar: Bar
    scope: str
    measured: float | None

    @property
    def met(self) -> bool:
        return self.measured is not None and self.measured >= self.bar.value

    def describe(self) -> str:
        measured = "not measured" if self.measured is None else f"{self.measured:.3f}"
        return f"{self.bar.subject} [{self.scope}]: {measured} (needs {self.bar.value:.3f})"


@dataclass(frozen=True)
class Floors:
    split: str
    floors: tuple[Bar, ...]
    targets: tuple[Bar, ...]


def load_floors(path: Path, display: str, topics: Collection[str]) -> Floors:
    """Read a floors file. Raises ConfigurationError naming file and line."""
    root = load(path, display)
    fields = root.mapping("a mapping with split, targets and floors")
    fields.refuse_unknown({"split", "targets", "floors"})
    if "split" not in fields:
        raise root.error("missing `split` (all, dev or test)")
    split = fields["split"].text("a split")
    if split not in (ALL, *SPLITS):
        raise fields["split"].error(f"split must be all, dev or test, not {split!r}")
    return Floors(
        split=split,
        floors=_bars(fields["floors"], topics) if "floors" in fields else (),
        targets=_bars(fields["targets"], topics) if "targets" in fields else (),
    )


def check(report: Report, bars: Collection[Bar]) -> list[Outcome]:
    """Every bar's outcome on the report, in file order."""
    outcomes = []
    for bar in bars:
        scopes = report.languages if bar.scope == EACH_LANGUAGE else (bar.scope,)
        outcomes += [Outcome(bar, scope, measure(report, bar, scope)) for scope in scopes]
    return outcomes


def measure(report: Report, bar: Bar, scope: str) -> float | None:
    if bar.metric == TOPIC_F1:
        return report.topic_counts(str(bar.topic), scope).f1
    return _MEASURES[bar.metric](report, scope)


def _bars(node: Node, topics: Collection[str]) -> tuple[Bar, ...]:
    fields = node.mapping("a mapping of metrics")
    fields.refuse_unknown({TOPIC_F1, *PER_SCOPE_METRICS})
    bars: list[Bar] = []
    for metric, value in fields.items():
        if metric != TOPIC_F1:
            bars += _scoped(value, metric, None)
            continue
        for topic, scoped in value.mapping("a mapping of topic ids").items():
            if topic not in topics:
                raise (
                    value.mapping()
                    .key(topic)
                    .error(f"unknown topic {topic!r} (topics: {', '.join(sorted(topics))})")
                )
            bars += _scoped(scoped, metric, topic)
    return tuple(bars)


def _scoped(node: Node, metric: str, topic: str | None) -> list[Bar]:
    fields = node.mapping(f"a mapping of scopes ({ALL}, {EACH_LANGUAGE} or language codes)")
    fields.refuse_unknown({ALL, EACH_LANGUAGE, *SUPPORTED}, what="scope")
    bars = []
    for scope, value_node in fields.items():
        value = value_node.number("a score between 0 and 1")
        if not 0.0 <= value <= 1.0:
            raise value_node.error(f"a score must be between 0 and 1, not {value}")
        bars.append(Bar(metric, topic, scope, value, value_node.line))
    return bars


SUGGEST_MIN_SUPPORT = 3
"""Gold documents a topic needs in a language before that language gets its own floor."""


def suggest(report: Report, margin: float) -> str:
    """A ``floors:`` block pinning every measured score ``margin`` below its value (YAML)."""
    topic_lines = []
    for topic in report.topics:
        pins = [
            _pin(report.topic_counts(topic, scope).f1, margin, scope, indent=6)
            for scope in (ALL, *report.languages)
            if scope == ALL or report.topic_counts(topic, scope).support >= SUGGEST_MIN_SUPPORT
        ]
        if any(pins):
            topic_lines += [f"    {topic}:", *(pin for pin in pins if pin)]
    lines = [f"  {TOPIC_F1}:", *topic_lines] if topic_lines else []
    for metric in PER_SCOPE_METRICS:
        scopes = (ALL, *report.languages) if metric == "language_accuracy" else (ALL,)
        pins = [_pin(measure(report, Bar(metric, None, s, 0, 0), s), margin, s, 4) for s in scopes]
        if any(pins):
            lines += [f"  {metric}:", *(pin for pin in pins if pin)]
    return "\n".join(["floors:", *lines]) + "\n" if lines else "floors: {}\n"


def _pin(measured: float | None, margin: float, scope: str, indent: int) -> str:
    """One `scope: floor  # measured value` line, or '' when there is nothing to hold."""
    if measured is None:
        return ""
    floor = math.floor((measured - margin) * 100 + 1e-9) / 100
    if floor <= 0:
        return ""
    return f"{' ' * indent}{scope}: {floor:.2f}  # measured {measured:.3f}"
