"""Feed polling at scale: the real workers against a simulated feed farm on loopback.

    python scripts/bench_feed_farm.py [--feeds 10000] [--hosts 250] [--interval 75]
        [--window 150] [--runs 3] [--fetch-workers 1] [--no-process-worker] [--json]

The farm (scripts/feedfarm.py) runs in its own process: thousands of feeds on
hundreds of loopback hosts, most answering 304, some publishing new items, some
slow, some failing (see its docstring for the mix). Newswire runs as `newswire
run` runs it: Celery beat ticking the dispatcher, the I/O worker (queues feeds
and fetch, threads) and, unless --no-process-worker, the CPU worker (queue
process) that turns the new articles into documents; all on an embedded Redis
(or NEWSWIRE_REDIS_URL). Every feed is registered with FeedRegistry.sync and
polled every `--interval` seconds (the poll interval settings are set to it, with
the usual jitter), so the farm demands feeds / interval polls per second; the
first polls are spread over one interval, as a registry in steady state has them.

Each run: warm-up (the first poll of every feed), then a measured window:
- polls per second: feed requests that reached the farm in the window;
- demand: polls that fell due in the window; lag: poll time minus due time
  (due times are read from the registry's due-time index every few seconds);
- per-host concurrency: the most requests the farm was serving at once on any
  one host, over the whole run, against NEWSWIRE_HOST_MAX_IN_FLIGHT;
- duplicates, after the farm stops publishing and the pipeline drains: stream
  entries per document id beyond one, and article pages requested more than once;
- CPU of each process (/proc), and the cores left for extraction: the machine's
  cores minus what the polling path (fetch workers, beat, Redis) used.
Runs are independent (fresh farm, key prefix and workers); figures are medians.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import signal
import statistics
import sys
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from schemas import FeedSource  # noqa: E402
from scripts.bench_pipeline import _cpu_seconds, cpu_by_process  # noqa: E402
from scripts.feedfarm import DEFAULT_MIX, FarmSpec, feed_id, feed_url  # noqa: E402
from workers.cli.common import use_settings  # noqa: E402
from workers.clients import get_keys, get_redis  # noqa: E402
from workers.keys import Keys  # noqa: E402
from workers.registry.store import FeedRegistry  # noqa: E402
from workers.runtime.embedded_redis import EmbeddedRedis, free_port  # noqa: E402
from workers.runtime.supervisor import Supervisor, beat_command, worker_command  # noqa: E402
from workers.settings import get_settings  # noqa: E402

TICK_SECONDS = 0.5
# The polling path: everything that runs for polls and article fetches.
POLLING_PATH = ("fetch", "beat", "redis")
QUEUES = ("feeds", "fetch", "process")
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class BenchConfig:
    feeds: int = 10_000
    hosts: int = 250
    interval: int = 75  # seconds between two polls of one feed
    window: float = 150.0  # the measured steady state
    warmup: float | None = None  # None: 1.1 x interval + 10 s (every feed polled once)
    # Long enough for an article whose host answers 429 to use up its retries.
    drain_timeout: float = 360.0
    fetch_workers: int = 1
    threads: int | None = None  # threads per fetch worker; None: the setting (default 128)
    process_worker: bool = True
    host_max_in_flight: int | None = None  # None: the setting as set (default 2)
    host_min_interval: float | None = None  # None: the setting as set (default 1 s)
    dispatch_every: float | None = None  # None: the setting as set (default 1 s)
    seed: int = 1
    farm: dict[str, Any] = field(default_factory=dict)  # FarmSpec overrides
    logs: str | None = None  # keep the processes' logs there (else in a temporary folder)

    @property
    def warmup_seconds(self) -> float:
        return self.warmup if self.warmup is not None else 1.1 * self.interval + 10

    @property
    def snapshot_every(self) -> float:
        # A due time stays in the index for about one interval: seen by a few snapshots.
        return min(10.0, 0.3 * self.interval)

    @property
    def demanded_per_second(self) -> float:
        return self.feeds / self.interval


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the farm --------------------------------------------------------------------------


class FarmClient:
    """Talks to the farm's control socket."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def _call(self, path: str, method: str = "GET") -> bytes:
        request = urllib.request.Request(self.base + path, method=method)
        with _NO_PROXY.open(request, timeout=30) as response:
            return cast(bytes, response.read())

    def ready(self) -> bool:
        try:
            return self._call("/ready") == b"ready"
        except OSError:
            return False

    def stats(self, *, summary: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self._call("/stats?summary=1" if summary else "/stats"))
        return data

    def freeze(self) -> None:
        self._call("/freeze", method="POST")


