"""Scores of the enrichment against the development set: P/R/F1, accuracy, per language.

Counts are summed over documents (micro-averaging) before any ratio is taken,
so a language with many documents weighs more in "all". A ratio whose
denominator is zero is ``None`` ("undefined"), never a made-up 0 or 1; F1 is
``2tp / (2tp + fp + fn)``, defined as soon as there is any gold or predicted
positive (then 0 when tp is 0, for instance a topic never predicted).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from workers.evaluation.devset import ArmsTransferGold, DevDoc

ALL = "all"
"""The scope of scores over every language together."""

LANGUAGE_MIN_CHARS = 300
"""Language identification is measured on texts at least this long (the issue's bar)."""


@dataclass(frozen=True)
class Counts:
    """True positives, false positives and false negatives."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @classmethod
    def of(cls, gold: bool, predicted: bool) -> Counts:
        """The counts of one binary decision."""
        return cls(
            int(gold and predicted), int(predicted and not gold), int(gold and not predicted)
        )

    @classmethod
    def of_sets(cls, gold: Iterable[str], predicted: Iterable[str]) -> Counts:
        """The counts of one set of labels against another (e.g. countries of a document)."""
        gold_set, predicted_set = set(gold), set(predicted)
        return cls(
            len(gold_set & predicted_set),
            len(predicted_set - gold_set),
            len(gold_set - predicted_set),
        )

    @property
    def support(self) -> int:
        """Gold positives."""
        return self.tp + self.fn

    @property
    def precision(self) -> float | None:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float | None:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float | None:
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "support": self.support,
            "precision": _rounded(self.precision),
            "recall": _rounded(self.recall),
            "f1": _rounded(self.f1),
        }


@dataclass(frozen=True)
class Accuracy:
    """Correct decisions out of a total, with the wrong answers counted."""

    correct: int = 0
    total: int = 0
    mistakes: Counter[str] = field(default_factory=Counter)

    def __add__(self, other: Accuracy) -> Accuracy:
        return Accuracy(
            self.correct + other.correct, self.total + other.total, self.mistakes + other.mistakes
        )

    @property
    def rate(self) -> float | None:
        return _ratio(self.correct, self.total)

    def as_dict(self) -> dict[str, Any]:
        return {
            "correct": self.correct,
            "total": self.total,
            "accuracy": _rounded(self.rate),
            "mistaken_for": dict(self.mistakes.most_common()),
        }


@dataclass(frozen=True)
class Party:
    """A side of a predicted transfer: ISO code or gazetteer id, and its canonical name."""

    id: str | None
    name: str | None = None

    def matches(self, gold: str | None) -> bool:
        """Labels name groups in plain words ("Houthis"), so a group matches id or name."""
        if gold is None or self.id is None:
            return gold is None and self.id is None
        return gold.casefold() in {self.id.casefold(), (self.name or "").casefold()}

    def __str__(self) -> str:
        return self.id or "?"


@dataclass(frozen=True)
class PredictedTransfer:
    """The parts of an arms-transfer detail that the labels can check."""

    supplier: Party
    recipient: Party
    status: str | None

    def same_pair(self, gold: ArmsTransferGold) -> bool:
        return self.supplier.matches(gold.supplier) and self.recipient.matches(gold.recipient)


@dataclass(frozen=True)
class DocResult:
    """What the enrichment said about one labelled document."""

    doc: DevDoc
    text_chars: int
    language: str | None
    topics: frozenset[str]
    countries: frozenset[str]
    transfers: tuple[PredictedTransfer, ...] = ()

    def topic_counts(self, topic: str) -> Counts:
        return Counts.of(topic in self.doc.topics, topic in self.topics)

    def language_accuracy(self, min_chars: int = LANGUAGE_MIN_CHARS) -> Accuracy:
        """Counts only texts of at least ``min_chars`` (the bar's length by default)."""
        if self.text_chars < min_chars:
            return Accuracy()
        if self.language == self.doc.lang:
            return Accuracy(1, 1)
        return Accuracy(0, 1, Counter({str(self.language): 1}))

    def country_counts(self) -> Counts:
        if self.doc.countries is None:
            return Counts()
        return Counts.of_sets(self.doc.countries, self.countries)

    def transfer_pair_accuracy(self) -> Accuracy:
        """Whether a predicted detail has the labelled supplier and recipient."""
        gold = self.doc.arms_transfer
        if gold is None:
            return Accuracy()
        if any(t.same_pair(gold) for t in self.transfers):
            return Accuracy(1, 1)
        said = ", ".join(f"{t.supplier}>{t.recipient}" for t in self.transfers) or "none"
        return Accuracy(0, 1, Counter({said: 1}))

    def transfer_status_accuracy(self) -> Accuracy:
        """Whether the detail of the labelled pair has the labelled status."""
        gold = self.doc.arms_transfer
        if gold is None or gold.status is None:
            return Accuracy()
        statuses = [str(t.status) for t in self.transfers if t.same_pair(gold)]
        if gold.status in statuses:
            return Accuracy(1, 1)
        return Accuracy(0, 1, Counter({"/".join(statuses) or "no pair": 1}))

    @property
    def missed(self) -> frozenset[str]:
        return self.doc.topics - self.topics

    @property
    def spurious(self) -> frozenset[str]:
        return self.topics - self.doc.topics


@dataclass(frozen=True)
class Skipped:
    """A document left out of the scores, and why."""

    doc: DevDoc
    reason: str


@dataclass(frozen=True)
class Report:
    """Every score of one evaluation run."""

    split: str
    topics: tuple[str, ...]
    results: tuple[DocResult, ...]
    skipped: tuple[Skipped, ...] = ()

    @property
    def languages(self) -> tuple[str, ...]:
        """Languages with at least one scored document, in first-seen order."""
        return tuple(dict.fromkeys(r.doc.lang for r in self.results))

    def _of(self, scope: str) -> list[DocResult]:
        return [r for r in self.results if scope in (ALL, r.doc.lang)]

    def topic_counts(self, topic: str, scope: str = ALL) -> Counts:
        return sum((r.topic_counts(topic) for r in self._of(scope)), Counts())

    def language_accuracy(self, scope: str = ALL, min_chars: int = LANGUAGE_MIN_CHARS) -> Accuracy:
        return sum((r.language_accuracy(min_chars) for r in self._of(scope)), Accuracy())

    def country_counts(self, scope: str = ALL) -> Counts:
        return sum((r.country_counts() for r in self._of(scope)), Counts())

    def transfer_pair_accuracy(self, scope: str = ALL) -> Accuracy:
        return sum((r.transfer_pair_accuracy() for r in self._of(scope)), Accuracy())

    def transfer_status_accuracy(self, scope: str = ALL) -> Accuracy:
        return sum((r.transfer_status_accuracy() for r in self._of(scope)), Accuracy())

    def country_documents(self, scope: str = ALL) -> int:
        return sum(r.doc.countries is not None for r in self._of(scope))

    def errors(self) -> list[DocResult]:
        """Documents with a missed or spurious topic, or a wrong language."""
        return [
            r
            for r in self.results
            if r.missed or r.spurious or r.language_accuracy().correct < r.language_accuracy().total
        ]

    def as_dict(self) -> dict[str, Any]:
        scopes = (ALL, *self.languages)
        return {
            "split": self.split,
            "documents": len(self.results),
            "skipped": [{"id": s.doc.id, "reason": s.reason} for s in self.skipped],
            "topics": {
                topic: {scope: self.topic_counts(topic, scope).as_dict() for scope in scopes}
                for topic in self.topics
            },
            "language_accuracy": {
                scope: self.language_accuracy(scope).as_dict() for scope in scopes
            },
            "language_accuracy_any_length": {
                scope: self.language_accuracy(scope, min_chars=0).as_dict() for scope in scopes
            },
            "countries": {
                scope: {"documents": self.country_documents(scope)}
                | self.country_counts(scope).as_dict()
                for scope in scopes
            },
            "arms_transfer_pair": {
                scope: self.transfer_pair_accuracy(scope).as_dict() for scope in scopes
            },
            "arms_transfer_status": {
                scope: self.transfer_status_accuracy(scope).as_dict() for scope in scopes
            },
            "errors": [
                {
                    "id": r.doc.id,
                    "lang": r.doc.lang,
                    "missed": sorted(r.missed),
                    "spurious": sorted(r.spurious),
                    "language": r.language,
                }
                for r in self.errors()
            ],
        }


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
