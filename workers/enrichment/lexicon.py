"""The compiled matcher: every term of one language, found in one pass over a text.

Topics and entities share it. Each ``Entry`` is a term (one or more word
patterns, or a CJK literal) with a ``Tag`` that says what a hit means. A
``Matcher`` is built once per language at start-up and then:

1. cuts the text at spaces (``str.split``) and maps every piece to the entries
   its words can start, through memos keyed by the piece and by the word, so a
   piece seen before costs one dict lookup done in C (``map(memo.__getitem__, ...)``).
   The memos live as long as the worker (bounded, see ``_Memo``); a new document
   still brings a hundred or more unseen pieces (names, numbers, compounds,
   punctuation), learnt together in C-level passes (``_learn_pieces``);
2. checks the following words of multi-word entries only where a first word hit,
   through a second-word index that discards most candidates at once;
3. for Chinese and Japanese, which have no spaces, scans the text for the first
   characters of its CJK literals (one character-class regex) and compares the
   literal there.

A word pattern is either a set of exact folded forms (a lemma and its
inflections, or a single form), a prefix (a stem, optionally with a bound on
how many characters may follow it, which is how names inflect in Russian), or a
compound head: forms that may also end a longer word, which is how German
builds its nouns (Waffe -> Handfeuerwaffe, Panzerabwehrwaffen).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from itertools import chain, compress, filterfalse
from operator import itemgetter, methodcaller, not_, or_
from typing import Any, Generic, NamedTuple, TypeVar, cast

from workers.enrichment.morph import Variants, plain
from workers.enrichment.text import WORD_RE, fold

MEMO_LIMIT = 100_000  # distinct surface forms per memo and generation (see _Memo)
# Letters a compound needs before its head: "Luftabwehr" + "rakete", "Rad" + "panzer".
MIN_COMPOUND_PREFIX = 3


class Case(IntEnum):
    """What the surface form of a hit must look like."""

    ANY = 0
    TITLE = 1  # first letter upper case: proper names ("Turkey", not "turkey")
    UPPER = 2  # every letter upper case: acronyms ("US", not "us")


def case_of(written: str, *, allow_title: bool) -> Case:
    """The case rule implied by how a term is written in the seed file."""
    letters = [ch for ch in written if ch.isalpha()]
    if len(letters) >= 2 and all(ch.isupper() for ch in letters):
        return Case.UPPER
    if allow_title and letters and letters[0].isupper():
        return Case.TITLE
    return Case.ANY


@dataclass(frozen=True, slots=True)
class WordPattern:
    """One word of a term: exact folded forms, or a folded stem; ``heads`` are forms
    that also match at the end of a compound (see MIN_COMPOUND_PREFIX)."""

    forms: frozenset[str] = frozenset()
    stem: str = ""
    max_extra: int = -1  # for stems: most characters after the stem, -1 = any
    heads: frozenset[str] = frozenset()

    def matches(self, variants: Iterable[str]) -> bool:
        for word in variants:
            if word in self.forms:
                return True
            if (
                self.stem
                and word.startswith(self.stem)
                and (self.max_extra < 0 or len(word) - len(self.stem) <= self.max_extra)
            ):
                return True
            if self.heads and _compound_of(word, self.heads):
                return True
        return False


def _compound_of(word: str, heads: frozenset[str]) -> bool:
    """True if `word` is a head form with at least MIN_COMPOUND_PREFIX letters before it."""
    return any(
        word.endswith(head) and len(word) - len(head) >= MIN_COMPOUND_PREFIX for head in heads
    )


@dataclass(frozen=True, slots=True)
class Tag:
    """What a hit means: a layer (a topic id, or "entity"), a kind and a key."""

    layer: str
    kind: str
    key: str
    flag: bool = False  # entities: an ambiguous country name, or a person's short name


@dataclass(frozen=True, slots=True, eq=False)
class Entry:
    """A term to find: word patterns (or a CJK literal), a case rule and its tag."""

    words: tuple[WordPattern, ...]
    tag: Tag
    case: Case = Case.ANY
    literal: str = ""  # non-empty for CJK substring terms
    extra: int = field(init=False, default=0)  # number of words after the first

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", max(len(self.words) - 1, 0))


class Hit(NamedTuple):
    """A match in the text: character span, position in words, and meaning."""

    start: int
    end: int
    pos: int
    tag: Tag


# NamedTuple's generated __new__ is Python code; building through tuple.__new__ halves
# the cost of the thousands of hits a long document produces.
_new_hit = tuple.__new__


def _case_ok(case: Case, surface: str) -> bool:
    if case is Case.ANY:
        return True
    if case is Case.TITLE:
        return surface[:1].isupper()
    return surface.isupper()


class _WordIndex:
    """Entries by the pattern of one of their words: exact forms in a dict, stems in
    buckets keyed by their first two letters (stems are at least two letters long),
    compound heads in a dict probed with each word's endings of the lengths they have."""

    def __init__(self) -> None:
        self.exact: dict[str, list[Entry]] = {}
        self.stems: dict[str, list[tuple[str, Entry]]] = {}
        # A quick filter: the first three letters of the stems (two for two-letter stems).
        self.heads: set[str] = set()
        self.tails: dict[str, list[Entry]] = {}  # compound head form -> entries
        self.tail_lengths: tuple[int, ...] = ()

    def add(self, pattern: WordPattern, entry: Entry) -> None:
        for form in pattern.forms:
            self.exact.setdefault(form, []).append(entry)
        if pattern.stem:
            self.stems.setdefault(pattern.stem[:2], []).append((pattern.stem, entry))
            self.heads.add(pattern.stem[:3])
        for form in pattern.heads:
            self.tails.setdefault(form, []).append(entry)
        self.tail_lengths = tuple(sorted({len(form) for form in self.tails}))

    def may_hold(self, word: str) -> bool:
        """False when no entry can match `word` (the usual answer, found quickly)."""
        return (
            word in self.exact
            or word[:3] in self.heads
            or word[:2] in self.heads
            or (bool(self.tails) and self._has_tail(word))
        )

    def _has_tail(self, word: str) -> bool:
        tails, size = self.tails, len(word)
        return any(word[-n:] in tails for n in self.tail_lengths if size - n >= MIN_COMPOUND_PREFIX)

    def tail_filter(self, keys: list[str]) -> list[bool]:
        """may_hold's compound-head part for many words, in C-level passes."""
        found = [False] * len(keys)
        for n in self.tail_lengths:
            ends = map(itemgetter(slice(-n, None)), keys)
            found = list(map(or_, found, map(self.tails.__contains__, ends)))
        return found

    def lookup(self, variants: tuple[str, ...], position: int) -> dict[int, Entry]:
        """Entries whose word at `position` (the one indexed) matches one of the variants."""
        found: dict[int, Entry] = {}
        for word in variants:
            for entry in self.exact.get(word, ()):
                found[id(entry)] = entry
            for stem, entry in self.stems.get(word[:2], ()):
                if word.startswith(stem) and entry.words[position].matches((word,)):
                    found[id(entry)] = entry
            if self.tails:
                size = len(word)
                for n in self.tail_lengths:
                    if size - n >= MIN_COMPOUND_PREFIX:
                        for entry in self.tails.get(word[-n:], ()):
                            found[id(entry)] = entry
        return found


