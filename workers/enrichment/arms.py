"""Arms-transfer details: who supplies arms to whom, what, how many, how far along.

For a document tagged arms_transfers, ``ArmsExtractor.extract`` runs one pass of
the language's cue matcher over the text (compiled at start-up, like everything
here) and reads each sentence that holds a transfer cue and a party, turning it
into *statements*:

1. parties: the country and armed-group mentions that the entity resolver kept
   (their spans come from ``entity_hits``, their codes from the matcher hits:
   no second gazetteer), limited to the groups the data file lists;
2. cues: transfer verbs and nouns (supply side: sell, deliver, fournir, liefern,
   поставлять, 提供, 供与; acquire side: buy, obtain, 购买; nouns and verbs that
   already mean arms: arms sales, 军售, to arm), system terms by category, status
   cues, passive auxiliaries, negations;
3. roles, strongest first: a party *marked* as recipient ("to", "à", "an",
   "для", "إلى", 向, に, -에게, -'ya), supplier ("from", "из", 从, から) or
   passive agent ("by", "par", 由, によって) is sure, also through an institution
   ("to the armed forces of Mozambique"); a bare party *placed* as the agent of a
   transfer verb or noun (nearest before the verb in SVO languages, first of the
   clause in German, subject-marked in Japanese and Korean, after the verb in
   Arabic VSO; a noun's possessor or modifier) or as a verb's object is likely; a
   demonym stuck to a system ("North Korean shells") is a weak hint of the supplier;
4. the sentence's status: a denial beats everything, then delivered, agreed
   (each unless a future or conditional cue governs it: "will be delivered",
   "the deal could be signed"), negotiated (talks, requests, future,
   conditional); a negated transfer with no other cue is denied.

Precision comes first: rival parties of equal strength for one role, parties
offered as alternatives ("from Iran or North Korea"), or one party claimed for
both roles leave that role empty; a lone guess among several parties is
dropped; a statement needs a transfer cue and a weapon in its sentence.
Statements are merged per supplier-recipient pair. One that names a side only is
completed by the other side of an undirected link of its sentence ("talks with
Moscow", "trade between Moscow and Pyongyang"), else joins the single pair that
shares its side, else is completed by the single partner the document's links
give; a document with no pair at all but one supplier and one recipient stated
apart, about the same kind of system, pairs them. The cue lexicons are data, one
section per language, in ``seeds/taxonomy/details/arms_transfers.yaml`` (format at
its top); a malformed file fails at start-up with its name and line.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import NamedTuple, TypeVar

import yaml

from schemas.enrichment import (
    ArmsQuantity,
    ArmsTransferDetail,
    Evidence,
    TopicMatch,
    TransferStatus,
)
from workers.enrichment.entities import Gazetteer
from workers.enrichment.lexicon import Case, Entry, Hit, Matcher, Tag, WordPattern, case_of
from workers.enrichment.morph import variants_for
from workers.enrichment.seedfile import Node, display_name, load
from workers.enrichment.taxonomy import KNOWN_LANGUAGES, parse_term
from workers.enrichment.text import WORD_RE, Sentences, fold, has_cjk, sentence_snippet
from workers.enrichment.topics import ConceptHit
from workers.errors import ConfigurationError

ARMS_TOPIC = "arms_transfers"
DETAILS_FILE = Path("taxonomy") / "details" / "arms_transfers.yaml"
LAYER = "arms"
GENERIC_SYSTEM = "weapons"  # dropped from a detail that names something more specific
MAX_EVIDENCE = 12
_CJK_LANGUAGES = frozenset({"zh", "ja"})
_GLUED_AMOUNTS = frozenset(
    {"ko", "tr"}
)  # amounts take particles or case suffixes: 100만, milyondan

# Marker roles: what a word next to a party says about it.
RECIPIENT, SUPPLIER, AGENT = "recipient", "supplier", "agent"
SUBJECT, GENITIVE, NEUTRAL, ORIGIN = "subject", "genitive", "neutral", "origin"
COUNTERPART = "counterpart"  # "with", "between": the other side, direction unknown
MARKER_ROLES = (RECIPIENT, SUPPLIER, AGENT, SUBJECT, GENITIVE, NEUTRAL, COUNTERPART, ORIGIN)

# Cue kinds (tag kinds of the arms matcher).
SUPPLY_VERB, SUPPLY_NOUN, ACQUIRE_VERB, ACQUIRE_NOUN = (
    "supply_verb",
    "supply_noun",
    "acquire_verb",
    "acquire_noun",
)
ARMS_TRADE = "arms_trade"  # nouns that already mean a supply of arms: arms sales, 军售
ARMING = "arming_verb"  # verbs that already mean supplying arms: arm, armer, вооружать
TRANSFER_KINDS = frozenset(
    {SUPPLY_VERB, SUPPLY_NOUN, ACQUIRE_VERB, ACQUIRE_NOUN, ARMS_TRADE, ARMING}
)
VERB_KINDS = frozenset({SUPPLY_VERB, ACQUIRE_VERB, ARMING})
ARMS_KINDS = (ARMS_TRADE, ARMING)  # transfer cues that need no system term
ACQUIRE_KINDS = frozenset({ACQUIRE_VERB, ACQUIRE_NOUN})
STATUS_KINDS = ("denied", "delivered", "agreed", "negotiated", "future")
OTHER_KINDS = ("passive", "negation")
CUE_KINDS = (*sorted(TRANSFER_KINDS), *STATUS_KINDS, *OTHER_KINDS)
SYSTEM = "system"
ORDERS = ("svo", "v2", "sov", "vso")

STRONG, MEDIUM, WEAK = 3, 2, 1
MAX_PARTY_DISTANCE = 12  # units (words, or two CJK characters) from a party to its cue
MAX_AGENT_DISTANCE = 15
VERB_FINAL_REACH = 24  # in verb-final clauses the whole object list stands before the verb
OBJECT_DISTANCE = 3
WINDOW_AFTER = 8  # units after a transfer cue where its systems are looked for
WINDOW_BEFORE = 3
SOV_WINDOW_BEFORE = 12
MAX_FILLERS = 3
MAX_INSTITUTION_WORDS = 6  # "às Forças Armadas de Defesa de Moçambique"
_HARD_BREAKS = ";()（）—"
_CLAUSE_BREAKS = ",;:()，、；：（）—"
_CLAUSE_BREAK_RE = re.compile(f"[{re.escape(_CLAUSE_BREAKS)}]")
_HARD_BREAK_RE = re.compile(f"[{re.escape(_HARD_BREAKS)}]")
_MARKER_STOP_RE = re.compile(f'[{re.escape(_CLAUSE_BREAKS)}.!?"«»“”]')
_GAP_BREAK_RE = re.compile(r"[,;:()，、；：（）.。\d]")  # between an amount and what it counts
_APOSTROPHES = "'’"
_YEAR = re.compile(r"^(19|20)\d\d$")
_HAN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4, "五": 5,
               "六": 6, "七": 7, "八": 8, "九": 9}  # fmt: skip
_HAN_UNITS = {"十": 10, "百": 100, "千": 1000}
_HAN_BIG = {"万": 10_000, "萬": 10_000, "亿": 100_000_000, "億": 100_000_000}
_HAN_NUMERAL = "[零〇一二两兩三四五六七八九十百千万萬亿億]+"


# -- the data, compiled ----------------------------------------------------------------------


@dataclass(frozen=True)
class Marker:
    """Words next to a party that give it a role; `endings` restrict the party's case."""

    words: tuple[str, ...]  # folded words (a single string in Chinese and Japanese)
    endings: tuple[str, ...] = ()


@dataclass(frozen=True)
class QuantityRules:
    pattern: re.Pattern[str]
    values: dict[str, float]  # folded number word, multiplier or vague amount -> value
    vague: frozenset[str]
    after_system: bool  # amounts may follow what they count (砲弾100万発)
    counters: tuple[str, ...] = ()  # counter words after such an amount (発, 門, 발)


@dataclass(frozen=True)
class LanguageRules:
    """Everything the extractor knows about one language, compiled."""

    lang: str
    order: str
    cjk: bool
    adjective_pattern: re.Pattern[str] | None
    adjective_lowercase: bool
    adjective_after: bool
    fillers: frozenset[str]
    institutions: tuple[frozenset[str], tuple[str, ...]]  # words and stems: army, ministry
    conjunctions: frozenset[str]
    alternatives: frozenset[str]  # "or": parties so joined are rival candidates
    before: tuple[tuple[str, Marker], ...]  # longest first
    after: tuple[tuple[str, Marker], ...]
    prefixes: dict[str, str]
    suffixes: dict[str, str]
    noun_object_endings: tuple[str, ...] | None
    future_endings: tuple[str, ...]
    participle: re.Pattern[str] | None  # verb forms that an auxiliary makes passive
    unmarked_subjects: bool  # sov: a bare name may be the subject (Turkish nominative)
    matcher: Matcher
    quantity: QuantityRules
    known_names: frozenset[str]  # folded aliases, to tell a prefix or particle from the name

    def is_institution(self, word: str) -> bool:
        exact, stems = self.institutions
        return word in exact or word.startswith(stems)

    @cached_property
    def before_by_last(self) -> dict[str, tuple[tuple[str, Marker], ...]]:
        """Markers before a party by their last word, longest first (one lookup a word)."""
        out: dict[str, list[tuple[str, Marker]]] = defaultdict(list)
        for role, marker in self.before:
            out[marker.words[-1]].append((role, marker))
        return {word: tuple(items) for word, items in out.items()}

    @cached_property
    def cjk_modifiers(self) -> tuple[str, ...]:
        """Fillers and one-word markers, longest first (stripped between a noun and its
        agent in Chinese and Japanese: 中国*对*巴基斯坦*的*军售)."""
        return tuple(sorted(self.fillers | self.marker_words, key=len, reverse=True))

    @cached_property
    def marker_words(self) -> frozenset[str]:
        """Single-word markers (CJK particles such as 对, 向)."""
        return frozenset(m.words[0] for _, m in self.before + self.after if len(m.words) == 1)