def wait_for(
    condition: Callable[[], bool], supervisor: Supervisor, timeout: float, what: str
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if dead := supervisor.dead():
            raise SystemExit(f"{dead} exited while waiting for {what}; see the logs")
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.2)


# --- settings and processes ------------------------------------------------------------


def settings_for(cfg: BenchConfig, redis_url: str, prefix: str, data_dir: Path) -> dict[str, str]:
    """The settings a run changes (by field name): every feed polled every `interval`."""
    overrides = {
        "redis_url": redis_url,
        "key_prefix": prefix,
        "data_dir": str(data_dir),
        # The farm's hosts are loopback addresses, which Newswire refuses unless allowed.
        "fetch_allowlist": "127.0.0.0/8",
        "poll_interval_seconds": str(cfg.interval),
        # The jitter (+/-10%) must stay inside min..max, or it is clamped away.
        "poll_min_interval_seconds": str(max(1, math.floor(0.9 * cfg.interval))),
        "poll_max_interval_seconds": str(math.ceil(1.1 * cfg.interval)),
    }
    optional = {
        "fetch_concurrency": cfg.threads,
        "host_max_in_flight": cfg.host_max_in_flight,
        "host_min_interval_seconds": cfg.host_min_interval,
        "dispatch_every_seconds": cfg.dispatch_every,
    }
    overrides.update({name: str(value) for name, value in optional.items() if value is not None})
    return overrides


def start_newswire(cfg: BenchConfig, supervisor: Supervisor) -> None:
    settings = get_settings()
    for number in range(1, cfg.fetch_workers + 1):
        command = worker_command("fetch", settings, loglevel="WARNING")
        # Two workers started by one process would share a node name.
        command[command.index("--hostname") + 1] = f"fetch{number}-{os.getpid()}@%h"
        supervisor.start(f"fetch{number}", command)
    if cfg.process_worker:
        supervisor.start(
            "process", worker_command("process", settings, concurrency=1, loglevel="WARNING")
        )
    supervisor.start("beat", beat_command(settings, loglevel="WARNING"))


def register_feeds(spec: FarmSpec, registry: FeedRegistry) -> list[str]:
    sources = [
        FeedSource.model_validate(
            {"id": feed_id(i), "url": feed_url(spec, i), "title": f"Farm feed {i}"}
        )
        for i in range(spec.feeds)
    ]
    registry.sync(sources, now=time.time())
    return [source.id for source in sources]


def spread_due_times(registry: FeedRegistry, ids: list[str], start: float, span: float) -> None:
    """First polls spread evenly over one interval, as in a registry in steady state."""
    for rank, feed in enumerate(ids):
        registry.reschedule(feed, start + span * rank / len(ids))


def redis_pid(client: redis.Redis) -> int | None:
    """The Redis server's pid when it runs on this machine (its CPU counts as polling path)."""
    host = client.connection_pool.connection_kwargs.get("host", "")
    if host not in {"127.0.0.1", "localhost", "::1"}:
        return None
    pid = int(client.info("server")["process_id"])
    return pid if Path(f"/proc/{pid}/stat").exists() else None


def cpu_snapshot(supervisor: Supervisor, redis_server: int | None) -> dict[str, float]:
    """CPU seconds so far of each process (worker pool children included)."""
    names = set(supervisor.pids())
    usage = {name: used for name, used in cpu_by_process(supervisor).items() if name in names}
    usage["bench"] = _cpu_seconds(os.getpid())
    if redis_server is not None:
        usage["redis"] = _cpu_seconds(redis_server)
    return usage


