"""The topic taxonomy: YAML files in ``seeds/taxonomy/`` that an analyst edits.

``taxonomy.yaml`` holds the ``version`` (stamped on every document) and every
other ``*.yaml`` file of the folder is one topic, named after its ``id``::

    id: sanctions
    description: Economic, financial, trade and diplomatic sanctions ...
    threshold: 4            # a topic is tagged when its score reaches this ...
    concepts:               # ... and one `require` rule holds somewhere
      measure: {weight: 2, description: sanctions, embargoes, asset freezes}
      action: {weight: 1}
    require:
      - all: [measure, [entity:country, entity:organisation]]   # [a, b] inside = a or b
        within: sentence    # or a number of words: within: 8
        weight: 3
      - all: [action, [entity:country, entity:organisation]]
        within: 8
        distinct: 2         # the last group needs two different mentions (two states)
        if_title: [measure] # and the rule counts only if the title has a `measure` hit
        weight: 1
    languages:
      all:                  # added to every language below (names written alike everywhere)
        terms:
          measure: [OFAC]
      en:
        terms:
          measure: [sanction, embargo, asset freeze, =export controls, blacklist*]
          action: [impose, lift, extend, evade]
        exclude:
          sentence: [UEFA, FIFA, referee, player]   # a sentence holding one counts for nothing
          phrase: [press embargo, news embargo]     # false friends: never count as terms
          form: [livre, livres]   # words that equal a term only once accents are dropped

Terms, after folding (case and accents ignored):
- ``sanction``: the word and all its inflected forms (simplemma lemma forms; see forms.py);
- ``=sanctions``: exactly this form;
- ``munition*``: any word starting with "munition" (stems; the only tool for
  languages simplemma does not know and the best one for Turkish and Polish);
- ``*Waffe``: the word and its forms, also as the last part of a compound
  ("Handfeuerwaffen", "Panzerabwehrwaffe"; German builds nouns this way);
- several words: consecutive words, each handled as above ("vente d'arme");
- a term written all in capitals (``UEFA``) matches only capitals;
- Chinese and Japanese terms are found anywhere in the text (no spaces there).

``exclude.form`` lists whole words, compared with accents kept (case ignored),
that never count as terms of the topic: French "armés" (armed) and "livres"
(books) fold to the terms "armes" and "livrés".

A rule may also say ``distinct: N``: its last group must be met by N different
mentions in the same place (two different countries: a buyer and a seller), and
``if_title: [concepts]``: it counts only when the title has a hit of one of them
(weak co-occurrences, such as words spread over two sentences, then need a
title about the topic).

Built-in concepts usable in ``require``: ``entity:country``, ``entity:person``,
``entity:organisation`` (any mention the gazetteer recognises in that sentence).

Scoring, per document (see topics.py): every concept hit outside excluded
sentences adds the concept's weight (at most ``max_hits`` hits per concept),
every sentence or window where a rule holds adds the rule's weight. The topic is
tagged when at least one rule holds (if it has rules) and the score reaches the
threshold. Hits in the title add their concept weight once each, as a bonus,
and the title counts as one more sentence for the rules, provided the text has
hits of the topic's concepts too (evidence always comes from the text).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from workers.enrichment import forms as forms_module
from workers.enrichment.language import DETECTOR_LANGUAGES
from workers.enrichment.lexicon import Case, Entry, Tag, WordPattern, case_of
from workers.enrichment.seedfile import Node, display_name, load
from workers.enrichment.text import WORD_PATTERN, fold, has_cjk, is_cjk_term
from workers.errors import ConfigurationError

TAXONOMY_DIRNAME = "taxonomy"
INDEX_FILE = "taxonomy.yaml"
ENTITY_CONCEPTS = ("entity:country", "entity:person", "entity:organisation")
SENTENCE = None  # Rule.within for "same sentence"
MAX_WINDOW = 100
ALL_LANGUAGES = "all"  # the `languages:` entry whose terms every language gets
MIN_HEAD = 4  # letters of a compound head ("*waffe"): shorter ones end too many words
DEFAULT_MAX_HITS = 5
DEFAULT_MAX_EVIDENCE = 12

# Languages a topic may list: those the language detector can return.
KNOWN_LANGUAGES = frozenset(DETECTOR_LANGUAGES)
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_HANGUL = re.compile("[\uac00-\ud7a3]")
# A word of a term, with an optional leading "*" (compound head) or trailing "*" (stem).
_TERM_WORD = re.compile(f"(\\*?)({WORD_PATTERN})(\\*?)")


@dataclass(frozen=True)
class TermWord:
    key: str  # folded
    stem: bool
    head: bool = False  # "*waffe": also the end of a compound


@dataclass(frozen=True)
class Term:
    """A term as written by the analyst, parsed."""

    written: str
    words: tuple[TermWord, ...]
    exact: bool  # "=" prefix: no lemma forms
    cjk: bool
    line: int


@dataclass(frozen=True)
class Concept:
    name: str
    weight: float
    description: str = ""


@dataclass(frozen=True)
class Rule:
    """Concepts that must co-occur; each group is a set of alternatives."""

    groups: tuple[tuple[str, ...], ...]
    within: int | None  # None: same sentence; else at most this many words apart
    weight: float
    line: int
    names: frozenset[str] = frozenset()  # every concept the rule mentions
    distinct: int = 1  # different mentions the last group needs in one place
    if_title: frozenset[str] = frozenset()  # counts only if the title has one of these


def make_rule(
    groups: tuple[tuple[str, ...], ...],
    within: int | None,
    weight: float,
    line: int,
    *,
    distinct: int = 1,
    if_title: frozenset[str] = frozenset(),
) -> Rule:
    names = frozenset(n for group in groups for n in group)
    return Rule(groups, within, weight, line, names, distinct, if_title)


@dataclass(frozen=True)
class LanguageTerms:
    lang: str
    concepts: dict[str, tuple[Term, ...]]
    veto: tuple[Term, ...] = ()  # exclude.sentence
    mask: tuple[Term, ...] = ()  # exclude.phrase
    forms: frozenset[str] = frozenset()  # exclude.form, as surface_key() gives them


@dataclass(frozen=True)
class Topic:
    id: str
    description: str
    threshold: float
    concepts: dict[str, Concept]
    rules: tuple[Rule, ...]
    languages: dict[str, LanguageTerms]
    max_hits: int = DEFAULT_MAX_HITS
    source: str = ""


@dataclass(frozen=True)
class Taxonomy:
    version: str
    topics: tuple[Topic, ...]
    max_evidence: int = DEFAULT_MAX_EVIDENCE
    forms: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict)

    @property
    def languages(self) -> set[str]:
        return {lang for topic in self.topics for lang in topic.languages}


# -- loading ---------------------------------------------------------------------------


def topic_files(seeds_dir: Path) -> list[Path]:
    """The taxonomy's topic files, one per topic and named after it, in name order."""
    directory = seeds_dir / TAXONOMY_DIRNAME
    return [p for p in sorted(directory.glob("*.yaml")) if p.name != INDEX_FILE]


