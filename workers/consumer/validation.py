"""Reading a stream entry as a Document, the way a consumer should: strict, yet forward compatible.

The document schema follows semantic versioning, additive within a major
version. So a consumer built against 1.0.0 must accept a 1.x document that
carries fields it does not know yet: those are dropped from the model (they
stay in `entry.fields["doc"]`), and `schema_version` on the model is the
version this library validates against. A document of another major version,
malformed JSON, a missing field or a wrong value is an InvalidStreamEntry.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from schemas import DOCUMENT_SCHEMA_VERSION, Document
from workers.errors import InvalidStreamEntry

if TYPE_CHECKING:
    from workers.consumer.reader import StreamEntry

SUPPORTED_MAJOR = DOCUMENT_SCHEMA_VERSION.split(".")[0]


def parse_document(entry: StreamEntry) -> Document:
    """The entry's `doc` field as a Document, or InvalidStreamEntry saying what is wrong."""
    raw = entry.fields.get("doc")
    if raw is None:
        raise InvalidStreamEntry(f"entry {entry.entry_id} has no 'doc' field")
    document = document_from_json(raw)
    header_id = entry.fields.get("id")
    if header_id is not None and header_id != document.id:
        raise InvalidStreamEntry(
            f"entry {entry.entry_id}: header id {header_id} differs from document id {document.id}"
        )
    return document


def document_from_json(raw: str) -> Document:
    """Validate one document's JSON, tolerating fields added in a later minor version."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidStreamEntry(f"document is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidStreamEntry("document is not a JSON object")
    _check_version(data)
    data["schema_version"] = DOCUMENT_SCHEMA_VERSION
    try:
        return Document.model_validate(data)
    except ValidationError as exc:
        unknown = [e["loc"] for e in exc.errors() if e["type"] == "extra_forbidden"]
        if len(unknown) < exc.error_count():
            raise _mismatch(exc) from exc
    for location in unknown:
        _remove(data, location)
    try:
        return Document.model_validate(data)
    except ValidationError as exc:  # not expected: removing fields fixed every error
        raise _mismatch(exc) from exc


def _check_version(data: dict[str, Any]) -> None:
    version = data.get("schema_version")
    if not isinstance(version, str):
        raise InvalidStreamEntry("document has no schema_version")
    if version.split(".")[0] != SUPPORTED_MAJOR:
        raise InvalidStreamEntry(
            f"document schema_version {version}: this library reads {SUPPORTED_MAJOR}.x "
            "(upgrade Newswire's consumer library)"
        )


def _remove(data: dict[str, Any], location: tuple[int | str, ...]) -> None:
    """Delete the value at `location` (a pydantic error location) from nested dicts and lists."""
    node: Any = data
    for step in location[:-1]:
        node = node[step]
    del node[location[-1]]


def _mismatch(exc: ValidationError, limit: int = 3) -> InvalidStreamEntry:
    """The first few validation problems, one line."""
    problems = [
        f"{'.'.join(str(part) for part in e['loc']) or '(document)'}: {e['msg']}"
        for e in exc.errors()[:limit]
    ]
    more = exc.error_count() - limit
    summary = "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")
    return InvalidStreamEntry(f"document does not match the schema: {summary}")
