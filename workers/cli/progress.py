"""A progress bar for long CLI work, shown only where a person watches (a terminal)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import track

T = TypeVar("T")


def progress(items: Iterable[T], *, total: int | None, description: str) -> Iterator[T]:
    """`items`, drawing a bar on stderr when it is a terminal (never in logs or pipes)."""
    if not sys.stderr.isatty():
        yield from items
        return
    yield from track(
        items, total=total, description=description, console=Console(stderr=True), transient=True
    )
