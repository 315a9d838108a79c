"""Starting and stopping the worker processes that make up a Newswire host.

`newswire run`, `newswire demo`, the docker-compose services and the tests all
use the same command lines, built here.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from workers.settings import Settings

log = logging.getLogger(__name__)

# Which queues each kind of worker consumes, and with which pool.
WORKER_KINDS = {
    # I/O bound: many threads waiting on sockets.
    "fetch": {"queues": "feeds,fetch", "pool": "threads"},
    # CPU bound: one process per core, each with its own interpreter.
    "process": {"queues": "process", "pool": "prefork"},
    # Everything in one worker (tests, small deployments).
    "all": {"queues": "feeds,fetch,process", "pool": "prefork"},
}

_STOP_TIMEOUT_SECONDS = 20.0


def celery_command(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "workers.app", *args]


def worker_command(
    kind: str, settings: Settings, *, concurrency: int | None = None, loglevel: str = "INFO"
) -> list[str]:
    spec = WORKER_KINDS[kind]
    if concurrency is None:
        io_bound = spec["pool"] == "threads"
        concurrency = (
            settings.fetch_concurrency if io_bound else settings.effective_process_concurrency
        )
    return celery_command(
        [
            "worker",
            "--queues", spec["queues"],
            "--pool", spec["pool"],
            "--concurrency", str(concurrency),
            "--hostname", f"{kind}-{os.getpid()}@%h",
            "--loglevel", loglevel,
            "--without-gossip",
            "--without-mingle",
        ]
    )  # fmt: skip


def beat_command(settings: Settings, *, loglevel: str = "INFO") -> list[str]:
    schedule = Path(settings.data_dir) / "celerybeat-schedule"
    schedule.parent.mkdir(parents=True, exist_ok=True)
    return celery_command(["beat", "--schedule", str(schedule), "--loglevel", loglevel])


@dataclass
class ManagedProcess:
    name: str
    command: list[str]
    process: subprocess.Popen[bytes] | None = None


class Supervisor:
    """Starts child processes, notices when one dies, and stops them all cleanly."""

    def __init__(self, env: Mapping[str, str], *, log_dir: Path | None = None) -> None:
        self._env = dict(env)
        self._log_dir = log_dir
        self._children: list[ManagedProcess] = []

    def start(self, name: str, command: list[str], *, env: Mapping[str, str] = {}) -> None:
        """Start `command`; `env` adds to (or overrides) the supervisor's environment."""
        log.info("starting %s: %s", name, " ".join(command))
        child_env = {**self._env, **env}
        if self._log_dir is None:
            process = subprocess.Popen(command, env=child_env)
        else:
            self._log_dir.mkdir(parents=True, exist_ok=True)
            # The child keeps its own descriptor; ours is closed right away.
            with (self._log_dir / f"{name}.log").open("ab") as output:
                process = subprocess.Popen(
                    command, env=child_env, stdout=output, stderr=subprocess.STDOUT
                )
        self._children.append(ManagedProcess(name, command, process))

    def pids(self) -> dict[str, int]:
        """Process id of each running child, by name."""
        return {c.name: c.process.pid for c in self._children if c.process is not None}

    def dead(self) -> list[str]:
        """Names of children that have exited."""
        return [c.name for c in self._children if c.process and c.process.poll() is not None]

    def stop(self) -> None:
        """SIGTERM (Celery's warm shutdown) to all, then SIGKILL what is left after a while."""
        for child in self._children:
            if child.process and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + _STOP_TIMEOUT_SECONDS
        for child in self._children:
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in time; killing it", child.name)
                child.process.kill()
                child.process.wait()
        self._children.clear()
