"""The one HTTP client of Newswire: size and time limits, checked redirects, typed errors.

Feeds, article pages and robots.txt all go through it. Every URL, the first
and each redirect hop, must pass the address policy (workers/fetching/
addresses.py): http(s) only, no unusual ports, no IP literal of a non-public
address; every connection is made by the guarded transport (transport.py) to
an address checked after resolution, so names that resolve to private
addresses are refused too, and nothing is sent before the check.

Every response body is read as a stream and counted after decompression, in
bounded pieces (decoding.py), so a gzip, deflate or brotli bomb stops at the
byte limit with memory near the limit; a Content-Length over the limit is
refused before the body is read; a total deadline stops servers that drip
bytes or never end, which a read timeout alone never does. Redirects are
followed by hand so that every hop is checked. Status codes map onto the error
tree: 5xx and 429 are transient (with Retry-After), other 4xx are permanent.
Given a HostLimiter, every hop (feed polls and article pages alike) holds a slot of
its host's shared politeness limit, and a 429 or 503 pauses that host.
"""

from __future__ import annotations

import email.utils
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin

import httpx

from workers import errors
from workers.fetching.addresses import AddressPolicy, check_url_syntax
from workers.fetching.decoding import ACCEPT_ENCODING, decode_stream
from workers.fetching.politeness import HostLimiter, HostSlot
from workers.fetching.transport import GuardedTransport, Resolver, system_resolver
from workers.settings import Settings

_REDIRECTS = {301, 302, 303, 307, 308}
_PERMANENT_REDIRECTS = {301, 308}


@dataclass(frozen=True)
class HttpResponse:
    """A complete, size-checked response."""

    url: str  # final URL, after redirects
    status: int
    headers: Mapping[str, str]
    body: bytes
    elapsed_ms: float
    permanent_redirect_to: str | None = None  # set when the first hop was a 301/308

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = datetime.fromtimestamp(now if now is not None else time.time(), UTC)
    return max(0.0, (when - current).total_seconds())


def check_url(url: str) -> str:
    """Refuse URLs Newswire will never fetch, whatever the allowlist: non-HTTP schemes,
    no host, bad ports. Addresses are HttpClient's business (AddressPolicy)."""
    check_url_syntax(url)
    return url


