"""`newswire demo`: the real pipeline on the bundled demo feeds, offline, start to finish."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import cast

import click
from rich.console import Console
from rich.table import Table

from schemas import DeadLetter, Document
from workers.cli.common import load_settings, redis_target, use_settings
from workers.cli.services_cmd import start_host
from workers.clients import get_keys, get_redis
from workers.demo.server import DemoPlan, DemoServer
from workers.registry.store import FeedRegistry
from workers.runtime.supervisor import Supervisor


def _stream_field(stream: str, field: bytes) -> list[bytes]:
    rows = cast(list[tuple[bytes, dict[bytes, bytes]]], get_redis().xrange(stream))
    return [fields[field] for _, fields in rows]


def _demo_documents() -> list[Document]:
    return [
        Document.model_validate_json(raw)
        for raw in _stream_field(get_keys().documents_stream, b"doc")
    ]


def _demo_deadletters() -> list[DeadLetter]:
    return [
        DeadLetter.model_validate_json(raw)
        for raw in _stream_field(get_keys().deadletter_stream, b"record")
    ]


def _wait_for(plan: DemoPlan, supervisor: Supervisor, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if dead := supervisor.dead():
            raise click.ClickException(f"demo failed: {', '.join(dead)} exited")
        documents = len(_demo_documents())
        deadletters = len(_demo_deadletters())
        if documents >= plan.expected_documents and deadletters >= plan.expected_deadletters:
            return
        time.sleep(0.5)
    raise click.ClickException(
        f"demo timed out after {timeout:.0f}s: {len(_demo_documents())}/{plan.expected_documents} "
        f"documents, {len(_demo_deadletters())}/{plan.expected_deadletters} dead letters "
        "(worker logs are in the demo data folder)"
    )


def _print_summary(console: Console, elapsed: float) -> None:
    table = Table(title="Documents on the stream", show_lines=True)
    table.add_column("title", max_width=24, overflow="ellipsis", no_wrap=True)
    table.add_column("lang", no_wrap=True)
    table.add_column("topics, best first", no_wrap=True)
    table.add_column("countries", max_width=11)
    for doc in _demo_documents():
        table.add_row(
            doc.title or doc.url,
            f"{doc.language.code or '?'} {doc.language.confidence:.2f}",
            "\n".join(t.id for t in doc.topics) or "-",
            " ".join(c.id for c in doc.entities.countries[:6]) or "-",
        )
    console.print(table)
    for dead in _demo_deadletters():
        console.print(f"[yellow]dead letter[/]: stage={dead.stage} reason={dead.reason} {dead.url}")
    console.print(f"demo finished in {elapsed:.1f}s")


@click.command()
@click.option("--timeout", type=float, default=180.0, show_default=True, help="Give up after.")
def demo(timeout: float) -> None:
    """Serve the bundled demo feeds on loopback and run the real pipeline until all arrive."""
    started = time.monotonic()
    settings = load_settings()
    demo_dir = settings.seeds_dir / "demo"
    plan = DemoPlan.load(demo_dir)
    data_dir = Path(settings.data_dir) / "demo"
    if not settings.redis_url:
        shutil.rmtree(data_dir, ignore_errors=True)  # our own embedded data: start afresh
        use_settings(data_dir=str(data_dir))
    else:
        # Someone else's Redis: never flush it; use a fresh key prefix instead.
        use_settings(key_prefix=f"newswire-demo-{int(time.time())}")
    console = Console()
    with redis_target(load_settings()) as url, DemoServer(demo_dir) as site:
        # Every demo page sits on one loopback host of our own: no need to be polite to
        # it, and it must be allowed explicitly (loopback is refused by default).
        settings = use_settings(
            redis_url=url,
            fetch_allowlist=site.host,
            dispatch_every_seconds="1",
            host_max_in_flight="8",
            host_min_interval_seconds="0",
        )
        FeedRegistry(get_redis(), get_keys()).sync(
            plan.feed_sources(site.base_url), now=time.time()
        )
        console.print(f"demo site on {site.base_url}: {len(plan.feeds)} feeds")
        supervisor = Supervisor(os.environ, log_dir=data_dir / "logs")
        try:
            start_host(supervisor, loglevel="WARNING")
            _wait_for(plan, supervisor, timeout)
        finally:
            supervisor.stop()
        _print_summary(console, time.monotonic() - started)
