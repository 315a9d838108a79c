"""A real HTTP server on loopback whose routes each test programs.

Supports what feed and page fetching must cope with: ETag / Last-Modified
validators (304), redirects, gzip bodies, error statuses with Retry-After,
slow ("drip") bodies and endless ones (chunked, from a generator), and TLS with
a given certificate. Every request is recorded, and every accepted connection
counted, so a test can prove that a refused URL never even connected.
"""

from __future__ import annotations

import gzip
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    gzip: bool = False
    drip_seconds: float = 0.0  # pause between chunks of 10 bytes
    # Sent instead of `body`, one write per item: with chunked transfer encoding, or
    # (chunked=False) as they are, after the route's own headers only.
    chunks: Callable[[], Iterable[bytes]] | None = None
    chunked: bool = True


@dataclass
class Request:
    path: str
    headers: dict[str, str]


def unused_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (connecting to it is refused)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class _CountingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self.connections = 0
        self.tls: ssl.SSLContext | None = None
        self.server_names: list[str | None] = []
        super().__init__(address, handler)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.connections += 1
        return True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up or refuses our certificate: what some tests want

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        if self.tls is None:
            return sock, address
        sock.settimeout(5)
        # The handshake runs in the handler's thread, not in the accept loop.
        return self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address


class FixtureHttpServer:
    """`host`: any loopback address (Linux routes all of 127.0.0.0/8 to lo).
    `port`: 0 for any free one. `tls`: (certificate chain file, key file) to serve HTTPS."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, tls: tuple[str, str] | None = None
    ) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self._server = _CountingServer((host, port), _make_handler(self))
        self.scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            names = self._server.server_names
            context.sni_callback = lambda _sock, name, _ctx: names.append(name)
            self._server.tls = context
            self.scheme = "https"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def connections(self) -> int:
        """Connections accepted so far (a TCP connection, whether or not a request came)."""
        return self._server.connections

    @property
    def server_names(self) -> list[str | None]:
        """The TLS SNI name each handshake asked for."""
        return self._server.server_names

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self.scheme}://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def route(self, path: str, body: bytes | str = b"", **options: Any) -> Route:
        data = body.encode("utf-8") if isinstance(body, str) else body
        route = Route(body=data, **options)
        self.routes[path] = route
        return route

    def hits(self, path: str) -> int:
        return sum(1 for r in self.requests if r.path == path)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _make_handler(site: FixtureHttpServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            path = self.path
            site.requests.append(Request(path, {k.lower(): v for k, v in self.headers.items()}))
            route = site.routes.get(path)
            if route is None:
                self._reply(404, b"not found", {"Content-Type": "text/plain"})
                return
            if self._not_modified(route):
                self._reply(304, b"", self._validators(route))
                return
            headers = {**self._validators(route), **route.headers}
            if route.chunks is not None:
                self._reply_streamed(route.status, headers, route.chunks(), route.chunked)
                return
            body = route.body
            if route.gzip:
                body = gzip.compress(body)
                headers["Content-Encoding"] = "gzip"
            self._reply(route.status, body, headers, route.drip_seconds)

        def _not_modified(self, route: Route) -> bool:
            if route.etag and self.headers.get("If-None-Match") == route.etag:
                return True
            since = self.headers.get("If-Modified-Since")
            return bool(route.last_modified and since == route.last_modified)

        @staticmethod
        def _validators(route: Route) -> dict[str, str]:
            headers = {}
            if route.etag:
                headers["ETag"] = route.etag
            if route.last_modified:
                headers["Last-Modified"] = route.last_modified
            return headers

        def _reply(
            self, status: int, body: bytes, headers: dict[str, str], drip: float = 0.0
        ) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not drip:
                self.wfile.write(body)
                return
            for start in range(0, len(body), 10):
                self.wfile.write(body[start : start + 10])
                self.wfile.flush()
                time.sleep(drip)

        def _reply_streamed(
            self, status: int, headers: dict[str, str], chunks: Iterable[bytes], chunked: bool
        ) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.close_connection = True
            self.end_headers()
            try:
                for chunk in chunks:
                    if chunk:
                        frame = b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk
                        self.wfile.write(frame)
                        self.wfile.flush()
                if chunked:
                    self.wfile.write(b"0\r\n\r\n")
            except OSError:
                self.close_connection = True  # the client gave up: expected for endless bodies

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