def topic_ids(seeds_dir: Path) -> frozenset[str]:
    """The taxonomy's topic ids, without reading the files (load_taxonomy checks that
    each file's id is its name): the streams and metrics that exist per topic."""
    return frozenset(p.stem for p in topic_files(seeds_dir))


def load_taxonomy(seeds_dir: Path, *, expand_forms: bool = True) -> Taxonomy:
    """Read and validate ``seeds_dir/taxonomy``. Raises ConfigurationError."""
    directory = seeds_dir / TAXONOMY_DIRNAME
    index_path = directory / INDEX_FILE
    if not index_path.is_file():
        raise ConfigurationError(f"{display_name(index_path, seeds_dir)}: file not found")
    version, max_evidence = _read_index(load(index_path, display_name(index_path, seeds_dir)))
    topics = [_read_topic(path, display_name(path, seeds_dir)) for path in topic_files(seeds_dir)]
    if not topics:
        raise ConfigurationError(f"{display_name(directory, seeds_dir)}: no topic file (*.yaml)")
    taxonomy = Taxonomy(version=version, topics=tuple(topics), max_evidence=max_evidence)
    if not expand_forms:
        return taxonomy
    expanded = {
        lang: forms_module.expand(directory, lang, lemmas)
        for lang, lemmas in lemmas_by_language(taxonomy).items()
    }
    return Taxonomy(version, taxonomy.topics, max_evidence, expanded)


def _read_index(root: Node) -> tuple[str, int]:
    fields = root.mapping("a mapping with `version`")
    if "version" not in fields:
        raise root.error("missing `version` (for example version: '2025.1')")
    version = fields["version"].text("a version string")
    max_evidence = DEFAULT_MAX_EVIDENCE
    if "max_evidence" in fields:
        max_evidence = _positive_int(fields["max_evidence"], "max_evidence")
    fields.refuse_unknown({"version", "max_evidence"})
    return version, max_evidence