# What a surface form can start: entries of one word that it completes, entries of
# several words whose first word it is, and the most words after the first that those
# need. None when it starts nothing (most words).
Starts = tuple[tuple[Entry, ...], frozenset[Entry], int] | None

# A word of a piece of text that starts something: (offset in the piece, end in the
# piece, one-word entries, longer entries, most extra words, next word in the piece or "")
PieceStart = tuple[int, int, tuple[Entry, ...], frozenset[Entry], int, str]
# The words of a piece: (word, offset in the piece, end in the piece)
PieceWord = tuple[str, int, int]

_V = TypeVar("_V")
_UNSEEN: Any = object()  # "not in the memo", distinct from None ("starts nothing")


class _Generation(dict[str, _V]):
    """A dict whose failed lookups (``[]``) return _UNSEEN and are listed in ``misses``:
    a scan maps ``__getitem__`` over every piece in C, and learns only the misses."""

    def __init__(self) -> None:
        super().__init__()
        self.misses: list[str] = []

    def __missing__(self, key: str) -> _V:
        self.misses.append(key)
        return cast(_V, _UNSEEN)


class _Memo(Generic[_V]):
    """key -> compute(key), remembered across documents (a worker sees millions).

    A hit is one lookup in ``young``, which callers make in C (``map(young.__getitem__,
    ...)``), then they ``learn`` the misses. Bounded by two generations, an approximate
    LRU: when ``young`` holds ``limit`` keys it becomes the old generation and a new one
    starts; a key found in the old generation moves back without being computed again;
    the generation before is dropped. Values depend on the key alone, so forgetting
    never changes a result.
    """

    __slots__ = ("_compute", "_limit", "_old", "young")

    def __init__(self, compute: Callable[[str], _V], limit: int = MEMO_LIMIT) -> None:
        self.young: _Generation[_V] = _Generation()
        self._old: dict[str, _V] = {}
        self._compute = compute
        self._limit = limit

    def _new_generation(self) -> None:
        self._old, self.young = self.young, _Generation()

    def get(self, key: str) -> _V:
        value = self.young.get(key, _UNSEEN)
        return self.learn(key) if value is _UNSEEN else cast(_V, value)

    def learn(self, key: str) -> _V:
        kept = self._old.get(key, _UNSEEN)
        value: _V = self._compute(key) if kept is _UNSEEN else kept
        if len(self.young) >= self._limit:
            self._new_generation()
        self.young[key] = value
        return value

    def absent(self, keys: Iterable[str]) -> list[str]:
        """The distinct `keys` that ``young`` lacks, once those of the old generation
        are moved back and room is made: the caller computes them and calls ``add``,
        after which every key is in ``young``."""
        distinct = dict.fromkeys(keys)
        wanted = list(filterfalse(self.young.__contains__, distinct))
        if len(self.young) + len(wanted) > self._limit:
            self._new_generation()
            wanted = list(distinct)
        old = self._old
        if old and wanted:
            back = list(filter(old.__contains__, wanted))
            if back:
                self.young.update(zip(back, map(old.__getitem__, back), strict=True))
                wanted = list(filterfalse(old.__contains__, wanted))
        return wanted

    def add(self, keys: list[str], values: Iterable[_V]) -> None:
        self.young.update(zip(keys, values, strict=True))

    def __len__(self) -> int:
        return len(self.young)


