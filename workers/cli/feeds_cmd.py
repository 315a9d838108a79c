"""`newswire feeds sync|list|export`: the feed registry."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from workers.cli.common import load_settings, redis_target, use_settings
from workers.clients import get_keys, get_redis
from workers.errors import ConfigurationError
from workers.registry.sources import load_feed_file, to_opml
from workers.registry.store import FeedRegistry, SyncReport


def registry() -> FeedRegistry:
    return FeedRegistry(get_redis(), get_keys())


def sync_file(path: Path) -> SyncReport:
    """Load a feed list (YAML or OPML) into the registry. Idempotent."""
    try:
        feeds = load_feed_file(path)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc
    report = registry().sync(feeds, now=time.time())
    click.echo(
        f"{path}: {len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged",
        err=True,
    )
    return report


@click.group()
def feeds() -> None:
    """Manage the feed registry."""


@feeds.command("sync")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def sync(path: Path) -> None:
    """Add or update the feeds of a YAML list or OPML file (idempotent)."""
    with redis_target(load_settings()) as url:
        use_settings(redis_url=url)
        sync_file(path)


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


@feeds.command("list")
def list_feeds() -> None:
    """List registered feeds with their polling state."""
    with redis_target(load_settings()) as url:
        use_settings(redis_url=url)
        reg = registry()
        table = Table("id", "lang", "status", "last success", "errors", "entries", "next poll")
        for record in reg.all():
            state = record.state
            status = state.last_status or "new"
            if state.last_error_reason:
                status = f"{status} ({state.last_error_reason})"
            table.add_row(
                record.source.id,
                record.source.language or "-",
                status if record.source.enabled else "disabled",
                _when(state.last_success_at),
                str(state.consecutive_errors),
                str(state.entries_total),
                _when(reg.next_due(record.source.id)),
            )
        Console().print(table)


@feeds.command("export")
def export() -> None:
    """Print the registered feeds as OPML."""
    with redis_target(load_settings()) as url:
        use_settings(redis_url=url)
        click.echo(to_opml([r.source for r in registry().all()]), nl=False)