@dataclass(frozen=True)
class ArmsRules:
    languages: dict[str, LanguageRules]
    categories: tuple[str, ...]  # system categories, most specific first
    parties: dict[str, str]  # organisation id -> "" (reported as itself) or a country code


# -- loading -------------------------------------------------------------------------------


def load_arms_rules(
    seeds_dir: Path, gazetteer: Gazetteer, forms: Mapping[str, Mapping[str, frozenset[str]]]
) -> ArmsRules:
    """Read and compile the arms-details file. Raises ConfigurationError (file and line).

    `forms` are the taxonomy's inflections (language -> lemma -> forms): a plain word
    of the file matches the forms listed for it there, else only itself."""
    path = seeds_dir / DETAILS_FILE
    display = display_name(path, seeds_dir)
    if not path.is_file():
        raise ConfigurationError(f"{display}: file not found")
    fields = load(path, display).mapping("a mapping (categories, parties, languages)")
    fields.refuse_unknown({"categories", "parties", "languages"})
    for key in ("categories", "languages"):
        if key not in fields:
            raise ConfigurationError(f"{display}, line 1: missing `{key}`")
    categories = tuple(fields["categories"].mapping("a mapping of system categories"))
    if GENERIC_SYSTEM not in categories:
        raise fields.key("categories").error(f"the category {GENERIC_SYSTEM!r} is required")
    parties = _read_parties(fields.get("parties"), gazetteer)
    languages = {}
    specs = fields["languages"].mapping("a mapping of language codes")
    for lang, spec in specs.items():
        if lang not in KNOWN_LANGUAGES:
            raise specs.key(lang).error(f"unknown language code {lang!r}")
        languages[lang] = _read_language(lang, spec, categories, gazetteer, forms.get(lang, {}))
        _ = languages[lang].before_by_last, languages[lang].cjk_modifiers  # built now
    return ArmsRules(languages, categories, parties)


def _read_parties(node: Node | None, gazetteer: Gazetteer) -> dict[str, str]:
    if node is None or node.is_null():
        return {}
    out = {}
    specs = node.mapping("a mapping: organisation id -> group or a country code")
    for org, value in specs.items():
        if ("organisation", org) not in gazetteer.infos:
            raise specs.key(org).error(f"unknown organisation {org!r} (see seeds/gazetteer)")
        target = value.text("`group` or an ISO 3166-1 alpha-2 code")
        if target != "group" and ("country", target) not in gazetteer.infos:
            raise value.error(f"{target!r} is neither `group` nor a known country code")
        out[org] = "" if target == "group" else target
    return out


_LANGUAGE_KEYS = {
    "order", "adjectives", "fillers", "institutions", "conjunctions", "alternatives", "markers",
    "markers_after", "attached",
    "noun_object_endings", "future_endings", "participle", "unmarked_subjects", "cues",
    "systems", "quantity",
}  # fmt: skip


def _read_language(
    lang: str,
    node: Node,
    categories: tuple[str, ...],
    gazetteer: Gazetteer,
    forms: Mapping[str, frozenset[str]],
) -> LanguageRules:
    fields = node.mapping(f"language {lang}: a mapping")
    fields.refuse_unknown(_LANGUAGE_KEYS, f"language {lang}")
    for key in ("order", "cues", "systems"):
        if key not in fields:
            raise fields.key(next(iter(fields))).error(f"language {lang}: missing `{key}`")
    order = fields["order"].text()
    if order not in ORDERS:
        raise fields["order"].error(f"language {lang}: order must be one of {', '.join(ORDERS)}")
    cjk = lang in _CJK_LANGUAGES
    pattern, lowercase, after = _read_adjectives(fields.get("adjectives"), lang)
    entries = _read_cues(fields["cues"], lang, forms)
    entries += _read_systems(fields["systems"], lang, categories, forms)
    prefixes, suffixes = _read_attached(fields.get("attached"), lang)
    return LanguageRules(
        lang=lang,
        order=order,
        cjk=cjk,
        adjective_pattern=pattern,
        adjective_lowercase=lowercase,
        adjective_after=after,
        fillers=frozenset(_folded_list(fields.get("fillers"), lang, "fillers")),
        institutions=_read_institutions(fields.get("institutions"), lang),
        conjunctions=frozenset(_folded_list(fields.get("conjunctions"), lang, "conjunctions")),
        alternatives=frozenset(_folded_list(fields.get("alternatives"), lang, "alternatives")),
        before=_read_markers(fields.get("markers"), lang, cjk, "markers"),
        after=_read_markers(fields.get("markers_after"), lang, cjk, "markers_after"),
        prefixes=prefixes,
        suffixes=suffixes,
        noun_object_endings=_noun_object_endings(fields.get("noun_object_endings"), lang),
        future_endings=tuple(_folded_list(fields.get("future_endings"), lang, "future_endings")),
        participle=_pattern(fields.get("participle"), lang, "participle"),
        unmarked_subjects=_flag(fields.get("unmarked_subjects"), lang, "unmarked_subjects"),
        matcher=Matcher(entries, variants_for(lang), cjk_units=cjk),
        quantity=_read_quantity(fields.get("quantity"), lang, cjk or lang in _GLUED_AMOUNTS),
        known_names=_known_names(gazetteer, lang),
    )


def _read_institutions(node: Node | None, lang: str) -> tuple[frozenset[str], tuple[str, ...]]:
    """Nouns of a party's institutions (army, ministry; `ordu*` a stem): a party inside
    such a phrase takes the phrase's marker ("to the armed forces of Mozambique")."""
    if node is None or node.is_null():
        return frozenset(), ()
    words = _folded_list(node, lang, "institutions")
    if any(w.endswith("*") and len(w) <= 3 for w in words):
        raise node.error(f"language {lang}: institutions: a stem needs at least 3 letters")
    exact = frozenset(w for w in words if not w.endswith("*"))
    return exact, tuple(w[:-1] for w in words if w.endswith("*"))


def _noun_object_endings(node: Node | None, lang: str) -> tuple[str, ...] | None:
    """Endings that make a bare party after a transfer noun its recipient; `any` for every
    ending (the Arabic masdar's object: تزويد روسيا); absent = None (nouns take none)."""
    if node is None or node.is_null():
        return None
    if isinstance(node.node, yaml.ScalarNode):
        if node.text() != "any":
            raise node.error(f"language {lang}: noun_object_endings: a list of endings or `any`")
        return ("",)
    return tuple(_folded_list(node, lang, "noun_object_endings"))


def _folded_list(node: Node | None, lang: str, what: str) -> list[str]:
    if node is None or node.is_null():
        return []
    return [fold(text) for text, _ in node.texts(f"language {lang}: {what}: a list of words")]


def _flag(node: Node | None, lang: str, what: str) -> bool:
    """A YAML boolean (true / false); absent = false."""
    if node is None:
        return False
    if not (isinstance(node.node, yaml.ScalarNode) and node.node.tag.endswith(":bool")):
        raise node.error(f"language {lang}: {what}: expected true or false")
    return str(node.node.value).lower() in ("true", "yes", "on")


def _pattern(node: Node | None, lang: str, what: str) -> re.Pattern[str] | None:
    """A regular expression of the file (searched in folded words)."""
    if node is None or node.is_null():
        return None
    try:
        return re.compile(node.text(f"language {lang}: {what}: a regular expression"))
    except re.error as exc:
        raise node.error(f"language {lang}: {what}: bad pattern: {exc}") from exc


def _read_adjectives(node: Node | None, lang: str) -> tuple[re.Pattern[str] | None, bool, bool]:
    """How a demonym is told from a country name: a pattern on the folded mention,
    or a lower-case first letter; and whether it follows its noun."""
    if node is None:
        return None, False, False
    fields = node.mapping(f"language {lang}: adjectives: pattern, lowercase, position")
    fields.refuse_unknown({"pattern", "lowercase", "position"}, f"language {lang}, adjectives")
    pattern = _pattern(fields.get("pattern"), lang, "adjectives.pattern")
    lowercase = _flag(fields.get("lowercase"), lang, "adjectives.lowercase")
    position = fields["position"].text() if "position" in fields else "before"
    if position not in ("before", "after"):
        raise fields["position"].error(f"language {lang}: position must be before or after")
    return pattern, lowercase, position == "after"


def _read_markers(
    node: Node | None, lang: str, cjk: bool, what: str
) -> tuple[tuple[str, Marker], ...]:
    if node is None or node.is_null():
        return ()
    out: list[tuple[str, Marker]] = []
    specs = node.mapping(f"language {lang}: {what}: a mapping of roles")
    for role, items in specs.items():
        if role not in MARKER_ROLES:
            raise specs.key(role).error(
                f"language {lang}: {what}: unknown role {role!r} "
                f"(expected {', '.join(MARKER_ROLES)})"
            )
        if items.is_null():
            continue
        for item in items.sequence(f"language {lang}: {what}.{role}: a list"):
            out.append((role, _read_marker(item, lang, cjk, f"{what}.{role}")))
    out.sort(key=lambda pair: -len(pair[1].words) if not cjk else -len(pair[1].words[0]))
    return tuple(out)