# --- measuring -------------------------------------------------------------------------


class DueRecorder:
    """Every due time the registry held for each feed (leases excluded: they lie ahead)."""

    def __init__(self, client: redis.Redis, keys: Keys, horizon: float) -> None:
        self._redis = client
        self._keys = keys
        self._horizon = horizon
        self.dues: defaultdict[str, set[float]] = defaultdict(set)
        self.backlog: list[tuple[float, int]] = []  # (time, feeds due but not claimed)

    def snapshot(self) -> None:
        now = time.time()
        rows = cast(
            list[tuple[bytes, float]],
            self._redis.zrangebyscore(
                self._keys.feeds_due, "-inf", now + self._horizon, withscores=True
            ),
        )
        overdue = 0
        for member, score in rows:
            self.dues[member.decode()].add(score)
            overdue += score <= now
        self.backlog.append((now, overdue))


@dataclass
class PollTiming:
    lags: list[float]  # of the polls in the window
    lagging_feed: list[str]  # the feed of each lag
    demanded: int  # polls that fell due in the window
    unmatched: int  # polls in the window whose due time was never seen


def poll_timing(
    poll_log: list[list[Any]], dues: dict[str, set[float]], start: float, end: float
) -> PollTiming:
    """Lag of each poll after the due time that called for it; polls due in the window.

    A poll at p answers the earliest due time after the feed's previous poll and not
    after p (later ones are the same poll moved by a busy host).
    """
    polls: defaultdict[str, list[float]] = defaultdict(list)
    for when, feed, _ in poll_log:
        polls[feed_id(int(feed))].append(float(when))
    timing = PollTiming([], [], 0, 0)
    for feed in set(polls) | set(dues):
        scores = sorted(dues.get(feed, ()))
        previous = float("-inf")
        for when in sorted(polls.get(feed, ())):
            due = next((s for s in scores if previous < s <= when), None)
            previous = when
            if due is not None and start <= due < end:
                timing.demanded += 1
            if start <= when < end:
                if due is None:
                    timing.unmatched += 1
                else:
                    timing.lags.append(when - due)
                    timing.lagging_feed.append(feed)
        pending = next((s for s in scores if s > previous), None)
        if pending is not None and start <= pending < end:
            timing.demanded += 1  # fell due in the window, not polled yet
    return timing


def lag_figures(lags: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(lags, 0.5), 2),
        "p95": round(percentile(lags, 0.95), 2),
        "max": round(max(lags, default=float("nan")), 2),
    }


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def stream_urls(client: redis.Redis, stream: str) -> tuple[Counter[str], Counter[str]]:
    """Entries per document id and per article URL of a documents or dead-letter stream."""
    ids: Counter[str] = Counter()
    urls: Counter[str] = Counter()
    for _, fields in cast(list[tuple[bytes, dict[bytes, bytes]]], client.xrange(stream)):
        payload = fields.get(b"doc") or fields.get(b"record") or b"{}"
        record = json.loads(payload)
        if record.get("url"):
            urls[str(record["url"])] += 1
        if b"id" in fields:
            ids[fields[b"id"].decode()] += 1
    return ids, urls


def queued_for_processing(client: redis.Redis, keys: Keys) -> tuple[Counter[str], Counter[str]]:
    """Entries handed to the process stage and waiting there, per document id and per URL."""
    ids: Counter[str] = Counter()
    urls: Counter[str] = Counter()
    for raw in cast(list[bytes], client.lrange(f"{keys.prefix}:celery:process", 0, -1)):
        message = json.loads(raw)
        args, _, _ = json.loads(base64.b64decode(message["body"]))
        ids[str(args[0]["doc_id"])] += 1
        urls[str(args[0]["url"])] += 1
    return ids, urls


def final_stage(
    client: redis.Redis, keys: Keys, *, processing: bool
) -> tuple[Counter[str], Counter[str]]:
    """Where each new item ends: the documents stream, or without a process worker its queue."""
    if processing:
        return stream_urls(client, keys.documents_stream)
    return queued_for_processing(client, keys)


