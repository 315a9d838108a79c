"""The contract: committed JSON Schemas match the models, and the public surface is what it says."""

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

import schemas
from scripts.export_schemas import render, schema_path


@pytest.mark.parametrize("name", sorted(schemas.EXPORTED_MODELS))
def test_committed_schema_matches_model(name: str) -> None:
    path = schema_path(name)
    assert path.exists(), f"{path.name} missing: run python scripts/export_schemas.py"
    committed = json.loads(path.read_text(encoding="utf-8"))
    assert committed == json.loads(render(schemas.EXPORTED_MODELS[name])), (
        f"{path.name} is stale: run python scripts/export_schemas.py and review the diff"
    )


def test_every_exported_model_carries_a_schema_version() -> None:
    for name, model in schemas.EXPORTED_MODELS.items():
        assert "schema_version" in model.model_fields, name
        assert model.model_fields["schema_version"].default.count(".") == 2


def test_public_surface() -> None:
    exported = {n for n in dir(schemas) if not n.startswith("_")}
    assert set(schemas.__all__) <= exported
    for name in schemas.__all__:
        assert name.isupper() or getattr(schemas, name).__module__.startswith("schemas.")


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        schemas.FeedRef(id="a", url="https://x.org", surprise=1)  # type: ignore[call-arg]


def test_document_requires_aware_datetimes_and_hex_ids() -> None:
    base = {
        "id": "0" * 32,
        "url": "u",
        "canonical_url": "u",
        "feed": {"id": "f", "url": "u"},
        "text": "t",
        "fetched_at": datetime.now(UTC),
        "processed_at": datetime.now(UTC),
        "language": {"code": "en", "confidence": 1.0, "source": "text"},
        "taxonomy_version": "1",
        "content_hash": "sha256:" + "0" * 64,
        "extraction": {
            "source": "article_page",
            "extractor": "x",
            "extract_ms": 1,
            "enrich_ms": 1,
        },
    }
    schemas.Document.model_validate(base)
    with pytest.raises(ValidationError):
        schemas.Document.model_validate({**base, "fetched_at": datetime(2024, 1, 1)})
    with pytest.raises(ValidationError):
        schemas.Document.model_validate({**base, "id": "XYZ"})