def _read_marker(item: Node, lang: str, cjk: bool, where: str) -> Marker:
    """A marker: 'to', 'out of', or {word: в, endings: [ю, у]} (the party's case endings)."""
    endings: tuple[str, ...] = ()
    if isinstance(item.node, yaml.ScalarNode):
        written = item.text(f"language {lang}, {where}: a word or {{word, endings}}")
    else:
        fields = item.mapping(f"language {lang}, {where}: a word or {{word, endings}}")
        fields.refuse_unknown({"word", "endings"}, f"language {lang}, {where}")
        if "word" not in fields:
            raise item.error(f"language {lang}, {where}: marker without `word`") from None
        written = fields["word"].text()
        endings = tuple(_folded_list(fields.get("endings"), lang, f"{where} endings"))
    if cjk or has_cjk(written):
        return Marker((fold(written.replace(" ", "")),), endings)
    words = tuple(fold(w) for w in WORD_RE.findall(written))
    if not words:
        raise item.error(f"language {lang}, {where}: {written!r} has no letters")
    return Marker(words, endings)


def _read_attached(node: Node | None, lang: str) -> tuple[dict[str, str], dict[str, str]]:
    """Particles glued to a party: Arabic prefixes (لروسيا), Korean particles (러시아에),
    Turkish case endings after an apostrophe (Rusya'ya)."""
    if node is None or node.is_null():
        return {}, {}
    fields = node.mapping(f"language {lang}: attached: prefix and/or suffix")
    fields.refuse_unknown({"prefix", "suffix"}, f"language {lang}, attached")
    out: list[dict[str, str]] = []
    for side in ("prefix", "suffix"):
        table: dict[str, str] = {}
        if side in fields:
            roles = fields[side].mapping(f"language {lang}: attached.{side}: roles")
            for role, items in roles.items():
                if role not in MARKER_ROLES:
                    raise roles.key(role).error(f"language {lang}: unknown role {role!r}")
                for affix in _folded_list(items, lang, f"attached.{side}.{role}"):
                    table[affix] = role
        out.append(table)
    return out[0], out[1]


def _read_cues(node: Node, lang: str, forms: Mapping[str, frozenset[str]]) -> list[Entry]:
    entries: list[Entry] = []
    specs = node.mapping(f"language {lang}: cues: a mapping of cue kinds")
    for kind, items in specs.items():
        if kind not in CUE_KINDS:
            raise specs.key(kind).error(
                f"language {lang}: unknown cue kind {kind!r} (expected {', '.join(CUE_KINDS)})"
            )
        entries += _entries(items, lang, f"cues.{kind}", Tag(LAYER, kind, ""), forms)
    if not any(e.tag.kind in TRANSFER_KINDS for e in entries):
        raise node.error(f"language {lang}: cues: no transfer verb or noun")
    return entries


def _read_systems(
    node: Node, lang: str, categories: tuple[str, ...], forms: Mapping[str, frozenset[str]]
) -> list[Entry]:
    entries: list[Entry] = []
    specs = node.mapping(f"language {lang}: systems: a mapping of categories")
    for category, items in specs.items():
        if category not in categories:
            raise specs.key(category).error(
                f"language {lang}: system category {category!r} is not declared in `categories`"
            )
        entries += _entries(items, lang, f"systems.{category}", Tag(LAYER, SYSTEM, category), forms)
    return entries


def _entries(
    node: Node, lang: str, where: str, tag: Tag, forms: Mapping[str, frozenset[str]]
) -> list[Entry]:
    out = []
    for written, item in node.texts(f"language {lang}: {where}: a list of terms"):
        term = parse_term(written, item, lang, where)
        if term.cjk:
            out.append(Entry((), tag, Case.ANY, literal=term.words[0].key))
            continue
        patterns = tuple(_word_pattern(w.key, w.stem, term.exact, forms) for w in term.words)
        case = case_of(written.lstrip("=").replace("*", ""), allow_title=False)
        out.append(Entry(patterns, tag, case))
    return out


def _word_pattern(
    key: str, stem: bool, exact: bool, forms: Mapping[str, frozenset[str]]
) -> WordPattern:
    if stem:
        return WordPattern(stem=key)
    if exact:
        return WordPattern(forms=frozenset((key,)))
    return WordPattern(forms=forms.get(key, frozenset((key,))))


def _read_quantity(node: Node | None, lang: str, glued: bool) -> QuantityRules:
    """Numbers as digits or words, multipliers (million, 万), vague amounts (hundreds of)
    and hedges (about, more than), compiled into one regex."""
    values: dict[str, float] = {}
    vague: set[str] = set()
    hedges: list[str] = []
    counters: list[str] = []
    multipliers: list[str] = []
    numbers: list[str] = []
    after_system = False
    if node is not None and not node.is_null():
        fields = node.mapping(f"language {lang}: quantity: a mapping")
        fields.refuse_unknown(
            {"numbers", "multipliers", "vague", "hedges", "after_system", "counters"},
            f"language {lang}, quantity",
        )
        for key, bucket in (("numbers", numbers), ("multipliers", multipliers), ("vague", [])):
            if key not in fields:
                continue
            table = fields[key].mapping(f"language {lang}: quantity.{key}: word -> number")
            for word, value in table.items():
                values[fold(word)] = value.number(f"language {lang}: quantity.{key}: a number")
                bucket.append(word)
                if key == "vague":
                    vague.add(fold(word))
        hedges = [w for w, _ in fields["hedges"].texts()] if "hedges" in fields else []
        after_system = _flag(fields.get("after_system"), lang, "quantity.after_system")
        counters = _folded_list(fields.get("counters"), lang, "quantity.counters")
    word_values = list(numbers) + sorted(vague, key=len, reverse=True)
    vague_words = [w for w in word_values if fold(w) in vague]
    number_words = [w for w in word_values if fold(w) not in vague]
    digits = r"\d{1,3}(?:[,.\u00a0\u202f ']\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?"
    if lang in ("zh", "ja"):
        digits += f"|{_HAN_NUMERAL}"
    before = r"(?<![A-Za-z0-9.,\-/])" if glued else r"(?<![\w.,\-/])"
    mult = _alternation(multipliers, glued)
    vague_pattern = _alternation(vague_words, glued)
    pattern = (
        f"{before}(?:(?P<hedge>{_alternation(hedges, glued)})\\s*)?"
        f"(?:(?P<num>{digits}|{_alternation(number_words, glued)})"
        f"(?:\\s*(?P<mult>{mult}))?|(?P<mult2>{mult})|(?P<vague>{vague_pattern}))"
    )
    return QuantityRules(
        re.compile(pattern, re.IGNORECASE),
        values,
        frozenset(vague),
        after_system,
        tuple(sorted(counters, key=len, reverse=True)),
    )


def _alternation(words: Iterable[str], glued: bool) -> str:
    """A regex alternation of words, longest first; whole words unless glued (CJK)."""
    ordered = sorted(set(words), key=len, reverse=True)
    if not ordered:
        return "(?!x)x"
    tail = "" if glued else r"(?!\w)"
    return "(?:" + "|".join(re.escape(w) for w in ordered) + ")" + tail


def _known_names(gazetteer: Gazetteer, lang: str) -> frozenset[str]:
    """First and last words of every alias (and their matcher variants: العراق, عراق), to
    tell a name from a name with a particle glued to it."""
    variants = variants_for(lang)
    names: set[str] = set()
    for code in ("any", lang):
        for alias, _ in gazetteer.aliases.get(code, ()):
            words = alias.replace("*", "").split()
            if words:
                for word in (words[0], words[-1], "".join(words)):
                    names.update(variants(fold(word)))
    return frozenset(names)


# -- extraction ----------------------------------------------------------------------------


class Party(NamedTuple):
    start: int
    end: int
    key: str  # ISO code or organisation id


class Piece(NamedTuple):
    """Evidence to be: a part of a statement, its span and its sentence's span (Evidence
    objects are built only for the few pieces a detail keeps)."""

    concept: str
    start: int
    end: int
    lo: int
    hi: int


class Cue(NamedTuple):
    start: int
    end: int
    kind: str
    key: str


@dataclass
class Vote:
    role: str  # SUPPLIER or RECIPIENT
    strength: int
    source: int  # the cue that decided it (coordinated parties share it)
    party: Party


@dataclass
class Statement:
    """What one sentence says about one supplier-recipient pair."""

    supplier: str | None
    recipient: str | None
    systems: list[str]
    quantities: list[ArmsQuantity]
    status: str | None
    denied: bool
    evidence: list[Piece]
    start: int
    # the two sides the sentence links without a direction ("trade between A and B"),
    # with the evidence of each: they complete a statement that names one side only
    pair: dict[str, Piece] = field(default_factory=dict)
    mentioned: frozenset[str] = frozenset()  # categories of every system in the sentence