class HttpClient:
    """Made once per worker process; safe to share between threads.

    `resolver` and `ssl_context` replace the system's name resolution and trust
    store (tests resolve made-up names to loopback and trust their own CA).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        limiter: HostLimiter | None = None,
        resolver: Resolver = system_resolver,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._settings = settings
        self._limiter = limiter  # None: no per-host limit (tools and tests)
        self._policy = AddressPolicy.of(settings.fetch_allowlist)
        timeout = httpx.Timeout(
            connect=settings.http_connect_timeout,
            read=min(settings.http_read_timeout, settings.http_total_deadline),
            write=settings.http_read_timeout,
            pool=settings.http_connect_timeout,
        )
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
        transport = GuardedTransport(
            self._policy, limits=limits, ssl_context=ssl_context, resolver=resolver
        )
        self._client = httpx.Client(
            transport=transport,
            trust_env=False,  # no proxy from the environment: it would bypass the address checks
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
        )

    @property
    def policy(self) -> AddressPolicy:
        return self._policy

    def close(self) -> None:
        self._client.close()

    def get(
        self,
        url: str,
        *,
        max_bytes: int,
        headers: Mapping[str, str] | None = None,
        guard: Callable[[str], None] | None = None,
        truncate: bool = False,
    ) -> HttpResponse:
        """GET with redirects, limits and typed errors. A 304 is returned, not raised.

        Each hop holds a slot of its host's politeness limit (HostBusy when none is
        free soon; time spent waiting counts toward no deadline). `guard` sees every
        URL, the first and each redirect target, before it is requested, and raises
        to refuse it (robots.txt). `truncate` keeps the first max_bytes of a longer
        body instead of refusing it.
        """
        started = time.monotonic()
        waited = 0.0
        permanent_to: str | None = None
        current = self._policy.check_url(url)
        for hop in range(self._settings.max_redirects + 1):
            if guard is not None:
                guard(current)
            with self._host_slot(current) as slot:
                waited += slot.waited
                deadline = started + waited + self._settings.http_total_deadline
                status, resp_headers, body = self._get_once(
                    current, headers, max_bytes, deadline, truncate
                )
                slot.record(status, parse_retry_after(resp_headers.get("retry-after")))
            if status in _REDIRECTS and "location" in resp_headers:
                target = self._policy.check_url(urljoin(current, resp_headers["location"]))
                if hop == 0 and status in _PERMANENT_REDIRECTS:
                    permanent_to = target
                current = target
                continue
            elapsed = (time.monotonic() - started - waited) * 1000
            _raise_for_status(status, resp_headers, current)
            return HttpResponse(current, status, resp_headers, body, elapsed, permanent_to)
        raise errors.PermanentError(
            f"more than {self._settings.max_redirects} redirects from {url}", reason="redirect_loop"
        )

    @contextmanager
    def _host_slot(self, url: str) -> Iterator[HostSlot]:
        if self._limiter is None:
            yield HostSlot(host="", waited=0.0)
            return
        with self._limiter.slot(url) as slot:
            yield slot

    def _get_once(
        self,
        url: str,
        headers: Mapping[str, str] | None,
        max_bytes: int,
        deadline: float,
        truncate: bool = False,
    ) -> tuple[int, dict[str, str], bytes]:
        try:
            with self._client.stream("GET", url, headers=dict(headers or {})) as response:
                resp_headers = {k.lower(): v for k, v in response.headers.items()}
                if response.status_code in _REDIRECTS or response.status_code == 304:
                    return response.status_code, resp_headers, b""
                declared = resp_headers.get("content-length", "")
                if not truncate and declared.isdigit() and int(declared) > max_bytes:
                    raise errors.ResponseTooLarge(
                        f"{url}: Content-Length {declared} exceeds the limit of {max_bytes} bytes"
                    )
                body = _read_limited(response, url, max_bytes, deadline, truncate)
                return response.status_code, resp_headers, body
        except httpx.TimeoutException as exc:
            raise errors.FetchTimeout(f"{url}: timed out ({type(exc).__name__})") from exc
        except httpx.UnsupportedProtocol as exc:
            raise errors.RefusedURL(f"{url}: {exc}", reason="scheme") from exc
        except httpx.InvalidURL as exc:
            raise errors.RefusedURL(f"{url}: {exc}", reason="bad_url") from exc
        except httpx.TransportError as exc:
            # Connect, read and protocol errors (a body cut short, a lying Content-Length).
            raise errors.ConnectError(
                f"{url}: {type(exc).__name__}: {exc}", reason=connect_reason(exc)
            ) from exc


def connect_reason(exc: BaseException) -> str:
    """dns, tls, protocol or connect: httpx keeps the socket error it wraps in the chain."""
    if isinstance(exc, httpx.ProtocolError):
        return "protocol"  # a broken response: body cut short, lying Content-Length, junk
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, socket.gaierror):
            return "dns"
        if isinstance(current, ssl.SSLError):
            return "tls"
        current = current.__cause__ or current.__context__
    return "connect"


def _read_limited(
    response: httpx.Response, url: str, max_bytes: int, deadline: float, truncate: bool = False
) -> bytes:
    """The decoded body, refused (or cut, with `truncate`) past max_bytes, by the deadline.

    Raw bytes are counted too: a compressed body larger than the limit is refused
    even if it would decode to little.
    """
    chunks: list[bytes] = []
    size = 0
    raw_size = 0

    def raw_chunks() -> Iterator[bytes]:
        nonlocal raw_size
        for chunk in response.iter_raw():
            raw_size += len(chunk)
            if raw_size > max_bytes and not truncate:
                raise errors.ResponseTooLarge(
                    f"{url}: body exceeds the limit of {max_bytes} bytes (before decoding)"
                )
            _check_deadline(url, deadline)
            yield chunk

    for piece in decode_stream(raw_chunks(), response.headers.get("content-encoding")):
        size += len(piece)
        if size > max_bytes and truncate:
            chunks.append(piece[: max_bytes - size + len(piece)])
            break
        if size > max_bytes:
            raise errors.ResponseTooLarge(
                f"{url}: body exceeds the limit of {max_bytes} bytes (after decoding)"
            )
        _check_deadline(url, deadline)
        chunks.append(piece)
    return b"".join(chunks)


def _check_deadline(url: str, deadline: float) -> None:
    if time.monotonic() > deadline:
        raise errors.FetchTimeout(
            f"{url}: response not complete within the total deadline", reason="deadline"
        )


def _raise_for_status(status: int, headers: Mapping[str, str], url: str) -> None:
    if status < 400 or status == 304:
        return
    if status == 429 or status >= 500:
        retry_after = parse_retry_after(headers.get("retry-after"))
        raise errors.UpstreamUnavailable(
            f"{url}: HTTP {status}", reason=f"http_{status}", retry_after=retry_after
        )
    raise errors.HttpStatusError(f"{url}: HTTP {status}", status=status)