# Punctuation around a word ("(arms," "„Waffen“"): characters that WORD_RE never
# takes, so stripping them off a piece leaves its one word when there is only one.
_PUNCTUATION = "".join(
    ch for ch in "\"'()[]{}<>«»‹›„“”‘’‚.,;:!?¡¿…-‐–—/\\|*•·\n\r\t\xa0" if not WORD_RE.match(ch)
)
_strip_punctuation = methodcaller("strip", _PUNCTUATION)
_HEAD2 = itemgetter(slice(None, 2))
_HEAD3 = itemgetter(slice(None, 3))


def _words_of_piece(piece: str) -> tuple[PieceWord, ...]:
    """The words of a piece of text (between two spaces), with their offsets in it."""
    if piece.isalnum():  # most pieces: one plain word (isalnum implies WORD_RE's \w)
        return ((piece, 0, len(piece)),)
    return tuple((m.group(), m.start(), m.end()) for m in WORD_RE.finditer(piece))


def _first_word(piece: str) -> str:
    """The first word of a piece of text, or "" if it has none."""
    if piece.isalnum():
        return piece
    match = WORD_RE.search(piece)
    return match.group() if match else ""


@dataclass
class Matcher:
    """All entries of one language, indexed for a single pass over a text."""

    entries: Sequence[Entry]
    variants: Variants
    cjk_units: bool = False  # positions count characters / 2 (zh, ja) instead of words
    _first: _WordIndex = field(default_factory=_WordIndex, init=False)
    _second: _WordIndex = field(default_factory=_WordIndex, init=False)
    _cjk: dict[str, list[tuple[str, Entry]]] = field(default_factory=dict, init=False)
    _cjk_first: re.Pattern[str] | None = field(default=None, init=False)
    _words: _Memo[Starts] = field(init=False)
    _pieces: _Memo[tuple[PieceStart, ...] | None] = field(init=False)
    _seconds: _Memo[frozenset[Entry]] = field(init=False)

    def __post_init__(self) -> None:
        for entry in self.entries:
            if entry.literal:
                self._cjk.setdefault(entry.literal[0], []).append((entry.literal, entry))
                continue
            self._first.add(entry.words[0], entry)
            if entry.extra:
                self._second.add(entry.words[1], entry)
        for literals in self._cjk.values():
            literals.sort(key=lambda item: len(item[0]), reverse=True)
        if self._cjk:
            chars = "".join(re.escape(ch) for ch in sorted(self._cjk))
            self._cjk_first = re.compile(f"[{chars}]")
        self._words = _Memo(self.starts_of)
        self._pieces = _Memo(self.piece_starts)
        self._seconds = _Memo(self.seconds_of)

    def word_variants(self, surface: str) -> tuple[str, ...]:
        return self.variants(fold(surface))

    def starts_of(self, surface: str) -> Starts:
        """Entries this surface form can start: one-word ones, longer ones, most extra words."""
        # Most words start nothing: say so after a few set probes, allocating nothing.
        key = surface.lower() if surface.isascii() else fold(surface)
        if self.variants is plain:
            if not self._first.may_hold(key):
                return None
            return self._starts(surface, (key,))
        variants = self.variants(key)
        if not any(map(self._first.may_hold, variants)):
            return None
        return self._starts(surface, variants)

    def _starts(self, surface: str, variants: tuple[str, ...]) -> Starts:
        found = self._first.lookup(variants, 0)
        usable = [e for e in found.values() if _case_ok(e.case, surface)]
        if not usable:
            return None
        singles = tuple(e for e in usable if not e.extra)
        multis = frozenset(e for e in usable if e.extra)
        return singles, multis, max((e.extra for e in multis), default=0)

    def seconds_of(self, surface: str) -> frozenset[Entry]:
        return frozenset(self._second.lookup(self.word_variants(surface), 1).values())

    def piece_starts(self, piece: str) -> tuple[PieceStart, ...] | None:
        """The words of a piece of text that start something, or None (most pieces)."""
        if piece.isalnum():
            starts = self._words.get(piece)
            if starts is None:
                return None
            return ((0, len(piece), starts[0], starts[1], starts[2], ""),)
        out = []
        words = _words_of_piece(piece)
        for index, (word, start, end) in enumerate(words):
            found = self._words.get(word)
            if found is not None:
                after = words[index + 1][0] if index + 1 < len(words) else ""
                out.append((start, end, found[0], found[1], found[2], after))
        return tuple(out) or None

    def _learn_pieces(self, pieces: list[str]) -> None:
        """Learn what unseen pieces of text start. A worker meets a hundred or more in
        each new document (names, numbers, compounds, words with punctuation), so
        the passes over them run in C (map, filter, compress), with Python code only
        for the few that start something and for pieces of several words."""
        pieces = self._pieces.absent(pieces)
        if not pieces:
            return
        plain = list(filter(str.isalnum, pieces))  # one word: "arms"
        others = list(filterfalse(str.isalnum, pieces))
        cores = list(map(_strip_punctuation, others))
        simple = list(map(str.isalnum, cores))  # one word in punctuation: "(arms,"
        wrapped, words = list(compress(others, simple)), list(compress(cores, simple))
        tangled = list(compress(others, map(not_, simple)))  # anything else: "U.S.-made"
        tangled_words = list(map(WORD_RE.findall, tangled))
        self._learn_words(chain(plain, words, chain.from_iterable(tangled_words)))
        starts_of = self._words.young.__getitem__  # every word above is in it now
        for pieces_, words_ in ((plain, plain), (wrapped, words)):
            found = list(map(starts_of, words_))  # mostly None: starts nothing
            values: list[tuple[PieceStart, ...] | None] = [None] * len(found)
            for i in compress(range(len(found)), found):
                singles, multis, longest = found[i]  # type: ignore[misc]  # not None here
                lead = pieces_[i].index(words_[i])
                values[i] = ((lead, lead + len(words_[i]), singles, multis, longest, ""),)
            self._pieces.add(pieces_, values)
        starters = [any(map(starts_of, found)) for found in tangled_words]
        values = [
            self.piece_starts(p) if s else None for p, s in zip(tangled, starters, strict=True)
        ]
        self._pieces.add(tangled, values)

    def _learn_words(self, surfaces: Iterable[str]) -> None:
        """Learn what unseen words start, with C-level passes for the many that start
        nothing (see may_hold)."""
        words = self._words.absent(surfaces)
        if not words:
            return
        keys = list(map(str.lower, words))  # fold() of ASCII words; the others below
        for i in compress(range(len(words)), map(not_, map(str.isascii, words))):
            keys[i] = fold(words[i])
        values: list[Starts] = [None] * len(words)
        first = self._first
        if self.variants is plain:
            exact, heads = first.exact.__contains__, first.heads.__contains__
            may_hold = map(or_, map(exact, keys), map(heads, map(_HEAD3, keys)))
            may_hold = map(or_, may_hold, map(heads, map(_HEAD2, keys)))
            if first.tails:  # German: also words that end with a compound head
                may_hold = map(or_, may_hold, first.tail_filter(keys))
            for i in compress(range(len(words)), may_hold):
                values[i] = self._starts(words[i], (keys[i],))
        else:
            for i, key in enumerate(keys):
                variants = self.variants(key)
                if any(map(first.may_hold, variants)):
                    values[i] = self._starts(words[i], variants)
        self._words.add(words, values)

    def scan(self, text: str) -> list[Hit]:
        """Every hit of every entry in `text` (overlaps included; callers resolve them).

        The text is cut at spaces (``str.split``, in C) and each distinct piece is
        analysed once per process: most pieces are one plain word that starts nothing.
        A hit's ``pos`` is the index of its piece (about one word per piece).
        """
        pieces = text.split(" ")
        young = self._pieces.young
        found = list(map(young.__getitem__, pieces))  # in C; _UNSEEN where missed
        if young.misses:  # learnt now; _scan_pieces picks their values up
            misses, young.misses = young.misses, []
            self._learn_pieces(misses)
        hits: list[Hit] = []
        if any(found):
            self._scan_pieces(pieces, found, hits)
        if self._cjk_first is not None:
            hits.extend(self._scan_cjk(text))
        return hits

    def _scan_pieces(
        self, pieces: list[str], found: list[tuple[PieceStart, ...] | None], hits: list[Hit]
    ) -> None:
        add = hits.append
        cjk_units = self.cjk_units
        seconds, known_seconds = self._seconds, self._seconds.young.get
        learned = self._pieces.young  # holds every piece of the text (see scan)
        count = len(pieces)
        offset = last = 0  # offset in the text of piece `last`, advanced only when needed
        for i in compress(range(count), found):
            starts = found[i]
            if starts is _UNSEEN:
                starts = learned[pieces[i]]
            if starts is None:
                continue
            base = -1
            for start, end, singles, multis, longest, after in starts:
                candidates = None
                if multis:
                    # Cheap gate first: most candidates die on the second word.
                    second = after
                    if not second and i + 1 < count:
                        second = pieces[i + 1]
                        if not second.isalnum():
                            second = self._first_word_after(pieces, i + 1)
                    if second:
                        entries = known_seconds(second)
                        if entries is None:
                            entries = seconds.get(second)
                        if entries and not multis.isdisjoint(entries):
                            candidates = multis & entries
                if not singles and not candidates:
                    continue
                if base < 0:  # pieces are joined by one space each
                    offset += sum(map(len, pieces[last:i])) + i - last
                    last = i
                    base = offset
                begin = base + start
                pos = begin // 2 if cjk_units else i
                for entry in singles:
                    add(_new_hit(Hit, (begin, base + end, pos, entry.tag)))
                if not candidates:
                    continue
                following = self._following(pieces, base, i, start, longest)
                for entry in candidates:
                    extra = entry.extra
                    if len(following) >= extra and self._rest_matches(entry, following):
                        add(_new_hit(Hit, (begin, following[extra - 1][1], pos, entry.tag)))

    @staticmethod
    def _first_word_after(pieces: list[str], index: int) -> str:
        """The first word of the first piece from `index` on that has one ("" at the end)."""
        while index < len(pieces):
            word = _first_word(pieces[index])
            if word:
                return word
            index += 1
        return ""

    @staticmethod
    def _following(
        pieces: list[str], base: int, index: int, after: int, count: int
    ) -> list[tuple[str, int]]:
        """Up to `count` words after the word at offset `after` of piece `index`, which
        starts at `base` in the text: (surface, end offset in the text)."""
        out: list[tuple[str, int]] = []
        while index < len(pieces) and len(out) < count:
            for word, start, end in _words_of_piece(pieces[index]):
                if start > after:
                    out.append((word, base + end))
                    if len(out) == count:
                        break
            base += len(pieces[index]) + 1
            index += 1
            after = -1
        return out

    def _rest_matches(self, entry: Entry, following: list[tuple[str, int]]) -> bool:
        upper = entry.case is Case.UPPER
        for pattern, (surface, _) in zip(entry.words[1:], following, strict=False):
            if upper and not surface.isupper():
                return False
            if not pattern.matches(self.word_variants(surface)):
                return False
        return True

    def _scan_cjk(self, text: str) -> list[Hit]:
        assert self._cjk_first is not None
        hits: list[Hit] = []
        for match in self._cjk_first.finditer(text):
            start = match.start()
            for literal, entry in self._cjk[text[start]]:
                if text.startswith(literal, start):
                    hits.append(Hit(start, start + len(literal), start // 2, entry.tag))
        return hits
