"""Extraction quality, measured on real pages with ground truth: the one scorer that
scripts/bench_extraction_quality.py and tests/corpus/test_extraction_quality.py share.

Two corpora (under `get_settings().corpus_dir`, see the corpus MANIFEST.md):

- html/article-extraction-benchmark: 181 pages with their expected article body,
  scored as that benchmark's evaluate.py scores: text is split into word tokens
  (runs of `\\w`), tokens are grouped in overlapping 4-token shingles, and per
  page the matched, extra and missed shingles (tp, fp, fn) are counted and
  divided by their sum so that long pages do not weigh more. Precision is the
  mean of per-page precision over the pages where something was extracted,
  recall the mean of per-page recall, and F1 is computed from those two means.
  `ngram=1` gives plain bag-of-words overlap.
- html/trafilatura-eval: pages with strings the extracted text must contain
  (`with`) and must not contain (`without`), from trafilatura's evaldata.json.
  Scored as the share of all checks met, and each kind apart.

A page whose extraction fails scores as an empty text (nothing found), as it
would in either upstream evaluation.
"""

from __future__ import annotations

import gzip
import json
import re
import statistics
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from workers.errors import DecodeError, ExtractionError
from workers.processing.decode import decode_page
from workers.processing.extract import EXTRACTOR_CONFIG, ExtractorConfig, extract_article

BENCHMARK_DIR = Path("html") / "article-extraction-benchmark"
EVALDATA_DIR = Path("html") / "trafilatura-eval"
SHINGLE_SIZE = 4

_TOKEN = re.compile(r"\w+")
_T = TypeVar("_T")


# --- token overlap (article-extraction-benchmark) ---------------------------------------


@dataclass(frozen=True)
class Overlap:
    """Shingles matched, extra and missed on one page, as shares of their sum."""

    tp: float
    fp: float
    fn: float

    @property
    def precision(self) -> float:
        if self.fp == self.fn == 0:
            return 1.0  # both texts empty, or identical
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        if self.fp == self.fn == 0:
            return 1.0
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


@dataclass(frozen=True)
class OverlapScores:
    precision: float
    recall: float
    f1: float
    pages: int


def tokenise(text: str) -> list[str]:
    """Word tokens: good enough for any language, as long as extra text stays separate."""
    return _TOKEN.findall(text)


def shingles(text: str, n: int = SHINGLE_SIZE) -> Counter[tuple[str, ...]]:
    """Overlapping n-token shingles with their counts (a shorter text is one shingle)."""
    tokens = tokenise(text)
    if not tokens:
        return Counter()
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)))


def overlap(expected: str, extracted: str, n: int = SHINGLE_SIZE) -> Overlap:
    """Compare one page's extracted text with the expected text."""
    want, got = shingles(expected, n), shingles(extracted, n)
    tp = sum((want & got).values())
    fp = sum((got - want).values())
    fn = sum((want - got).values())
    total = tp + fp + fn
    if not total:
        return Overlap(0.0, 0.0, 0.0)
    return Overlap(tp / total, fp / total, fn / total)


def overlap_scores(pages: Sequence[Overlap]) -> OverlapScores:
    """Mean precision and recall over pages, and the F1 of those means."""
    precisions = [page.precision for page in pages if page.tp + page.fp > 0]
    recalls = [page.recall for page in pages if page.tp + page.fn > 0]
    precision = statistics.fmean(precisions) if precisions else 0.0
    recall = statistics.fmean(recalls) if recalls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return OverlapScores(precision, recall, f1, len(pages))


# --- with / without checks (trafilatura-eval) -------------------------------------------


@dataclass(frozen=True)
class Checks:
    with_met: int
    with_total: int
    without_met: int
    without_total: int

    def __add__(self, other: Checks) -> Checks:
        return Checks(
            self.with_met + other.with_met,
            self.with_total + other.with_total,
            self.without_met + other.without_met,
            self.without_total + other.without_total,
        )

    @property
    def share(self) -> float:
        total = self.with_total + self.without_total
        return (self.with_met + self.without_met) / total if total else 0.0

    @property
    def with_share(self) -> float:
        return self.with_met / self.with_total if self.with_total else 0.0

    @property
    def without_share(self) -> float:
        return self.without_met / self.without_total if self.without_total else 0.0


NO_CHECKS = Checks(0, 0, 0, 0)


def check_strings(text: str, with_: Iterable[str], without: Iterable[str]) -> Checks:
    """Which expected strings the text contains and which unwanted ones it avoids."""
    with_list, without_list = list(with_), list(without)
    return Checks(
        with_met=sum(1 for needle in with_list if needle in text),
        with_total=len(with_list),
        without_met=sum(1 for needle in without_list if needle not in text),
        without_total=len(without_list),
    )


