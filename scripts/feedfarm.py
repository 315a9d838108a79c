"""A simulated feed farm on loopback: thousands of feeds on hundreds of hosts, for benchmarks.

    python scripts/feedfarm.py --feeds 10000 --hosts 250 --port 8500 --control-port 8499

Each farm host is its own loopback address (127.0.1.1, 127.0.1.2, ...: Linux routes
all of 127.0.0.0/8 to the loopback interface), one listening socket per address on
the same port, so Newswire's per-host politeness limits apply per farm host. Feed
`i` lives on host `i % hosts`. Everything a feed does follows from the seed and its
index (FeedPlan), so the benchmark knows the farm without asking it:

- kind: normal (answers 304 to a matching If-None-Match / If-Modified-Since),
  no_validators (no ETag, no Last-Modified: always 200 with the same bytes until it
  publishes), slow (a normal feed answering after 1-3 s), error_500, not_found,
  reset (the connection is reset without an answer), garbage (200 with a body that
  is no feed);
- publishing: a share of the feeds publishes 1-3 new items every `gap` seconds
  (from a random phase after the farm's start); each item links an article page on
  the feed's own host. A feed's body is an empty channel until its first
  publication; from then on it lists its newest own items plus `archive` items
  shared by every feed (as syndicated wire copies are), so that a 200 with new
  items costs what a real 20-item page costs to parse and check, without a storm
  of first-time article fetches when the farm starts;
- throttling hosts: a few hosts answer 429 with Retry-After to any request that
  comes less than `throttle_gap` seconds after the last one they served.

The farm counts, per host, the most requests it was serving at once (a request is
counted from its last header line to its last response byte), each feed poll
(time and outcome), each article request and every item it listed in a 200 body.
A control server on 127.0.0.1:<control port> answers GET /ready, GET /stats
(?summary=1 for totals only) and POST /freeze (publish nothing after now).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email.utils
import functools
import json
import random
import socket
import struct
import time
import zlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any
from urllib.parse import parse_qs, urlsplit

# Share of the feeds of each kind (normalised; the order fixes the draw).
DEFAULT_MIX: dict[str, float] = {
    "normal": 0.86,
    "no_validators": 0.04,
    "slow": 0.03,
    "error_500": 0.02,
    "not_found": 0.01,
    "reset": 0.02,
    "garbage": 0.02,
}
PUBLISHING_KINDS = frozenset({"normal", "no_validators", "slow"})
CONTROL_ADDRESS = "127.0.0.1"
ROBOTS_TXT = b"User-agent: *\nDisallow: /private/\n"
_HEAD_LIMIT = 64 * 1024

_VOCABULARY = (
    "government minister talks border trade agreement report officials week city council "
    "election vote budget energy prices market shares company workers strike union court "
    "ruling police investigation river flood weather storm harvest farmers export import "
    "port shipping train station hospital doctors health school teachers students science "
    "research space mission satellite launch museum festival music film director award "
    "team season match coach player stadium village mayor road bridge water supply project "
    "plan funding bank interest rate inflation growth survey data analysts forecast summit "
    "delegation visit embassy statement spokesman agency network service customers online "
    "digital security update system power plant wind solar coast island tourism hotel "
    "airport flights passengers delays morning evening regional national local public"
)
_WORDS = _VOCABULARY.split()


@dataclass(frozen=True)
class FarmSpec:
    """Everything that decides what the farm serves; the benchmark builds the same one."""

    feeds: int = 10_000
    hosts: int = 250
    port: int = 8500
    seed: int = 1
    start: float = 0.0  # epoch seconds of the farm's first instant (items come after it)
    publishing: float = 0.4  # share of the feeds (of publishing kinds) that publish
    gap_min: float = 600.0  # seconds between two publications of a feed, drawn per feed
    gap_max: float = 3600.0
    slow_min: float = 1.0  # delay of a slow feed's answer, drawn per request
    slow_max: float = 3.0
    throttled_hosts: float = 0.01  # share of the hosts that answer 429 when pressed
    throttle_gap: float = 2.0
    retry_after: int = 10
    archive: int = 15  # items shared by every feed that has published
    keep: int = 5  # newest own items listed in a body
    mix: tuple[tuple[str, float], ...] = tuple(DEFAULT_MIX.items())

    def to_args(self) -> list[str]:
        """Command-line arguments of feedfarm.py that rebuild this spec."""
        args: list[str] = []
        for spec_field in fields(self):
            value = getattr(self, spec_field.name)
            if spec_field.name == "mix":
                value = ",".join(f"{kind}={weight:g}" for kind, weight in value)
            args += [f"--{spec_field.name.replace('_', '-')}", str(value)]
        return args


def parse_mix(text: str) -> tuple[tuple[str, float], ...]:
    """'normal=0.9,slow=0.1' -> (('normal', 0.9), ('slow', 0.1)); unknown kinds refused."""
    pairs = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, _, weight = part.partition("=")
        if kind not in DEFAULT_MIX:
            raise ValueError(f"unknown feed kind {kind!r} (known: {', '.join(DEFAULT_MIX)})")
        pairs.append((kind, float(weight)))
    if not pairs or sum(w for _, w in pairs) <= 0:
        raise ValueError(f"empty feed mix: {text!r}")
    return tuple(pairs)


def host_address(index: int) -> str:
    """Loopback address of farm host `index`: 127.0.1.1 ... 127.0.1.250, 127.0.2.1 ..."""
    if not 0 <= index < 250 * 254:
        raise ValueError(f"host index out of range: {index}")
    return f"127.0.{1 + index // 250}.{1 + index % 250}"


def feed_id(index: int) -> str:
    return f"farm-{index:06d}"


def feed_url(spec: FarmSpec, index: int) -> str:
    return f"http://{host_address(index % spec.hosts)}:{spec.port}/feeds/{index}.xml"


def throttled_host_indexes(spec: FarmSpec) -> frozenset[int]:
    """Hosts that answer 429 when pressed; never host 0, which serves the archive pages."""
    count = min(round(spec.hosts * spec.throttled_hosts), spec.hosts - 1)
    return frozenset(random.Random(f"{spec.seed}/throttled").sample(range(1, spec.hosts), count))


@dataclass(frozen=True)
class FeedPlan:
    """What one feed does, drawn once from the seed."""

    index: int
    host: str
    kind: str
    gap: float | None  # None: never publishes
    phase: float

    def events(self, spec: FarmSpec, now: float) -> int:
        """Publications made by `now`."""
        if self.gap is None or now < spec.start + self.phase:
            return 0
        return int((now - spec.start - self.phase) // self.gap) + 1

    def event_time(self, spec: FarmSpec, event: int) -> float:
        return spec.start + self.phase + event * (self.gap or 0.0)

    def event_size(self, event: int) -> int:
        return 1 + zlib.crc32(f"{self.index}/{event}".encode()) % 3


def plan_feed(spec: FarmSpec, index: int) -> FeedPlan:
    rng = random.Random(f"{spec.seed}/{index}")
    kinds = [kind for kind, _ in spec.mix]
    weights = [weight for _, weight in spec.mix]
    kind = rng.choices(kinds, weights)[0]
    gap = rng.uniform(spec.gap_min, spec.gap_max)
    publishes = kind in PUBLISHING_KINDS and rng.random() < spec.publishing
    return FeedPlan(
        index=index,
        host=host_address(index % spec.hosts),
        kind=kind,
        gap=gap if publishes else None,
        phase=rng.uniform(0, gap),
    )


# --- content ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    path: str
    title: str
    published: float


def _sentences(seed: str, count: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        words = rng.choices(_WORDS, k=rng.randint(8, 16))
        out.append(" ".join(words).capitalize() + ".")
    return out


def published(spec: FarmSpec, plan: FeedPlan, now: float) -> tuple[int, float]:
    """How many items the feed has published by `now`, and when the newest came out."""
    events = plan.events(spec, now)
    if not events:
        return 0, spec.start
    total = sum(plan.event_size(event) for event in range(events))
    return total, plan.event_time(spec, events - 1)


def own_items(spec: FarmSpec, plan: FeedPlan, now: float) -> list[Item]:
    """The feed's newest `keep` items published by `now`, newest first."""
    items = []
    total = 0
    for event in range(plan.events(spec, now)):
        when = plan.event_time(spec, event)
        for _ in range(plan.event_size(event)):
            title = f"Feed {plan.index} story {total}"
            items.append(Item(f"/a/{plan.index}/{total}.html", title, when))
            total += 1
    return items[::-1][: spec.keep]


