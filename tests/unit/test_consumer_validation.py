"""How the consumer library reads a document: strict on errors, tolerant of additive fields."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.documents import numbered_document
from workers.consumer import StreamEntry, document_from_json, parse_document
from workers.errors import InvalidStreamEntry
from workers.keys import Keys


def as_data(number: int = 1) -> dict[str, Any]:
    return dict(json.loads(numbered_document(number).model_dump_json()))


def test_a_later_minor_version_with_new_fields_is_read() -> None:
    data = as_data()
    data["schema_version"] = "1.7.2"
    data["sentiment"] = -0.4
    data["feed"]["country"] = "fr"
    data["topics"][0]["rank"] = 1
    document = document_from_json(json.dumps(data))
    assert document == numbered_document(1).model_copy(
        update={"fetched_at": document.fetched_at, "processed_at": document.processed_at}
    )
    assert document.schema_version == "1.0.0"  # the version the library validated against


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(schema_version="2.0.0"), "reads 1.x"),
        (lambda d: d.pop("schema_version"), "no schema_version"),
        (lambda d: d.update(id="not-hex"), "id: String should match pattern"),
        (lambda d: d.update(text=""), "text: String should have at least 1 character"),
        (lambda d: d["extraction"].update(source="carrier_pigeon"), "extraction.source"),
    ],
)
def test_invalid_documents_say_what_is_wrong(change: Any, message: str) -> None:
    data = as_data()
    change(data)
    with pytest.raises(InvalidStreamEntry, match=message):
        document_from_json(json.dumps(data))


def test_an_unknown_field_does_not_hide_a_real_error() -> None:
    data = as_data()
    data["sentiment"] = 1.0
    del data["content_hash"]
    with pytest.raises(InvalidStreamEntry, match="content_hash: Field required"):
        document_from_json(json.dumps(data))


@pytest.mark.parametrize("raw", ["[1, 2]", "{", '"text"'])
def test_json_that_is_not_an_object(raw: str) -> None:
    with pytest.raises(InvalidStreamEntry, match="not"):
        document_from_json(raw)


def test_the_entry_header_must_agree_with_the_document() -> None:
    doc = numbered_document(3).model_dump_json()
    good = StreamEntry("s", "1-0", {"id": numbered_document(3).id, "doc": doc})
    assert parse_document(good).id == numbered_document(3).id
    with pytest.raises(InvalidStreamEntry, match="differs"):
        parse_document(StreamEntry("s", "1-1", {"id": "0" * 32, "doc": doc}))
    with pytest.raises(InvalidStreamEntry, match="no 'doc' field"):
        parse_document(StreamEntry("s", "1-2", {"id": "0" * 32}))


def test_stream_short_names() -> None:
    keys = Keys("acme")
    assert keys.named_stream("documents") == "acme:documents"
    assert keys.named_stream("topic:sanctions") == "acme:topic:sanctions"
    assert keys.named_stream("feed-health") == "acme:feed-health"
    for wrong in ("topic:", "topic:a:b", "docs", "acme:documents"):
        with pytest.raises(ValueError, match="unknown stream"):
            keys.named_stream(wrong)
