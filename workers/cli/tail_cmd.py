"""`newswire tail`: read a stream as a consumer group, print documents, acknowledge them."""

from __future__ import annotations

import json

import click

from workers.cli.common import load_settings, redis_target, use_settings
from workers.clients import get_keys, get_redis
from workers.consumer import GroupReader, StreamEntry
from workers.errors import InvalidStreamEntry


def _stream_name(name: str) -> str:
    try:
        return get_keys().named_stream(name)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def _line(entry: StreamEntry, as_json: bool) -> str:
    if as_json:
        return entry.fields.get("doc") or entry.fields.get("record") or json.dumps(entry.fields)
    if "doc" in entry.fields:
        try:
            doc = entry.document()
        except InvalidStreamEntry as exc:
            return f"{entry.entry_id} invalid: {exc}"
        topics = ",".join(doc.topic_ids) or "-"
        return f"{entry.entry_id} {doc.id} [{doc.language.code}] {topics} {doc.title or doc.url}"
    fields = entry.fields
    if "state" in fields:  # feed-health
        return f"{entry.entry_id} {fields['feed_id']} {fields['state']} {fields.get('changes', '')}"
    subject = fields.get("doc_id") or fields.get("feed_id")
    return f"{entry.entry_id} {fields.get('stage')} {fields.get('reason')} {subject}"


@click.command()
@click.option("--stream", "stream_name", default="documents", show_default=True,
              help="documents, deadletter, feed-health or topic:<topic id>.")  # fmt: skip
@click.option("--group", default="newswire-tail", show_default=True, help="Consumer group.")
@click.option("--consumer", default=None, help="Consumer name (default: host-pid).")
@click.option("--count", type=int, default=0, help="Stop after this many entries (0: follow).")
@click.option("--json", "as_json", is_flag=True, help="Print each document as JSON.")
@click.option("--min-idle", type=int, default=60, show_default=True,
              help="Claim entries other consumers held this many seconds.")  # fmt: skip
def tail(  # noqa: PLR0917 (one parameter per click option)
    stream_name: str, group: str, consumer: str | None, count: int, as_json: bool, min_idle: int
) -> None:
    """Read a stream with a consumer group, print each entry, acknowledge it."""
    with redis_target(load_settings()) as url:
        use_settings(redis_url=url)
        reader = GroupReader(
            get_redis(), _stream_name(stream_name), group, consumer, min_idle_ms=min_idle * 1000
        )
        printed = 0
        try:
            while count == 0 or printed < count:
                batch = reader.read(count=min(10, count - printed) if count else 10)
                for entry in batch:
                    click.echo(_line(entry, as_json))
                    reader.ack(entry.entry_id)
                    printed += 1
        except KeyboardInterrupt:
            pass
