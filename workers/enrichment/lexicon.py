"""The compiled matcher: every term of one language, found in one pass over a text.

Topics and entities share it. Each ``Entry`` is a term (one or more word
patterns, or a CJK literal) with a ``Tag`` that says what a hit means. A
``Matcher`` is built once per language at start-up and then:

1. cuts the text at spaces (``str.split``) and maps every piece to the entries
   its words can start, through memos keyed by the piece and by the word, so a
   piece seen before costs one dict lookup done in C (``map(memo.__getitem__, ...)``);
2. checks the following words of multi-word entries only where a first word hit,
   through a second-word index that discards most candidates at once;
3. for Chinese and Japanese, which have no spaces, scans the text for the first
   characters of its CJK literals (one character-class regex) and compares the
   literal there.

A word pattern is either a set of exact folded forms (a lemma and its
inflections, or a single form) or a prefix (a stem, optionally with a bound on
how many characters may follow it, which is how names inflect in Russian).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from itertools import accumulate, compress
from typing import NamedTuple

from workers.enrichment.morph import Variants
from workers.enrichment.text import WORD_RE, fold

MEMO_LIMIT = 200_000  # distinct surface forms remembered per language before a reset


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
    """One word of a term: exact folded forms, or a folded stem."""

    forms: frozenset[str] = frozenset()
    stem: str = ""
    max_extra: int = -1  # for stems: most characters after the stem, -1 = any

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
        return False


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
    buckets keyed by their first two letters (stems are at least two letters long)."""

    def __init__(self) -> None:
        self.exact: dict[str, list[Entry]] = {}
        self.stems: dict[str, list[tuple[str, Entry]]] = {}

    def add(self, pattern: WordPattern, entry: Entry) -> None:
        for form in pattern.forms:
            self.exact.setdefault(form, []).append(entry)
        if pattern.stem:
            self.stems.setdefault(pattern.stem[:2], []).append((pattern.stem, entry))

    def lookup(self, variants: tuple[str, ...], position: int) -> dict[int, Entry]:
        """Entries whose word at `position` (the one indexed) matches one of the variants."""
        found: dict[int, Entry] = {}
        for word in variants:
            for entry in self.exact.get(word, ()):
                found[id(entry)] = entry
            for stem, entry in self.stems.get(word[:2], ()):
                if word.startswith(stem) and entry.words[position].matches((word,)):
                    found[id(entry)] = entry
        return found


# What a surface form can start: entries of one word that it completes, and entries of
# several words whose first word it is. None when it starts nothing (most words).
Starts = tuple[tuple[Entry, ...], frozenset[Entry]] | None

# A word of a piece of text that starts something: (offset in the piece, end in the
# piece, one-word entries, longer entries, most extra words, next word in the piece or "")
PieceStart = tuple[int, int, tuple[Entry, ...], frozenset[Entry], int, str]
# The words of a piece: (word, offset in the piece, end in the piece)
PieceWord = tuple[str, int, int]


class _Memo(dict[str, Starts]):
    """surface form -> what it can start; computed on first sight."""

    def __init__(self, matcher: Matcher) -> None:
        super().__init__()
        self._matcher = matcher

    def __missing__(self, surface: str) -> Starts:
        if len(self) >= MEMO_LIMIT:
            self.clear()
        found = self._matcher.starts_of(surface)
        self[surface] = found
        return found


class _PieceMemo(dict[str, tuple[PieceStart, ...] | None]):
    """piece of text between two spaces -> its words that start something (None: none)."""

    def __init__(self, matcher: Matcher) -> None:
        super().__init__()
        self._matcher = matcher

    def __missing__(self, piece: str) -> tuple[PieceStart, ...] | None:
        if len(self) >= MEMO_LIMIT:
            self.clear()
        found = self._matcher.piece_starts(piece)
        self[piece] = found
        return found


