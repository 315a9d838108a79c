"""`newswire run`, `newswire worker`, `newswire beat`: the long-running services."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from types import FrameType

import click

from workers.cli.common import load_settings, redis_target, setup_logging, use_settings
from workers.cli.feeds_cmd import sync_file
from workers.runtime.startup import wait_for_redis_at
from workers.runtime.supervisor import WORKER_KINDS, Supervisor, beat_command, worker_command


class _Stop(Exception):
    """Raised by the signal handler to leave the wait loop."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    # Once: a second Ctrl-C must not interrupt the clean shutdown under way.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise _Stop(signal.Signals(signum).name)


def start_host(supervisor: Supervisor, *, loglevel: str = "INFO") -> None:
    """Beat plus a fetch worker and a process worker: one whole Newswire host."""
    settings = load_settings()
    supervisor.start("worker-fetch", worker_command("fetch", settings, loglevel=loglevel))
    # Two workers on one host cannot share the metrics port: the process worker takes the next.
    process_env = (
        {"NEWSWIRE_METRICS_PORT": str(settings.metrics_port + 1)} if settings.metrics_port else {}
    )
    supervisor.start(
        "worker-process", worker_command("process", settings, loglevel=loglevel), env=process_env
    )
    supervisor.start("beat", beat_command(settings, loglevel=loglevel))


@click.command()
@click.option(
    "--feeds",
    "feeds_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Feed list to sync before starting (default: seeds/feeds.yaml).",
)
@click.option("--no-sync", is_flag=True, help="Start on the registry as it is.")
@click.option("--loglevel", default="INFO", show_default=True)
def run(feeds_file: Path | None, no_sync: bool, loglevel: str) -> None:
    """Run beat and workers for all queues (embedded Redis unless NEWSWIRE_REDIS_URL is set)."""
    setup_logging()
    settings = load_settings()
    with redis_target(settings) as url:
        settings = use_settings(redis_url=url)
        wait_for_redis_at(url)  # a configured Redis may not be up yet: wait, saying so
        if not no_sync:
            sync_file(feeds_file or settings.seeds_dir / "feeds.yaml")
        supervisor = Supervisor(os.environ)
        previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            start_host(supervisor, loglevel=loglevel)
            click.echo("Newswire is running; Ctrl-C stops it.", err=True)
            while not (dead := supervisor.dead()):
                time.sleep(1)
            raise click.ClickException(f"stopped: {', '.join(dead)} exited")
        except _Stop as stop:
            click.echo(f"{stop}: stopping...", err=True)
        finally:
            supervisor.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)


@click.command()
@click.argument("kind", type=click.Choice(sorted(WORKER_KINDS)))
@click.option("--concurrency", type=int, help="Threads or processes (default from settings).")
@click.option("--loglevel", default="INFO", show_default=True)
def worker(kind: str, concurrency: int | None, loglevel: str) -> None:
    """Run one Celery worker: fetch (queues feeds+fetch), process, or all."""
    command = worker_command(kind, load_settings(), concurrency=concurrency, loglevel=loglevel)
    os.execv(command[0], command)


@click.command()
@click.option("--loglevel", default="INFO", show_default=True)
def beat(loglevel: str) -> None:
    """Run Celery beat, which ticks the feed dispatcher."""
    command = beat_command(load_settings(), loglevel=loglevel)
    os.execv(command[0], command)