def archive_items(spec: FarmSpec) -> list[Item]:
    """Items every published feed lists (on host 0), dated before the farm started."""
    return [
        Item(f"/archive/{k}.html", f"Archive story {k}", spec.start - 86_400 + 60 * k)
        for k in range(spec.archive)
    ]


def http_date(epoch: float) -> str:
    return email.utils.formatdate(epoch, usegmt=True)


def render_feed(spec: FarmSpec, plan: FeedPlan, items: list[Item], archive: list[Item]) -> bytes:
    base = f"http://{plan.host}:{spec.port}"
    archive_base = f"http://{host_address(0)}:{spec.port}"
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>',
        f"<title>Farm feed {plan.index}</title><link>{base}/</link>",
        f"<description>Simulated feed {plan.index} on {plan.host}</description>",
        "<language>en</language>",
    ]
    listed = [(base, item) for item in items] + [(archive_base, item) for item in archive]
    for origin, item in listed:
        url = origin + item.path
        summary = _summary(item.path)
        parts.append(
            f"<item><title>{item.title}</title><link>{url}</link>"
            f'<guid isPermaLink="true">{url}</guid><pubDate>{http_date(item.published)}</pubDate>'
            f"<description>{summary}</description></item>"
        )
    parts.append("</channel></rss>\n")
    return "".join(parts).encode("utf-8")