@dataclass
class _View:
    """One sentence with its words, parties and cues, and the rules of its language."""

    text: str
    lo: int
    hi: int
    rules: LanguageRules
    parties: list[Party]
    cues: list[Cue]
    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    _folded: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.rules.cjk:  # Chinese and Japanese count characters, not words
            spans = [m.span() for m in WORD_RE.finditer(self.text, self.lo, self.hi)]
            self.starts = [a for a, _ in spans]
            self.ends = [b for _, b in spans]

    def word(self, index: int) -> str:
        """The folded word at a word index (folded on first use: most are never needed)."""
        found = self._folded.get(index)
        if found is None:
            found = fold(self.text[self.starts[index] : self.ends[index]])
            self._folded[index] = found
        return found

    def words(self, first: int, last: int) -> tuple[str, ...]:
        """Folded words first..last-1 (clipped to the sentence)."""
        return tuple(self.word(i) for i in range(max(first, 0), min(last, len(self.starts))))

    def unit(self, offset: int) -> int:
        """Position of an offset in words (two characters count as one in zh and ja)."""
        if self.rules.cjk:
            return (offset - self.lo) // 2
        return bisect_left(self.starts, offset)

    def gap(self, end: int, start: int) -> int:
        """Units between two spans (0 when adjacent); negative when they overlap."""
        return self.unit(start) - self.unit(end)

    def reach(self, distance: int) -> int:
        """How far a party may stand from its verb: further in verb-final languages."""
        return VERB_FINAL_REACH if self.rules.order == "sov" else distance

    def transfers(self) -> list[Cue]:
        return [c for c in self.cues if c.kind in TRANSFER_KINDS]

    def kinds(self, *kinds: str) -> list[Cue]:
        return [c for c in self.cues if c.kind in kinds]


class _Document(NamedTuple):
    """A document's text with its sentences, parties and cues grouped by sentence."""

    text: str
    sentences: Sentences
    rules: LanguageRules
    parties: dict[int, list[Party]]
    cues: dict[int, list[Cue]]

    def view(self, index: int) -> _View:
        lo, hi = self.sentences.starts[index], self.sentences.ends[index]
        cues = _longest(self.cues.get(index, []))
        return _View(self.text, lo, hi, self.rules, self.parties.get(index, []), cues)


class ArmsExtractor:
    """Compiled rules plus the names of parties; one instance per worker process."""

    def __init__(self, rules: ArmsRules, gazetteer: Gazetteer) -> None:
        self._rules = rules
        self._names = {key: info.name for (_, key), info in gazetteer.infos.items()}
        self._rank = {c: i for i, c in enumerate(rules.categories)}

    @property
    def languages(self) -> frozenset[str]:
        return frozenset(self._rules.languages)

    def extract(
        self,
        *,
        text: str,
        lang: str | None,
        sentences: Sentences,
        hits: Sequence[Hit],
        entity_hits: Sequence[ConceptHit],
        topic: TopicMatch | None,
    ) -> list[ArmsTransferDetail]:
        """The details a document states (empty when unsure or not about arms transfers).

        One pass of the language's cue matcher over the text; only sentences holding a
        transfer cue and a party (and the sentence after each, for a denial) are read."""
        rules = self._rules.languages.get(lang or "")
        if rules is None or topic is None:
            return []
        parties = _by_sentence(self._parties(hits, entity_hits), sentences)
        cues = _by_sentence(
            [Cue(h.start, h.end, h.tag.kind, h.tag.key) for h in rules.matcher.scan(text)],
            sentences,
        )
        doc = _Document(text, sentences, rules, parties, cues)
        statements: list[Statement] = []
        for index in sorted(cues):
            if not parties.get(index) or not any(c.kind in TRANSFER_KINDS for c in cues[index]):
                continue
            found = _statements(doc.view(index), self._rank)
            following = cues.get(index + 1, ())
            if found and any(c.kind == "denied" for c in following):
                _denial_in_next(found, doc.view(index + 1))
            statements += found
        return [self._detail(text, key, group) for key, group in _merge(statements)]

    def _parties(self, hits: Sequence[Hit], entity_hits: Sequence[ConceptHit]) -> list[Party]:
        """Country and group mentions the resolver kept, with their codes."""
        kept = {
            (h.start, h.end)
            for h in entity_hits
            if h.concept in ("entity:country", "entity:organisation")
        }
        best: dict[tuple[int, int], tuple[str, str]] = {}
        for hit in hits:
            span = (hit.start, hit.end)
            if hit.tag.layer != "entity" or span not in kept:
                continue
            kind, key = hit.tag.kind, hit.tag.key
            if kind == "organisation":
                if key not in self._rules.parties:
                    continue
                key = self._rules.parties[key] or key
            elif kind != "country":
                continue
            if span not in best or (kind, key) < best[span]:  # the resolver's choice
                best[span] = (kind, key)
        return [Party(s, e, key) for (s, e), (_, key) in sorted(best.items())]

    def _detail(self, text: str, key: Pair, group: list[Statement]) -> ArmsTransferDetail:
        supplier, recipient = key
        systems = sorted({c for s in group for c in s.systems}, key=lambda c: self._rank.get(c, 0))
        quantities = {(q.start, q.end): q for s in group for q in s.quantities}
        counted = {q.system for q in quantities.values()}
        if len(systems) > 1 and GENERIC_SYSTEM in systems and GENERIC_SYSTEM not in counted:
            systems.remove(GENERIC_SYSTEM)
        return ArmsTransferDetail(
            supplier=supplier,
            supplier_name=self._names.get(supplier) if supplier else None,
            recipient=recipient,
            recipient_name=self._names.get(recipient) if recipient else None,
            systems=systems,
            quantities=[quantities[k] for k in sorted(quantities)],
            status=_overall_status(group),
            denied=any(s.denied for s in group),
            evidence=_evidence(text, group),
        )


def _longest(cues: list[Cue]) -> list[Cue]:
    """One cue per span and kind; a cue inside a longer cue of the same family is dropped
    ("arms sales" hides "sales"), so that each word counts once."""
    out: list[Cue] = []
    reach: dict[str, int] = {}  # family -> end of the longest cue seen so far
    for cue in sorted(set(cues), key=lambda c: (c.start, -c.end, c.kind, c.key)):
        family = _family(cue.kind)
        kept = [o for o in out[-4:] if (o.start, o.end) == (cue.start, cue.end)]
        if reach.get(family, -1) >= cue.end and not any(_family(o.kind) == family for o in kept):
            continue
        reach[family] = max(reach.get(family, -1), cue.end)
        out.append(cue)
    return sorted(out)


def _family(kind: str) -> str:
    if kind in TRANSFER_KINDS:
        return "transfer"
    return "status" if kind in STATUS_KINDS else kind


_Spanned = TypeVar("_Spanned", Party, Cue)


def _by_sentence(items: list[_Spanned], sentences: Sentences) -> dict[int, list[_Spanned]]:
    """Items grouped by the sentence they start in, each group in text order."""
    out: dict[int, list[_Spanned]] = defaultdict(list)
    for item in sorted(items):
        out[sentences.index_of(item.start)].append(item)
    return out


# -- one sentence -----------------------------------------------------------------------------


def _statements(view: _View, rank: dict[str, int]) -> list[Statement]:
    transfers = view.transfers()
    systems = view.kinds(SYSTEM)
    if not transfers or not (systems or view.kinds(*ARMS_KINDS)) or not view.parties:
        return []
    markers = _marker_roles(view)
    votes = _votes(view, transfers, markers)
    suppliers = _winners(votes, SUPPLIER)
    recipients = _winners(votes, RECIPIENT)
    suppliers, recipients = _gate(view, suppliers, recipients, markers)
    rivals = _rivals(view)
    if any(v.party.key in rivals for v in suppliers):
        suppliers = []
    if any(v.party.key in rivals for v in recipients):
        recipients = []
    pair = _pair(view, transfers, markers) if not rivals else {}
    if not suppliers and not recipients and pair:
        suppliers, recipients = _buyer_and_seller(view, transfers, markers, pair)
    if not suppliers and not recipients and not pair:
        return []
    chosen_systems = _systems_near(view, transfers)
    status, denied, status_cues = _status(view, transfers)
    quantities = _quantities(view, chosen_systems)
    categories = sorted({c.key for c in chosen_systems}, key=lambda c: rank.get(c, 0))
    if any(c.kind in ARMS_KINDS for c in transfers) and GENERIC_SYSTEM not in categories:
        categories.append(GENERIC_SYSTEM)
    mentioned = frozenset(c.key for c in systems) - {GENERIC_SYSTEM}
    out = []
    no_vote: list[Vote | None] = [None]
    for supplier in suppliers or no_vote:
        for recipient in recipients or no_vote:
            if (
                supplier is not None
                and recipient is not None
                and supplier.party.key == recipient.party.key
            ):
                continue
            sides = [("supplier", supplier), ("recipient", recipient)]
            parts = [(role, v.party.start, v.party.end) for role, v in sides if v is not None]
            parts += [("transfer", c.start, c.end) for c in transfers[:2]]
            parts += [("system", c.start, c.end) for c in chosen_systems[:3]]
            parts += [("quantity", q.start, q.end) for q in quantities[:2]]
            parts += [("status", c.start, c.end) for c in status_cues[:1]]
            evidence = _statement_evidence(view, parts)
            out.append(
                Statement(
                    supplier=supplier.party.key if supplier else None,
                    recipient=recipient.party.key if recipient else None,
                    systems=categories,
                    quantities=quantities,
                    status=status,
                    denied=denied,
                    evidence=evidence,
                    start=view.lo,
                    pair=pair,
                    mentioned=mentioned,
                )
            )
    return out


