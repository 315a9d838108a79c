"""Score candidate trafilatura configurations on real pages with ground truth.

For each configuration of workers.processing.extract.CANDIDATES, every page is
decoded (decode_page, from the raw bytes) and extracted (extract_article), then
scored on two corpora (see workers/processing/quality.py for the measures):

- article-extraction-benchmark: mean precision, recall and F1 of 4-token shingle
  overlap with the expected article body (plus bag-of-words F1);
- trafilatura-eval: share of `with` / `without` string checks met.

Prints quality next to the CPU milliseconds per page (decode + extraction, one
process); CPU time rather than wall-clock, so that other work on the machine
disturbs the comparison less. The JSON output has both. With --compare A B it
also says, page by page, where B does better or worse than A.

    PYTHONPATH=. python scripts/bench_extraction_quality.py [--limit N] [--config NAME ...]
        [--compare A B] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from dataclasses import asdict
from typing import Any

from workers.processing.extract import CANDIDATES, EXTRACTOR_CONFIG, EXTRACTOR_NAME
from workers.processing.quality import (
    BenchmarkCase,
    BenchmarkRun,
    EvalCase,
    EvalRun,
    benchmark_cases,
    eval_cases,
    every_nth,
    score_benchmark,
    score_eval,
)
from workers.settings import get_settings

F1_DIFFERENCE = 0.01
"""A page's F1 must move by more than this to count as better or worse in --compare."""

HEADER = (
    f"{'config':<18} {'P':>6} {'R':>6} {'F1':>6} {'F1 bow':>6} {'fail':>4} {'cpu ms':>6}"
    f"   {'checks':>6} {'with':>6} {'w/out':>6} {'fail':>4} {'cpu ms':>6}"
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--limit", type=int, help="score about N pages of each corpus, spread evenly (default: all)"
    )
    parser.add_argument(
        "--config",
        action="append",
        choices=sorted(CANDIDATES),
        help="configuration to score; repeat for several (default: every candidate)",
    )
    parser.add_argument(
        "--compare",
        nargs=2,
        metavar=("A", "B"),
        choices=sorted(CANDIDATES),
        help="also compare configuration B with A page by page (both are scored)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser.parse_args(argv)


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "extractor": EXTRACTOR_NAME,
    }


def row(name: str, bench: BenchmarkRun, evald: EvalRun) -> str:
    chosen = "*" if CANDIDATES[name] == EXTRACTOR_CONFIG else " "
    s = bench.shingle
    return (
        f"{name + chosen:<18} {s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f} "
        f"{bench.bag_of_words.f1:6.3f} {bench.failed:4d} {bench.cpu_ms_per_page:6.1f}"
        f"   {evald.checks.share:6.3f} {evald.checks.with_share:6.3f} "
        f"{evald.checks.without_share:6.3f} {evald.failed:4d} {evald.cpu_ms_per_page:6.1f}"
    )


def as_json(name: str, bench: BenchmarkRun, evald: EvalRun) -> dict[str, Any]:
    return {
        "config": asdict(CANDIDATES[name]),
        "chosen": CANDIDATES[name] == EXTRACTOR_CONFIG,
        "article_extraction_benchmark": asdict(bench) | {"page_f1": None},
        "trafilatura_eval": {
            **asdict(evald),
            "page_checks": None,
            "share": evald.checks.share,
            "with_share": evald.checks.with_share,
            "without_share": evald.checks.without_share,
        },
    }


def compare(runs: dict[str, tuple[BenchmarkRun, EvalRun]], base: str, other: str) -> dict[str, int]:
    """Pages where `other` does better or worse than `base`."""
    (bench_a, eval_a), (bench_b, eval_b) = runs[base], runs[other]
    f1_diffs = [b - a for a, b in zip(bench_a.page_f1, bench_b.page_f1, strict=True)]
    pairs = list(zip(eval_a.page_checks, eval_b.page_checks, strict=True))
    met = [(b.with_met + b.without_met) - (a.with_met + a.without_met) for a, b in pairs]
    return {
        "benchmark_pages_better": sum(diff > F1_DIFFERENCE for diff in f1_diffs),
        "benchmark_pages_worse": sum(diff < -F1_DIFFERENCE for diff in f1_diffs),
        "eval_pages_better": sum(diff > 0 for diff in met),
        "eval_pages_worse": sum(diff < 0 for diff in met),
        "eval_with_gained": sum(max(0, b.with_met - a.with_met) for a, b in pairs),
        "eval_with_lost": sum(max(0, a.with_met - b.with_met) for a, b in pairs),
        "eval_without_gained": sum(max(0, b.without_met - a.without_met) for a, b in pairs),
        "eval_without_lost": sum(max(0, a.without_met - b.without_met) for a, b in pairs),
    }


def warm_up(bench_cases: list[BenchmarkCase], evald_cases: list[EvalCase]) -> None:
    """Pay one-time costs (imports, htmldate's dateparser compiling its locales: seconds)
    before timing, so that they do not land on whichever configuration runs first."""
    score_benchmark(bench_cases[:3], EXTRACTOR_CONFIG)
    score_eval(evald_cases[:3], EXTRACTOR_CONFIG)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    corpus = get_settings().corpus_dir
    if not (corpus / "html").is_dir():
        print(f"corpus not found at {corpus} (set NEWSWIRE_CORPUS)", file=sys.stderr)
        return 2
    bench_cases = every_nth(benchmark_cases(corpus), args.limit)
    evald_cases = every_nth(eval_cases(corpus), args.limit)
    names = args.config or ([] if args.compare else list(CANDIDATES))
    names += [name for name in args.compare or [] if name not in names]
    warm_up(bench_cases, evald_cases)
    if not args.json:
        print(f"{machine()}  pages: {len(bench_cases)} benchmark, {len(evald_cases)} eval")
        print(f"{'':<19}{'article-extraction-benchmark':-^44}   {'trafilatura-eval':-^34}")
        print(HEADER)
    runs: dict[str, tuple[BenchmarkRun, EvalRun]] = {}
    for name in names:
        runs[name] = (
            score_benchmark(bench_cases, CANDIDATES[name]),
            score_eval(evald_cases, CANDIDATES[name]),
        )
        if not args.json:
            print(row(name, *runs[name]), flush=True)
    compared = compare(runs, *args.compare) if args.compare else None
    if args.json:
        results = [as_json(name, *run) for name, run in runs.items()]
        print(json.dumps({"machine": machine(), "results": results, "compare": compared}, indent=2))
        return 0
    print("* = EXTRACTOR_CONFIG (the pipeline's configuration)")
    if compared:
        base, other = args.compare
        print(f"{other} against {base}, page by page (F1 differences over {F1_DIFFERENCE}):")
        for key, value in compared.items():
            print(f"  {key:<22} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
