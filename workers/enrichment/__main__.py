"""Maintenance commands of the enrichment stage.

python -m workers.enrichment forms [--seeds DIR]   refresh seeds/taxonomy/forms/*.json
python -m workers.enrichment check [--seeds DIR]   load the seeds, report errors and sizes
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workers.errors import ConfigurationError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers.enrichment")
    parser.add_argument("command", choices=("forms", "check"))
    parser.add_argument("--seeds", type=Path, default=None, help="seeds folder (default: settings)")
    args = parser.parse_args(argv)
    seeds: Path = args.seeds
    if seeds is None:
        from workers.settings import get_settings

        seeds = get_settings().seeds_dir
    try:
        if args.command == "forms":
            from workers.enrichment.forms import regenerate

            for path in regenerate(seeds):
                print(path)
        else:
            from workers.enrichment import Enricher

            enricher = Enricher.from_seeds(seeds)
            print(f"taxonomy {enricher.taxonomy_version}: seeds are valid")
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
