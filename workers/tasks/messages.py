"""Task messages that are no FeedEntry are dead-lettered at once, never retried."""

from __future__ import annotations

import json
import re
from typing import Any

from celery import Task
from pydantic import ValidationError

from schemas import FeedEntry
from schemas.deadletter import Stage
from workers.errors import SchemaViolation
from workers.publishing.deadletter import dead_letter_for
from workers.services import get_services


def entry_of_message(
    task: Task, entry_json: Any, *, stage: Stage, payload: dict[str, Any]
) -> FeedEntry | None:
    """The FeedEntry a task message carries, or None once an invalid one is dead-lettered.

    The message's own doc_id and url are kept on the record only when they look
    like what they claim to be: an invalid message is no authority on them.
    """
    try:
        return FeedEntry.model_validate(entry_json)
    except ValidationError as exc:
        claimed = entry_json if isinstance(entry_json, dict) else {}
        doc_id, url = claimed.get("doc_id"), claimed.get("url")
        record = dead_letter_for(
            SchemaViolation.of(f"{task.name} message", exc),
            stage=stage,
            task_name=task.name,
            task_args=_json_safe(payload),
            attempts=task.request.retries + 1,
            doc_id=doc_id if isinstance(doc_id, str) and _DOC_ID.match(doc_id) else None,
            url=url[:2000] if isinstance(url, str) else None,
        )
        services = get_services()
        ttl = services.settings.given_up_marker_ttl
        services.deadletters.record(record, task_id=task.request.id, marker_ttl=ttl)
        return None


_DOC_ID = re.compile(r"^[0-9a-f]{32}$")


def _json_safe(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as the dead-letter record can carry it (text JSON can encode)."""
    try:
        json.dumps(payload, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError):
        return {"unencodable": repr(payload)[:2000].encode("utf-8", "replace").decode()}
    return payload
