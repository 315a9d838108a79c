"""Liveness and readiness of each service kind, for `newswire health` and compose healthchecks.

Worker (fetch, process, all):
  live   the worker answers Celery's remote-control ping through the broker (its
         main process runs and reaches Redis; busy pool children do not matter);
  ready  live, and it consumes every queue its kind is meant to consume.
Beat:
  live   beat's own heartbeat (written at every tick by HeartbeatScheduler) is
         younger than NEWSWIRE_BEAT_STALE_SECONDS;
  ready  live, and a worker ran the dispatch task within that time too: the ticks
         are consumed, feeds get polled.
By default only workers of this host answer for a worker check (the compose
healthcheck runs inside the worker's container); `anywhere=True` takes any host.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from typing import Any, cast

import redis

from workers.keys import Keys
from workers.observability import redis_state
from workers.runtime.supervisor import WORKER_KINDS


@dataclass
class Health:
    ok: bool
    details: list[str] = field(default_factory=list)


def _ours(name: str, kind: str | None, host: str | None) -> bool:
    """Worker names are `<kind>-<pid>@<host>` (runtime/supervisor.py)."""
    worker, _, worker_host = name.partition("@")
    if host is not None and worker_host != host:
        return False
    return kind is None or worker.startswith(f"{kind}-")


def check_worker(
    app: Any,
    *,
    kind: str | None,
    ready: bool,
    anywhere: bool = False,
    timeout: float = 3.0,
) -> Health:
    """Ping the workers of `kind` (None: any) on this host (or anywhere)."""
    host = None if anywhere else socket.gethostname()
    replies = cast(list[dict[str, Any]], app.control.ping(timeout=timeout))
    names = sorted(n for reply in replies for n in reply if _ours(n, kind, host))
    where = "any host" if host is None else host
    if not names:
        return Health(False, [f"no {kind or 'newswire'} worker on {where} answered ping"])
    details = [f"{name}: pong" for name in names]
    if not ready:
        return Health(True, details)
    inspect = app.control.inspect(destination=names, timeout=timeout)
    consumed = cast(dict[str, list[dict[str, Any]]] | None, inspect.active_queues()) or {}
    ok = True
    for name in names:
        worker_kind = name.partition("-")[0]
        expected = set(WORKER_KINDS.get(worker_kind, {"queues": ""})["queues"].split(","))
        queues = {q["name"] for q in consumed.get(name, [])}
        missing = sorted(expected - queues - {""})
        if missing or name not in consumed:
            ok = False
            details.append(f"{name}: not consuming {', '.join(missing) or 'anything'}")
        else:
            details.append(f"{name}: consuming {', '.join(sorted(queues))}")
    return Health(ok, details)


def _age(epoch: float | None, now: float) -> str:
    return "never" if epoch is None else f"{now - epoch:.1f}s ago"


def check_beat(
    client: redis.Redis, keys: Keys, *, ready: bool, stale_seconds: float, now: float | None = None
) -> Health:
    moment = time.time() if now is None else now
    ticked, dispatched = redis_state.beat_times(client, keys)
    live = ticked is not None and moment - ticked <= stale_seconds
    details = [f"beat last ticked {_age(ticked, moment)} (limit {stale_seconds:g}s)"]
    if not ready:
        return Health(live, details)
    consumed = dispatched is not None and moment - dispatched <= stale_seconds
    details.append(f"dispatch last ran {_age(dispatched, moment)}")
    return Health(live and consumed, details)