@dataclass
class Drained:
    seconds: float
    pending: list[str]  # listed items that reached neither the final stage nor dead letters
    dead: list[str]  # listed items dead-lettered
    listed: int  # items the farm had listed, at the last check
    doc_ids: Counter[str]  # entries per document id in the final stage, at the last check


def drain(
    farm: FarmClient, client: redis.Redis, keys: Keys, timeout: float, *, processing: bool
) -> Drained:
    """Stop publishing, then wait until every listed item is done or dead-lettered.

    Polls go on while draining, and a feed polled for the first time since the
    freeze still lists what it published before it: the list is read again after
    the final stage, so that an item listed meanwhile is waited for too.
    """
    farm.freeze()
    started = time.monotonic()
    while True:
        doc_ids, done = final_stage(client, keys, processing=processing)
        _, dead = stream_urls(client, keys.deadletter_stream)
        listed = set(farm.stats()["listed"])
        pending = sorted(listed - set(done) - set(dead))
        if not pending or time.monotonic() - started > timeout:
            seconds = time.monotonic() - started
            return Drained(seconds, pending, sorted(listed & set(dead)), len(listed), doc_ids)
        time.sleep(2.0)


# --- one run ---------------------------------------------------------------------------


def farm_spec(cfg: BenchConfig, port: int, start: float) -> FarmSpec:
    return replace(
        FarmSpec(feeds=cfg.feeds, hosts=cfg.hosts, port=port, seed=cfg.seed, start=start),
        **cfg.farm,
    )


def run_once(
    cfg: BenchConfig, folder: Path, redis_url: str, label: str, *, prefix: str | None = None
) -> dict[str, Any]:
    """Farm, registry, workers; warm-up, window, drain; the figures of this run.

    Sets NEWSWIRE_* in os.environ (the workers inherit them) and deletes every key
    under its prefix at the end.
    """
    prefix = prefix or f"nwfarm-{label}-{int(time.time())}"
    # In os.environ, so that the workers inherit them.
    use_settings(**settings_for(cfg, redis_url, prefix, folder / "data"))
    client, keys = get_redis(), get_keys()
    spec = farm_spec(cfg, free_port(), time.time())
    farm = FarmClient(free_port())
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    supervisor = Supervisor(env, log_dir=Path(cfg.logs) / label if cfg.logs else folder / "logs")
    t0 = time.monotonic()
    try:
        farm_command = [sys.executable, str(ROOT / "scripts" / "feedfarm.py"), *spec.to_args()]
        supervisor.start("farm", [*farm_command, "--control-port", farm.base.rsplit(":", 1)[1]])
        wait_for(farm.ready, supervisor, 30, "the feed farm")
        registry = FeedRegistry(client, keys)
        ids = register_feeds(spec, registry)
        # Nothing due until the workers are up, then the first polls spread over an interval.
        spread_due_times(registry, ids, time.time() + 10 * 86_400, 0)
        start_newswire(cfg, supervisor)
        wait_for(lambda: bool(client.exists(keys.beat_heartbeat)), supervisor, 120, "workers")
        began = time.time()
        spread_due_times(registry, ids, began, cfg.interval)
        say(
            f"  {label}: {cfg.feeds} feeds registered, workers up after "
            f"{time.monotonic() - t0:.1f}s; warm-up {cfg.warmup_seconds:.0f}s"
        )
        return measure(cfg, Run(spec, supervisor, farm, client, keys, began))
    finally:
        stopping = time.monotonic()
        supervisor.stop()
        say(f"  {label}: stopped in {time.monotonic() - stopping:.1f}s")
        stale = list(client.scan_iter(match=f"{keys.prefix}:*", count=1000))
        for start in range(0, len(stale), 1000):
            client.delete(*stale[start : start + 1000])


@dataclass
class Run:
    """What one run has started."""

    spec: FarmSpec
    supervisor: Supervisor
    farm: FarmClient
    client: redis.Redis
    keys: Keys
    began: float  # when the first polls fell due