def _buyer_and_seller(
    view: _View, transfers: list[Cue], markers: list[str | None], pair: dict[str, Piece]
) -> tuple[list[Vote], list[Vote]]:
    """ "India is negotiating with France the purchase of jets": with a purchase cue, the
    bare party of a pair buys and the one "with" it sells."""
    if not any(c.kind in ACQUIRE_KINDS for c in transfers):
        return [], []
    bare = [i for i, p in enumerate(view.parties) if p.key in pair and _available(markers, i)]
    other = [i for i, p in enumerate(view.parties) if p.key in pair and markers[i] == COUNTERPART]
    if not bare or not other or view.parties[bare[0]].key == view.parties[other[0]].key:
        return [], []
    buyer, seller = view.parties[bare[0]], view.parties[other[0]]
    return [Vote(SUPPLIER, MEDIUM, 0, seller)], [Vote(RECIPIENT, MEDIUM, 0, buyer)]


def _pair(view: _View, transfers: list[Cue], markers: list[str | None]) -> dict[str, Piece]:
    """Two sides linked without a direction: "entre Moscou et Pyongyang", or one party
    "with" another when the sentence has no other bare party ("KP ... talks with Moscow")."""
    chosen: dict[str, Party] = {}
    for i, party in enumerate(view.parties):
        if markers[i] == COUNTERPART:
            chosen.setdefault(party.key, party)
    if len(chosen) == 1:
        bare = {
            p.key: p
            for i, p in enumerate(view.parties)
            if _available(markers, i) and p.key not in chosen
        }
        if len(bare) == 1:
            chosen.update(bare)
    if len(chosen) != 2:
        return {}
    return {key: Piece("party", p.start, p.end, view.lo, view.hi) for key, p in chosen.items()}


def _marker_roles(view: _View) -> list[str | None]:
    """The role that the words around each party give it (None: a bare noun phrase)."""
    roles: list[str | None] = []
    for i, party in enumerate(view.parties):
        if _is_origin(view, party):  # "for Iranian drones": the marker governs the drones
            roles.append(ORIGIN)
            continue
        role = _attached_role(view, party) or _around_role(view, party)
        if role is None and i and _coordinated(view, view.parties[i - 1], party):
            role = roles[i - 1]  # "to Russia and Iran": Iran is a recipient too
        roles.append(role)
    return roles


def _attached_role(view: _View, party: Party) -> str | None:
    rules = view.rules
    if not (rules.prefixes or rules.suffixes):
        return None
    surface = fold(view.text[party.start : party.end])
    words = surface.split()
    if not words:
        return None
    if rules.suffixes:
        tail = view.text[party.end : party.end + 1]
        if tail and tail in _APOSTROPHES:
            match = WORD_RE.match(view.text, party.end + 1)
            if match and fold(match.group()) in rules.suffixes:
                return rules.suffixes[fold(match.group())]
        last = words[-1]
        if last not in rules.known_names and surface not in rules.known_names:
            for affix in sorted(rules.suffixes, key=len, reverse=True):
                if last.endswith(affix) and last[: -len(affix)] in rules.known_names:
                    return rules.suffixes[affix]
    if rules.prefixes and words[0] not in rules.known_names:
        for affix in sorted(rules.prefixes, key=len, reverse=True):
            if words[0].startswith(affix) and words[0][len(affix) :] in rules.known_names:
                return rules.prefixes[affix]
    return _institution_suffix(view, party) if rules.suffixes else None


def _institution_suffix(view: _View, party: Party) -> str | None:
    """A particle or case ending on the institution after a party: "Somali Ulusal
    Ordusu'na" (to the Somali army), "사우디아라비아 국방부와" (with the Saudi ministry)."""
    rules = view.rules
    at = bisect_left(view.starts, party.end)
    previous_end = party.end
    for index in range(at, min(at + MAX_INSTITUTION_WORDS, len(view.starts))):
        if view.text[previous_end : view.starts[index]].strip():
            return None
        previous_end = view.ends[index]
        word = view.word(index)
        glued = index + 1 < len(view.starts) and view.text[view.ends[index]] in _APOSTROPHES
        if glued and rules.is_institution(word):
            return rules.suffixes.get(view.word(index + 1))
        for affix in sorted(rules.suffixes, key=len, reverse=True):
            if word.endswith(affix) and rules.is_institution(word[: -len(affix)]):
                return rules.suffixes[affix]
        if not rules.is_institution(word):
            return None
    return None


def _around_role(view: _View, party: Party) -> str | None:
    if view.rules.cjk:
        return _cjk_role(view, party)
    rules = view.rules
    index = bisect_left(view.starts, party.start) - 1
    skipped = inside = 0  # fillers skipped; institution words skipped
    following = party.start
    while index >= 0:
        if _MARKER_STOP_RE.search(view.text, view.ends[index], following):
            break  # "Blockade auf: Großbritannien": a marker never reaches across punctuation
        following = view.starts[index]
        word = view.word(index)
        if word in rules.fillers and view.text[view.starts[index]].isupper():
            break  # "SEUL — A Coreia do Sul concordou": a capitalised article, not "à"
        found = _marker_at(view, party, index, word, inside)
        if found is not None:
            role, width = found
            if role != GENITIVE or not _institution_at(view, index - width):
                return role
            index -= width  # "aux forces armées *de* Moçambique": look past the forces
            inside += 1
            continue
        if word in rules.fillers and skipped < MAX_FILLERS:
            index -= 1
            skipped += 1
            continue
        if rules.is_institution(word) and inside < MAX_INSTITUTION_WORDS:
            index -= 1  # "dla Wojska Polskiego", "to the Ukrainian army"
            inside += 1
            continue
        break
    after = bisect_left(view.starts, party.end)
    if after < len(view.starts) and view.text[party.end : view.starts[after]].strip(" '’"):
        return None
    for role, marker in view.rules.after:
        if view.words(after, after + len(marker.words)) == marker.words:
            return role
    return None


def _marker_at(
    view: _View, party: Party, index: int, word: str, inside: int
) -> tuple[str, int] | None:
    """The role and width of a marker ending at word `index` (case endings are checked on
    the party only when it follows the marker directly)."""
    for role, marker in view.rules.before_by_last.get(word, ()):
        if not _ends_with(view, index, marker.words):
            continue
        if marker.endings and (inside or not _case_ok(view, party, marker)):
            continue
        return role, len(marker.words)
    return None


def _institution_at(view: _View, index: int) -> bool:
    """An institution word at `index`, or just before fillers there."""
    for _ in range(MAX_FILLERS + 1):
        if index < 0:
            return False
        word = view.word(index)
        if view.rules.is_institution(word):
            return True
        if word not in view.rules.fillers:
            return False
        index -= 1
    return False


def _ends_with(view: _View, index: int, marker: tuple[str, ...]) -> bool:
    """True if the words up to `index` are the marker (whose last word is that of `index`)."""
    for back in range(2, len(marker) + 1):  # from the end: most candidates fail at once
        at = index - back + 1
        if at < 0 or view.word(at) != marker[-back]:
            return False
    return True


def _case_ok(view: _View, party: Party, marker: Marker) -> bool:
    if not marker.endings:
        return True
    surface = fold(view.text[party.start : party.end])
    return surface.endswith(marker.endings)


def _cjk_role(view: _View, party: Party) -> str | None:
    before = view.text[view.lo : party.start].rstrip()
    after = view.text[party.end : view.hi].lstrip()
    fillers = view.rules.fillers
    for role, marker in view.rules.after:
        token = marker.words[0]
        if after.startswith(token):
            return role
        for filler in fillers:
            if after.startswith(filler + token):
                return role
    for role, marker in view.rules.before:
        if before.endswith(marker.words[0]):
            return role
    return None


def _coordinated(view: _View, first: Party, second: Party) -> bool:
    """True if only a conjunction (and articles) stand between two parties."""
    between = view.text[first.end : second.start]
    if len(between) > 20 or any(ch in between for ch in ".;:()"):
        return False
    if not between.strip() and _glued_conjunction(view, second):
        return True
    words = [fold(w) for w in WORD_RE.findall(between)]
    rest = [w for w in words if w not in view.rules.fillers]
    if view.rules.cjk:
        return between.strip() in view.rules.conjunctions
    return len(rest) == 1 and rest[0] in view.rules.conjunctions


def _rivals(view: _View) -> set[str]:
    """Parties offered as alternatives ("from North Korea or Iran", 伊朗或朝鲜): no role
    can go to them."""
    out: set[str] = set()
    words = view.rules.alternatives
    if not words:
        return out
    for first, second in zip(view.parties, view.parties[1:], strict=False):
        between = view.text[first.end : second.start]
        if len(between) > 25 or any(ch in between for ch in ".;:()"):
            continue
        if view.rules.cjk:
            found = any(w in between for w in words)
        else:
            tokens = [fold(w) for w in WORD_RE.findall(between)]
            found = len(tokens) <= 3 and any(t in words for t in tokens)
        if found and first.key != second.key:
            out.update((first.key, second.key))
    return out


def _glued_conjunction(view: _View, party: Party) -> bool:
    """Arabic و written onto the name: وإيران."""
    word = fold(view.text[party.start : party.end]).split()[0]
    rules = view.rules
    return any(
        word.startswith(c) and word[len(c) :] in rules.known_names and word not in rules.known_names
        for c in rules.conjunctions
    )


def _is_adjective(view: _View, party: Party) -> bool:
    rules = view.rules
    surface = view.text[party.start : party.end]
    if rules.adjective_lowercase and surface[:1].islower():
        return True
    return rules.adjective_pattern is not None and bool(
        rules.adjective_pattern.search(fold(surface))
    )


