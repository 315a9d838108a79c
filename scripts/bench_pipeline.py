"""Throughput: the whole pipeline against a bare trafilatura loop, same pages, same cores.

    python scripts/bench_pipeline.py [--pages 300] [--runs 3] [--json]

Pages come from the real-world corpus (NEWSWIRE_CORPUS): the article-extraction
benchmark, then trafilatura's evaluation pages. For the pipeline, a loopback
HTTP server serves them behind an RSS feed; a real fetch worker (threads) and a
real process worker (one process per core) take them from feed to stream,
exactly as `newswire run` does. For the bare loop, a process pool of the same
size runs the very same trafilatura call (same options) over the same pages,
already in memory and decoded. Each pipeline run is timed from dispatch
to the last document (or dead letter) on the stream. Bare and pipeline runs
take turns so that both see the same load on a shared machine; the figures are
medians.
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import cast

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402

from schemas import FeedSource  # noqa: E402
from workers.cli.common import use_settings  # noqa: E402
from workers.clients import get_keys, get_redis  # noqa: E402
from workers.demo.server import DemoServer  # noqa: E402
from workers.processing.decode import decode_page  # noqa: E402
from workers.processing.extract import EXTRACTOR_CONFIG, trafilatura_options  # noqa: E402
from workers.registry.store import FeedRegistry  # noqa: E402
from workers.runtime.embedded_redis import EmbeddedRedis  # noqa: E402
from workers.runtime.supervisor import Supervisor, worker_command  # noqa: E402
from workers.settings import get_settings  # noqa: E402

WARMUP_PAGES = 6


def corpus_pages(corpus: Path, count: int) -> list[bytes]:
    html = corpus / "html"
    files = sorted((html / "article-extraction-benchmark" / "html").glob("*.html.gz"))
    files += sorted((html / "trafilatura-eval" / "pages").glob("*.gz"))
    if len(files) < count:
        raise SystemExit(f"only {len(files)} corpus pages under {html}")
    return [gzip.decompress(path.read_bytes()) for path in files[:count]]


# --- the bare loop ---------------------------------------------------------------------


def _bare_extract(html: str) -> int:
    # The same trafilatura call the pipeline makes, with nothing around it.
    document = trafilatura.bare_extraction(html, **trafilatura_options(EXTRACTOR_CONFIG))
    return len(getattr(document, "text", None) or "")


def bare_loop(pages: list[str], workers: int) -> float:
    """Documents per second of trafilatura alone on `workers` processes."""
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pool.map(_bare_extract, pages[:workers])  # warm the children's imports
        started = time.perf_counter()
        pool.map(_bare_extract, pages, chunksize=1)
        return len(pages) / (time.perf_counter() - started)


# --- the pipeline ----------------------------------------------------------------------


def write_site(folder: Path, pages: list[bytes], runs: int) -> None:
    """Pages once, and one feed per run (plus warm-up) listing its own URLs for them."""
    (folder / "pages").mkdir(parents=True)
    for index, body in enumerate(pages):
        (folder / "pages" / f"{index}.html").write_bytes(body)
    for run in ["warmup", *map(str, range(runs))]:
        count = WARMUP_PAGES if run == "warmup" else len(pages)
        items = "".join(
            f"<item><title>page {i}</title><link>{{{{base_url}}}}/pages/{i}.html?run={run}"
            f"</link></item>"
            for i in range(count)
        )
        feed = f'<?xml version="1.0"?><rss version="2.0"><channel><title>bench</title>{items}'
        (folder / f"feed-{run}.xml").write_text(feed + "</channel></rss>", encoding="utf-8")


def finished() -> int:
    keys, client = get_keys(), get_redis()
    return int(client.xlen(keys.documents_stream)) + int(client.xlen(keys.deadletter_stream))


def run_feed(site: DemoServer, name: str, expected: int, supervisor: Supervisor) -> float:
    """Register one feed, dispatch it at once, wait for all its pages; seconds taken."""
    from workers.app import app  # needs the settings of this run
    from workers.tasks import DISPATCH_DUE_FEEDS

    before = finished()
    source = FeedSource.model_validate(
        {"id": f"bench-{name}", "url": f"{site.base_url}/feed-{name}.xml", "title": name}
    )
    FeedRegistry(get_redis(), get_keys()).sync([source], now=time.time())
    started = time.perf_counter()
    app.send_task(DISPATCH_DUE_FEEDS)
    while finished() - before < expected:
        if dead := supervisor.dead():
            raise SystemExit(f"{dead} exited; see the worker logs")
        time.sleep(0.05)
    return time.perf_counter() - started


def interleaved_runs(
    pages: list[bytes], decoded: list[str], runs: int, workers: int, folder: Path
) -> tuple[list[float], list[float]]:
    """Bare loop and pipeline taking turns, so that both see the same machine load."""
    write_site(folder / "site", pages, runs)
    supervisor = Supervisor(os.environ, log_dir=folder / "logs")
    settings = get_settings()
    supervisor.start("worker-fetch", worker_command("fetch", settings, loglevel="WARNING"))
    supervisor.start(
        "worker-process",
        worker_command("process", settings, concurrency=workers, loglevel="WARNING"),
    )
    pipeline_rates, bare_rates = [], []
    try:
        with DemoServer(folder / "site") as site:
            run_feed(site, "warmup", WARMUP_PAGES, supervisor)
            for run in range(runs):
                bare_rates.append(bare_loop(decoded, workers))
                seconds = run_feed(site, str(run), len(pages), supervisor)
                pipeline_rates.append(len(pages) / seconds)
                print(
                    f"  run {run + 1}: bare trafilatura {bare_rates[-1]:.2f} docs/s, "
                    f"pipeline {pipeline_rates[-1]:.2f} docs/s",
                    flush=True,
                )
    finally:
        supervisor.stop()
    return pipeline_rates, bare_rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()

    raw = corpus_pages(get_settings().corpus_dir, args.pages)
    decoded = [decode_page(body, None).html for body in raw]
    with tempfile.TemporaryDirectory(prefix="newswire-bench-") as tmp:
        folder = Path(tmp)
        given = get_settings().redis_url
        server = None if given else EmbeddedRedis(folder / "redis")
        url = given or cast(EmbeddedRedis, server).start()
        try:
            use_settings(redis_url=url, key_prefix=f"newswire-bench-{int(time.time())}")
            pipeline_rates, bare_rates = interleaved_runs(
                raw, decoded, args.runs, args.workers, folder
            )
        finally:
            if server is not None:
                server.stop()

    pipeline_rate = statistics.median(pipeline_rates)
    bare_rate = statistics.median(bare_rates)
    result = {
        "pages": args.pages,
        "workers": args.workers,
        "runs": args.runs,
        "pipeline_docs_per_s": round(pipeline_rate, 2),
        "bare_trafilatura_docs_per_s": round(bare_rate, 2),
        "ratio": round(pipeline_rate / bare_rate, 3),
        "pipeline_runs": [round(r, 2) for r in pipeline_rates],
        "bare_runs": [round(r, 2) for r in bare_rates],
    }
    result["ratio"] = round(
        result["pipeline_docs_per_s"] / result["bare_trafilatura_docs_per_s"], 3
    )
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"pipeline {result['pipeline_docs_per_s']} docs/s, bare trafilatura "
            f"{result['bare_trafilatura_docs_per_s']} docs/s, ratio {result['ratio']:.0%} "
            f"({args.pages} pages, {args.workers} processes, median of {args.runs})"
        )


if __name__ == "__main__":
    main()
