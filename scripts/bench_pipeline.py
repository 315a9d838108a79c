"""Throughput: the whole pipeline against a bare trafilatura loop, same pages, same cores.

    python scripts/bench_pipeline.py [--pages 300] [--runs 3] [--json]

Pages come from the real-world corpus (NEWSWIRE_CORPUS): the article-extraction
benchmark, then trafilatura's evaluation pages. For the pipeline, a loopback
HTTP server serves them behind an RSS feed; a real fetch worker (threads) and a
real process worker (one process per core) take them from feed to stream,
exactly as `newswire run` does. For the bare loop, a process pool of the same
size runs trafilatura over the same pages, already in memory and decoded, twice:
with the very same call the pipeline makes (its options; this ratio is the
pipeline's whole overhead), and with trafilatura's defaults (`extract(html)`).
Each pipeline run is timed from dispatch to the last document (or dead letter)
on the stream. Bare and pipeline runs
take turns so that both see the same load on a shared machine; the figures are
medians.
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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


PROCESS_WORKER = "worker-process"


def corpus_pages(corpus: Path, count: int) -> list[bytes]:
    html = corpus / "html"
    files = sorted((html / "article-extraction-benchmark" / "html").glob("*.html.gz"))
    files += sorted((html / "trafilatura-eval" / "pages").glob("*.gz"))
    if len(files) < count:
        raise SystemExit(f"only {len(files)} corpus pages under {html}")
    return [gzip.decompress(path.read_bytes()) for path in files[:count]]


# --- the bare loop ---------------------------------------------------------------------


def _bare_extract(html: str) -> float:
    """The same trafilatura call the pipeline makes, with nothing around it; CPU seconds."""
    started = time.process_time()
    trafilatura.bare_extraction(html, **trafilatura_options(EXTRACTOR_CONFIG))
    return time.process_time() - started


def _default_extract(html: str) -> float:
    """trafilatura as its documentation shows it, every setting at its default; CPU seconds."""
    started = time.process_time()
    trafilatura.extract(html)
    return time.process_time() - started


@dataclass
class BareRun:
    docs_per_s: float
    cpu_ms_per_doc: float  # measured inside the pool processes: independent of the load


def bare_loop(pages: list[str], workers: int, extract: Callable[[str], float]) -> BareRun:
    """Trafilatura alone on `workers` processes: documents per second and CPU per document."""
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pool.map(extract, pages[:workers])  # warm the children's imports
        started = time.perf_counter()
        cpu = pool.map(extract, pages, chunksize=1)
        rate = len(pages) / (time.perf_counter() - started)
    return BareRun(rate, sum(cpu) * 1000 / len(pages))


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


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def cpu_by_process(supervisor: Supervisor) -> dict[str, float]:
    """CPU seconds used so far by each part of the pipeline; Linux only.

    The prefork worker is split into its pool processes (the extraction) and its
    parent (which relays every message to them); Redis is counted when it is local.
    """
    if not Path("/proc/self/stat").exists():
        return {}
    usage = {}
    for name, pid in supervisor.pids().items():
        children = _children(pid)
        usage[name] = _cpu_seconds(pid)
        if children:
            usage[f"{name} pool"] = sum(_cpu_seconds(p) for p in children)
    redis_pid = int(get_redis().info("server")["process_id"])
    if Path(f"/proc/{redis_pid}/stat").exists():
        usage["redis-server"] = _cpu_seconds(redis_pid)
    usage["feed site and dispatch (this script)"] = _cpu_seconds(os.getpid())
    return usage


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


@dataclass
class Runs:
    """Per run: documents per second (wall clock) and CPU milliseconds per document."""

    rates: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)

    def add(self, kind: str, rate: float, cpu_ms: float) -> None:
        self.rates.setdefault(kind, []).append(rate)
        self.cpu.setdefault(kind, []).append(cpu_ms)

    def medians(self, table: dict[str, list[float]]) -> dict[str, float]:
        return {kind: statistics.median(values) for kind, values in table.items()}


def report_run(run: int, runs: Runs, per_doc: dict[str, float]) -> None:
    rate = {kind: values[-1] for kind, values in runs.rates.items()}
    cpu = {kind: values[-1] for kind, values in runs.cpu.items()}
    print(
        f"  run {run + 1}: pipeline {rate['pipeline']:.2f} docs/s, bare trafilatura "
        f"(same call) {rate['same_call']:.2f} ({rate['pipeline'] / rate['same_call']:.0%}), "
        f"(defaults) {rate['defaults']:.2f}",
        flush=True,
    )
    for process, ms in per_doc.items():
        print(f"    CPU {process}: {ms:.1f} ms per document", flush=True)
    outside = cpu["pipeline"] - per_doc.get(f"{PROCESS_WORKER} pool", 0.0)
    print(
        f"    CPU per document: pipeline {cpu['pipeline']:.1f} ms, bare call "
        f"{cpu['same_call']:.1f} ms ({cpu['same_call'] / cpu['pipeline']:.0%}); outside the "
        f"pool processes {outside:.1f} ms: even a pool doing nothing but the bare call "
        f"would reach {cpu['same_call'] / (cpu['same_call'] + outside):.0%}",
        flush=True,
    )


def interleaved_runs(
    pages: list[bytes], decoded: list[str], count: int, workers: int, folder: Path
) -> Runs:
    """Bare loop and pipeline taking turns, so that both see the same machine load."""
    write_site(folder / "site", pages, count)
    supervisor = Supervisor(os.environ, log_dir=folder / "logs")
    settings = get_settings()
    supervisor.start("worker-fetch", worker_command("fetch", settings, loglevel="WARNING"))
    supervisor.start(
        PROCESS_WORKER,
        worker_command("process", settings, concurrency=workers, loglevel="WARNING"),
    )
    runs = Runs()
    try:
        with DemoServer(folder / "site") as site:
            run_feed(site, "warmup", WARMUP_PAGES, supervisor)
            for run in range(count):
                for kind, extract in (("same_call", _bare_extract), ("defaults", _default_extract)):
                    bare = bare_loop(decoded, workers, extract)
                    runs.add(kind, bare.docs_per_s, bare.cpu_ms_per_doc)
                cpu_before = cpu_by_process(supervisor)
                seconds = run_feed(site, str(run), len(pages), supervisor)
                cpu_after = cpu_by_process(supervisor)
                per_doc = {
                    process: (used - cpu_before.get(process, 0.0)) * 1000 / len(pages)
                    for process, used in cpu_after.items()
                }
                runs.add("pipeline", len(pages) / seconds, sum(per_doc.values()))
                report_run(run, runs, per_doc)
    finally:
        supervisor.stop()
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    # SIGTERM (timeout, kill) unwinds like Ctrl-C, so that the workers and Redis stop too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    raw = corpus_pages(get_settings().corpus_dir, args.pages)
    decoded = [decode_page(body, None).html for body in raw]
    with tempfile.TemporaryDirectory(prefix="newswire-bench-") as tmp:
        folder = Path(tmp)
        given = get_settings().redis_url
        server = None if given else EmbeddedRedis(folder / "redis")
        url = given or cast(EmbeddedRedis, server).start()
        try:
            # One loopback site serves every page: its politeness limit would measure
            # the limit, not the pipeline (a real fetch worker spreads over many hosts).
            # Loopback must be allowed explicitly.
            use_settings(
                redis_url=url,
                key_prefix=f"newswire-bench-{int(time.time())}",
                host_max_in_flight="64",
                host_min_interval_seconds="0",
                fetch_allowlist="127.0.0.1",
            )
            runs = interleaved_runs(raw, decoded, args.runs, args.workers, folder)
        finally:
            if server is not None:
                server.stop()

    rates, cpu = runs.medians(runs.rates), runs.medians(runs.cpu)
    result = {
        "pages": args.pages,
        "workers": args.workers,
        "runs": args.runs,
        "docs_per_s": {name: round(value, 2) for name, value in rates.items()},
        "ratio_to_same_call": round(rates["pipeline"] / rates["same_call"], 3),
        "ratio_to_defaults": round(rates["pipeline"] / rates["defaults"], 3),
        "cpu_ms_per_doc": {name: round(value, 2) for name, value in cpu.items()},
        "cpu_ratio_to_same_call": round(cpu["same_call"] / cpu["pipeline"], 3),
        "runs_docs_per_s": {k: [round(v, 2) for v in values] for k, values in runs.rates.items()},
        "runs_cpu_ms_per_doc": {k: [round(v, 2) for v in values] for k, values in runs.cpu.items()},
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"pipeline {rates['pipeline']:.2f} docs/s; bare trafilatura, same call "
        f"{rates['same_call']:.2f} docs/s (ratio {result['ratio_to_same_call']:.0%}), "
        f"defaults {rates['defaults']:.2f} docs/s (ratio {result['ratio_to_defaults']:.0%}); "
        f"CPU per document: pipeline {cpu['pipeline']:.1f} ms, same call {cpu['same_call']:.1f} "
        f"ms (ratio {result['cpu_ratio_to_same_call']:.0%}); "
        f"{args.pages} pages, {args.workers} processes, median of {args.runs}"
    )


if __name__ == "__main__":
    main()
