"""The compiled matcher: every term of one language, found in one pass over a text.

Topics and entities share it. Each ``Entry`` is a term (one or more word
patterns, or a CJK literal) with a ``Tag`` that says what a hit means. A
``Matcher`` is built once per language at start-up and then:

1. splits the text into words (``text.tokenize``);
2. maps every word to the entries whose *first* word it can be, through a memo
   keyed by the surface form, so a word seen before costs one dict lookup done
   in C (``map(memo.__getitem__, words)``);
3. checks the remaining words of multi-word entries only where a first word hit;
4. for Chinese and Japanese, which have no spaces, scans the text for the first
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
from itertools import compress
from typing import NamedTuple

from workers.enrichment.morph import Variants
from workers.enrichment.text import Tokens, fold

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
            if self.stem and word.startswith(self.stem):
                if self.max_extra < 0 or len(word) - len(self.stem) <= self.max_extra:
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


class Hit(NamedTuple):
    """A match in the text: character span, position in words, and meaning."""

    start: int
    end: int
    pos: int
    tag: Tag


def _case_ok(case: Case, surface: str) -> bool:
    if case is Case.ANY:
        return True
    if case is Case.TITLE:
        return surface[:1].isupper()
    return surface.isupper()


class _Memo(dict[str, tuple[Entry, ...]]):
    """surface form -> entries it can start; computed on first sight."""

    def __init__(self, matcher: Matcher) -> None:
        super().__init__()
        self._matcher = matcher

    def __missing__(self, surface: str) -> tuple[Entry, ...]:
        if len(self) >= MEMO_LIMIT:
            self.clear()
        found = self._matcher.first_word_entries(surface)
        self[surface] = found
        return found


@dataclass
class Matcher:
    """All entries of one language, indexed for a single pass over a text."""

    entries: Sequence[Entry]
    variants: Variants
    cjk_units: bool = False  # positions count characters / 2 (zh, ja) instead of words
    _exact: dict[str, list[Entry]] = field(default_factory=dict, init=False)
    _prefix: dict[str, list[Entry]] = field(default_factory=dict, init=False)
    _prefix_lengths: tuple[int, ...] = field(default=(), init=False)
    _cjk: dict[str, list[tuple[str, Entry]]] = field(default_factory=dict, init=False)
    _cjk_first: re.Pattern[str] | None = field(default=None, init=False)
    _memo: _Memo = field(init=False)
    _variant_memo: dict[str, tuple[str, ...]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        for entry in self.entries:
            self._index(entry)
        self._prefix_lengths = tuple(sorted({len(s) for s in self._prefix}, reverse=True))
        for literals in self._cjk.values():
            literals.sort(key=lambda item: len(item[0]), reverse=True)
        if self._cjk:
            chars = "".join(re.escape(ch) for ch in sorted(self._cjk))
            self._cjk_first = re.compile(f"[{chars}]")
        self._memo = _Memo(self)

    def _index(self, entry: Entry) -> None:
        if entry.literal:
            self._cjk.setdefault(entry.literal[0], []).append((entry.literal, entry))
            return
        first = entry.words[0]
        for form in first.forms:
            self._exact.setdefault(form, []).append(entry)
        if first.stem:
            self._prefix.setdefault(first.stem, []).append(entry)

    def word_variants(self, surface: str) -> tuple[str, ...]:
        found = self._variant_memo.get(surface)
        if found is None:
            if len(self._variant_memo) >= MEMO_LIMIT:
                self._variant_memo.clear()
            found = self.variants(fold(surface))
            self._variant_memo[surface] = found
        return found

    def first_word_entries(self, surface: str) -> tuple[Entry, ...]:
        """Entries whose first word pattern (and case rule) this surface form satisfies."""
        found: dict[int, Entry] = {}
        for word in self.word_variants(surface):
            for entry in self._exact.get(word, ()):
                found[id(entry)] = entry
            for length in self._prefix_lengths:
                if length <= len(word):
                    for entry in self._prefix.get(word[:length], ()):
                        if entry.words[0].matches((word,)):
                            found[id(entry)] = entry
        return tuple(e for e in found.values() if _case_ok(e.case, surface))

    def scan(self, text: str, tokens: Tokens) -> list[Hit]:
        """Every hit of every entry in `text` (overlaps included; callers resolve them)."""
        words, starts, ends = tokens.words, tokens.starts, tokens.ends
        candidates = list(map(self._memo.__getitem__, words))
        hits: list[Hit] = []
        count = len(words)
        for i in compress(range(count), candidates):
            for entry in candidates[i]:
                last = i + len(entry.words) - 1
                if last >= count or (last > i and not self._rest_matches(entry, words, i)):
                    continue
                pos = starts[i] // 2 if self.cjk_units else i
                hits.append(Hit(starts[i], ends[last], pos, entry.tag))
        if self._cjk_first is not None:
            hits.extend(self._scan_cjk(text, tokens))
        return hits

    def _rest_matches(self, entry: Entry, words: list[str], first: int) -> bool:
        upper = entry.case is Case.UPPER
        for offset, pattern in enumerate(entry.words[1:], start=1):
            surface = words[first + offset]
            if upper and not surface.isupper():
                return False
            if not pattern.matches(self.word_variants(surface)):
                return False
        return True

    def _scan_cjk(self, text: str, tokens: Tokens) -> list[Hit]:
        assert self._cjk_first is not None
        hits: list[Hit] = []
        for match in self._cjk_first.finditer(text):
            start = match.start()
            for literal, entry in self._cjk[text[start]]:
                if text.startswith(literal, start):
                    end = start + len(literal)
                    pos = start // 2 if self.cjk_units else tokens.index_at(start)
                    hits.append(Hit(start, end, pos, entry.tag))
        return hits
