"""Log lines as JSON (one event per line) or as text for a terminal, with task context.

The context (feed id, document id, task id, stage) lives in context variables set
by the Celery signal handlers (celery_hooks.py) around each task, so any log call
made while a task runs carries it without being passed anything. Threads of the
threads pool each have their own context; a prefork child has its own process.
Extra fields given to a log call (`log.info(..., extra={"duration_ms": 12.5})`)
appear in the JSON object as they are.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

# The fields a task's log lines carry; None = unknown for this task.
CONTEXT_FIELDS = ("task_id", "task", "stage", "feed_id", "doc_id")

_context: ContextVar[Mapping[str, str] | None] = ContextVar("newswire_log_context", default=None)

# Attributes every LogRecord has: everything else on a record came from `extra`.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}

LogFormat = Literal["json", "text"]

_TEXT_CONTEXT_ORDER = ("stage", "feed_id", "doc_id", "task_id")

# Celery hands its "received" and "succeeded" lines the task's arguments as `extra`
# (in `data`): a whole FeedEntry per line, feed text included. Logs keep the rest.
_CELERY_DATA_LEFT_OUT = frozenset({"args", "kwargs"})
_EXTRA_TEXT_MAX = 1000


def _extras(record: logging.LogRecord, *, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The fields a log call (or the context) added to a record, bounded for a log line."""
    return {
        name: _bounded(name, value)
        for name, value in vars(record).items()
        if name not in _STANDARD_ATTRS and name not in skip and not name.startswith("_")
    }


def _bounded(name: str, value: Any) -> Any:
    if name == "data" and isinstance(value, dict):
        return {k: v for k, v in value.items() if k not in _CELERY_DATA_LEFT_OUT}
    if isinstance(value, str) and len(value) > _EXTRA_TEXT_MAX:
        return value[:_EXTRA_TEXT_MAX] + "..."
    return value


def current_context() -> Mapping[str, str]:
    return _context.get() or {}


def bind(**fields: str | None) -> None:
    """Add fields to this thread's log context (None values are left out)."""
    merged = {**current_context(), **{k: v for k, v in fields.items() if v is not None}}
    _context.set(merged)


def clear() -> None:
    _context.set(None)


@contextmanager
def bound(**fields: str | None) -> Iterator[None]:
    """The fields for the duration of a block (the CLI and tests; tasks use the signals)."""
    token = _context.set({**current_context(), **{k: v for k, v in fields.items() if v}})
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Copies the current context onto each record (as attributes), for both formats."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in current_context().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, context, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        event.update(_extras(record))
        if record.exc_info:
            event["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            event["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            event["stack"] = self.formatStack(record.stack_info)
        return json.dumps(event, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time level logger: message [stage feed=.. doc=.. task=..] extra=..` for people."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = _extras(record, skip=frozenset({"task"}))
        # Context first, in a fixed order, then the call's own fields.
        ordered = [n for n in _TEXT_CONTEXT_ORDER if n in extras]
        ordered += [n for n in extras if n not in _TEXT_CONTEXT_ORDER]
        tail = [f"{name}={extras[name]}" for name in ordered]
        if not tail:
            return line
        first, _, rest = line.partition("\n")
        joined = f"{first} [{' '.join(tail)}]"
        return f"{joined}\n{rest}" if rest else joined


class _NewswireHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler configure_logging installs (so that a second call replaces it)."""


def choose_format(setting: str, stream: TextIO) -> LogFormat:
    """`auto`: text where a person watches (a terminal), JSON where a machine collects."""
    if setting in ("json", "text"):
        return "json" if setting == "json" else "text"
    isatty = getattr(stream, "isatty", None)
    return "text" if isatty is not None and isatty() else "json"


def configure_logging(
    log_format: str, level: int | str = logging.INFO, *, stream: TextIO | None = None
) -> LogFormat:
    """Replace the root logger's handlers with one handler in the chosen format."""
    out = stream if stream is not None else sys.stderr
    chosen = choose_format(log_format, out)
    handler = _NewswireHandler(out)
    handler.setFormatter(JsonFormatter() if chosen == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    # Replace our own handler of an earlier call; leave others' (a test runner's) alone.
    for old in [h for h in root.handlers if isinstance(h, _NewswireHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    return chosen
