"""What the fault-injection tests share: real processes to kill, a Redis to kill, a site.

- `Service`: one Newswire process (worker or beat) started from the same command
  lines as `newswire run`, which a test can SIGKILL, SIGTERM and start again, with
  its pool children found through /proc.
- `OwnRedis`: a redis-server of the test's own (the embedded one, appendfsync
  always), which the test may kill -9 and restart on the same port and data.
- `Broker`: what the Celery broker holds for one key prefix (queued and
  unacknowledged task messages), read from Redis.
- `NewsSite`: feeds and distinct article pages on the loopback HTTP server.
- `record_figures`: prints a test's figures, and appends them as one JSON line to
  the file named by NEWSWIRE_FAULT_FIGURES (RELIABILITY.md is written from it).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import random
import re
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any, cast

import redis

from schemas import Document, FeedRef, FeedSource
from tests.conftest import REPO_ROOT
from tests.support.documents import plain_document
from tests.support.http_server import FixtureHttpServer
from workers.keys import Keys
from workers.runtime.embedded_redis import EmbeddedRedis
from workers.runtime.supervisor import beat_command, worker_command
from workers.settings import Settings

POLL_SECONDS = 0.05

# Redelivery within seconds instead of an hour; every retry delay plus time limit
# stays below the visibility timeout, as Settings requires.
FAST_REDELIVERY = {
    "NEWSWIRE_VISIBILITY_TIMEOUT": "20",
    "NEWSWIRE_UNACKED_RESTORE_SECONDS": "1",
    "NEWSWIRE_PROCESS_SOFT_TIME_LIMIT": "8",
    "NEWSWIRE_PROCESS_TIME_LIMIT": "10",
    "NEWSWIRE_FETCH_TIME_LIMIT": "10",
    "NEWSWIRE_HTTP_TOTAL_DEADLINE": "8",
    "NEWSWIRE_RETRY_BACKOFF_SECONDS": "0.5",
    "NEWSWIRE_RETRY_BACKOFF_MAX_SECONDS": "2",
    "NEWSWIRE_DISPATCH_EVERY_SECONDS": "1",
    "NEWSWIRE_POLL_LEASE_SECONDS": "60",
    "NEWSWIRE_HOST_MIN_INTERVAL_SECONDS": "0",
    "NEWSWIRE_HOST_MAX_IN_FLIGHT": "16",
}


def fault_env(**extra: str) -> dict[str, str]:
    """The environment of the services under test: this process's, fast redelivery, `extra`."""
    return {**os.environ, **FAST_REDELIVERY, "PYTHONPATH": str(REPO_ROOT), **extra}


def wait_for(
    condition: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    alive: Callable[[], None] | None = None,
) -> None:
    """Poll `condition` until true; `alive` may raise when a process it needs has died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None:
            alive()
        if condition():
            return
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")


def child_pids(pid: int) -> list[int]:
    """Direct children of a process (pool processes of a prefork worker)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(c) for c in (task / "children").read_text().split()]
        except OSError:  # the thread or the process is gone
            continue
    return children


