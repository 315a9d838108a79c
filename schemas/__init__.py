"""Newswire's contract with downstream teams: pydantic models and their JSON Schemas.

Field changes follow semantic versioning: additive within a major version.
"""

from pydantic import BaseModel

from schemas.deadletter import DEADLETTER_SCHEMA_VERSION, DeadLetter
from schemas.document import DOCUMENT_SCHEMA_VERSION, Document, Extraction
from schemas.enrichment import (
    Enrichment,
    Entities,
    EntityMention,
    Evidence,
    LanguageInfo,
    TopicMatch,
)
from schemas.entry import FEED_ENTRY_SCHEMA_VERSION, FeedEntry, FeedRef
from schemas.feed import FEED_SOURCE_SCHEMA_VERSION, FeedSource
from schemas.feed_health import FEED_HEALTH_SCHEMA_VERSION, FeedHealth

# Models whose JSON Schema is committed under schemas/json/, by file stem.
EXPORTED_MODELS: dict[str, type[BaseModel]] = {
    "feed_source": FeedSource,
    "feed_entry": FeedEntry,
    "document": Document,
    "deadletter": DeadLetter,
    "feed_health": FeedHealth,
}

__all__ = [
    "DEADLETTER_SCHEMA_VERSION",
    "DOCUMENT_SCHEMA_VERSION",
    "EXPORTED_MODELS",
    "FEED_ENTRY_SCHEMA_VERSION",
    "FEED_HEALTH_SCHEMA_VERSION",
    "FEED_SOURCE_SCHEMA_VERSION",
    "DeadLetter",
    "Document",
    "Enrichment",
    "Entities",
    "EntityMention",
    "Evidence",
    "Extraction",
    "FeedEntry",
    "FeedHealth",
    "FeedRef",
    "FeedSource",
    "LanguageInfo",
    "TopicMatch",
]
