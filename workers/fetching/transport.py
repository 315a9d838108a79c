"""The httpx transport of HttpClient: connections only to addresses the policy allows.

httpcore opens a connection by asking its network backend to connect to the
URL's host name. GuardedBackend answers by resolving the name once, checking
every address it resolves to (AddressPolicy.check_addresses), and connecting to
one of those very addresses. No second lookup happens between the check and the
connection, so a name that answers with a public address to the check and a
private one to the connection (DNS rebinding) cannot slip through. TLS is then
started by httpcore on that socket with the URL's host name as SNI and as the
name the certificate must match, and httpx sends the same name in the Host
header: connecting by address changes nothing that the server or TLS sees.

The lookup itself waits at most the connect timeout: the C library's resolver
knows no deadline of ours (a dead DNS server holds it for its own retries, 30 s
and more), so it runs on a small shared thread pool and the request gives up on
it, as a DNS failure, when the connect timeout passes.

GuardedTransport is a small httpx transport over an httpcore connection pool that
uses this backend (httpx's own HTTPTransport has no way to choose the backend).
It never uses a proxy: a proxy would connect on our behalf to addresses we
never see.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import os
import socket
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import httpcore
import httpx

from workers.fetching.addresses import AddressPolicy, IPAddress

# Returns the addresses of a host, for a port; raises OSError (socket.gaierror) on failure.
Resolver = Callable[[str, int], list[str]]

# Addresses tried in turn when a name resolves to several and connecting fails.
_MAX_ADDRESSES_TRIED = 3
# Lookups at once per process; more wait their turn (within their own timeout).
LOOKUP_THREADS = 16
# When httpcore gives no connect timeout.
DEFAULT_LOOKUP_TIMEOUT = 10.0


class _LookupPool:
    """A thread pool made at first use in each process (a pool forked along has no threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._pid = 0

    def submit(
        self, resolver: Resolver, host: str, port: int
    ) -> concurrent.futures.Future[list[str]]:
        with self._lock:
            if self._pool is None or self._pid != os.getpid():
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    max_workers=LOOKUP_THREADS, thread_name_prefix="dns-lookup"
                )
                self._pid = os.getpid()
            return self._pool.submit(resolver, host, port)


_LOOKUPS = _LookupPool()


def resolve_within(resolver: Resolver, host: str, port: int, timeout: float) -> list[str]:
    """The resolver's answer, or socket.gaierror(EAI_AGAIN) once `timeout` seconds pass
    (the lookup itself runs on, and its answer is dropped)."""
    future = _LOOKUPS.submit(resolver, host, port)
    try:
        return future.result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        future.cancel()  # if it is still waiting for a thread
        raise socket.gaierror(
            socket.EAI_AGAIN, f"lookup of {host} gave no answer within {timeout:g}s"
        ) from None


def system_resolver(host: str, port: int) -> list[str]:
    """The C library's answer (hosts file, DNS), in its order of preference, once each."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    addresses: list[str] = []
    for *_, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class GuardedBackend(httpcore.NetworkBackend):
    """Resolve once, check every address, connect to a checked one."""

    def __init__(self, policy: AddressPolicy, resolver: Resolver = system_resolver) -> None:
        self._policy = policy
        self._resolver = resolver
        self._plain = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self._resolve(host, port, timeout or DEFAULT_LOOKUP_TIMEOUT)
        self._policy.check_addresses(host, addresses)  # raises RefusedURL
        failure: Exception | None = None
        for address in addresses[:_MAX_ADDRESSES_TRIED]:
            try:
                # An IP literal: the plain backend connects without another lookup.
                return self._plain.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # _resolve never returns an empty list
        raise failure

    def _resolve(self, host: str, port: int, timeout: float) -> list[IPAddress]:
        try:
            answers = resolve_within(self._resolver, host, port, timeout)
        except OSError as exc:  # socket.gaierror: unknown name, no DNS, no answer in time
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in answers]
        if not addresses:
            raise httpcore.ConnectError(f"{host} resolves to no address")
        return addresses

    def sleep(self, seconds: float) -> None:
        self._plain.sleep(seconds)


# httpcore's errors and the httpx errors HttpClient handles, most specific first.
_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
)


@contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for core_error, httpx_error in _ERRORS:
            if isinstance(exc, core_error):
                raise httpx_error(str(exc)) from exc
        raise


class _Body(httpx.SyncByteStream):
    """A response body read from httpcore, its errors seen as httpx errors."""

    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx_errors():
            yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class GuardedTransport(httpx.BaseTransport):
    """An httpx transport whose every connection goes through GuardedBackend."""

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        limits: httpx.Limits,
        ssl_context: ssl.SSLContext | None = None,
        resolver: Resolver = system_resolver,
    ) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(policy, resolver),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(request.stream, httpx.SyncByteStream):
            raise TypeError("GuardedTransport sends synchronous requests only")
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _as_httpx_errors():
            core_response = self._pool.handle_request(core_request)
        if not isinstance(core_response.stream, Iterable):
            raise TypeError("httpcore returned an asynchronous body to a synchronous pool")
        return httpx.Response(
            status_code=core_response.status,
            headers=core_response.headers,
            stream=_Body(core_response.stream),
            extensions=core_response.extensions,
        )

    def close(self) -> None:
        self._pool.close()