def measure(cfg: BenchConfig, run: Run) -> dict[str, Any]:
    spec, supervisor, farm, client, keys = run.spec, run.supervisor, run.farm, run.client, run.keys
    recorder = DueRecorder(client, keys, horizon=2.0 * cfg.interval)
    redis_server = redis_pid(client)
    start = run.began + cfg.warmup_seconds
    end = start + cfg.window
    cpu_start: dict[str, float] | None = None
    load_start = 0.0
    next_snapshot = next_report = run.began
    while (now := time.time()) < end:
        if dead := supervisor.dead():
            raise SystemExit(f"{dead} exited during the run; see the logs")
        if now >= next_snapshot:
            recorder.snapshot()
            next_snapshot = now + cfg.snapshot_every
        if cpu_start is None and now >= start:
            cpu_start, start = cpu_snapshot(supervisor, redis_server), time.time()
            load_start = os.getloadavg()[0]
        if now >= next_report:
            totals = farm.stats(summary=True)
            say(f"    t+{now - run.began:4.0f}s polls {totals['polls']} {totals['poll_outcomes']}")
            next_report = now + 15
        time.sleep(TICK_SECONDS)
    cpu_end = cpu_snapshot(supervisor, redis_server)
    end = time.time()
    recorder.snapshot()
    queued = {q: int(client.llen(f"{keys.prefix}:celery:{q}")) for q in QUEUES}
    at_end = farm.stats()
    drained = drain(farm, client, keys, cfg.drain_timeout, processing=cfg.process_worker)
    say(f"    drained in {drained.seconds:.1f}s, {len(drained.pending)} items pending")
    final = farm.stats()
    # Duplicates are counted on everything published so far, not only what was waited for.
    latest_ids, _ = final_stage(client, keys, processing=cfg.process_worker)
    return summarise(
        cfg,
        spec,
        window=(start, end),
        at_end=at_end,
        final=final,
        recorder=recorder,
        cpu=(cpu_start or cpu_end, cpu_end),
        queued=queued,
        drained=drained,
        doc_ids=drained.doc_ids,
        latest_ids=latest_ids,
        load=(load_start, os.getloadavg()[0]),
    )


