"""Entry point of the `newswire` console script."""

from __future__ import annotations

import click

from workers.cli.classify_cmd import classify
from workers.cli.common import setup_logging
from workers.cli.deadletter_cmd import deadletter
from workers.cli.demo_cmd import demo
from workers.cli.eval_cmd import eval_command
from workers.cli.feeds_cmd import feeds
from workers.cli.health_cmd import health
from workers.cli.services_cmd import beat, run, worker
from workers.cli.stats_cmd import stats
from workers.cli.tail_cmd import tail


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Newswire: news feeds in, enriched documents out on Redis streams."""


for command in (
    run,
    demo,
    worker,
    beat,
    health,
    stats,
    feeds,
    tail,
    deadletter,
    classify,
    eval_command,
):
    cli.add_command(command)


def main() -> None:
    setup_logging()
    cli()


if __name__ == "__main__":
    main()
