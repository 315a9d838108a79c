"""The labelled development set: ``seeds/devset/<lang>.jsonl``, read and checked strictly.

One JSON object per line (blank lines are ignored)::

    {"id": "fr-007", "lang": "fr", "split": "dev", "title": "...", "text": "...",
     "topics": ["arms_transfers"], "countries": ["KP", "RU"],
     "arms_transfer": {"supplier": "KP", "recipient": "RU", "status": "negotiated"},
     "kind": "positive", "note": "why it is labelled so"}

- ``topics`` lists every taxonomy topic the document is about (``[]`` for none);
- ``split`` is ``dev`` (the taxonomy may be tuned on it) or ``test`` (held out);
- ``kind`` is ``positive``, ``hard_negative`` or ``other``; ``note`` says why;
- ``title``, ``countries`` (ISO 3166-1 alpha-2) and ``arms_transfer`` (only with
  the ``arms_transfers`` topic) are optional;
- instead of ``text``, ``corpus`` may name a page of the real-world corpus (a
  path under ``NEWSWIRE_CORPUS``), whose text is extracted at evaluation time.

The file name gives the language and every line's ``lang`` must agree. Any
deviation (bad JSON, a missing or unknown key, a wrong type, an unknown topic,
a duplicate id) raises ConfigurationError naming the file and the line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal, cast

from workers.enrichment.language import SUPPORTED
from workers.enrichment.seedfile import display_name
from workers.errors import ConfigurationError

DEVSET_DIRNAME = "devset"
Split = Literal["dev", "test"]
Kind = Literal["positive", "hard_negative", "other"]
SPLITS: tuple[Split, ...] = ("dev", "test")
KINDS: tuple[Kind, ...] = ("positive", "hard_negative", "other")
TRANSFER_STATUSES = ("negotiated", "agreed", "delivered", "denied")

_REQUIRED = ("id", "lang", "split", "topics", "kind", "note")
_OPTIONAL = ("title", "text", "corpus", "countries", "arms_transfer")
_TRANSFER_KEYS = ("supplier", "recipient", "status")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True)
class ArmsTransferGold:
    """What an arms-transfer document states, as far as its labeller could tell."""

    supplier: str | None
    recipient: str | None
    status: str | None


@dataclass(frozen=True)
class DevDoc:
    """One labelled document, with where it was read (for messages)."""

    id: str
    lang: str
    split: Split
    topics: frozenset[str]
    kind: Kind
    note: str
    source: str  # file as shown in messages, e.g. seeds/devset/fr.jsonl
    line: int
    title: str | None = None
    text: str | None = None
    corpus: str | None = None
    countries: frozenset[str] | None = None
    arms_transfer: ArmsTransferGold | None = None

    @property
    def where(self) -> str:
        return f"{self.source}, line {self.line}"


def load_devset(devset_dir: Path, topics: Collection[str]) -> list[DevDoc]:
    """Every document of ``devset_dir/*.jsonl``, in file then line order."""
    if not devset_dir.is_dir():
        raise ConfigurationError(f"{devset_dir.as_posix()}: development set folder not found")
    docs: list[DevDoc] = []
    seen: dict[str, DevDoc] = {}
    for path in sorted(devset_dir.glob("*.jsonl")):
        for doc in read_devset_file(path, display_name(path, devset_dir.parent), topics):
            if doc.id in seen:
                raise ConfigurationError(
                    f"{doc.where}: duplicate id {doc.id!r} (first at {seen[doc.id].where})"
                )
            seen[doc.id] = doc
            docs.append(doc)
    return docs


def read_devset_file(path: Path, display: str, topics: Collection[str]) -> list[DevDoc]:
    """The documents of one ``<lang>.jsonl`` file."""
    lang = path.stem
    if lang not in SUPPORTED:
        raise ConfigurationError(
            f"{display}: file name must be <language>.jsonl with one of {', '.join(SUPPORTED)}"
        )
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{display}: cannot read: {exc}") from exc
    return [
        parse_line(line, display=display, number=number, lang=lang, topics=topics)
        for number, line in enumerate(lines, start=1)
        if line.strip()
    ]


def parse_line(
    line: str, *, display: str, number: int, lang: str, topics: Collection[str]
) -> DevDoc:
    """Line ``number`` of a devset file. Raises ConfigurationError naming file and line."""
    where = f"{display}, line {number}"
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"{where}: not valid JSON: {exc.msg} (column {exc.colno})"
        ) from exc
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{where}: expected a JSON object")
    try:
        return _doc(cast(dict[str, Any], raw), display, number, lang, topics)
    except ValueError as exc:
        doc_id = raw.get("id")
        named = f" (id {doc_id!r})" if isinstance(doc_id, str) else ""
        raise ConfigurationError(f"{where}{named}: {exc}") from exc


def _doc(
    raw: dict[str, Any], display: str, line: int, lang: str, topics: Collection[str]
) -> DevDoc:
    unknown = sorted(set(raw) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise ValueError(
            f"unknown key {unknown[0]!r} (expected {', '.join(_REQUIRED + _OPTIONAL)})"
        )
    missing = [key for key in _REQUIRED if key not in raw]
    if missing:
        raise ValueError(f"missing key {missing[0]!r}")
    if raw["lang"] != lang:
        raise ValueError(f"lang {raw['lang']!r} does not match the file's language {lang!r}")
    if ("text" in raw) == ("corpus" in raw):
        raise ValueError("give exactly one of 'text' and 'corpus'")
    doc_topics = _topics(raw["topics"], topics)
    return DevDoc(
        id=_text(raw, "id"),
        lang=lang,
        split=cast(Split, _choice(raw, "split", SPLITS)),
        topics=doc_topics,
        kind=cast(Kind, _choice(raw, "kind", KINDS)),
        note=_text(raw, "note"),
        source=display,
        line=line,
        title=_optional_text(raw, "title"),
        text=_optional_text(raw, "text"),
        corpus=_corpus_path(raw["corpus"]) if "corpus" in raw else None,
        countries=_countries(raw["countries"]) if "countries" in raw else None,
        arms_transfer=_transfer(raw["arms_transfer"], doc_topics)
        if "arms_transfer" in raw
        else None,
    )


def _text(raw: dict[str, Any], key: str) -> str:
    value = raw[key]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key!r} must be a non-empty string")
    return value


def _optional_text(raw: dict[str, Any], key: str) -> str | None:
    if raw.get(key) is None:
        return None
    return _text(raw, key)


def _choice(raw: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    value = raw[key]
    if value not in allowed:
        raise ValueError(f"{key!r} must be one of {', '.join(allowed)}, not {value!r}")
    return str(value)


def _string_list(value: object, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{key!r} must be a list of strings")
    items = cast(list[str], value)
    if len(set(items)) != len(items):
        raise ValueError(f"{key!r} lists an item twice")
    return items


def _topics(value: object, known: Collection[str]) -> frozenset[str]:
    items = _string_list(value, "topics")
    for item in items:
        if item not in known:
            raise ValueError(f"unknown topic {item!r} (topics: {', '.join(sorted(known))})")
    return frozenset(items)


def _countries(value: object) -> frozenset[str]:
    items = _string_list(value, "countries")
    for item in items:
        if not _COUNTRY.match(item):
            raise ValueError(f"country {item!r} is not an ISO 3166-1 alpha-2 code such as 'KP'")
    return frozenset(items)


def _corpus_path(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("'corpus' must be a non-empty path")
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts or "\\" in value:
        raise ValueError(f"'corpus' must be a relative path inside the corpus, not {value!r}")
    return path.as_posix()


def _transfer(value: object, topics: frozenset[str]) -> ArmsTransferGold:
    if "arms_transfers" not in topics:
        raise ValueError("'arms_transfer' is only for documents with the arms_transfers topic")
    if not isinstance(value, dict):
        raise ValueError("'arms_transfer' must be an object")
    fields = cast(dict[str, Any], value)
    unknown = sorted(set(fields) - set(_TRANSFER_KEYS))
    if unknown:
        raise ValueError(
            f"arms_transfer: unknown key {unknown[0]!r} (expected {', '.join(_TRANSFER_KEYS)})"
        )
    for key in _TRANSFER_KEYS:
        if fields.get(key) is not None and not isinstance(fields[key], str):
            raise ValueError(f"arms_transfer: {key!r} must be a string or null")
    status = fields.get("status")
    if status is not None and status not in TRANSFER_STATUSES:
        raise ValueError(
            f"arms_transfer: 'status' must be one of {', '.join(TRANSFER_STATUSES)}, not {status!r}"
        )
    return ArmsTransferGold(fields.get("supplier"), fields.get("recipient"), status)