def process_state(pid: int) -> str | None:
    """The one-letter state in /proc/<pid>/stat (R running, S sleeping...), None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


class Service:
    """One worker or beat process with its log file; killable and restartable."""

    def __init__(self, name: str, command: list[str], env: Mapping[str, str], log_dir: Path):
        self.name = name
        self.command = command
        self.env = dict(env)
        self.log_file = log_dir / f"{name}.log"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._log_offset = 0

    def start(self) -> Service:
        self._log_offset = len(self.log_text())
        with self.log_file.open("ab") as output:
            self.process = subprocess.Popen(
                self.command, env=self.env, stdout=output, stderr=subprocess.STDOUT
            )
        self.starts += 1
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} was never started"
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(
                f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
            )

    def children(self) -> list[int]:
        return child_pids(self.pid) if self.running() else []

    def received(self, task: str) -> int:
        """Messages of `task` this service's log says it received, over all its starts."""
        return len(re.findall(re.escape(task) + r"\[[^\]]+\] received", self.log_text()))

    def log_since_start(self) -> str:
        return self.log_text()[self._log_offset :]

    def wait_ready(self, marker: str = " ready.", *, timeout: float = 120) -> None:
        """Wait until the log shows `marker` since the last start (Celery: "... ready.")."""
        wait_for(
            lambda: marker in self.log_since_start(),
            timeout=timeout,
            what=f"{self.name} to log {marker!r}",
            alive=self.check_alive,
        )

    def kill(self, *, with_children: bool = True) -> list[int]:
        """SIGKILL the process (and its pool children, as an OOM killer would)."""
        assert self.process is not None
        victims = [*self.children(), self.pid] if with_children else [self.pid]
        for pid in victims:
            _signal(pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        return victims

    def kill_children(self) -> list[int]:
        """SIGKILL the pool children only; the worker's main process lives on."""
        victims = self.children()
        for pid in victims:
            _signal(pid, signal.SIGKILL)
        return victims

    def terminate(self, *, timeout: float = 60) -> int:
        """SIGTERM (Celery's warm shutdown) and wait for the exit; returns the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        children = self.children()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()
        for pid in children:  # orphans of a main process killed earlier
            _signal(pid, signal.SIGKILL)

    def log_text(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_text()[-chars:]


def pipeline_services(
    settings: Settings, env: Mapping[str, str], log_dir: Path, *, process_concurrency: int = 2
) -> dict[str, Service]:
    """A fetch worker, a process worker and beat, as `newswire run` starts them (not started)."""
    return {
        "fetch": Service(
            "worker-fetch", worker_command("fetch", settings, concurrency=8), env, log_dir
        ),
        "process": Service(
            "worker-process",
            worker_command("process", settings, concurrency=process_concurrency),
            env,
            log_dir,
        ),
        "beat": Service("beat", beat_command(settings), env, log_dir),
    }


# In-flight claims of the fault tests lapse after this (the default is 6 hours): what
# kombu's Redis transport loses comes back from the feeds' pending entries in time.
CLAIM_SECONDS = 30


def send_lost_messages_again(
    client: redis.Redis,
    keys: Keys,
    *,
    expected: set[str],
    feed_ids: list[str],
    alive: Callable[[], None],
    timeout: float,
) -> int:
    """Once the broker is idle and publication has stopped, the expected documents still
    missing had their message lost by the transport (popped, then its consumer or Redis
    died before it was recorded: RELIABILITY.md). Wait for their claims to lapse and make
    their feeds due, so that the feeds' pending entries send them again. How many."""
    broker = Broker(client, keys.prefix)
    counted: list[int] = []

    def settled() -> bool:
        counted.append(len(set(document_ids(client, keys))))
        stable = counted[-1] >= len(expected) or counted[-20:] == [counted[-1]] * 20
        return broker.idle() and stable

    wait_for(settled, timeout=timeout, what="an idle broker and no more publications",
             alive=alive)  # fmt: skip
    missing = expected - set(document_ids(client, keys))
    if not missing:
        return 0
    wait_for(lambda: not any(client.exists(keys.inflight(d)) for d in missing),
             timeout=CLAIM_SECONDS * 3, what="the lost articles' claims to lapse",
             alive=alive)  # fmt: skip
    client.zadd(keys.feeds_due, dict.fromkeys(feed_ids, 0), xx=True)
    return len(missing)


def all_alive(services: Mapping[str, Service]) -> None:
    """Raise if any of the services has died."""
    for service in services.values():
        service.check_alive()


def start_all(services: Mapping[str, Service]) -> Callable[[], None]:
    """Start every service; returns the check that raises once any of them has died."""
    for service in services.values():
        service.start()
    return lambda: all_alive(services)


def stop_all(services: Mapping[str, Service]) -> None:
    """Stop every service, then print the end of each log (shown when a test fails)."""
    for service in services.values():
        service.stop()
    for service in services.values():
        print(f"--- {service.name}\n{service.log_tail(3000)}")


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


class OwnRedis(EmbeddedRedis):
    """An embedded redis-server that the test owns, and may kill -9 and start again."""

    def kill(self) -> None:
        process = self._process
        assert process is not None, "not running"
        process.kill()
        process.wait(timeout=30)
        self._process = None

    def restart(self) -> str:
        """Start again on the same port and data folder (the AOF is loaded)."""
        return self.start()


@dataclass(frozen=True)
class TaskMessage:
    task: str
    task_id: str
    args: list[Any]


class Broker:
    """The Celery messages of one key prefix, read straight from Redis."""

    QUEUES = ("feeds", "fetch", "process")

    def __init__(self, client: redis.Redis, prefix: str):
        self._redis = client
        self._keys = Keys(prefix)

    def unacked(self) -> list[TaskMessage]:
        """Messages delivered to a worker and not yet acknowledged (running or reserved)."""
        raw = cast(dict[bytes, bytes], self._redis.hgetall(self._keys.celery_unacked))
        return [_task_message(json.loads(value)[0]) for value in raw.values()]

    def in_flight(self, task: str) -> list[TaskMessage]:
        return [m for m in self.unacked() if m.task == task]

    def queued(self, queue: str | None = None) -> int:
        """Messages waiting in one queue, or in all."""
        queues = self.QUEUES if queue is None else (queue,)
        lists = [key for q in queues for key in self._keys.celery_queue_lists(q)]
        return sum(int(self._redis.llen(key)) for key in lists)

    def lose_one(self, queue: str, *, sole_for: Callable[[str], bool]) -> TaskMessage | None:
        """Drop a waiting message, as kombu's Redis transport drops one when its consumer
        dies between BRPOP and recording the message unacked: one whose document
        (first argument's doc_id) `sole_for` accepts and no other message carries, so
        that its loss is real."""
        lists = self._keys.celery_queue_lists(queue)
        waiting = [
            (key, raw) for key in lists for raw in cast(list[bytes], self._redis.lrange(key, 0, -1))
        ]
        held = cast(dict[bytes, bytes], self._redis.hgetall(self._keys.celery_unacked))
        every = [_task_message(json.loads(raw)) for _, raw in waiting]
        every += [_task_message(json.loads(value)[0]) for value in held.values()]
        carried = Counter(_doc_of(m) for m in every)
        for key, raw in waiting:
            message = _task_message(json.loads(raw))
            doc_id = _doc_of(message)
            sole = bool(doc_id) and carried[doc_id] == 1 and sole_for(doc_id or "")
            if sole and self._redis.lrem(key, 1, cast(str, raw)):
                return message
        return None

    def idle(self) -> bool:
        """Nothing queued and nothing held by a worker (ETA retries are held unacked)."""
        return self.queued() == 0 and not self._redis.hlen(self._keys.celery_unacked)


def _doc_of(message: TaskMessage) -> str | None:
    first = message.args[0] if message.args else None
    return first.get("doc_id") if isinstance(first, dict) else None


def _task_message(message: dict[str, Any]) -> TaskMessage:
    headers = message.get("headers", {})
    body = json.loads(base64.b64decode(message["body"]))
    return TaskMessage(headers.get("task", ""), headers.get("id", ""), list(body[0]))


_WORDS = [
    "harbour", "council", "budget", "railway", "minister", "drought", "festival", "river",
    "court", "vaccine", "election", "bridge", "orchestra", "wheat", "factory", "museum",
    "glacier", "ferry", "protest", "treaty", "satellite", "vineyard", "library", "strike",
    "mayor", "hospital", "coastline", "tariff", "startup", "archive", "cathedral", "pipeline",
    "rainfall", "parliament", "stadium", "fishermen", "airport", "refinery", "volcano",
    "census", "embassy", "textile", "mine", "reservoir", "university", "bakery",
]  # fmt: skip
_VERBS = [
    "approved", "delayed", "announced", "rejected", "expanded", "inspected", "funded",
    "questioned", "reopened", "reviewed", "postponed", "welcomed", "criticised", "completed",
    "suspended",
]  # fmt: skip
_PLACES = [
    "Lisbon", "Tromso", "Valparaiso", "Dakar", "Hobart", "Tbilisi", "Cusco", "Gdansk",
    "Mombasa", "Quebec", "Bergen", "Oaxaca", "Kaunas", "Durban", "Split", "Aarhus", "Nagasaki",
    "Ushuaia", "Tangier", "Galway",
]  # fmt: skip


def article_text(number: int, paragraphs: int = 6) -> list[str]:
    """Distinct, plausible paragraphs for article `number` (same number, same text)."""
    rng = random.Random(number)
    out = []
    for p in range(paragraphs):
        sentences = []
        for s in range(4):
            place, noun, other = rng.choice(_PLACES), rng.choice(_WORDS), rng.choice(_WORDS)
            sentences.append(
                f"In {place}, officials {rng.choice(_VERBS)} the {noun} plan number "
                f"{number * 100 + p * 10 + s} after the {other} committee met on "
                f"{rng.choice(_PLACES)} street for {rng.randint(2, 90)} minutes."
            )
        out.append(" ".join(sentences))
    return out


def huge_page(paragraphs: int, weight: int = 1) -> str:
    """A long but well-formed article: a second or more of extraction and enrichment.

    Each paragraph is `weight` times 4 sentences (trafilatura keeps at most 10,000 blocks).
    """
    body = "".join(f"<p>{' '.join(article_text(i, weight))}</p>" for i in range(paragraphs))
    return f'<html lang="en"><body><article><h1>Long read</h1>{body}</article></body></html>'


def article_page(number: int) -> str:
    paragraphs = "".join(f"<p>{text}</p>" for text in article_text(number))
    return (
        f'<!DOCTYPE html><html lang="en"><head><title>Report {number}</title></head>'
        f"<body><nav><a href='/'>Home</a></nav><article><h1>Report {number}</h1>"
        f"{paragraphs}</article><footer>Local News</footer></body></html>"
    )


@dataclass
class NewsSite:
    """`feeds` feeds of `per_feed` distinct articles each, on the loopback server."""

    server: FixtureHttpServer
    feeds: int
    per_feed: int
    feed_drip_seconds: float = 0.0
    page_drip_seconds: float = 0.0
    article_numbers: list[int] = field(default_factory=list)

    def publish(self) -> list[FeedSource]:
        sources = []
        for feed in range(self.feeds):
            numbers = list(range(feed * self.per_feed, (feed + 1) * self.per_feed))
            self.article_numbers += numbers
            self.server.route(
                self.feed_path(feed),
                self.feed_xml(feed, numbers),
                headers={"Content-Type": "application/rss+xml"},
                drip_seconds=self.feed_drip_seconds,
            )
            for number in numbers:
                self.server.route(
                    self.page_path(number),
                    article_page(number),
                    headers={"Content-Type": "text/html; charset=utf-8"},
                    drip_seconds=self.page_drip_seconds,
                )
            url = self.server.url(self.feed_path(feed))
            sources.append(
                FeedSource(id=f"feed{feed}", url=url, title=f"Feed {feed}", language="en")
            )
        return sources

    @staticmethod
    def feed_path(feed: int) -> str:
        return f"/feeds/{feed}.xml"

    @staticmethod
    def page_path(number: int) -> str:
        return f"/news/{number}"

    def feed_xml(self, feed: int, numbers: list[int]) -> str:
        """The feed listing `numbers`, dated within the last hours (recent news)."""
        now = datetime.now(UTC)
        items = "".join(
            f"<item><title>Report {n}</title><link>{self.server.url(self.page_path(n))}</link>"
            f"<guid>report-{n}</guid>"
            f"<pubDate>{format_datetime(now - timedelta(minutes=n + 1))}</pubDate></item>"
            for n in numbers
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Feed {feed}</title><language>en</language>{items}</channel></rss>"
        )

    def page_requests(self, feed: int | None = None) -> int:
        """Requests for article pages (of one feed's articles)."""
        paths = [r.path for r in self.server.requests if r.path.startswith("/news/")]
        if feed is None:
            return len(paths)
        numbers = range(feed * self.per_feed, (feed + 1) * self.per_feed)
        return sum(1 for path in paths if int(path.rsplit("/", 1)[1]) in numbers)

    def feed_requests(self, feed: int | None = None) -> int:
        if feed is not None:
            return self.server.hits(self.feed_path(feed))
        return sum(1 for r in self.server.requests if r.path.startswith("/feeds/"))


def make_document(number: int) -> Document:
    """A valid document of article `number` (for tests that publish without a pipeline)."""
    return plain_document(
        f"{number:032x}",
        " ".join(article_text(number, 2)),
        url=f"https://news.example/{number}",
        feed=FeedRef(id="feed0", url="https://news.example/feed"),
        title=f"Report {number}",
    )


def document_ids(client: redis.Redis, keys: Keys) -> list[str]:
    """The `id` of every entry of the documents stream, in stream order."""
    rows = cast(list[tuple[bytes, dict[bytes, bytes]]], client.xrange(keys.documents_stream))
    return [fields[b"id"].decode() for _, fields in rows]


def record_figures(test: str, **figures: Any) -> None:
    line = json.dumps({"test": test, **figures}, sort_keys=True)
    print(f"FAULT FIGURES {line}")
    target = os.environ.get("NEWSWIRE_FAULT_FIGURES")
    if target:
        with Path(target).open("a", encoding="utf-8") as out:
            out.write(line + "\n")
