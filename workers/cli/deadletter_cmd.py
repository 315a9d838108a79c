"""`newswire deadletter list|replay`: what failed for good, and sending it round again."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console
from rich.table import Table

from schemas import DeadLetter
from workers.cli.common import load_settings, redis_target, use_settings
from workers.cli.progress import progress
from workers.clients import get_keys, get_redis
from workers.publishing.deadletter import DeadLetterSink
from workers.publishing.replay import Replayer


def _sink() -> DeadLetterSink:
    return DeadLetterSink(get_redis(), get_keys(), maxlen=load_settings().stream_maxlen)


def _matching(
    entries: list[tuple[str, DeadLetter]], stage: str | None, reason: str | None
) -> list[tuple[str, DeadLetter]]:
    return [
        (entry_id, dead)
        for entry_id, dead in entries
        if (stage is None or dead.stage == stage) and (reason is None or dead.reason == reason)
    ]


@click.group()
def deadletter() -> None:
    """List and replay the dead-letter stream."""


@deadletter.command("list")
@click.option("--count", type=int, default=50, show_default=True, help="Newest entries to show.")
@click.option("--stage", help="Only this stage (poll, fetch, process...).")
@click.option("--reason", help="Only this reason (http_404, no_text...).")
def list_entries(count: int, stage: str | None, reason: str | None) -> None:
    """Show the newest dead-letter entries."""
    with redis_target(load_settings()) as url:
        use_settings(redis_url=url)
        table = Table()
        for column in ("entry", "stage", "reason", "error", "attempts"):
            table.add_column(column, no_wrap=True)
        table.add_column("subject", overflow="fold")
        table.add_column("failed at")
        for entry_id, dead in _matching(_sink().latest(count), stage, reason):
            table.add_row(
                entry_id,
                dead.stage,
                dead.reason,
                dead.error_class,
                str(dead.attempts),
                dead.url or dead.feed_id or "-",
                dead.failed_at.strftime("%Y-%m-%d %H:%M:%S"),
            )
        Console().print(table)


@deadletter.command("replay")
@click.argument("entry_ids", nargs=-1)
@click.option("--stage", help="Replay every entry of this stage.")
@click.option("--reason", help="Replay every entry with this reason.")
@click.option("--count", type=int, default=1000, show_default=True, help="Newest entries scanned.")
@click.option("--force", is_flag=True, help="Replay entries that were replayed before.")
def replay(
    entry_ids: tuple[str, ...], stage: str | None, reason: str | None, count: int, force: bool
) -> None:
    """Send dead-lettered work round again (ENTRY_IDS, or all matching --stage/--reason)."""
    if not entry_ids and not (stage or reason):
        raise click.UsageError("name entry ids, or select with --stage / --reason")
    with redis_target(load_settings()) as url:
        settings = use_settings(redis_url=url)
        entries = _matching(_sink().latest(count), stage, reason)
        if entry_ids:
            entries = [(i, d) for i, d in entries if i in set(entry_ids)]
        from workers.app import create_app  # importing it needs the Redis URL set above

        app = create_app(settings)

        def send(task_name: str, args: list[Any]) -> None:
            app.send_task(task_name, args=args)

        tracked = progress(entries, total=len(entries), description="replaying")
        for outcome in Replayer(get_redis(), get_keys(), send).replay(tracked, force=force):
            click.echo(f"{outcome.entry_id} {outcome.action}")
