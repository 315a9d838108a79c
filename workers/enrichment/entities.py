"""Countries, people and organisations: a gazetteer compiled into the matcher.

Countries come from two sources:
- CLDR territory names in each language (``babel.Locale(lang).territories``), the
  base; a name that CLDR gives to two territories ("Congo") is dropped;
- ``seeds/gazetteer/countries.yaml``, curated: demonyms and adjectives
  ("nord-coréen", "russische*"), capitals and seats of power used as metonyms
  ("Moscou", "Pyongyang", "Kremlin", "Maison Blanche"), other usual names
  ("USA", "США"), names that count only when the country is also named
  unambiguously (``ambiguous``: "Georgia", "Jordan"), phrases that contain a name
  without meaning the country (``block``: "Washington Post", "New Mexico"), and
  how names inflect in languages with case endings (``inflection``).

People and organisations come from ``people.yaml`` and ``organisations.yaml``:
an id, a canonical name and aliases per language (``any`` applies to every
language). A person's ``short`` names (a surname) count only after a full
mention of that person in the same text, for the most mentioned such person.

Case rules follow how an alias is written: ``US`` matches only "US", ``Turkey``
only a capitalised "Turkey", ``russe`` any case. Overlapping mentions are
resolved longest first ("Conseil de sécurité de l'ONU" is the Security Council,
not also the UN).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from schemas.enrichment import Entities, EntityMention
from workers.enrichment.lexicon import Case, Entry, Hit, Tag, WordPattern, case_of
from workers.enrichment.seedfile import Node, display_name, load
from workers.enrichment.text import TERM_WORD_RE, Sentences, fold, has_cjk, is_cjk_term, words_of
from workers.enrichment.topics import ConceptHit
from workers.errors import ConfigurationError

GAZETTEER_DIRNAME = "gazetteer"
ANY = "any"
ENTITY_LAYER = "entity"
KINDS = {
    "country": "entity:country",
    "person": "entity:person",
    "organisation": "entity:organisation",
}
MAX_SURFACE_FORMS = 10
# CLDR territory codes that are not ISO 3166-1 countries: regions and groupings, and
# CLDR's exceptionally reserved codes (Ascension, Clipperton, Sark, Diego Garcia, Ceuta
# and Melilla, Canary Islands, Tristan da Cunha). XK (Kosovo) is kept: it is in common use.
_NOT_COUNTRIES = frozenset(
    {"EU", "EZ", "UN", "QO", "ZZ", "XA", "XB", "AC", "CP", "CQ", "DG", "EA", "IC", "TA"}
)
_PARENS = re.compile(r"\s*[(（][^)）]*[)）]")
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True)
class Inflection:
    """How names inflect in a language: drop up to two final letters found in `strip`,
    then accept up to `max_suffix` letters after what remains (Северная -> Северн + ой).
    One-word names keep at least `min_stem` letters, or match exactly."""

    strip: str = ""
    max_suffix: int = 0
    min_stem: int = 4


@dataclass(frozen=True)
class EntityInfo:
    kind: str
    id: str
    name: str


@dataclass
class Gazetteer:
    """Every alias of every entity, per language, ready to become matcher entries."""

    infos: dict[tuple[str, str], EntityInfo] = field(default_factory=dict)
    aliases: dict[str, list[tuple[str, Tag]]] = field(default_factory=lambda: defaultdict(list))
    inflection: dict[str, Inflection] = field(default_factory=dict)

    def add(self, lang: str, alias: str, tag: Tag) -> None:
        self.aliases[lang].append((alias, tag))

    def entries(self, lang: str | None) -> list[Entry]:
        """Entries for a document in `lang`: its own aliases and the language-neutral ones."""
        langs = [ANY, lang if lang in self.aliases else "en"]
        inflection = self.inflection.get(lang or "", Inflection())
        out: list[Entry] = []
        for code in langs:
            for alias, tag in self.aliases.get(code, ()):
                entry = alias_entry(alias, tag, inflection)
                if entry is not None:
                    out.append(entry)
        return out


def alias_entry(alias: str, tag: Tag, inflection: Inflection) -> Entry | None:
    """Compile one alias: CJK literal, or words with stems ('*') and name inflection."""
    if is_cjk_term(alias):
        return Entry((), tag, Case.ANY, literal=fold(alias.replace(" ", "")))
    if has_cjk(alias):
        return None
    parts = TERM_WORD_RE.findall(alias)
    patterns = []
    for word, star in parts:
        key = fold(word)
        if star:
            patterns.append(WordPattern(stem=key))
        else:
            acronym = word.isupper() and len(word) > 1
            patterns.append(_inflected(key, inflection, len(parts) == 1, acronym))
    if not patterns:
        return None
    return Entry(tuple(patterns), tag, case_of(alias.replace("*", ""), allow_title=True))


def _inflected(key: str, inflection: Inflection, single: bool, acronym: bool) -> WordPattern:
    if acronym or inflection.max_suffix == 0:
        return WordPattern(forms=frozenset((key,)))
    stem = key
    while len(key) - len(stem) < 2 and stem and stem[-1] in inflection.strip:
        stem = stem[:-1]  # at most two letters: Северная -> Северн, Россия -> Росс
    if single and len(stem) < inflection.min_stem:
        return WordPattern(forms=frozenset((key,)))
    return WordPattern(forms=frozenset((key,)), stem=stem, max_extra=inflection.max_suffix)


# -- loading -------------------------------------------------------------------------------


def load_gazetteer(seeds_dir: Path, languages: Iterable[str]) -> Gazetteer:
    """CLDR country names in `languages` plus the curated files. Raises ConfigurationError."""
    directory = seeds_dir / GAZETTEER_DIRNAME
    gazetteer = Gazetteer()
    countries_node = _load(directory / "countries.yaml", seeds_dir)
    fields = countries_node.mapping("a mapping (inflection, ambiguous, block, countries)")
    fields.refuse_unknown({"inflection", "ambiguous", "block", "countries", "names"})
    gazetteer.inflection = _read_inflection(fields.get("inflection"))
    ambiguous = _per_language_list(fields.get("ambiguous"), "ambiguous")
    names = _read_names(fields.get("names"))
    _add_cldr(gazetteer, sorted(set(languages) | {"en"}), ambiguous, names)
    if "countries" in fields:
        _read_countries(gazetteer, fields["countries"], ambiguous)
    for lang, aliases in _per_language_list(fields.get("block"), "block").items():
        for alias in aliases:
            gazetteer.add(lang, alias, Tag(ENTITY_LAYER, "block", ""))
    _read_named(gazetteer, _load(directory / "people.yaml", seeds_dir), "person")
    _read_named(gazetteer, _load(directory / "organisations.yaml", seeds_dir), "organisation")
    return gazetteer


def _load(path: Path, seeds_dir: Path) -> Node:
    display = display_name(path, seeds_dir)
    if not path.is_file():
        raise ConfigurationError(f"{display}: file not found")
    return load(path, display)


def _read_inflection(node: Node | None) -> dict[str, Inflection]:
    if node is None:
        return {}
    out = {}
    for lang, spec in node.mapping("a mapping of languages").items():
        fields = spec.mapping(f"inflection of {lang}: strip, max_suffix, min_stem")
        fields.refuse_unknown({"strip", "max_suffix", "min_stem"}, f"inflection of {lang}")
        out[lang] = Inflection(
            strip=fold(fields["strip"].text()) if "strip" in fields else "",
            max_suffix=int(fields["max_suffix"].number()) if "max_suffix" in fields else 0,
            min_stem=int(fields["min_stem"].number()) if "min_stem" in fields else 4,
        )
    return out


def _per_language_list(node: Node | None, what: str) -> dict[str, list[str]]:
    if node is None or node.is_null():
        return {}
    return {
        lang: [text for text, _ in items.texts(f"{what} ({lang}): a list of names")]
        for lang, items in node.mapping(f"{what}: a mapping of languages").items()
    }


def _read_names(node: Node | None) -> dict[str, str]:
    if node is None:
        return {}
    return {code: value.text() for code, value in node.mapping("names: code -> name").items()}


def _add_cldr(
    gazetteer: Gazetteer,
    languages: list[str],
    ambiguous: dict[str, list[str]],
    names: dict[str, str],
) -> None:
    import babel

    english = babel.Locale.parse("en").territories
    valid = {c for c in english if isinstance(c, str) and len(c) == 2 and c.isalpha()}
    valid -= _NOT_COUNTRIES
    for code in sorted(valid):
        name = names.get(code) or _clean(english.get(code, code))[0]
        gazetteer.infos[("country", code)] = EntityInfo("country", code, name)
    for lang in languages:
        try:
            territories = babel.Locale.parse(lang).territories
        except (ValueError, babel.UnknownLocaleError):
            continue
        doubtful = {fold(a) for a in ambiguous.get(lang, [])}
        by_name: dict[str, set[str]] = defaultdict(set)
        for code, name in territories.items():
            if code in valid:
                for alias in _clean(name):
                    by_name[alias].add(code)
        for alias, codes in sorted(by_name.items()):
            if len(codes) == 1:
                code = next(iter(codes))
                gazetteer.add(
                    lang, alias, Tag(ENTITY_LAYER, "country", code, fold(alias) in doubtful)
                )


def _clean(name: str) -> list[str]:
    """Usable aliases from a CLDR name: 'Myanmar (Burma)' -> Myanmar, Burma."""
    out = []
    inner = re.findall(r"[(（]([^)）]*)[)）]", name)
    base = _PARENS.sub("", name)
    base = re.split(r"\s[-–]\s|,", base)[0].strip()
    if base:
        out.append(base)
    for extra in inner:
        if len(extra) >= 3 and not has_cjk(extra) and "-" not in extra:
            out.append(extra.strip())
    return out


def _read_countries(gazetteer: Gazetteer, node: Node, ambiguous: dict[str, list[str]]) -> None:
    doubtful = {lang: {fold(a) for a in names} for lang, names in ambiguous.items()}
    specs = node.mapping("a mapping of ISO 3166 codes")
    for code, spec in specs.items():
        if ("country", code) not in gazetteer.infos:
            raise specs.key(code).error(f"unknown ISO 3166-1 alpha-2 code {code!r}")
        for lang, items in spec.mapping(f"country {code}: a mapping of languages").items():
            for alias, item in items.texts(f"country {code} ({lang}): a list of names"):
                _check_alias(alias, item, f"country {code} ({lang})")
                flag = fold(alias) in doubtful.get(lang, set())
                gazetteer.add(lang, alias, Tag(ENTITY_LAYER, "country", code, flag))


def _read_named(gazetteer: Gazetteer, root: Node, kind: str) -> None:
    key = "people" if kind == "person" else "organisations"
    fields = root.mapping(f"a mapping with `{key}`")
    fields.refuse_unknown({key})
    for item in fields[key].sequence(f"a list of {key}"):
        spec = item.mapping(f"a {kind}: id, name, aliases")
        spec.refuse_unknown({"id", "name", "aliases", "short", "role", "country", "note"}, kind)
        for required in ("id", "name", "aliases"):
            if required not in spec:
                raise item.error(f"{kind} without `{required}`")
        entity_id = spec["id"].text()
        if not _ID.match(entity_id) or (kind, entity_id) in gazetteer.infos:
            raise spec["id"].error(f"{kind} id {entity_id!r} is invalid or used twice")
        gazetteer.infos[(kind, entity_id)] = EntityInfo(kind, entity_id, spec["name"].text())
        for field_name, flag in (("aliases", False), ("short", True)):
            if field_name not in spec:
                continue
            for lang, items in (
                spec[field_name].mapping(f"{field_name}: a mapping of languages").items()
            ):
                for alias, alias_node in items.texts(f"{field_name} ({lang}): a list of names"):
                    _check_alias(alias, alias_node, f"{kind} {entity_id} ({lang})")
                    gazetteer.add(lang, alias, Tag(ENTITY_LAYER, kind, entity_id, flag))


def _check_alias(alias: str, node: Node, where: str) -> None:
    if not words_of(alias) and not is_cjk_term(alias):
        raise node.error(f"{where}: {alias!r} has no letters")
    if has_cjk(alias) and not is_cjk_term(alias):
        raise node.error(f"{where}: {alias!r} mixes CJK and other scripts")


# -- resolution ------------------------------------------------------------------------------


class EntityResolver:
    """Turns the entity hits of a document into counted, deduplicated mentions."""

    def __init__(self, gazetteer: Gazetteer) -> None:
        self._infos = gazetteer.infos

    def resolve(
        self, text: str, hits: Sequence[Hit], sentences: Sentences
    ) -> tuple[Entities, list[ConceptHit]]:
        groups = _longest_first([h for h in hits if h.tag.layer == ENTITY_LAYER])
        mentions = _confirm_ambiguous(_pick(groups))
        grouped: dict[tuple[str, str], list[Hit]] = defaultdict(list)
        concept_hits = []
        for hit in mentions:
            grouped[(hit.tag.kind, hit.tag.key)].append(hit)
            concept_hits.append(
                ConceptHit(
                    KINDS[hit.tag.kind],
                    hit.start,
                    hit.end,
                    hit.pos,
                    sentences.index_of(hit.start),
                    f"{hit.tag.kind}:{hit.tag.key}",
                )
            )
        lists: dict[str, list[EntityMention]] = {"country": [], "person": [], "organisation": []}
        for (kind, key), group in grouped.items():
            info = self._infos.get((kind, key))
            if info is not None:
                lists[kind].append(_mention(text, info, group))
        for values in lists.values():
            values.sort(key=lambda m: m.first_offset)
        entities = Entities(
            countries=lists["country"], people=lists["person"], organisations=lists["organisation"]
        )
        return entities, concept_hits


def _longest_first(hits: list[Hit]) -> list[list[Hit]]:
    """Leftmost-longest, non-overlapping spans; hits with the very same span stay together."""
    hits.sort(key=lambda h: (h.start, h.start - h.end))
    groups: list[list[Hit]] = []
    last_end = -1
    for hit in hits:
        if groups and (hit.start, hit.end) == (groups[-1][0].start, groups[-1][0].end):
            groups[-1].append(hit)
        elif hit.start >= last_end:
            groups.append([hit])
            last_end = hit.end
    return groups


def _pick(groups: list[list[Hit]]) -> list[Hit]:
    """One meaning per span: blocks erase it, full names beat short names, and a short
    name goes to the most mentioned person already named in full before it."""
    salience: dict[str, int] = defaultdict(int)
    out: list[Hit] = []
    for group in groups:
        if any(h.tag.kind == "block" for h in group):
            continue
        full = [h for h in group if not (h.tag.kind == "person" and h.tag.flag)]
        if full:
            hit = min(full, key=lambda h: (h.tag.kind, h.tag.key))
        else:
            known = [h for h in group if salience[h.tag.key] > 0]
            if not known:
                continue
            hit = max(known, key=lambda h: salience[h.tag.key])
        if hit.tag.kind == "person":
            salience[hit.tag.key] += 1
        out.append(hit)
    return out


def _confirm_ambiguous(hits: list[Hit]) -> list[Hit]:
    """Keep an ambiguous country name only if the country is also named unambiguously."""
    sure = {h.tag.key for h in hits if h.tag.kind == "country" and not h.tag.flag}
    return [h for h in hits if h.tag.kind != "country" or not h.tag.flag or h.tag.key in sure]


def _mention(text: str, info: EntityInfo, hits: list[Hit]) -> EntityMention:
    forms: list[str] = []
    for hit in hits:
        surface = text[hit.start : hit.end]
        if surface not in forms and len(forms) < MAX_SURFACE_FORMS:
            forms.append(surface)
    return EntityMention(
        id=info.id, name=info.name, count=len(hits), first_offset=hits[0].start, surface_forms=forms
    )
