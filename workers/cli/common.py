"""What every `newswire` command shares: settings, logging, and which Redis to use."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

import click

from workers.clients import reset_clients
from workers.errors import ConfigurationError
from workers.observability.logs import configure_logging
from workers.runtime.embedded_redis import EmbeddedRedis, running_embedded_url
from workers.settings import Settings, get_settings


def load_settings() -> Settings:
    try:
        return get_settings()
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc


def use_settings(**overrides: str) -> Settings:
    """Set NEWSWIRE_* variables (for this process and its children) and re-read settings."""
    for name, value in overrides.items():
        os.environ[f"NEWSWIRE_{name.upper()}"] = value
    get_settings.cache_clear()
    reset_clients()
    return load_settings()


def setup_logging(verbose: bool = False) -> None:
    """The workers' log setup (NEWSWIRE_LOG_FORMAT: text on a terminal, JSON otherwise)."""
    try:
        log_format = get_settings().log_format
    except ConfigurationError:
        log_format = "auto"  # the command reports the bad setting itself
    configure_logging(log_format, logging.DEBUG if verbose else logging.INFO)


def existing_redis_url(settings: Settings) -> str:
    """The Redis that Newswire runs on, without starting one: for checks that only look."""
    url = settings.redis_url or running_embedded_url(settings.data_dir / "redis")
    if not url:
        raise click.ClickException(
            "no Redis: NEWSWIRE_REDIS_URL is not set and no embedded Redis is running"
        )
    return url


@contextmanager
def redis_target(settings: Settings) -> Iterator[str]:
    """The Redis to talk to: the configured one, the running embedded one, or a new one.

    A new embedded server lives as long as the block; its data stays on disk.
    """
    if settings.redis_url:
        yield settings.redis_url
        return
    data_dir = settings.data_dir / "redis"
    running = running_embedded_url(data_dir)
    if running:
        yield running
        return
    with EmbeddedRedis(data_dir, appendfsync=settings.redis_fsync) as server:
        click.echo(f"embedded Redis on {server.url} (data in {data_dir})", err=True)
        yield server.url