def _is_origin(view: _View, party: Party) -> bool:
    """A demonym stuck to a system term: 'North Korean shells', 'Iranian-made drones',
    'obus nord-coréens' (only fillers between; 'Ukrainian air-defence forces' is not)."""
    if not _is_adjective(view, party):
        return False
    for cue in view.cues:
        if cue.kind != SYSTEM:
            continue
        if view.rules.adjective_after:
            lo, hi = cue.end, party.start
        else:
            lo, hi = party.end, cue.start
        if lo <= hi and _only_fillers(view, lo, hi):
            return True
    return False


def _only_fillers(view: _View, start: int, end: int) -> bool:
    between = view.text[start:end]
    if any(ch in between for ch in _CLAUSE_BREAKS):
        return False
    return all(fold(w) in view.rules.fillers for w in WORD_RE.findall(between))


# -- votes ------------------------------------------------------------------------------------


def _votes(view: _View, transfers: list[Cue], markers: list[str | None]) -> list[Vote]:
    votes: list[Vote] = []
    for i, party in enumerate(view.parties):
        role = markers[i]
        side = _marker_side(view.rules, role)
        cue_index = _nearest_cue(view, party, transfers, side)
        if cue_index is None or role in (None, SUBJECT, GENITIVE, NEUTRAL, COUNTERPART):
            continue
        cue = transfers[cue_index]
        acquire = cue.kind in ACQUIRE_KINDS
        if role == RECIPIENT and not acquire:
            votes.append(Vote(RECIPIENT, STRONG, cue_index, party))
        elif role == SUPPLIER:
            votes.append(Vote(SUPPLIER, STRONG, cue_index, party))
        elif role == AGENT:
            votes.append(Vote(RECIPIENT if acquire else SUPPLIER, STRONG, cue_index, party))
        elif role == ORIGIN:
            votes.append(Vote(SUPPLIER, MEDIUM if acquire else WEAK, cue_index, party))
    for index, cue in enumerate(transfers):
        votes += _positional(view, index, cue, transfers, markers)
    return votes


def _marker_side(rules: LanguageRules, role: str | None) -> str:
    """Where the verb that a marked party depends on stands: "after" the party in
    verb-final languages (ロシアに…供与した) and for agents that precede their verb
    (由朝鲜提供), "before" it for agents that follow ("supplied by North Korea")."""
    if rules.order == "sov":
        return "after"
    if role == AGENT and rules.order in ("svo", "vso"):
        return "after" if rules.cjk else "before"
    return "any"


def _nearest_cue(view: _View, party: Party, transfers: list[Cue], side: str = "any") -> int | None:
    """The transfer cue nearest to a party (within MAX_PARTY_DISTANCE), on the given side."""
    best: tuple[int, int] | None = None
    for index, cue in enumerate(transfers):
        if (side == "after" and cue.start < party.end) or (
            side == "before" and cue.end > party.start
        ):
            continue
        if cue.start >= party.end:
            distance = view.gap(party.end, cue.start)
        else:
            distance = view.gap(cue.end, party.start)
        if distance <= view.reach(MAX_PARTY_DISTANCE) and (best is None or abs(distance) < best[0]):
            best = (abs(distance), index)
    return None if best is None else best[1]


def _positional(
    view: _View, index: int, cue: Cue, transfers: list[Cue], markers: list[str | None]
) -> list[Vote]:
    """Votes from word order: the agent of the cue, and the object of a supply verb."""
    acquire = cue.kind in ACQUIRE_KINDS
    passive = cue.kind in VERB_KINDS and _is_passive(view, cue)
    votes: list[Vote] = []
    agent = _agent(view, cue, transfers, markers)
    if agent is not None:
        if passive:
            if not acquire:  # "Russia was supplied with shells": the subject receives
                votes += _with_coordinated(view, agent, RECIPIENT, MEDIUM, index)
        else:
            votes += _with_coordinated(
                view, agent, RECIPIENT if acquire else SUPPLIER, MEDIUM, index
            )
    if not acquire and not passive:
        for party in _objects(view, cue, agent, markers):
            votes.append(Vote(RECIPIENT, MEDIUM, index, party))
    return votes


def _with_coordinated(
    view: _View, party: Party, role: str, strength: int, source: int
) -> list[Vote]:
    """The party and those joined to it by 'and' ("North Korea and Iran supply ...",
    "the Netherlands, Norway and Denmark have shipped ...")."""
    parties = view.parties
    at = parties.index(party)
    chosen = [party]
    left = at
    joined = False
    while left > 0:
        if _coordinated(view, parties[left - 1], parties[left]):
            joined = True
        elif not (joined and _listed(view, parties[left - 1], parties[left])):
            break
        left -= 1
        chosen.append(parties[left])
    return [Vote(role, strength, source, p) for p in chosen]


def _listed(view: _View, first: Party, second: Party) -> bool:
    """Only a comma (and fillers) between two parties: items of an enumeration."""
    between = view.text[first.end : second.start]
    if between.count(",") + between.count("、") + between.count("،") != 1:
        return False
    words = WORD_RE.findall(between)
    return all(fold(w) in view.rules.fillers for w in words)


def _is_passive(view: _View, cue: Cue) -> bool:
    """An auxiliary just before a participle ("were supplied", "wurden geliefert"), or a
    passive form right after or over the verb (供与された, 제공됐다)."""
    participle = view.rules.participle
    for other in view.kinds("passive"):
        if other.start < cue.start and 0 <= view.gap(other.end, cue.start) <= 2:
            first = WORD_RE.search(view.text, cue.start, cue.end)
            if participle is None or (first and participle.search(fold(first.group()))):
                return True
        elif other.start >= cue.start and view.gap(cue.end, other.start) <= 1:
            return True
    return False


def _available(markers: list[str | None], i: int) -> bool:
    return markers[i] in (None, SUBJECT)


def _agent(view: _View, cue: Cue, transfers: list[Cue], markers: list[str | None]) -> Party | None:
    """Who does what the cue says, from word order (None when unclear)."""
    order = view.rules.order
    before = [
        i
        for i, p in enumerate(view.parties)
        if p.end <= cue.start
        and _available(markers, i)
        and view.gap(p.end, cue.start) <= view.reach(MAX_AGENT_DISTANCE)
        and not _blocked(view, p.end, cue, transfers, hard_only=order != "v2")
    ]
    if cue.kind not in VERB_KINDS:
        # a noun's agent: a possessor or modifier just before it ("US arms sales",
        # "Russia's deliveries"), or "de la France" after it
        near = [i for i in before if _only_modifiers(view, view.parties[i].end, cue.start)]
        if near:
            return view.parties[near[-1]]
        return _genitive_after(view, cue, markers)
    if order in ("sov", "v2") or (order == "vso" and not before):
        subjects = [i for i in before if markers[i] == SUBJECT]
        if subjects:
            return view.parties[subjects[-1]]
        if order == "vso":
            return _first_after(view, cue, markers)
        if before and order == "v2":
            return view.parties[before[0]]
        if order == "sov" and not view.rules.unmarked_subjects:
            # an unmarked name only modifies a noun (ポーランド軍備庁と…)
            return _genitive_opener(view, cue, markers)
    if before:
        return view.parties[before[-1]]
    return None


_MODIFIER_KINDS = frozenset({SYSTEM, *STATUS_KINDS, *OTHER_KINDS})


def _only_modifiers(view: _View, start: int, end: int) -> bool:
    """True if nothing but fillers, a possessive 's, other parties, system terms and
    status words stand between start and end ("Washington's weapons deliveries",
    中国对巴基斯坦的军售, "Iran denies deliveries")."""
    spans = [(p.start, p.end) for p in view.parties if p.end > start and p.start < end]
    spans += [
        (c.start, c.end)
        for c in view.cues
        if c.kind in _MODIFIER_KINDS and c.end > start and c.start < end
    ]
    pieces, at = [], start
    for lo, hi in sorted(spans):
        if lo > at:
            pieces.append(view.text[at:lo])
        at = max(at, hi)
    pieces.append(view.text[at:end])
    rest = " ".join(pieces)
    if _CLAUSE_BREAK_RE.search(rest):
        return False
    rules = view.rules
    if rules.cjk:
        for token in rules.cjk_modifiers:
            rest = rest.replace(token, " ")
        return not rest.strip()
    allowed = rules.fillers | {"s"}
    others = [w for w in WORD_RE.findall(rest) if fold(w) not in allowed]
    # "signed a contract for the sale": one linking word after a status word
    status = any(start <= c.start and c.end <= end for c in view.kinds(*STATUS_KINDS))
    return len(others) <= (1 if status else 0)


def _genitive_opener(view: _View, cue: Cue, markers: list[str | None]) -> Party | None:
    """ドイツのショルツ首相は…供与すると発表: with no subject-marked party, the party that
    opens the sentence in the genitive ("Germany's chancellor") is the agent."""
    if not view.parties or markers[0] != GENITIVE:
        return None
    first = view.parties[0]
    if first.end > cue.start or view.gap(first.end, cue.start) > MAX_AGENT_DISTANCE:
        return None
    if any(ch in view.text[first.end : cue.start] for ch in _HARD_BREAKS):
        return None
    return first


def _blocked(view: _View, end: int, cue: Cue, transfers: list[Cue], *, hard_only: bool) -> bool:
    """A clause break, or another transfer verb (whose agent this is), between end and cue."""
    between = view.text[end : cue.start]
    breaks = _HARD_BREAKS if hard_only else _CLAUSE_BREAKS
    if any(ch in between for ch in breaks):
        return True
    return any(
        t.kind in VERB_KINDS and end <= t.start and t.end <= cue.start and t != cue
        for t in transfers
    )


