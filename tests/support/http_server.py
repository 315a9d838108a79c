"""A real HTTP server on loopback whose routes each test programs.

Supports what feed and page fetching must cope with: ETag / Last-Modified
validators (304), redirects, gzip bodies, error statuses with Retry-After,
and slow ("drip") bodies. Every request is recorded.
"""

from __future__ import annotations

import gzip
import threading
import time
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


@dataclass
class Request:
    path: str
    headers: dict[str, str]


class FixtureHttpServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

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

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