def _read_topic(path: Path, display: str) -> Topic:
    root = load(path, display).with_topic(path.stem)
    fields = root.mapping("a topic mapping (id, description, threshold, concepts, ...)")
    fields.refuse_unknown(
        {"id", "description", "threshold", "concepts", "require", "languages", "max_hits"}
    )
    for key in ("id", "threshold", "concepts", "languages"):
        if key not in fields:
            raise root.error(f"missing `{key}`")
    topic_id = fields["id"].text("a topic id")
    if not _ID.match(topic_id) or topic_id != path.stem:
        raise fields["id"].error(
            f"topic id {topic_id!r} must be lower_snake_case and match the file name "
            f"({path.stem!r})"
        )
    threshold = fields["threshold"].number("a positive threshold")
    if threshold <= 0:
        raise fields["threshold"].error("threshold must be positive")
    concepts = _read_concepts(fields["concepts"])
    rules = (
        tuple(_read_rule(n, concepts) for n in fields["require"].sequence("a list of rules"))
        if ("require" in fields and not fields["require"].is_null())
        else ()
    )
    languages = _read_languages(fields["languages"], concepts, rules)
    max_hits = (
        _positive_int(fields["max_hits"], "max_hits") if "max_hits" in fields else DEFAULT_MAX_HITS
    )
    description = fields["description"].text() if "description" in fields else ""
    return Topic(topic_id, description, threshold, concepts, rules, languages, max_hits, display)


def _positive_int(node: Node, name: str) -> int:
    value = node.number(f"a positive whole number for {name}")
    if value < 1 or value != int(value):
        raise node.error(f"{name} must be a positive whole number")
    return int(value)


def _read_concepts(node: Node) -> dict[str, Concept]:
    concepts: dict[str, Concept] = {}
    specs = node.mapping("a mapping of concept names")
    for name, spec in specs.items():
        if not _ID.match(name):
            raise specs.key(name).error(f"concept name {name!r} must be lower_snake_case")
        fields = spec.mapping(f"concept {name!r}: a mapping with `weight`")
        if "weight" not in fields:
            raise specs.key(name).error(f"concept {name!r}: missing `weight`")
        weight = fields["weight"].number(f"concept {name!r}: a weight")
        if weight < 0:
            raise fields["weight"].error(f"concept {name!r}: weight must not be negative")
        fields.refuse_unknown({"weight", "description"}, f"concept {name!r}")
        description = fields["description"].text() if "description" in fields else ""
        concepts[name] = Concept(name, weight, description)
    if not concepts:
        raise node.error("a topic needs at least one concept")
    return concepts


def _read_rule(node: Node, concepts: dict[str, Concept]) -> Rule:
    fields = node.mapping("a rule mapping (all, within, weight, distinct, if_title)")
    fields.refuse_unknown({"all", "within", "weight", "distinct", "if_title"}, "rule")
    if "all" not in fields:
        raise node.error("rule without `all:` (the concepts that must co-occur)")
    groups = []
    for item in fields["all"].sequence("a list of concepts"):
        names = (
            [n for n, _ in item.texts("a list of alternative concepts")]
            if item.is_sequence()
            else [item.text("a concept name")]
        )
        for name in names:
            if name not in concepts and name not in ENTITY_CONCEPTS:
                raise item.error(
                    f"unknown concept {name!r} in rule (declared: {', '.join(sorted(concepts))}; "
                    f"built-in: {', '.join(ENTITY_CONCEPTS)})"
                )
        groups.append(tuple(names))
    if not groups:
        raise fields["all"].error("a rule needs at least one concept")
    within: int | None = SENTENCE
    if "within" in fields:
        node_w = fields["within"]
        if not (node_w.node.tag.endswith(":str") and node_w.text() == "sentence"):
            within = _positive_int(node_w, "within (or the word `sentence`)")
            if within > MAX_WINDOW:
                raise node_w.error(f"within must be at most {MAX_WINDOW} words")
    weight = fields["weight"].number("a rule weight") if "weight" in fields else 1.0
    if weight < 0:
        raise fields["weight"].error("rule weight must not be negative")
    distinct = _positive_int(fields["distinct"], "distinct") if "distinct" in fields else 1
    if_title: frozenset[str] = frozenset()
    if "if_title" in fields:
        if_title = frozenset(n for n, _ in fields["if_title"].texts("a list of concepts"))
        unknown = sorted(if_title - set(concepts))
        if unknown:
            raise fields["if_title"].error(f"if_title: unknown concept {unknown[0]!r}")
    return make_rule(tuple(groups), within, weight, node.line, distinct=distinct, if_title=if_title)