# --- corpus cases -----------------------------------------------------------------------


@dataclass(frozen=True)
class BenchmarkCase:
    page: Path
    url: str
    expected: str


@dataclass(frozen=True)
class EvalCase:
    page: Path
    url: str
    with_: tuple[str, ...]
    without: tuple[str, ...]


def benchmark_cases(corpus_dir: Path) -> list[BenchmarkCase]:
    """The article-extraction-benchmark pages, in a fixed order (by page id)."""
    root = corpus_dir / BENCHMARK_DIR
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    return [
        BenchmarkCase(root / "html" / f"{page_id}.html.gz", item["url"], item["articleBody"])
        for page_id, item in sorted(truth.items())
    ]


def eval_cases(corpus_dir: Path) -> list[EvalCase]:
    """The trafilatura-eval pages that have expectations, in a fixed order (by URL)."""
    root = corpus_dir / EVALDATA_DIR
    data = json.loads((root / "evaldata.json").read_text(encoding="utf-8"))
    return [
        EvalCase(
            root / "pages" / f"{item['file']}.gz",
            url,
            tuple(item.get("with", [])),
            tuple(item.get("without", [])),
        )
        for url, item in sorted(data.items())
    ]


def every_nth(cases: Sequence[_T], limit: int | None) -> list[_T]:
    """A deterministic subset of about `limit` cases spread evenly over the whole list."""
    if limit is None or limit >= len(cases):
        return list(cases)
    step = len(cases) / limit
    return [cases[int(i * step)] for i in range(limit)]


def read_page(path: Path) -> bytes:
    """A corpus page's raw bytes (the corpus stores pages gzipped)."""
    raw = path.read_bytes()
    return gzip.decompress(raw) if path.suffix == ".gz" else raw


# --- running an extractor over a corpus -------------------------------------------------


@dataclass(frozen=True)
class PageResult:
    text: str
    ms: float  # wall-clock
    cpu_ms: float  # this process's CPU time: steady even when other work shares the cores
    failed: bool


def run_page(raw: bytes, url: str, config: ExtractorConfig = EXTRACTOR_CONFIG) -> PageResult:
    """Decode and extract one page as the pipeline does, timing both."""
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        page = decode_page(raw, None)
        text, failed = extract_article(page.html, url, config=config).text, False
    except (DecodeError, ExtractionError):
        text, failed = "", True
    return PageResult(
        text,
        ms=(time.perf_counter() - wall) * 1000,
        cpu_ms=(time.process_time() - cpu) * 1000,
        failed=failed,
    )


@dataclass(frozen=True)
class BenchmarkRun:
    shingle: OverlapScores
    bag_of_words: OverlapScores
    failed: int
    ms_per_page: float
    cpu_ms_per_page: float
    page_f1: tuple[float, ...]  # per page, in case order: for page-by-page comparisons


@dataclass(frozen=True)
class EvalRun:
    checks: Checks
    pages: int
    failed: int
    ms_per_page: float
    cpu_ms_per_page: float
    page_checks: tuple[Checks, ...]  # per page, in case order


def score_benchmark(
    cases: Sequence[BenchmarkCase], config: ExtractorConfig = EXTRACTOR_CONFIG
) -> BenchmarkRun:
    """Extract every benchmark page and score it against its expected body."""
    results = [(case, run_page(read_page(case.page), case.url, config)) for case in cases]
    shingled = [overlap(case.expected, got.text) for case, got in results]
    return BenchmarkRun(
        shingle=overlap_scores(shingled),
        bag_of_words=overlap_scores([overlap(case.expected, got.text, 1) for case, got in results]),
        failed=sum(got.failed for _, got in results),
        ms_per_page=_mean(got.ms for _, got in results),
        cpu_ms_per_page=_mean(got.cpu_ms for _, got in results),
        page_f1=tuple(page.f1 for page in shingled),
    )


def score_eval(cases: Sequence[EvalCase], config: ExtractorConfig = EXTRACTOR_CONFIG) -> EvalRun:
    """Extract every trafilatura-eval page and count the checks it meets."""
    results = [(case, run_page(read_page(case.page), case.url, config)) for case in cases]
    page_checks = tuple(check_strings(got.text, case.with_, case.without) for case, got in results)
    return EvalRun(
        checks=sum(page_checks, NO_CHECKS),
        pages=len(results),
        failed=sum(got.failed for _, got in results),
        ms_per_page=_mean(got.ms for _, got in results),
        cpu_ms_per_page=_mean(got.cpu_ms for _, got in results),
        page_checks=page_checks,
    )


def _mean(values: Iterable[float]) -> float:
    listed = list(values)
    return statistics.fmean(listed) if listed else 0.0
