"""Benchmark the enrichment stage (language + topics + entities) on one core.

    PYTHONPATH=. python scripts/bench_enrichment.py [--runs 3] [--docs 300] [--size 5000]

Three figures, each measured ``--runs`` times with a new ``Enricher`` (a new worker
process, as far as the enrichment's memos go), in CPU seconds of this process. Each
is built as a worker builds it (``Enricher.from_seeds``, then ``settle_heap``: the
loaded seeds are taken out of the garbage collector's sight) and let go after use:

1. 5 KB texts (``--size``), built from the sample article and the article texts of
   the corpus (newspaper4k expected texts, article-extraction-benchmark ground
   truth), cut at sentence ends. Round 1 sees every text for the first time (empty
   word memos: a worker that just started); later rounds are the steady state of a
   worker that has seen these words before. Documents per second per core.
2. A stream of unseen pages: the extracted texts of the corpus pages (all five HTML
   sets, shuffled with a fixed seed), each enriched once, in order, with the title
   and the HTML language as the pipeline passes them. New words keep coming (names,
   numbers, compounds), so this is what a long-running worker sees. Reported after
   the first 200 pages.
3. The bar of issue 3: enrichment time as a share of the extraction time of the
   same pages (article-extraction-benchmark HTML, ``--pages``), extraction being
   the pipeline's own call (decode_page + extract_article) and, for reference,
   ``trafilatura.extract`` with its defaults.

Needs the corpus (NEWSWIRE_CORPUS, default ../shared/corpus); without it, only the
sample article is used and figures 2 and 3 are skipped.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import platform
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from schemas.enrichment import Enrichment
from workers.enrichment import Enricher
from workers.errors import NewswireError
from workers.processing.decode import decode_page
from workers.processing.extract import extract_article
from workers.services import settle_heap
from workers.settings import get_settings

HTML_SETS = (
    "article-extraction-benchmark",
    "newspaper4k",
    "goose3",
    "readability",
    "trafilatura-eval",
)
STREAM_WARMUP = 200


def calibrate() -> float:
    """Seconds for a fixed pure-Python loop: compare machines (about 0.4 s on a fast core)."""
    start = time.process_time()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.process_time() - start


def corpus_texts(corpus: Path) -> list[str]:
    texts = []
    newspaper = corpus / "html" / "newspaper4k" / "txt"
    if newspaper.is_dir():
        texts += [p.read_text(encoding="utf-8") for p in sorted(newspaper.glob("*.txt"))]
    truth = corpus / "html" / "article-extraction-benchmark" / "ground-truth.json"
    if truth.is_file():
        items = json.loads(truth.read_text(encoding="utf-8"))
        texts += [str(item.get("articleBody", "")) for _, item in sorted(items.items())]
    return [t for t in texts if len(t.strip()) >= 500]


def five_kb(texts: list[str], size: int, count: int) -> list[str]:
    """Texts of about `size` characters: long ones cut at a sentence end, short ones joined."""
    out: list[str] = []
    pending = ""
    for text in texts:
        pending = f"{pending}\n\n{text}" if pending else text
        if len(pending) < size:
            continue
        cut = max(pending.rfind(". ", 0, size), pending.rfind("\n", 0, size))
        out.append(pending[: cut + 1 if cut > size // 2 else size])
        pending = ""
        if len(out) >= count:
            break
    return out


def new_enricher(seeds: Path) -> Enricher:
    """An enricher loaded as a worker loads it (services.load_enricher, not cached)."""
    gc.unfreeze()  # let the previous figure's enricher go
    enricher = Enricher.from_seeds(seeds)
    settle_heap()
    return enricher


def cpu(work: Callable[[], object]) -> float:
    start = time.process_time()
    work()
    return time.process_time() - start


def throughput(seeds: Path, docs: list[str], rounds: int) -> tuple[list[float], Counter[str]]:
    """Docs per CPU second of each round over all docs (new Enricher), and the languages."""
    enricher = new_enricher(seeds)
    rates = [
        len(docs) / cpu(lambda: [enricher.enrich(text) for text in docs]) for _ in range(rounds)
    ]
    return rates, Counter(enricher.enrich(text).language.code or "und" for text in docs)


def page_paths(corpus: Path) -> list[Path]:
    root = corpus / "html"
    found = []
    for name in HTML_SETS:
        found += sorted((root / name).rglob("*.gz"))
    return found


def extracted_pages(paths: list[Path]) -> list[dict[str, Any]]:
    """decode_page + extract_article of each page, with the CPU time of that extraction."""
    out = []
    for path in paths:
        body = gzip.decompress(path.read_bytes())
        start = time.process_time()
        try:
            article = extract_article(decode_page(body, None).html)
        except NewswireError:
            continue
        out.append(
            {
                "text": article.text,
                "title": article.title,
                "html_lang": article.html_lang,
                "extract_s": time.process_time() - start,
                "html": body,
            }
        )
    return out


def enrich_page(enricher: Enricher, page: dict[str, Any]) -> Enrichment:
    return enricher.enrich(page["text"], title=page["title"], html_lang=page["html_lang"])


def stream(seeds: Path, pages: list[dict[str, Any]]) -> float:
    """Docs per CPU second of a new Enricher over unseen pages, after the first ones."""
    enricher = new_enricher(seeds)
    for page in pages[:STREAM_WARMUP]:
        enrich_page(enricher, page)
    rest = pages[STREAM_WARMUP:]
    return len(rest) / cpu(lambda: [enrich_page(enricher, page) for page in rest])


def share(seeds: Path, pages: list[dict[str, Any]]) -> dict[str, float]:
    """Enrichment against extraction on the same pages: totals, and the median page."""
    import trafilatura

    enricher = new_enricher(seeds)
    first = [cpu(lambda p=page: enrich_page(enricher, p)) for page in pages]  # type: ignore[misc]
    warm = [cpu(lambda p=page: enrich_page(enricher, p)) for page in pages]  # type: ignore[misc]
    html = [page["html"].decode("utf-8", "replace") for page in pages]
    defaults = [cpu(lambda h=h: trafilatura.extract(h)) for h in html]  # type: ignore[misc]
    extract = [page["extract_s"] for page in pages]
    return {
        "pages": len(pages),
        "extract_ms": 1000 * statistics.mean(extract),
        "trafilatura_defaults_ms": 1000 * statistics.mean(defaults),
        "enrich_first_ms": 1000 * statistics.mean(first),
        "enrich_warm_ms": 1000 * statistics.mean(warm),
        "share_first": sum(first) / sum(extract),
        "share_warm": sum(warm) / sum(extract),
        "share_of_defaults": sum(first) / sum(defaults),
        "share_median_page": statistics.median(e / x for e, x in zip(first, extract, strict=True)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3, help="repetitions (a new Enricher each)")
    parser.add_argument("--docs", type=int, default=300, help="number of 5 KB texts")
    parser.add_argument("--size", type=int, default=5000, help="characters per text")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the 5 KB texts")
    parser.add_argument("--pages", type=int, default=100, help="pages for the extraction share")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    settings = get_settings()
    seeds, corpus = settings.seeds_dir, settings.corpus_dir
    start = time.perf_counter()
    Enricher.from_seeds(seeds)
    load_s = time.perf_counter() - start
    sample = (seeds / "kim-putin-arms-fr.txt").read_text(encoding="utf-8")
    texts = [sample, *corpus_texts(corpus)]
    copies = 1 + args.docs * args.size // max(sum(map(len, texts)), 1)
    docs = five_kb(texts * copies, args.size, args.docs)

    pages: list[dict[str, Any]] = []
    if corpus.is_dir():
        paths = page_paths(corpus)
        random.Random(0).shuffle(paths)
        pages = extracted_pages(paths)
    aeb_paths = sorted((corpus / "html" / HTML_SETS[0] / "html").glob("*.gz"))[: args.pages]

    runs: list[dict[str, Any]] = []
    languages: Counter[str] = Counter()
    for _ in range(max(args.runs, 1)):
        rates, languages = throughput(seeds, docs, args.rounds)
        run: dict[str, Any] = {
            "calibration_loop_s": round(calibrate(), 3),
            "first_round": round(rates[0], 1),
            "steady": round(statistics.median(rates[1:] or rates), 1),
        }
        if len(pages) > STREAM_WARMUP:
            run["stream"] = round(stream(seeds, pages), 1)
        if aeb_paths:  # extraction timed again in each run, beside the enrichment
            aeb = extracted_pages(aeb_paths)
            run["share"] = {k: round(v, 4) for k, v in share(seeds, aeb).items()}
        runs.append(run)
    figures = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "load_s": round(load_s, 2),
        "docs": len(docs),
        "avg_chars": round(statistics.mean(map(len, docs))),
        "languages": dict(languages.most_common()),
        "stream_pages": max(len(pages) - STREAM_WARMUP, 0),
        "runs": runs,
        "median": _medians(runs),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        _print(figures)
    return 0


def _medians(runs: list[dict[str, Any]]) -> dict[str, float]:
    keys = ["first_round", "steady", "stream", "calibration_loop_s"]
    out = {k: statistics.median(r[k] for r in runs) for k in keys if all(k in r for r in runs)}
    if runs and all("share" in r for r in runs):
        for key in runs[0]["share"]:
            out[f"share.{key}"] = statistics.median(r["share"][key] for r in runs)
    return out


def _print(figures: dict[str, Any]) -> None:
    print(f"enrichment benchmark, python {figures['python']} on {figures['machine']}")
    print(f"  Enricher.from_seeds: {figures['load_s']} s")
    top = Counter(figures["languages"]).most_common(6)
    print(f"  {figures['docs']} texts of ~{figures['avg_chars']} chars; languages: {top}")
    for number, run in enumerate(figures["runs"], 1):
        line = (
            f"  run {number}: calibration {run['calibration_loop_s']} s | 5 KB docs/s per core: "
            f"first round {run['first_round']}, steady {run['steady']}"
        )
        if "stream" in run:
            line += f" | stream of unseen pages {run['stream']}"
        print(line)
        if "share" in run:
            s = run["share"]
            print(
                f"         {int(s['pages'])} pages: extract {s['extract_ms']:.1f} ms "
                f"(trafilatura defaults {s['trafilatura_defaults_ms']:.1f}), enrich "
                f"{s['enrich_first_ms']:.2f} ms first pass / {s['enrich_warm_ms']:.2f} warm = "
                f"{100 * s['share_first']:.1f}% / {100 * s['share_warm']:.1f}% of extraction "
                f"(median page {100 * s['share_median_page']:.1f}%)"
            )
    print("  medians:", json.dumps(figures["median"]))


if __name__ == "__main__":
    sys.exit(main())