@functools.lru_cache(maxsize=65_536)
def _summary(path: str) -> str:
    return " ".join(_sentences(f"s{path}", 4))


@functools.lru_cache(maxsize=16_384)
def render_article(path: str) -> bytes:
    paragraphs = [" ".join(_sentences(f"{path}/{p}", 4)) for p in range(5)]
    title = _sentences(f"{path}/title", 1)[0]
    body = "".join(f"<p>{text}</p>" for text in paragraphs)
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        f"</head><body><nav><a href='/'>Home</a> <a href='/news'>News</a></nav><main><article>"
        f"<h1>{title}</h1><p class='byline'>By Farm Reporter</p>{body}</article></main>"
        f"<footer>Simulated page, feed farm</footer></body></html>"
    ).encode()


# --- the farm's answers ----------------------------------------------------------------


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    reset: bool = False  # reset the connection instead of answering


@dataclass
class FarmCounters:
    """What the benchmark reads back: concurrency per host, polls, articles, listings."""

    in_flight: Counter[str] = field(default_factory=Counter)
    max_in_flight: Counter[str] = field(default_factory=Counter)
    requests: Counter[str] = field(default_factory=Counter)  # per host
    polls: list[tuple[float, int, str]] = field(default_factory=list)  # (time, feed, outcome)
    articles: Counter[str] = field(default_factory=Counter)  # per article path
    robots: Counter[str] = field(default_factory=Counter)  # per host
    throttled: Counter[str] = field(default_factory=Counter)  # 429s per host
    listed: set[str] = field(default_factory=set)  # item URLs served in a 200 body
    other: int = 0