def summarise(
    cfg: BenchConfig,
    spec: FarmSpec,
    *,
    window: tuple[float, float],
    at_end: dict[str, Any],
    final: dict[str, Any],
    recorder: DueRecorder,
    cpu: tuple[dict[str, float], dict[str, float]],
    queued: dict[str, int],
    drained: Drained,
    doc_ids: Counter[str],
    latest_ids: Counter[str],
    load: tuple[float, float],
) -> dict[str, Any]:
    start, end = window
    seconds = end - start
    in_window = [row for row in at_end["poll_log"] if start <= row[0] < end]
    timing = poll_timing(at_end["poll_log"], recorder.dues, start, end)
    cores = {name: (cpu[1][name] - cpu[0].get(name, 0.0)) / seconds for name in cpu[1]}
    polling_path = sum(v for k, v in cores.items() if k.rstrip("0123456789") in POLLING_PATH)
    polls_per_s = len(in_window) / seconds
    settings = get_settings()
    limit = settings.host_max_in_flight
    host_max = final["host_max_in_flight"]
    outcomes = Counter(row[2] for row in in_window)
    throttled = set(final["throttled_hosts"])
    on_throttled = [
        urlsplit(feed_url(spec, int(feed.removeprefix("farm-")))).hostname in throttled
        for feed in timing.lagging_feed
    ]
    throttled_lags = [lag for lag, t in zip(timing.lags, on_throttled, strict=True) if t]
    other_lags = [lag for lag, t in zip(timing.lags, on_throttled, strict=True) if not t]
    return {
        "polls_per_s": round(polls_per_s, 1),
        "demanded_per_s": round(timing.demanded / seconds, 1),
        "lag_s": lag_figures(timing.lags),
        # Feeds on the hosts that answer 429 wait out their host's pause on purpose.
        "lag_s_throttled_hosts": lag_figures(throttled_lags),
        "lag_s_other_hosts": lag_figures(other_lags),
        "lag_unmatched_polls": timing.unmatched,
        "backlog_at_end": recorder.backlog[-1][1] if recorder.backlog else None,
        "queued_at_end": queued,
        "outcomes": {k: round(n / max(1, len(in_window)), 4) for k, n in outcomes.most_common()},
        "host_limit": limit,
        "host_max_in_flight": max(host_max.values(), default=0),
        "hosts_over_limit": sum(1 for n in host_max.values() if n > limit),
        "hosts_at_limit": sum(1 for n in host_max.values() if n == limit),
        "duplicates": {
            "documents": sum(n - 1 for n in latest_ids.values() if n > 1),
            "article_refetches": sum(n - 1 for n in final["article_duplicates"].values()),
        },
        "refetched_examples": sorted(final["article_duplicates"])[:5],
        "documents": len(doc_ids),
        "final_stage": "documents stream" if cfg.process_worker else "process queue",
        "items_listed": drained.listed,
        "articles_fetched": final["articles_fetched"],
        "pending_after_drain": len(drained.pending),
        # Where the stragglers are: a host that answers 429 holds its articles in retries.
        "pending_on_throttled_hosts": sum(
            1 for url in drained.pending if urlsplit(url).hostname in final["throttled_hosts"]
        ),
        "pending_examples": drained.pending[:5],
        "dead_lettered": len(drained.dead),
        "dead_lettered_on_throttled_hosts": sum(
            1 for url in drained.dead if urlsplit(url).hostname in final["throttled_hosts"]
        ),
        "drain_s": round(drained.seconds, 1),
        "throttled_429": final["throttled"],
        "cpu_cores": {k: round(v, 3) for k, v in sorted(cores.items())},
        "polling_path_cores": round(polling_path, 3),
        "cpu_ms_per_poll": round(1000 * polling_path / max(polls_per_s, 1e-9), 2),
        "cores_left_for_extraction": round((os.cpu_count() or 1) - polling_path, 2),
        "load_average": [round(v, 2) for v in load],
        "window_s": round(seconds, 1),
        "settings": {
            "fetch_workers": cfg.fetch_workers,
            "threads": settings.fetch_concurrency,
            "host_min_interval_s": settings.host_min_interval_seconds,
            "host_max_wait_s": settings.host_max_wait_seconds,
            "dispatch_every_s": settings.dispatch_every_seconds,
            "poll_interval_s": [
                settings.poll_min_interval_seconds,
                settings.poll_max_interval_seconds,
            ],
        },
    }


