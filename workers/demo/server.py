"""A small HTTP server on loopback that serves seeds/demo/ like a news site would.

Feeds get an ETag and honour If-None-Match (so a second poll is a 304), the
literal `{{base_url}}` in any file becomes the server's own address, and files
that do not exist are a 404: one demo entry points at such a page on purpose.
"""

from __future__ import annotations

import hashlib
import mimetypes
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from schemas import FeedSource

BASE_URL_PLACEHOLDER = "{{base_url}}"

_CONTENT_TYPES = {
    ".xml": "application/xml",
    ".json": "application/feed+json",
    ".html": "text/html",
}


@dataclass(frozen=True)
class DemoPlan:
    """What demo.yaml declares: the feeds, and how many documents and dead letters to expect."""

    feeds: list[dict[str, Any]]
    expected_documents: int
    expected_deadletters: int

    @classmethod
    def load(cls, demo_dir: Path) -> DemoPlan:
        data = yaml.safe_load((demo_dir / "demo.yaml").read_text(encoding="utf-8"))
        expected = data.get("expected", {})
        return cls(
            feeds=list(data["feeds"]),
            expected_documents=int(expected.get("documents", 0)),
            expected_deadletters=int(expected.get("deadletters", 0)),
        )

    def feed_sources(self, base_url: str) -> list[FeedSource]:
        sources = []
        for row in self.feeds:
            fields = {k: v for k, v in row.items() if k != "path"}
            fields["url"] = f"{base_url}/{row['path']}"
            sources.append(FeedSource.model_validate(fields))
        return sources


class DemoServer:
    """Serves a folder on 127.0.0.1 on a free port, in a background thread."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def host(self) -> str:
        """The address it listens on: what `newswire demo` allowlists for fetching."""
        return str(self._server.server_address[0])

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def body_of(self, relative: str) -> bytes | None:
        path = (self.root / relative.lstrip("/")).resolve()
        if not path.is_file() or not path.is_relative_to(self.root):
            return None
        return path.read_bytes().replace(BASE_URL_PLACEHOLDER.encode(), self.base_url.encode())

    def start(self) -> DemoServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _handler_for(site: DemoServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = site.body_of(self.path.split("?", 1)[0])
            if body is None:
                self._send(404, b"not found", "text/plain")
                return
            etag = '"' + hashlib.sha1(body).hexdigest() + '"'
            if self.headers.get("If-None-Match") == etag:
                self._send(304, b"", None, etag)
                return
            suffix = Path(self.path).suffix
            content_type = _CONTENT_TYPES.get(suffix) or mimetypes.guess_type(self.path)[0]
            self._send(200, body, content_type, etag)

        def _send(
            self, status: int, body: bytes, content_type: str | None, etag: str | None = None
        ) -> None:
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            if etag:
                self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the demo prints its own summary

    return Handler