class Farm:
    """The farm's logic, without sockets: answers a request, keeps the counters."""

    def __init__(self, spec: FarmSpec) -> None:
        self.spec = spec
        self.plans = [plan_feed(spec, i) for i in range(spec.feeds)]
        self.archive = archive_items(spec)
        self.throttled_hosts = {host_address(i) for i in throttled_host_indexes(spec)}
        self.counters = FarmCounters()
        self.frozen_at: float | None = None
        self._last_served: dict[str, float] = {}
        self._listed_count: dict[int, int] = {}  # own items in a feed's last 200 body
        self._requests_of_feed: Counter[int] = Counter()

    def enter(self, host: str) -> None:
        counters = self.counters
        counters.in_flight[host] += 1
        counters.requests[host] += 1
        counters.max_in_flight[host] = max(counters.max_in_flight[host], counters.in_flight[host])

    def leave(self, host: str) -> None:
        self.counters.in_flight[host] -= 1

    def freeze(self, now: float) -> None:
        self.frozen_at = now

    def respond(self, host: str, path: str, headers: Mapping[str, str], now: float) -> Response:
        if host in self.throttled_hosts:
            if now - self._last_served.get(host, float("-inf")) < self.spec.throttle_gap:
                self.counters.throttled[host] += 1
                feed = _feed_index(path)
                if feed is not None:
                    self.counters.polls.append((now, feed, "429"))
                return Response(429, b"slow down", {"Retry-After": str(self.spec.retry_after)})
            self._last_served[host] = now
        if path == "/robots.txt":
            self.counters.robots[host] += 1
            return Response(200, ROBOTS_TXT, {"Content-Type": "text/plain"})
        if path.startswith(("/a/", "/archive/")) and path.endswith(".html"):
            self.counters.articles[f"http://{host}:{self.spec.port}{path}"] += 1
            return Response(200, render_article(path), {"Content-Type": "text/html"})
        feed = _feed_index(path)
        if feed is None or feed >= len(self.plans) or self.plans[feed].host != host:
            self.counters.other += 1
            return Response(404, b"not found", {"Content-Type": "text/plain"})
        response, outcome = self._poll(self.plans[feed], headers, now)
        self.counters.polls.append((now, feed, outcome))
        return response

    def _poll(self, plan: FeedPlan, headers: Mapping[str, str], now: float) -> tuple[Response, str]:
        self._requests_of_feed[plan.index] += 1
        failure = _FAILURES.get(plan.kind)
        if failure is not None:
            return failure, plan.kind
        published_by = now if self.frozen_at is None else min(now, self.frozen_at)
        total, newest = published(self.spec, plan, published_by)
        validators = {"ETag": f'"f{plan.index}-{total}"', "Last-Modified": http_date(newest)}
        delay = self._delay(plan)
        if plan.kind != "no_validators" and _not_modified(headers, validators):
            return Response(304, headers=validators, delay=delay), "304"
        items = own_items(self.spec, plan, published_by)
        archive = self.archive if total else []
        body = render_feed(self.spec, plan, items, archive)
        origin = f"http://{plan.host}:{self.spec.port}"
        self.counters.listed.update(origin + item.path for item in items)
        archive_origin = f"http://{host_address(0)}:{self.spec.port}"
        self.counters.listed.update(archive_origin + item.path for item in archive)
        outcome = "200_new" if total > self._listed_count.get(plan.index, 0) else "200_same"
        self._listed_count[plan.index] = total
        response_headers = {"Content-Type": "application/rss+xml; charset=utf-8"}
        if plan.kind != "no_validators":
            response_headers.update(validators)
        return Response(200, body, response_headers, delay=delay), outcome

    def _delay(self, plan: FeedPlan) -> float:
        if plan.kind != "slow":
            return 0.0
        draw = zlib.crc32(f"{plan.index}/{self._requests_of_feed[plan.index]}".encode()) / 2**32
        return self.spec.slow_min + draw * (self.spec.slow_max - self.spec.slow_min)

    def stats(self, *, summary: bool = False) -> dict[str, Any]:
        counters = self.counters
        totals: dict[str, Any] = {
            "now": time.time(),
            "requests": sum(counters.requests.values()),
            "polls": len(counters.polls),
            "poll_outcomes": dict(Counter(outcome for _, _, outcome in counters.polls)),
            "article_requests": sum(counters.articles.values()),
            "articles_fetched": len(counters.articles),
            "items_listed": len(counters.listed),
            "throttled": sum(counters.throttled.values()),
            "robots_requests": sum(counters.robots.values()),
            "other_requests": counters.other,
            "host_max_in_flight": dict(counters.max_in_flight),
        }
        if summary:
            return totals
        totals["poll_log"] = [[round(t, 3), f, o] for t, f, o in counters.polls]
        totals["article_duplicates"] = {u: n for u, n in counters.articles.items() if n > 1}
        totals["listed"] = sorted(counters.listed)
        totals["throttled_hosts"] = sorted(self.throttled_hosts)
        totals["spec"] = asdict(self.spec)
        return totals


_FAILURES: dict[str, Response] = {
    "error_500": Response(500, b"internal error", {"Content-Type": "text/plain"}),
    "not_found": Response(404, b"not found", {"Content-Type": "text/plain"}),
    "reset": Response(0, reset=True),
    "garbage": Response(200, b"\x00\x13garbage{{<<not a feed", {"Content-Type": "text/xml"}),
}


def _feed_index(path: str) -> int | None:
    if not (path.startswith("/feeds/") and path.endswith(".xml")):
        return None
    number = path[len("/feeds/") : -len(".xml")]
    return int(number) if number.isdigit() else None