# --- the report ------------------------------------------------------------------------


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of every number across runs (nested dicts too); the rest from the first run."""

    def merge(values: list[Any]) -> Any:
        first = values[0]
        if isinstance(first, dict):
            return {k: merge([v.get(k) for v in values if isinstance(v, dict)]) for k in first}
        numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if len(numbers) == len(values) and numbers:
            middle = statistics.median(numbers)
            return round(middle, 3) if isinstance(middle, float) else middle
        return first

    merged: dict[str, Any] = merge(runs)
    return merged


def print_summary(cfg: BenchConfig, result: dict[str, Any], runs: list[dict[str, Any]]) -> None:
    m = result
    print(
        f"{cfg.feeds} feeds on {cfg.hosts} hosts, every {cfg.interval}s "
        f"(demand {cfg.demanded_per_second:.0f} polls/s), median of {len(runs)} runs "
        f"of {cfg.window:.0f}s"
    )
    print(f"  polls/s sustained   {m['polls_per_s']} (demanded in window {m['demanded_per_s']}; "
          f"runs {[r['polls_per_s'] for r in runs]})")  # fmt: skip
    print(f"  lag due->poll       p50 {m['lag_s']['p50']}s  p95 {m['lag_s']['p95']}s  "
          f"max {m['lag_s']['max']}s; due but unclaimed at end {m['backlog_at_end']}")  # fmt: skip
    print(f"    hosts not throttling {m['lag_s_other_hosts']}; "
          f"hosts answering 429 {m['lag_s_throttled_hosts']}")  # fmt: skip
    print(f"  per-host in flight  max {m['host_max_in_flight']} (limit {m['host_limit']}), "
          f"hosts over the limit {m['hosts_over_limit']}")  # fmt: skip
    print(f"  duplicates          documents {m['duplicates']['documents']}, "
          f"article refetches {m['duplicates']['article_refetches']} "
          f"({m['documents']} documents, {m['articles_fetched']} articles, "
          f"{m['items_listed']} items listed, {m['pending_after_drain']} pending)")  # fmt: skip
    print(f"  CPU (cores)         {m['cpu_cores']}")
    print(f"  polling path        {m['polling_path_cores']} cores = {m['cpu_ms_per_poll']} ms "
          f"per poll; left for extraction {m['cores_left_for_extraction']} of "
          f"{os.cpu_count()} cores")  # fmt: skip
    print(f"  outcomes            {m['outcomes']}")
    print(f"  settings            {m['settings']}; load average {m['load_average']}")


def config_from_args(argv: Iterable[str] | None = None) -> tuple[BenchConfig, int, bool]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = BenchConfig()
    parser.add_argument("--feeds", type=int, default=defaults.feeds)
    parser.add_argument("--hosts", type=int, default=defaults.hosts)
    parser.add_argument("--interval", type=int, default=defaults.interval,
                        help="seconds between two polls of one feed")  # fmt: skip
    parser.add_argument("--window", type=float, default=defaults.window)
    parser.add_argument("--warmup", type=float, default=None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--fetch-workers", type=int, default=defaults.fetch_workers)
    parser.add_argument("--threads", type=int, default=None,
                        help="threads per fetch worker (NEWSWIRE_FETCH_CONCURRENCY)")  # fmt: skip
    parser.add_argument("--no-process-worker", action="store_true")
    parser.add_argument("--host-max-in-flight", type=int, default=None)
    parser.add_argument("--host-min-interval", type=float, default=None)
    parser.add_argument("--dispatch-every", type=float, default=None)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    example = ",".join(f"{kind}={weight:g}" for kind, weight in DEFAULT_MIX.items())
    parser.add_argument("--mix", default=None, help=f"farm feed kinds, e.g. {example}")
    parser.add_argument("--logs", default=None, help="keep each process's log in this folder")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(list(argv) if argv is not None else None)
    farm: dict[str, Any] = {}
    if args.mix:
        from scripts.feedfarm import parse_mix

        farm["mix"] = parse_mix(args.mix)
    cfg = BenchConfig(
        feeds=args.feeds,
        hosts=args.hosts,
        interval=args.interval,
        window=args.window,
        warmup=args.warmup,
        fetch_workers=args.fetch_workers,
        threads=args.threads,
        process_worker=not args.no_process_worker,
        host_max_in_flight=args.host_max_in_flight,
        host_min_interval=args.host_min_interval,
        dispatch_every=args.dispatch_every,
        seed=args.seed,
        farm=farm,
        logs=args.logs,
    )
    return cfg, args.runs, args.json


def _stop_on_sigterm(signum: int, frame: object) -> None:
    # SystemExit unwinds through the finally blocks that stop the workers and the farm.
    raise SystemExit(f"stopped by signal {signum}")


def main() -> None:
    cfg, count, as_json = config_from_args()
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="newswire-farm-") as tmp:
        folder = Path(tmp)
        given = get_settings().redis_url
        server = None if given else EmbeddedRedis(folder / "redis")
        url = given or cast(EmbeddedRedis, server).start()
        try:
            for number in range(1, count + 1):
                say(f"run {number} of {count}")
                runs.append(run_once(cfg, folder / f"run{number}", url, f"run{number}"))
                say(f"  {json.dumps(runs[-1])}")
        finally:
            if server is not None:
                server.stop()
    result = medians(runs)
    if as_json:
        print(json.dumps({"config": asdict(cfg), "median": result, "runs": runs}, indent=2))
        return
    print_summary(cfg, result, runs)


if __name__ == "__main__":
    main()