def _read_languages(
    node: Node, concepts: dict[str, Concept], rules: tuple[Rule, ...]
) -> dict[str, LanguageTerms]:
    needed = {name for rule in rules for name in rule.names if name in concepts}
    specs = node.mapping("a mapping of language codes")
    shared = (
        _read_language(specs[ALL_LANGUAGES], ALL_LANGUAGES, concepts)
        if ALL_LANGUAGES in specs
        else None
    )
    languages: dict[str, LanguageTerms] = {}
    for lang, spec in specs.items():
        if lang == ALL_LANGUAGES:
            continue
        if lang not in KNOWN_LANGUAGES:
            raise specs.key(lang).error(f"unknown language code {lang!r}")
        languages[lang] = _read_language(spec, lang, concepts, needed, shared)
    if not languages:
        raise node.error("a topic needs at least one language")
    return languages


def _read_language(
    spec: Node,
    lang: str,
    concepts: dict[str, Concept],
    needed: set[str] | None = None,
    shared: LanguageTerms | None = None,
) -> LanguageTerms:
    """One entry of `languages:`, merged with `shared` (the `all` entry) and checked
    to give terms to every concept in `needed` (those the rules use)."""
    fields = spec.mapping(f"language {lang}: a mapping with `terms`")
    fields.refuse_unknown({"terms", "exclude"}, f"language {lang}")
    if "terms" not in fields:
        raise spec.error(f"language {lang}: missing `terms`")
    by_concept: dict[str, tuple[Term, ...]] = {}
    term_specs = fields["terms"].mapping(f"language {lang}: concept terms")
    for name, terms_node in term_specs.items():
        if name not in concepts:
            raise term_specs.key(name).error(f"language {lang}: concept {name!r} is not declared")
        by_concept[name] = tuple(_read_terms(terms_node, lang, f"concept {name!r}"))
    veto, mask, forms = _read_exclude(fields.get("exclude"), lang)
    terms = LanguageTerms(lang, by_concept, veto, mask, forms)
    if shared is not None:
        terms = _merged(terms, shared)
    missing = sorted((needed or set()) - {n for n, t in terms.concepts.items() if t})
    if missing:
        raise fields.key("terms").error(
            f"language {lang}: concept {missing[0]!r} is used by a rule but has no terms"
        )
    return terms


def _merged(own: LanguageTerms, shared: LanguageTerms) -> LanguageTerms:
    """A language's terms plus those every language gets."""
    concepts = dict(own.concepts)
    for name, terms in shared.concepts.items():
        concepts[name] = concepts.get(name, ()) + terms
    return LanguageTerms(
        own.lang,
        concepts,
        own.veto + shared.veto,
        own.mask + shared.mask,
        own.forms | shared.forms,
    )


def _read_exclude(
    node: Node | None, lang: str
) -> tuple[tuple[Term, ...], tuple[Term, ...], frozenset[str]]:
    if node is None or node.is_null():
        return (), (), frozenset()
    fields = node.mapping(f"language {lang}: exclude: a mapping with sentence, phrase or form")
    fields.refuse_unknown({"sentence", "phrase", "form"}, f"language {lang}, exclude")
    veto = _read_terms(fields["sentence"], lang, "exclude.sentence") if "sentence" in fields else []
    mask = _read_terms(fields["phrase"], lang, "exclude.phrase") if "phrase" in fields else []
    forms = _read_forms(fields["form"], lang) if "form" in fields else frozenset()
    return tuple(veto), tuple(mask), forms


def surface_key(surface: str) -> str:
    """How exclude.form compares words: case ignored, accents kept (NFC)."""
    return unicodedata.normalize("NFC", surface).casefold()


def _read_forms(node: Node, lang: str) -> frozenset[str]:
    forms = set()
    for written, item in node.texts(f"language {lang}, exclude.form: a list of words"):
        if not re.fullmatch(WORD_PATTERN, written):
            raise item.error(
                f"language {lang}, exclude.form: {written!r} must be a single word, "
                "written with its accents"
            )
        forms.add(surface_key(written))
    return frozenset(forms)


