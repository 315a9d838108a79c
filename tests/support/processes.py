"""Real worker and beat processes for end-to-end tests: started, watched, stopped.

`supervised` gives a Supervisor whose children inherit the test's environment (its
Redis, key prefix and allowlist) plus the overrides, stops them all afterwards and
prints the end of each log, so that a failing test shows what the workers said.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from workers.runtime.supervisor import Supervisor

REPO_ROOT = Path(__file__).resolve().parents[2]
LOG_TAIL_CHARS = 3000
POLL_SECONDS = 0.3


@contextmanager
def supervised(overrides: Mapping[str, str], log_dir: Path) -> Iterator[Supervisor]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **overrides}
    supervisor = Supervisor(env, log_dir=log_dir)
    try:
        yield supervisor
    finally:
        supervisor.stop()
        for log in sorted(log_dir.glob("*.log")):
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-LOG_TAIL_CHARS:]}")


def wait_until(condition: Callable[[], bool], supervisor: Supervisor, timeout: float) -> None:
    """Poll `condition` until it holds; fail at once if a supervised process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert not supervisor.dead(), f"{supervisor.dead()} exited"
        if condition():
            return
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"condition not met within {timeout:g} s")