def _genitive_after(view: _View, cue: Cue, markers: list[str | None]) -> Party | None:
    for i, party in enumerate(view.parties):
        if (
            party.start >= cue.end
            and view.gap(cue.end, party.start) <= 4
            and markers[i] == GENITIVE
            and not _blocked_soft(view, cue.end, party.start)
        ):
            return party
    return None


def _blocked_soft(view: _View, start: int, end: int) -> bool:
    return _CLAUSE_BREAK_RE.search(view.text, start, end) is not None


def _first_after(view: _View, cue: Cue, markers: list[str | None]) -> Party | None:
    for i, party in enumerate(view.parties):
        if party.start >= cue.end and _available(markers, i):
            if view.gap(cue.end, party.start) <= OBJECT_DISTANCE and not _blocked_soft(
                view, cue.end, party.start
            ):
                return party
            break
    return None


def _objects(view: _View, cue: Cue, agent: Party | None, markers: list[str | None]) -> list[Party]:
    """Bare parties that receive what a supply verb sends ("supplied Russia with shells")."""
    rules = view.rules
    if rules.order == "sov":
        return []
    verb = cue.kind in VERB_KINDS
    if not verb and rules.noun_object_endings is None:
        return []
    start = cue.end
    if rules.order == "vso" and agent is not None and agent.start >= cue.end:
        start = agent.end
    out = []
    for i, party in enumerate(view.parties):
        if party.start < start or not _available(markers, i) or party == agent:
            continue
        if view.gap(start, party.start) > OBJECT_DISTANCE or _blocked_soft(
            view, start, party.start
        ):
            break
        if not verb and not fold(view.text[party.start : party.end]).endswith(
            rules.noun_object_endings or ()
        ):
            break
        out.append(party)
        break
    if rules.order == "v2" and verb and agent is not None and not out:
        # German verb-final clauses: "Nordkorea hat Russland Granaten geliefert"
        out += [
            p
            for i, p in enumerate(view.parties)
            if agent.end <= p.start and p.end <= cue.start and markers[i] is None
        ][:1]
    return out


def _winners(votes: list[Vote], role: str) -> list[Vote]:
    """The parties a role goes to: the strongest votes, one per party; equal rivals from
    different cues cancel out, unless they are sure (markers) or joined by 'and'."""
    by_party: dict[str, Vote] = {}
    other = SUPPLIER if role == RECIPIENT else RECIPIENT
    against: dict[str, int] = defaultdict(int)
    for vote in votes:
        if vote.role == other:
            against[vote.party.key] = max(against[vote.party.key], vote.strength)
    for vote in votes:
        if vote.role != role:
            continue
        if against[vote.party.key] >= vote.strength:
            continue  # claimed at least as strongly for the other side
        known = by_party.get(vote.party.key)
        if known is None or vote.strength > known.strength:
            by_party[vote.party.key] = vote
    if not by_party:
        return []
    top = max(v.strength for v in by_party.values())
    best = [v for v in by_party.values() if v.strength == top]
    if len(best) > 1 and top < STRONG and len({v.source for v in best}) > 1:
        return []
    return sorted(best, key=lambda v: v.party.start)


def _gate(
    view: _View, suppliers: list[Vote], recipients: list[Vote], markers: list[str | None]
) -> tuple[list[Vote], list[Vote]]:
    """Drop what is too weak to state: a lone demonym, or a lone guess among several parties."""
    keys = {p.key for p in view.parties}
    if suppliers and suppliers[0].strength == WEAK:
        sure = recipients and recipients[0].strength == STRONG
        named = {v.party.key for v in suppliers} | {v.party.key for v in recipients}
        if not sure or keys - named:
            suppliers = []
    if suppliers and not recipients and suppliers[0].strength == MEDIUM and len(keys) > 1:
        suppliers = []
    if recipients and not suppliers and recipients[0].strength < MEDIUM:
        recipients = []
    return suppliers, recipients


# -- what, how many, how far -------------------------------------------------------------------


def _systems_near(view: _View, transfers: list[Cue]) -> list[Cue]:
    """System terms in each transfer cue's window (its object, or the compound it is in)."""
    before_limit = SOV_WINDOW_BEFORE if view.rules.order in ("sov", "v2") else WINDOW_BEFORE
    chosen: dict[tuple[int, int], Cue] = {}
    for cue in view.kinds(SYSTEM):
        for transfer in transfers:
            if cue.start >= transfer.start:
                distance = view.gap(transfer.end, cue.start)
                ok = distance <= WINDOW_AFTER
            else:
                distance = view.gap(cue.end, transfer.start)
                ok = distance <= before_limit
            if ok and not _hard_break_between(view, cue, transfer):
                chosen[(cue.start, cue.end)] = cue
                break
    return [chosen[k] for k in sorted(chosen)]


def _hard_break_between(view: _View, a: Cue, b: Cue) -> bool:
    lo, hi = min(a.end, b.end), max(a.start, b.start)
    return _HARD_BREAK_RE.search(view.text, lo, hi) is not None


def _status(view: _View, transfers: list[Cue]) -> tuple[str | None, bool, list[Cue]]:
    """The sentence's status, whether it denies, and the cues that decided."""
    found = {kind: view.kinds(kind) for kind in STATUS_KINDS}
    future = found["future"] + _future_forms(view, transfers)
    if found["denied"]:
        return "denied", True, found["denied"]
    delivered = [c for c in found["delivered"] if not _after_future(view, c, future)]
    agreed = [c for c in found["agreed"] if not _after_future(view, c, future)]
    negated = _negated(view, transfers)
    if delivered and not negated:
        return "delivered", False, delivered
    if agreed and not negated:
        return "agreed", False, agreed
    if found["negotiated"] or future:
        return "negotiated", False, (found["negotiated"] or future)
    if negated:
        return "denied", True, negated
    return None, False, []


def _future_forms(view: _View, transfers: list[Cue]) -> list[Cue]:
    """Transfer verbs in a future or conditional form (fournira, entregaría)."""
    endings = view.rules.future_endings
    if not endings:
        return []
    return [
        Cue(c.start, c.end, "future", "")
        for c in transfers
        if c.kind in VERB_KINDS and fold(view.text[c.start : c.end]).endswith(endings)
    ]


def _after_future(view: _View, cue: Cue, future: list[Cue]) -> bool:
    """'will be delivered', 'sera livré', 'serait le signe qu'un accord...', 'the deal
    could be signed': a cue of a later stage in the clause of a future or conditional cue
    (after it, or just before it)."""
    for f in future:
        if f.end <= cue.start:
            near = view.gap(f.end, cue.start) <= MAX_PARTY_DISTANCE
            lo, hi = f.end, cue.start
        elif f.start >= cue.end:
            near = view.gap(cue.end, f.start) <= 1
            lo, hi = cue.end, f.start
        else:
            continue
        if near and not _blocked_soft(view, lo, hi):
            return True
    return False


def _negated(view: _View, transfers: list[Cue]) -> list[Cue]:
    """Negations of a transfer cue: right before it ("did not deliver", "keine Waffen
    geliefert"); in verb-final clauses anywhere in the clause before it ("hat niemals
    Waffen geliefert"); in Japanese and Korean right after it (提供しない)."""
    final = view.rules.order in ("sov", "v2")
    reach = MAX_PARTY_DISTANCE if final else 2
    out = []
    for neg in view.kinds("negation"):
        for cue in transfers:
            if neg.end <= cue.start:
                if view.gap(neg.end, cue.start) <= reach and not _blocked_soft(
                    view, neg.end, cue.start
                ):
                    out.append(neg)
            elif (
                neg.start >= cue.end
                and view.rules.order == "sov"
                and view.gap(cue.end, neg.start) <= 2
            ):
                out.append(neg)
    return out


def _quantities(view: _View, systems: list[Cue]) -> list[ArmsQuantity]:
    """Amounts stuck to a system term of the statement: '1 million shells', '砲弾100万発'."""
    rules = view.rules.quantity
    out = []
    for match in _amounts_near(view, systems, rules):
        amount = _amount(match, rules)
        if amount is None:
            continue
        value, approximate = amount
        if view.rules.cjk and not _counted(view.text, match, rules):
            continue  # a bare Han numeral is a word part more often than an amount (十分)
        for system in systems:
            lo, hi = _quantity_span(view, match, system, rules)
            if lo is not None and hi is not None:
                out.append(
                    ArmsQuantity(
                        amount=value,
                        approximate=approximate,
                        system=system.key,
                        text=view.text[lo:hi],
                        start=lo,
                        end=hi,
                    )
                )
                break
    return out


AMOUNT_REACH = 60  # characters before (or after) a system term where its amount may stand


def _amounts_near(view: _View, systems: list[Cue], rules: QuantityRules) -> list[re.Match[str]]:
    """Amount matches in the stretches just before (and after) the systems, not the whole
    sentence: the regex is costly and amounts stick to what they count."""
    found: dict[tuple[int, int], re.Match[str]] = {}
    for system in systems:
        windows = [(max(view.lo, system.start - AMOUNT_REACH), system.start)]
        if rules.after_system:
            windows.append((system.end, min(view.hi, system.end + AMOUNT_REACH)))
        for lo, hi in windows:
            for match in rules.pattern.finditer(view.text, lo, hi):
                found.setdefault(match.span(), match)
    return [found[k] for k in sorted(found)]


def _counted(text: str, match: re.Match[str], rules: QuantityRules) -> bool:
    """Digits, a multiplier (万) or a counter after the amount (两百*枚*): a real amount."""
    number = match.group("num") or ""
    if any(ch.isdigit() for ch in number) or match.group("mult") or match.group("mult2"):
        return True
    return (
        match.group("vague") is not None
        or _after_counter(text, match.end(), rules.counters) > match.end()
    )


