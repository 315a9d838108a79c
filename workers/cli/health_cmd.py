"""`newswire health worker|beat`: liveness and readiness checks, exit status 0 or 1.

Used by docker-compose healthchecks; the checks themselves are in
workers/observability/health.py.
"""

from __future__ import annotations

import sys

import click
import redis

from workers.cli.common import existing_redis_url, load_settings, use_settings
from workers.clients import get_keys, get_redis
from workers.observability.health import Health, check_beat, check_worker
from workers.runtime.supervisor import WORKER_KINDS


def _report(health: Health, quiet: bool) -> None:
    if not quiet:
        for line in health.details:
            click.echo(line)
    sys.exit(0 if health.ok else 1)


@click.group()
def health() -> None:
    """Liveness and readiness of a service (exit 0 healthy, 1 not)."""


@health.command("worker")
@click.option("--kind", type=click.Choice(sorted(WORKER_KINDS)), help="Only workers of this kind.")
@click.option("--ready", is_flag=True, help="Also check the worker consumes its queues.")
@click.option("--anywhere", is_flag=True, help="Workers of any host, not only this one.")
@click.option("--timeout", type=float, default=3.0, show_default=True, help="Seconds to wait.")
@click.option("--quiet", "-q", is_flag=True, help="Exit status only.")
def worker_health(
    kind: str | None, ready: bool, anywhere: bool, timeout: float, quiet: bool
) -> None:
    """A worker of this host answers ping through the broker (--ready: and consumes)."""
    settings = use_settings(redis_url=existing_redis_url(load_settings()))
    from workers.app import create_app  # needs the Redis URL set above

    try:
        result = check_worker(
            create_app(settings), kind=kind, ready=ready, anywhere=anywhere, timeout=timeout
        )
    except (OSError, redis.RedisError) as exc:
        result = Health(False, [f"broker unreachable: {exc}"])
    _report(result, quiet)


@health.command("beat")
@click.option("--ready", is_flag=True, help="Also check a worker ran the dispatch recently.")
@click.option("--quiet", "-q", is_flag=True, help="Exit status only.")
def beat_health(ready: bool, quiet: bool) -> None:
    """Beat ticked within NEWSWIRE_BEAT_STALE_SECONDS (--ready: and its ticks are consumed)."""
    settings = use_settings(redis_url=existing_redis_url(load_settings()))
    try:
        result = check_beat(
            get_redis(), get_keys(), ready=ready, stale_seconds=settings.beat_stale_seconds
        )
    except redis.RedisError as exc:
        result = Health(False, [f"Redis unreachable: {exc}"])
    _report(result, quiet)
