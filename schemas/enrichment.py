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


TransferStatus = Literal["negotiated", "agreed", "delivered", "denied"]


class ArmsQuantity(ContractModel):
    """An amount of systems or munitions stated in the text ("1 million shells")."""

    amount: float = Field(ge=0, description="The number with its multiplier applied (2.5e6).")
    approximate: bool = Field(
        default=False,
        description="A vague or hedged amount: 'hundreds of', 'about', 'more than'.",
    )
    system: str | None = Field(
        default=None, description="Category of what is counted (one of the detail's `systems`)."
    )
    text: str = Field(description="The amount and what it counts, as written in `text`.")
    start: int = Field(ge=0, description="Character offset of `text` in the document text.")
    end: int = Field(ge=0)


class ArmsTransferDetail(ContractModel):
    """Who transfers arms to whom, what, how many, and how far the transfer has got.

    One detail per supplier-recipient pair that the text states, merged over its
    sentences. A party is an ISO 3166-1 alpha-2 code, or the gazetteer id of a
    named armed group or bloc (lower case, e.g. `hezbollah`, `eu`); a side the
    text does not name is null. Nothing is output when the direction is unclear.
    """

    supplier: str | None = Field(default=None, description="Who sends the arms.")
    supplier_name: str | None = Field(default=None, description="Canonical name of `supplier`.")
    recipient: str | None = Field(default=None, description="Who receives them.")
    recipient_name: str | None = Field(default=None, description="Canonical name of `recipient`.")
    systems: list[str] = Field(
        default_factory=list,
        description="Categories of what is transferred (artillery_ammunition, missiles, drones, "
        "...; see seeds/taxonomy/details/arms_transfers.yaml), most specific first.",
    )
    quantities: list[ArmsQuantity] = Field(default_factory=list)
    status: TransferStatus | None = Field(
        default=None,
        description="Most advanced stage the text reports: negotiated (talks, requests, plans, "
        "future or conditional), agreed (deal signed, approved, pledged), delivered (shipped, "
        "arrived, supplied); denied when the only statements deny or rule out the transfer.",
    )
    denied: bool = Field(
        default=False, description="Some statement of the text denies or rules out the transfer."
    )
    evidence: list[Evidence] = Field(
        default_factory=list,
        description="What decided each part; `concept` is the part: supplier, recipient, "
        "transfer, system, quantity or status.",
    )


class Enrichment(ContractModel):
    """Everything the enrichment stage computes from text alone."""

    language: LanguageInfo
    topics: list[TopicMatch] = Field(default_factory=list)
    entities: Entities = Field(default_factory=Entities)
    taxonomy_version: str
    arms_transfers: list[ArmsTransferDetail] = Field(
        default_factory=list,
        description="Arms-transfer details, for documents tagged arms_transfers.",
    )