def _quantity_span(
    view: _View, match: re.Match[str], system: Cue, rules: QuantityRules
) -> tuple[int | None, int | None]:
    if system.start >= match.end() and _small_gap(view, match.end(), system.start):
        end = system.end
        for other in view.kinds(SYSTEM):  # "hundreds of Shahed drones"
            if other.start >= end and not view.text[end : other.start].strip(" -"):
                end = other.end
        return match.start(), end
    if (
        rules.after_system
        and system.end <= match.start()
        and _small_gap(view, system.end, match.start())
    ):
        return system.start, _after_counter(view.text, match.end(), rules.counters)
    return None, None


def _after_counter(text: str, end: int, counters: tuple[str, ...]) -> int:
    """The end of the counter word after an amount, if one follows: 100万 *発*, 100만 *발*."""
    rest = text[end : end + 8]
    at = end + len(rest) - len(rest.lstrip())
    for counter in counters:
        if fold(text[at : at + len(counter)]) == counter:
            return at + len(counter)
    return end


def _small_gap(view: _View, start: int, end: int) -> bool:
    between = view.text[start:end]
    if _GAP_BREAK_RE.search(between):
        return False
    if view.rules.cjk:
        return len(between.strip()) <= 3
    return len(WORD_RE.findall(between)) <= 2 and len(between) <= 30


def _amount(match: re.Match[str], rules: QuantityRules) -> tuple[float, bool] | None:
    approximate = match.group("hedge") is not None
    vague = match.group("vague")
    if vague:
        return rules.values.get(fold(vague), 0.0), True
    multiplier = match.group("mult") or match.group("mult2")
    factor = rules.values.get(fold(multiplier), 1.0) if multiplier else 1.0
    number = match.group("num")
    if number is None:
        return factor, approximate
    value = _number(number, rules)
    if value is None or (multiplier is None and _YEAR.match(number.strip())):
        return None
    return value * factor, approximate


def _number(written: str, rules: QuantityRules) -> float | None:
    text = written.strip()
    key = fold(text)
    if key in rules.values:
        return rules.values[key]
    if re.fullmatch(_HAN_NUMERAL, text):
        return _han_number(text)
    compact = re.sub(r"[\u00a0\u202f ']", "", text)
    if re.fullmatch(r"\d{1,3}([,.])\d{3}(?:\1\d{3})*", compact):
        return float(re.sub(r"[,.]", "", compact))  # 1,000 or 1.000: thousands
    try:
        return float(compact.replace(",", "."))
    except ValueError:
        return None


def _han_number(text: str) -> float | None:
    """Chinese numerals: 十二 -> 12, 两百万 -> 2000000."""
    total, section, digit = 0, 0, 0
    for ch in text:
        if ch in _HAN_DIGITS:
            digit = _HAN_DIGITS[ch]
        elif ch in _HAN_UNITS:
            section += (digit or 1) * _HAN_UNITS[ch]
            digit = 0
        elif ch in _HAN_BIG:
            total += (section + digit) * _HAN_BIG[ch]
            section, digit = 0, 0
    value = total + section + digit
    return float(value) if value else None


# -- evidence and merging -------------------------------------------------------------------


def _statement_evidence(view: _View, parts: list[tuple[str, int, int]]) -> list[Piece]:
    """Pieces for (part, start, end) spans of one sentence, in text order."""
    return [
        Piece(c, s, e, view.lo, view.hi) for c, s, e in sorted(parts, key=lambda p: (p[1], p[0]))
    ]


def _denial_in_next(statements: list[Statement], following: _View) -> None:
    """'Pyongyang denies it.' right after a claim: the claim is denied by a party it names."""
    if following.transfers() or not following.kinds("denied"):
        return
    named = {p.key for p in following.parties}
    for statement in statements:
        if named & {statement.supplier, statement.recipient}:
            statement.denied = True


_STATUS_RANK: dict[str, tuple[int, TransferStatus]] = {
    "delivered": (3, "delivered"),
    "agreed": (2, "agreed"),
    "negotiated": (1, "negotiated"),
    "denied": (0, "denied"),
}


def _overall_status(group: list[Statement]) -> TransferStatus | None:
    """The most advanced stage any statement reports; denied only when none reports one."""
    ranked = [_STATUS_RANK[s.status] for s in group if s.status in _STATUS_RANK]
    return max(ranked)[1] if ranked else None


Pair = tuple[str | None, str | None]  # (supplier, recipient)


def _merge(statements: list[Statement]) -> list[tuple[Pair, list[Statement]]]:
    """Group statements per supplier-recipient pair, most supported first.

    A statement that names one side only is completed by the other side of an undirected
    link of its own sentence, else joins the only directed pair that shares its side, else
    is completed by the only partner the document's links give that side, else stands
    alone. A statement with a link and no side joins the directed pair of its two sides."""
    groups: dict[Pair, list[Statement]] = defaultdict(list)
    for s in statements:
        if s.supplier and s.recipient:
            groups[(s.supplier, s.recipient)].append(s)
    directed = list(groups)
    links: dict[str, set[str]] = defaultdict(set)
    for s in statements:
        if len(s.pair) == 2:
            a, b = sorted(s.pair)
            links[a].add(b)
            links[b].add(a)
    lone = _lone_pair(statements) if not directed else None
    for s in statements:
        if bool(s.supplier) != bool(s.recipient):
            groups[lone or _completed(s, directed, links)].append(s)
    for s in statements:
        if not s.supplier and not s.recipient:
            for key in list(groups):
                if key[0] and key[1] and {key[0], key[1]} == set(s.pair):
                    groups[key].append(s)
    for key, group in groups.items():
        for s in group:
            _add_sides(s, key)
    ordered = list(groups.items())
    ordered.sort(key=lambda kg: (-len({s.start for s in kg[1]}), min(s.start for s in kg[1])))
    return ordered


def _lone_pair(statements: list[Statement]) -> Pair | None:
    """A document that names one supplier in some sentences and one recipient in others,
    and no pair anywhere ("Pakistan took delivery of a submarine ... China is its main
    supplier"): the two sides of one transfer."""
    supplying = [s for s in statements if s.supplier and not s.recipient]
    receiving = [s for s in statements if s.recipient and not s.supplier]
    suppliers = {s.supplier for s in supplying}
    recipients = {s.recipient for s in receiving}
    if len(suppliers) != 1 or len(recipients) != 1 or suppliers == recipients:
        return None
    # the same kind of system on both sides, something more specific than "weapons"
    if not {c for s in supplying for c in s.mentioned} & {
        c for s in receiving for c in s.mentioned
    }:
        return None
    return (next(iter(suppliers)), next(iter(recipients)))


def _completed(s: Statement, directed: list[Pair], links: dict[str, set[str]]) -> Pair:
    side = s.supplier or s.recipient or ""
    partners = set(s.pair) - {side} if side in s.pair else set()
    if len(partners) != 1:
        matches = [k for k in directed if (k[0] if s.supplier else k[1]) == side]
        if len(matches) == 1:
            return matches[0]
        if matches:
            return (s.supplier, s.recipient)
        partners = links.get(side, set()) - {side}
    if len(partners) == 1:
        other = next(iter(partners))
        return (side, other) if s.supplier else (other, side)
    return (s.supplier, s.recipient)


def _add_sides(s: Statement, key: Pair) -> None:
    """Evidence for a side that a link gave the statement."""
    for role, party, had in (("supplier", key[0], s.supplier), ("recipient", key[1], s.recipient)):
        ev = s.pair.get(party or "")
        if ev is not None and had is None:
            s.evidence.append(ev._replace(concept=role))


def _evidence(text: str, group: list[Statement]) -> list[Evidence]:
    """Up to MAX_EVIDENCE pieces, each part shown at least once when possible: the first
    supplier, recipient, transfer, system, quantity and status, then the second of each...
    (statements that name both sides first), in text order."""
    ordered = sorted(group, key=lambda s: (not (s.supplier and s.recipient), s.start))
    seen: dict[tuple[str, int, int], Piece] = {}
    for statement in ordered:
        for ev in statement.evidence:
            seen.setdefault((ev.concept, ev.start, ev.end), ev)
    counts: dict[str, int] = defaultdict(int)
    ranked = []
    for position, ev in enumerate(seen.values()):
        ranked.append((counts[ev.concept], _EVIDENCE_RANK.get(ev.concept, 9), position, ev))
        counts[ev.concept] += 1
    chosen = [item[3] for item in sorted(ranked, key=lambda r: r[:3])[:MAX_EVIDENCE]]
    return [
        Evidence(
            concept=p.concept,
            term=text[p.start : p.end],
            start=p.start,
            end=p.end,
            sentence=sentence_snippet(text, Sentences([p.lo], [p.hi]), p.start, p.end),
        )
        for p in sorted(chosen, key=lambda p: (p.start, p.concept))
    ]


_EVIDENCE_RANK = {"supplier": 0, "recipient": 0, "status": 1, "transfer": 2, "system": 3}


def arms_topic(topics: Sequence[TopicMatch]) -> TopicMatch | None:
    """The arms_transfers match of a document, if it was tagged so."""
    return next((t for t in topics if t.id == ARMS_TOPIC), None)


__all__ = [
    "ARMS_TOPIC",
    "ArmsExtractor",
    "ArmsRules",
    "arms_topic",
    "load_arms_rules",
]
