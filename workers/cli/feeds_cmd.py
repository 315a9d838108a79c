"""`newswire feeds sync|list|status|export`: the feed registry and its health."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from schemas import FeedHealth, FeedSource
from workers.cli.common import load_settings, redis_target, use_settings
from workers.cli.progress import progress
from workers.clients import get_keys, get_redis
from workers.errors import ConfigurationError
from workers.polling.schedule import ScheduleConfig
from workers.registry.health import snapshot
from workers.registry.sources import load_feed_file, to_opml
from workers.registry.store import FeedRegistry, SyncReport

# Feeds synced between two steps of the progress bar.
_SYNC_CHUNK = 200


def registry() -> FeedRegistry:
    return FeedRegistry(get_redis(), get_keys())


def sync_file(path: Path) -> SyncReport:
    """Load a feed list (YAML or OPML) into the registry. Idempotent."""
    try:
        feeds = load_feed_file(path)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc
    report = SyncReport()
    reg, now = registry(), time.time()
    chunks = [feeds[i : i + _SYNC_CHUNK] for i in range(0, len(feeds), _SYNC_CHUNK)]
    for chunk in progress(chunks, total=len(chunks), description=f"syncing {len(feeds)} feeds"):
        part = reg.sync(chunk, now=now)
        report.added.extend(part.added)
        report.updated.extend(part.updated)
        report.unchanged.extend(part.unchanged)
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
            if state.consecutive_errors and state.last_error_reason:
                status = f"{status} ({state.last_error_reason})"
            if state.health == "disabled":
                status = f"disabled ({state.disabled_reason})"
            table.add_row(
                record.source.id,
                record.source.language or "-",
                status if record.source.enabled else "paused",
                _when(state.last_success_at),
                str(state.consecutive_errors),
                str(state.entries_total),
                _when(reg.next_due(record.source.id)),
            )
        Console().print(table)


def health_snapshots(reg: FeedRegistry, *, now: float) -> list[FeedHealth]:
    """Every feed's health now, with its next poll from the due-time index."""
    cfg = ScheduleConfig.from_settings(load_settings())
    due = reg.due_times()
    return [
        snapshot(record, now=now, cfg=cfg, next_poll_at=due.get(record.source.id))
        for record in reg.all()
    ]


def _ago(moment: datetime | None, now: float) -> str:
    """'5m ago', 'in 2h', '-': short relative times for the status table."""
    if moment is None:
        return "-"
    seconds = now - moment.timestamp()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if abs(seconds) >= size:
            amount = f"{abs(seconds) / size:.0f}{unit}"
            return f"{amount} ago" if seconds > 0 else f"in {amount}"
    return "now"


def _state_cell(health: FeedHealth) -> str:
    cell: str = health.state
    if health.disabled_reason and health.state == "disabled":
        cell = f"disabled ({health.disabled_reason})"
    return f"{cell}, stale" if health.stale else cell


def _error_cell(health: FeedHealth, now: float) -> str:
    if health.last_error_reason is None:
        return "-"
    return f"{health.last_error_reason} {_ago(health.last_error_at, now)}"


def _next_cell(health: FeedHealth, now: float) -> str:
    if health.next_poll_at is None:
        return "-"
    return "due" if health.next_poll_at.timestamp() <= now else _ago(health.next_poll_at, now)


@feeds.command("status")
@click.option("--json", "as_json", is_flag=True, help="One FeedHealth JSON record per line.")
@click.option("--problems", is_flag=True, help="Only feeds that are not active, or stale.")
def status(as_json: bool, problems: bool) -> None:
    """Health of every feed: state, last success and error, rate, next poll."""
    with redis_target(load_settings()) as url:
        use_settings(redis_url=url)
        now = time.time()
        rows = health_snapshots(registry(), now=now)
        if problems:
            rows = [h for h in rows if h.state != "active" or h.stale]
        if as_json:
            for health in rows:
                click.echo(health.model_dump_json())
            return
        table = Table(
            "id", "state", "last success", "last error", "errors", "items/day", "next poll"
        )
        for health in rows:
            table.add_row(
                health.feed_id,
                _state_cell(health),
                _ago(health.last_success_at, now),
                _error_cell(health, now),
                str(health.consecutive_errors),
                "-" if health.items_per_day is None else f"{health.items_per_day:.1f}",
                _next_cell(health, now),
            )
        Console(width=160).print(table)


@feeds.command("export")
def export() -> None:
    """Print the registered feeds as OPML."""
    with redis_target(load_settings()) as url:
        use_settings(redis_url=url)
        # Export where each feed is now: a permanent redirect may have moved it.
        current = [
            FeedSource.model_validate({**r.source.model_dump(), "url": r.url})
            for r in registry().all()
        ]
        click.echo(to_opml(current), nl=False)
