"""What enrichment adds to a document: language, topics with evidence, entities."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas._base import ContractModel

LanguageSource = Literal["text", "html", "feed", "text+html", "text+feed", "default"]


class LanguageInfo(ContractModel):
    """The document's language and how sure we are of it."""

    code: str | None = Field(description="ISO 639-1 code, or null when undetermined.")
    confidence: float = Field(ge=0.0, le=1.0)
    source: LanguageSource = Field(description="Which signals decided the language.")
    detected: str | None = Field(default=None, description="What the text detector said alone.")
    html_lang: str | None = None
    feed_lang: str | None = None


class Evidence(ContractModel):
    """One matched term, where it is, and the sentence it sits in."""

    concept: str = Field(description="Concept of the taxonomy that the term belongs to.")
    term: str = Field(description="The text as it appears in the document.")
    start: int = Field(ge=0, description="Character offset of the term in `text`.")
    end: int = Field(ge=0)
    sentence: str = Field(description="The sentence that contains the match.")


class TopicMatch(ContractModel):
    """A topic the document is about, with the evidence that decided it."""

    id: str
    score: float = Field(ge=0.0)
    evidence: list[Evidence] = Field(default_factory=list)


class EntityMention(ContractModel):
    """A recognised entity: a country (`id` is its ISO 3166-1 alpha-2 code) or a name."""

    id: str = Field(
        description="ISO code for countries, gazetteer id for people and organisations."
    )
    name: str = Field(description="Canonical name.")
    count: int = Field(ge=1, description="How many times it is mentioned.")
    first_offset: int = Field(ge=0, description="Character offset of the first mention in `text`.")
    surface_forms: list[str] = Field(default_factory=list, description="Forms seen in the text.")


class Entities(ContractModel):
    """Entities named in the text, each list sorted by first mention."""

    countries: list[EntityMention] = Field(default_factory=list)
    people: list[EntityMention] = Field(default_factory=list)
    organisations: list[EntityMention] = Field(default_factory=list)
    places: list[EntityMention] = Field(default_factory=list)


class Enrichment(ContractModel):
    """Everything the enrichment stage computes from text alone."""

    language: LanguageInfo
    topics: list[TopicMatch] = Field(default_factory=list)
    entities: Entities = Field(default_factory=Entities)
    taxonomy_version: str
