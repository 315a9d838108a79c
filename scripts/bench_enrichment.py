"""Benchmark the enrichment stage (language + topics + entities) on one core.

    PYTHONPATH=. python scripts/bench_enrichment.py [--docs 300] [--size 5000] [--rounds 3]

Two figures:

1. Throughput on ~5 KB texts (``--size``), built from the sample article and the
   article texts of the corpus (newspaper4k expected texts, article-extraction-
   benchmark ground truth), cut at sentence ends. The first round sees every text
   for the first time (cold word memos); later rounds are the steady state of a
   long-running worker. Reported as documents per second of CPU time.
2. The bar of DESIGN.md: enrichment time as a share of trafilatura's extraction
   time on the same pages (article-extraction-benchmark HTML), page by page.

Needs the corpus (NEWSWIRE_CORPUS, default ../shared/corpus) for realistic texts;
without it, only the sample article is used and the trafilatura ratio is skipped.
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from workers.enrichment import Enricher
from workers.settings import get_settings


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


def throughput(
    enricher: Enricher, docs: list[str], rounds: int
) -> tuple[list[float], Counter[str]]:
    """Docs per CPU second for each round over all docs, and the languages found."""
    rates = []
    languages: Counter[str] = Counter()
    for _ in range(rounds):
        start = time.process_time()
        results = [enricher.enrich(text) for text in docs]
        rates.append(len(docs) / (time.process_time() - start))
        languages = Counter(r.language.code or "und" for r in results)
    return rates, languages


def trafilatura_share(enricher: Enricher, corpus: Path, limit: int) -> dict[str, float] | None:
    """Enrichment time / extraction time, over the article-extraction-benchmark pages."""
    import trafilatura

    pages = sorted((corpus / "html" / "article-extraction-benchmark" / "html").glob("*.html.gz"))
    if not pages:
        return None
    extract_s = enrich_s = 0.0
    shares = []
    for page in pages[:limit]:
        html = gzip.decompress(page.read_bytes()).decode("utf-8", "replace")
        start = time.process_time()
        text = trafilatura.extract(html) or ""
        extracted = time.process_time() - start
        start = time.process_time()
        enricher.enrich(text)
        enriched = time.process_time() - start
        extract_s += extracted
        enrich_s += enriched
        if extracted > 0:
            shares.append(enriched / extracted)
    return {
        "pages": float(min(limit, len(pages))),
        "extract_ms_per_page": 1000 * extract_s / min(limit, len(pages)),
        "enrich_ms_per_page": 1000 * enrich_s / min(limit, len(pages)),
        "share_total": enrich_s / extract_s,
        "share_median": statistics.median(shares),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--docs", type=int, default=300, help="number of texts")
    parser.add_argument("--size", type=int, default=5000, help="characters per text")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the texts")
    parser.add_argument("--pages", type=int, default=100, help="pages for the trafilatura ratio")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    settings = get_settings()
    start = time.perf_counter()
    enricher = Enricher.from_seeds(settings.seeds_dir)
    load_s = time.perf_counter() - start

    sample = (settings.seeds_dir / "kim-putin-arms-fr.txt").read_text(encoding="utf-8")
    texts = [sample, *corpus_texts(settings.corpus_dir)]
    copies = 1 + args.docs * args.size // max(sum(map(len, texts)), 1)
    docs = five_kb(texts * copies, args.size, args.docs)
    rates, languages = throughput(enricher, docs, args.rounds)
    share = trafilatura_share(enricher, settings.corpus_dir, args.pages)

    figures = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "calibration_loop_s": round(calibrate(), 3),
        "load_s": round(load_s, 2),
        "docs": len(docs),
        "avg_chars": round(statistics.mean(map(len, docs))),
        "languages": dict(languages.most_common()),
        "docs_per_cpu_s_first_round": round(rates[0], 1),
        "docs_per_cpu_s_steady": round(max(rates[1:] or rates), 1),
        "trafilatura": {k: round(v, 4) for k, v in share.items()} if share else None,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"enrichment benchmark, python {figures['python']} on {figures['machine']}")
    print(f"  calibration loop (10M additions): {figures['calibration_loop_s']} s CPU")
    print(f"  Enricher.from_seeds: {figures['load_s']} s")
    top = languages.most_common(6)
    print(f"  {len(docs)} texts of ~{figures['avg_chars']} chars; languages: {top}")
    print(f"  throughput, first round : {figures['docs_per_cpu_s_first_round']} docs/s per core")
    print(f"  throughput, steady state: {figures['docs_per_cpu_s_steady']} docs/s per core")
    if share:
        print(
            f"  vs trafilatura on {int(share['pages'])} pages: extract "
            f"{share['extract_ms_per_page']:.1f} ms/page, enrich "
            f"{share['enrich_ms_per_page']:.2f} ms/page = {100 * share['share_total']:.1f}% "
            f"(median page {100 * share['share_median']:.1f}%)"
        )
    else:
        print("  trafilatura ratio skipped: corpus pages not found (set NEWSWIRE_CORPUS)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