def _read_terms(node: Node, lang: str, where: str) -> list[Term]:
    return [
        parse_term(text, item, lang, where)
        for text, item in node.texts(f"{where}: a list of terms")
    ]


def parse_term(written: str, node: Node, lang: str, where: str) -> Term:
    """Parse one term; errors name its line."""
    exact = written.startswith("=")
    body = written[1:].strip() if exact else written
    if is_cjk_term(body.replace("*", "")):
        if "*" in body or exact:
            raise node.error(
                f"language {lang}, {where}: {written!r}: Chinese/Japanese terms "
                "are matched anywhere in the text; drop '*' and '='"
            )
        return Term(written, (TermWord(fold(body.replace(" ", "")), False),), True, True, node.line)
    if has_cjk(body):
        raise node.error(f"language {lang}, {where}: {written!r} mixes CJK and other scripts")
    parts = _TERM_WORD.findall(body)
    words = [TermWord(fold(word), bool(stem), bool(head)) for head, word, stem in parts]
    if len(words) == 1 and words[0].stem:  # in a phrase, the other words narrow a short stem
        min_stem = 2 if _HANGUL.search(words[0].key) else 3
        if len(words[0].key) < min_stem:
            raise node.error(
                f"language {lang}, {where}: stem {parts[0][1]!r}* is too short "
                f"(at least {min_stem} letters), it would match too many words"
            )
    stray = body.replace("*", "")
    starred = "".join(head + word + stem for head, word, stem in parts).count("*")
    if (
        not words
        or not stray.strip()
        or body.count("*") != starred  # a "*" that neither starts nor ends a word
        or re.search(r"\w\*\w", body)  # ... such as one inside a word
        or any(w.stem and w.head for w in words)
    ):
        raise node.error(
            f"language {lang}, {where}: {written!r} is not a valid term "
            "('*' may end a word, a stem, or start it, a compound head; not both)"
        )
    for word in words:
        if word.head and len(word.key) < MIN_HEAD:
            raise node.error(
                f"language {lang}, {where}: compound head *{word.key!r} is too short "
                f"(at least {MIN_HEAD} letters), it would end too many words"
            )
    return Term(written, tuple(words), exact, False, node.line)


def lemmas_by_language(taxonomy: Taxonomy) -> dict[str, set[str]]:
    """The folded words whose inflected forms the taxonomy needs, per language."""
    out: dict[str, set[str]] = {}
    for topic in taxonomy.topics:
        for lang, terms in topic.languages.items():
            bucket = out.setdefault(lang, set())
            for term in _all_terms(terms):
                if not term.exact and not term.cjk:
                    bucket.update(w.key for w in term.words if not w.stem)
    return out


def _all_terms(terms: LanguageTerms) -> list[Term]:
    out = [t for group in terms.concepts.values() for t in group]
    return out + list(terms.veto) + list(terms.mask)


# -- compiling into matcher entries -------------------------------------------------------


def topic_entries(taxonomy: Taxonomy, lang: str) -> list[Entry]:
    """Matcher entries for every topic's terms in `lang`."""
    forms = taxonomy.forms.get(lang, {})
    entries: list[Entry] = []
    for topic in taxonomy.topics:
        terms = topic.languages.get(lang)
        if terms is None:
            continue
        for name, group in terms.concepts.items():
            entries += [_entry(t, Tag(topic.id, "concept", name), forms) for t in group]
        entries += [_entry(t, Tag(topic.id, "veto", ""), forms) for t in terms.veto]
        entries += [_entry(t, Tag(topic.id, "mask", ""), forms) for t in terms.mask]
    return entries


def _entry(term: Term, tag: Tag, forms: dict[str, frozenset[str]]) -> Entry:
    if term.cjk:
        return Entry((), tag, Case.ANY, literal=term.words[0].key)
    patterns = []
    for word in term.words:
        if word.stem:
            patterns.append(WordPattern(stem=word.key))
            continue
        own = frozenset((word.key,)) if term.exact else forms.get(word.key, frozenset((word.key,)))
        patterns.append(WordPattern(forms=own, heads=own if word.head else frozenset()))
    written = term.written.lstrip("=").replace("*", "")
    return Entry(tuple(patterns), tag, case_of(written, allow_title=False))
