"""The one HTTP client of Newswire: size and time limits, checked redirects, typed errors.

Every response body is read as a stream and counted after decompression, so a
gzip or brotli bomb stops at the byte limit; a total deadline stops servers
that drip bytes, which a read timeout alone never does. Redirects are followed
by hand so that every hop's scheme is checked. Status codes map onto the error
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
from urllib.parse import urljoin, urlsplit

import httpx

from workers import errors
from workers.fetching.politeness import HostLimiter, HostSlot
from workers.settings import Settings

_REDIRECTS = {301, 302, 303, 307, 308}
_PERMANENT_REDIRECTS = {301, 308}
_ALLOWED_SCHEMES = {"http", "https"}


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
    """Refuse URLs Newswire will not fetch (non-HTTP schemes, no host)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in _ALLOWED_SCHEMES:
        raise errors.RefusedURL(
            f"refused URL scheme {parts.scheme or '(none)'!r}: {url}", reason="scheme"
        )
    if not parts.hostname:
        raise errors.RefusedURL(f"URL without a host: {url}", reason="no_host")
    return url


class HttpClient:
    """Made once per worker process; safe to share between threads."""

    def __init__(self, settings: Settings, *, limiter: HostLimiter | None = None) -> None:
        self._settings = settings
        self._limiter = limiter  # None: no per-host limit (tools and tests)
        timeout = httpx.Timeout(
            connect=settings.http_connect_timeout,
            read=settings.http_read_timeout,
            write=settings.http_read_timeout,
            pool=settings.http_connect_timeout,
        )
        self._client = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate, br"},
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )

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
        current = check_url(url)
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
                target = check_url(urljoin(current, resp_headers["location"]))
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
        except httpx.DecodingError as exc:
            raise errors.DecodeError(
                f"{url}: bad content encoding: {exc}", reason="content_encoding"
            ) from exc
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise errors.ConnectError(
                f"{url}: {type(exc).__name__}: {exc}", reason=connect_reason(exc)
            ) from exc
        except httpx.UnsupportedProtocol as exc:
            raise errors.RefusedURL(f"{url}: {exc}", reason="scheme") from exc


def connect_reason(exc: BaseException) -> str:
    """dns, tls or connect: httpx keeps the socket error it wraps in the exception chain."""
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
    chunks: list[bytes] = []
    size = 0
    # iter_bytes yields decompressed data: the limit applies to what we would hold.
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes and truncate:
            chunks.append(chunk[: max_bytes - size + len(chunk)])
            break
        if size > max_bytes:
            raise errors.ResponseTooLarge(f"{url}: body exceeds the limit of {max_bytes} bytes")
        if time.monotonic() > deadline:
            raise errors.FetchTimeout(
                f"{url}: response not complete within the total deadline", reason="deadline"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _raise_for_status(status: int, headers: Mapping[str, str], url: str) -> None:
    if status < 400 or status == 304:
        return
    if status == 429 or status >= 500:
        retry_after = parse_retry_after(headers.get("retry-after"))
        raise errors.UpstreamUnavailable(
            f"{url}: HTTP {status}", reason=f"http_{status}", retry_after=retry_after
        )
    raise errors.HttpStatusError(f"{url}: HTTP {status}", status=status)