class _SecondMemo(dict[str, frozenset[Entry]]):
    """surface form -> entries of several words whose second word it matches."""

    def __init__(self, matcher: Matcher) -> None:
        super().__init__()
        self._matcher = matcher

    def __missing__(self, surface: str) -> frozenset[Entry]:
        if len(self) >= MEMO_LIMIT:
            self.clear()
        found = self._matcher.seconds_of(surface)
        self[surface] = found
        return found


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
    _memo: _Memo = field(init=False)
    _pieces: _PieceMemo = field(init=False)
    _piece_words: dict[str, tuple[PieceWord, ...]] = field(default_factory=dict, init=False)
    _second_memo: _SecondMemo = field(init=False)
    _variant_memo: dict[str, tuple[str, ...]] = field(default_factory=dict, init=False)

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
        self._memo = _Memo(self)
        self._pieces = _PieceMemo(self)
        self._second_memo = _SecondMemo(self)

    def word_variants(self, surface: str) -> tuple[str, ...]:
        found = self._variant_memo.get(surface)
        if found is None:
            if len(self._variant_memo) >= MEMO_LIMIT:
                self._variant_memo.clear()
            found = self.variants(fold(surface))
            self._variant_memo[surface] = found
        return found

    def starts_of(self, surface: str) -> Starts:
        """Entries this surface form can start, split into one-word and longer ones."""
        found = self._first.lookup(self.word_variants(surface), 0)
        usable = [e for e in found.values() if _case_ok(e.case, surface)]
        if not usable:
            return None
        singles = tuple(e for e in usable if not e.extra)
        return singles, frozenset(e for e in usable if e.extra)

    def seconds_of(self, surface: str) -> frozenset[Entry]:
        return frozenset(self._second.lookup(self.word_variants(surface), 1).values())

    def words_of_piece(self, piece: str) -> tuple[PieceWord, ...]:
        found = self._piece_words.get(piece)
        if found is None:
            if len(self._piece_words) >= MEMO_LIMIT:
                self._piece_words.clear()
            if piece.isalnum():  # most pieces: one plain word
                found = ((piece, 0, len(piece)),)
            else:
                found = tuple((m.group(), m.start(), m.end()) for m in WORD_RE.finditer(piece))
            self._piece_words[piece] = found
        return found

    def piece_starts(self, piece: str) -> tuple[PieceStart, ...] | None:
        out = []
        words = self.words_of_piece(piece)
        for index, (word, start, end) in enumerate(words):
            starts = self._memo[word]
            if starts is not None:
                singles, multis = starts
                longest = max((e.extra for e in multis), default=0)
                after = words[index + 1][0] if index + 1 < len(words) else ""
                out.append((start, end, singles, multis, longest, after))
        return tuple(out) or None

    def scan(self, text: str) -> list[Hit]:
        """Every hit of every entry in `text` (overlaps included; callers resolve them).

        The text is cut at spaces (``str.split``, in C) and each distinct piece is
        analysed once per process: most pieces are one plain word that starts nothing.
        A hit's ``pos`` is the index of its piece (about one word per piece).
        """
        pieces = text.split(" ")
        found = list(map(self._pieces.__getitem__, pieces))
        hits: list[Hit] = []
        if any(found):
            self._scan_pieces(pieces, found, hits)
        if self._cjk_first is not None:
            hits.extend(self._scan_cjk(text))
        return hits

    def _scan_pieces(
        self, pieces: list[str], found: list[tuple[PieceStart, ...] | None], hits: list[Hit]
    ) -> None:
        ends = list(accumulate(map(len, pieces)))  # piece i starts at ends[i] - len + i
        add = hits.append
        cjk_units = self.cjk_units
        seconds = self._second_memo
        count = len(pieces)
        for i in compress(range(count), found):
            base = ends[i] - len(pieces[i]) + i
            # found[i] is not None here: compress skipped the pieces that start nothing
            for start, end, singles, multis, longest, after in found[i]:  # type: ignore[union-attr]
                begin = base + start
                pos = begin // 2 if cjk_units else i
                for entry in singles:
                    add(_new_hit(Hit, (begin, base + end, pos, entry.tag)))
                if not multis:
                    continue
                # Cheap gate first: most candidates die on the second word.
                second = after or self._first_word_after(pieces, i + 1)
                if not second:
                    continue
                candidates = multis & seconds[second]
                if not candidates:
                    continue
                following = self._following(pieces, ends, i, start, longest)
                for entry in candidates:
                    extra = entry.extra
                    if len(following) >= extra and self._rest_matches(entry, following):
                        add(_new_hit(Hit, (begin, following[extra - 1][1], pos, entry.tag)))

    def _first_word_after(self, pieces: list[str], index: int) -> str:
        """The first word of the first piece from `index` on that has one ("" at the end)."""
        while index < len(pieces):
            words = self.words_of_piece(pieces[index])
            if words:
                return words[0][0]
            index += 1
        return ""

    def _following(
        self, pieces: list[str], ends: list[int], index: int, after: int, count: int
    ) -> list[tuple[str, int]]:
        """Up to `count` words after the word at offset `after` of piece `index`:
        (surface, end offset in the text)."""
        out: list[tuple[str, int]] = []
        while index < len(pieces) and len(out) < count:
            base = ends[index] - len(pieces[index]) + index
            for word, start, end in self.words_of_piece(pieces[index]):
                if start > after:
                    out.append((word, base + end))
                    if len(out) == count:
                        break
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
