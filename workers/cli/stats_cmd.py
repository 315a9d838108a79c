"""`newswire stats`: one screen on feeds, queues, streams and lag, beat, recent errors."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import click
from rich.console import Console, Group
from rich.table import Table

from workers.cli.common import existing_redis_url, load_settings, use_settings
from workers.cli.feeds_cmd import registry
from workers.clients import get_keys, get_redis
from workers.enrichment.taxonomy import topic_ids
from workers.observability import broker, redis_state
from workers.observability.redis_state import RecentErrors, StreamState
from workers.polling.schedule import PublishingRate, ScheduleConfig, is_stale
from workers.registry.store import FeedRegistry

FEED_STATES = ("active", "erroring", "disabled", "paused")


@dataclass(frozen=True)
class Stats:
    feeds: dict[str, int]  # by state, plus "stale" and "due"
    queues: dict[str, int]
    unacked: int | None  # None: the broker does not say (RabbitMQ)
    streams: list[StreamState]
    errors: RecentErrors
    beat_tick: float | None
    last_dispatch: float | None
    at: float


def gather(now: float | None = None) -> Stats:
    """Everything the screen shows, read from the Redis in use."""
    moment = time.time() if now is None else now
    settings, client, keys = load_settings(), get_redis(), get_keys()
    feeds = feed_counts(registry(), ScheduleConfig.from_settings(settings), now=moment)
    feeds["due"] = redis_state.feeds_registered_and_due(client, keys, now=moment)[1]
    beat_tick, last_dispatch = redis_state.beat_times(client, keys)
    return Stats(
        feeds=dict(feeds),
        queues=broker.queue_depths(settings, client, keys),
        unacked=broker.unacked_messages(settings, client, keys),
        streams=redis_state.stream_states(client, keys, topic_ids(settings.seeds_dir)),
        errors=redis_state.recent_errors(client, keys, now=moment),
        beat_tick=beat_tick,
        last_dispatch=last_dispatch,
        at=moment,
    )


def feed_counts(reg: FeedRegistry, cfg: ScheduleConfig, *, now: float) -> Counter[str]:
    """Feeds by state (paused: disabled by the operator), and how many are stale."""
    feeds = Counter({state: 0 for state in FEED_STATES})
    stale = 0
    for summary in reg.summaries():
        feeds[summary.health if summary.enabled else "paused"] += 1
        rate = PublishingRate(summary.gap_seconds, summary.gap_samples, summary.last_item_at)
        stale += is_stale(cfg, rate, now=now)
    feeds["stale"] = stale
    return feeds


def _ago(epoch: float | None, now: float) -> str:
    return "never" if epoch is None else f"{max(0.0, now - epoch):.0f}s ago"


def _tables(stats: Stats) -> list[Table]:
    feeds = Table("state", "feeds", title="Feeds")
    for state, count in stats.feeds.items():
        feeds.add_row(state, str(count))
    queues = Table("queue", "waiting", title="Queues")
    for queue, depth in stats.queues.items():
        queues.add_row(queue, str(depth))
    if stats.unacked is not None:
        queues.add_row("(unacked)", str(stats.unacked), style="dim")
    queues.add_row("beat ticked", _ago(stats.beat_tick, stats.at), style="dim")
    queues.add_row("dispatch ran", _ago(stats.last_dispatch, stats.at), style="dim")
    streams = Table("stream", "length", "group", "pending", "lag", title="Streams")
    for stream in stats.streams:
        if not stream.length and not stream.groups:
            continue
        streams.add_row(stream.name, str(stream.length), "-", "-", "-")
        for group in stream.groups:
            lag = "?" if group.lag is None else f"{group.lag}{'+' if group.lag_capped else ''}"
            streams.add_row("", "", group.name, str(group.pending), lag)
    errors = Table("stage", "reason", "dead letters", title="Errors in the last hour")
    if stats.errors.capped:
        errors.caption = f"counted over the newest {redis_state.RECENT_ERRORS_CAP} entries"
    for (stage, reason), count in sorted(stats.errors.dead_letters.items()):
        errors.add_row(stage, reason, str(count))
    errors.add_row("feeds", "poll errors", str(stats.errors.feed_errors), style="dim")
    return [feeds, queues, streams, errors]


def as_json(stats: Stats) -> dict[str, Any]:
    out = asdict(stats)
    out["errors"]["dead_letters"] = [
        {"stage": stage, "reason": reason, "count": count}
        for (stage, reason), count in sorted(stats.errors.dead_letters.items())
    ]
    return out


@click.command()
@click.option("--json", "json_output", is_flag=True, help="The same figures as one JSON object.")
def stats(json_output: bool) -> None:
    """One screen: feeds by state, queue depths, streams and lag, errors in the last hour."""
    use_settings(redis_url=existing_redis_url(load_settings()))
    figures = gather()
    if json_output:
        click.echo(json.dumps(as_json(figures), indent=2))
        return
    console = Console()
    top = Table.grid(padding=(0, 2))
    feeds, queues, streams, errors = _tables(figures)
    top.add_row(feeds, queues)
    console.print(Group(top, streams, errors))
