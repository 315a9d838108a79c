"""Log lines: JSON with the task's context and extras, text for people, the format choice."""

import io
import json
import logging
from collections.abc import Iterator

import pytest

from workers.observability import celery_hooks, logs
from workers.observability.celery_hooks import task_context
from workers.tasks import DISPATCH_DUE_FEEDS, FETCH_ARTICLE, POLL_FEED, PROCESS_ARTICLE


@pytest.fixture
def logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger of its own writing through a Newswire handler into a buffer."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(logs.ContextFilter())
    log = logging.getLogger("newswire.test.logs")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    log.propagate = False
    yield log, out
    log.removeHandler(handler)
    logs.clear()


def test_json_line_carries_context_extras_and_exception(
    logger: tuple[logging.Logger, io.StringIO],
) -> None:
    log, out = logger
    log.handlers[0].setFormatter(logs.JsonFormatter())
    with logs.bound(task_id="t-1", stage="fetch", feed_id="monde", doc_id="ab12"):
        log.info("fetched %s", "page\nwith newline", extra={"duration_ms": 12.5})
    try:
        raise ValueError("bad page")
    except ValueError:
        log.exception("failed")
    first, second = out.getvalue().splitlines()  # one event per line, whatever the message
    event = json.loads(first)
    assert event["message"] == "fetched page\nwith newline"
    assert (event["task_id"], event["stage"], event["feed_id"], event["doc_id"]) == (
        "t-1",
        "fetch",
        "monde",
        "ab12",
    )
    assert event["duration_ms"] == 12.5 and event["level"] == "info"
    assert event["ts"].endswith("+00:00")
    failure = json.loads(second)
    assert "task_id" not in failure  # the block's context ended with it
    assert failure["exc_type"] == "ValueError" and "bad page" in failure["exc"]


def test_the_task_arguments_celery_attaches_stay_out_and_long_extras_are_cut(
    logger: tuple[logging.Logger, io.StringIO],
) -> None:
    """Celery's "received" line carries the task's arguments (a whole FeedEntry)."""
    log, out = logger
    for formatter in (logs.JsonFormatter(), logs.TextFormatter()):
        log.handlers[0].setFormatter(formatter)
        data = {"id": "t-9", "name": FETCH_ARTICLE, "args": "({'summary': 'SECRET'},)",
                "kwargs": "{}"}  # fmt: skip
        log.info("Task %s received", FETCH_ARTICLE, extra={"data": data, "note": "x" * 5000})
    json_line, text_line = out.getvalue().splitlines()
    event = json.loads(json_line)
    assert event["data"] == {"id": "t-9", "name": FETCH_ARTICLE}
    assert event["note"] == "x" * 1000 + "..."
    assert "SECRET" not in text_line and "x" * 1001 not in text_line


def test_text_line_puts_context_at_the_end(logger: tuple[logging.Logger, io.StringIO]) -> None:
    log, out = logger
    log.handlers[0].setFormatter(logs.TextFormatter())
    with logs.bound(stage="poll", feed_id="monde"):
        log.warning("poll error", extra={"reason": "timeout"})
    line = out.getvalue().strip()
    assert "WARNING" in line and "poll error" in line
    assert line.endswith("[stage=poll feed_id=monde reason=timeout]")


def test_an_extra_field_wins_over_the_context(logger: tuple[logging.Logger, io.StringIO]) -> None:
    log, out = logger
    log.handlers[0].setFormatter(logs.JsonFormatter())
    with logs.bound(feed_id="from-context"):
        log.info("x", extra={"feed_id": "given"})
    assert json.loads(out.getvalue())["feed_id"] == "given"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_format_choice() -> None:
    assert logs.choose_format("auto", _Tty()) == "text"
    assert logs.choose_format("auto", io.StringIO()) == "json"
    assert logs.choose_format("json", _Tty()) == "json"
    assert logs.choose_format("text", io.StringIO()) == "text"


def test_configure_logging_replaces_only_its_own_handler() -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    level = root.level
    try:
        logs.configure_logging("json", "warning", stream=io.StringIO())
        logs.configure_logging("text", "info", stream=io.StringIO())
        added = [h for h in root.handlers if h not in before]
        assert len(added) == 1 and isinstance(added[0].formatter, logs.TextFormatter)
        assert all(h in root.handlers for h in before)
    finally:
        for handler in root.handlers[:]:
            if handler not in before:
                root.removeHandler(handler)
        root.setLevel(level)


def test_task_context_from_the_tasks_arguments() -> None:
    entry = {"doc_id": "ab12", "feed": {"id": "monde"}, "url": "https://x/1"}
    assert task_context(POLL_FEED, ["monde"], {}) == {
        "task": POLL_FEED,
        "stage": "poll",
        "feed_id": "monde",
    }
    assert task_context(FETCH_ARTICLE, [entry], {})["doc_id"] == "ab12"
    process = task_context(PROCESS_ARTICLE, [], {"entry_json": entry, "refused_status": 403})
    assert (process["stage"], process["feed_id"], process["doc_id"]) == ("process", "monde", "ab12")
    assert task_context(DISPATCH_DUE_FEEDS, [], {}) == {
        "task": DISPATCH_DUE_FEEDS,
        "stage": "dispatch",
    }
    # Whatever arrives (a forged or old message), the context is built without failing.
    assert task_context(FETCH_ARTICLE, ["not a mapping"], None)["stage"] == "fetch"


class _Task:
    name = FETCH_ARTICLE


def test_signal_handlers_close_each_task_with_one_event() -> None:
    """prerun binds the context, failure adds the error class, postrun logs and clears."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(logs.ContextFilter())
    handler.setFormatter(logs.JsonFormatter())
    hooks_log = logging.getLogger(celery_hooks.__name__)
    hooks_log.addHandler(handler)
    level = hooks_log.level
    hooks_log.setLevel(logging.INFO)
    entry = {"doc_id": "ab12", "feed": {"id": "monde"}}
    try:
        celery_hooks._task_started(task_id="t-9", task=_Task(), args=[entry], kwargs={})
        celery_hooks._task_failed(exception=KeyError("x"))
        celery_hooks._task_finished(task=_Task(), state="FAILURE")
    finally:
        hooks_log.removeHandler(handler)
        hooks_log.setLevel(level)
    [event] = [json.loads(line) for line in out.getvalue().splitlines()]
    assert event["event"] == "task" and event["level"] == "warning"
    assert (event["task_id"], event["doc_id"], event["error_class"]) == ("t-9", "ab12", "KeyError")
    assert event["state"] == "FAILURE" and event["duration_ms"] >= 0
    assert logs.current_context() == {}