def _not_modified(headers: Mapping[str, str], validators: Mapping[str, str]) -> bool:
    if "if-none-match" in headers:
        return headers["if-none-match"] == validators["ETag"]
    return headers.get("if-modified-since") == validators["Last-Modified"]


# --- HTTP/1.1 on asyncio streams -------------------------------------------------------


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    headers: dict[str, str]
    keep_alive: bool


def parse_head(head: bytes) -> Request:
    lines = head.decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
    return Request(method, target, headers, keep_alive)


_REASONS = {200: "OK", 304: "Not Modified", 404: "Not Found", 429: "Too Many Requests",
            500: "Internal Server Error", 405: "Method Not Allowed"}  # fmt: skip


def encode_response(response: Response, keep_alive: bool) -> bytes:
    lines = [f"HTTP/1.1 {response.status} {_REASONS.get(response.status, 'Status')}"]
    headers = {**response.headers, "Content-Length": str(len(response.body))}
    headers["Connection"] = "keep-alive" if keep_alive else "close"
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None
    return parse_head(head)


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        # SO_LINGER 0: close sends RST, which the client sees as "connection reset".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FarmServer:
    """The farm's sockets: one per host address, plus the control socket."""

    def __init__(self, farm: Farm, control_port: int) -> None:
        self.farm = farm
        self.control_port = control_port

    async def serve_feed_host(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        host = str(writer.get_extra_info("sockname")[0])
        try:
            while (request := await _read_request(reader)) is not None:
                if not await self._answer(host, request, writer):
                    return
                if not request.keep_alive:
                    break
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _answer(self, host: str, request: Request, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; False when the connection was reset."""
        self.farm.enter(host)
        try:
            path = urlsplit(request.target).path
            response = self.farm.respond(host, path, request.headers, time.time())
            if response.delay:
                await asyncio.sleep(response.delay)
            if response.reset:
                _reset(writer)
                return False
            writer.write(encode_response(response, request.keep_alive))
            await writer.drain()
            return True
        finally:
            self.farm.leave(host)

    async def serve_control(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        request = await _read_request(reader)
        if request is not None:
            parts = urlsplit(request.target)
            if parts.path == "/stats":
                summary = parse_qs(parts.query).get("summary", ["0"])[0] == "1"
                body = json.dumps(self.farm.stats(summary=summary)).encode()
                response = Response(200, body, {"Content-Type": "application/json"})
            elif parts.path == "/freeze" and request.method == "POST":
                self.farm.freeze(time.time())
                response = Response(200, b"frozen")
            elif parts.path == "/ready":
                response = Response(200, b"ready")
            else:
                response = Response(404, b"not found")
            writer.write(encode_response(response, keep_alive=False))
            await writer.drain()
        writer.close()

    async def run(self) -> None:
        spec = self.farm.spec
        hosts = [host_address(i) for i in range(spec.hosts)]
        feed_server = await asyncio.start_server(
            self.serve_feed_host, host=hosts, port=spec.port, backlog=1024, limit=_HEAD_LIMIT
        )
        control = await asyncio.start_server(
            self.serve_control, host=CONTROL_ADDRESS, port=self.control_port
        )
        print(f"feed farm: {spec.feeds} feeds on {spec.hosts} hosts, port {spec.port}", flush=True)
        async with feed_server, control:
            await asyncio.gather(feed_server.serve_forever(), control.serve_forever())


def spec_from_args(args: argparse.Namespace) -> FarmSpec:
    values = {f.name: getattr(args, f.name) for f in fields(FarmSpec)}
    values["mix"] = parse_mix(values["mix"])
    return FarmSpec(**values)


def argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = FarmSpec()
    for spec_field in fields(FarmSpec):
        default = getattr(defaults, spec_field.name)
        kind: type = type(default)
        if spec_field.name == "mix":
            default, kind = ",".join(f"{k}={w:g}" for k, w in default), str
        parser.add_argument(f"--{spec_field.name.replace('_', '-')}", type=kind, default=default)
    parser.add_argument("--control-port", type=int, required=True)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = argument_parser().parse_args(argv)
    spec = spec_from_args(args)
    if not spec.start:
        spec = FarmSpec(**{**asdict(spec), "start": time.time()})
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(FarmServer(Farm(spec), args.control_port).run())


if __name__ == "__main__":
    main()
