"""Text primitives shared by the matchers: folding, words, sentences, scripts.

Everything here is written for throughput: the per-document work is a few
C-level regex passes, and the per-word work (folding, variants) is done once per
distinct surface form and memoised by the callers.

Folding (``fold``) is what makes "Séoul", "SEOUL" and "seoul" one key: casefold,
Latin/Greek/Cyrillic accents and Arabic diacritics removed, Arabic letter
variants unified, Turkish dotless i merged with i. It keeps Hangul and kana
intact (NFKD followed by NFKC), so CJK text folds to itself.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass

# Combining marks that are accents or vowel signs, dropped by folding. U+3099/309A
# (kana voicing marks) are deliberately absent: dropping them would turn ガ into カ.
_DROP_MARKS = frozenset(
    [*range(0x0300, 0x0370), *range(0x0483, 0x048A), *range(0x064B, 0x0660), 0x0670, 0x0640]
)
_DROP_TABLE: dict[int, None] = dict.fromkeys(_DROP_MARKS)
_ARABIC_LETTERS = str.maketrans({"ى": "ي", "ة": "ه", "ı": "i", "ٱ": "ا"})

# A word: letters/digits plus the combining marks that belong inside words (accents
# written decomposed, Arabic harakat, Cyrillic titlo). Apostrophes and hyphens split
# words on purpose: "d'armes" -> d + armes, "Rusya'nın" -> Rusya + nın.
WORD_PATTERN = r"[\w\u0300-\u036F\u0483-\u0489\u064B-\u065F\u0670\u3099\u309A]+"
WORD_RE = re.compile(WORD_PATTERN)
# A word of a seed term, with an optional trailing "*" marking a stem.
TERM_WORD_RE = re.compile(f"({WORD_PATTERN})(\\*?)")

# Han ideographs, kana and the prolonged sound mark: scripts written without spaces.
CJK_CLASS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3005\u30fc"
_CJK_RE = re.compile(f"[{CJK_CLASS}]")
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile("[\u3040-\u30ff]")
_HIRAGANA = re.compile("[\u3041-\u309f]")
# A short span in brackets or quotes: a Japanese title or name quoted in Chinese text.
_QUOTED = re.compile('[《「『（(“"][^》」』）)”"]{0,40}[》」』）)”"]')
_HANGUL = re.compile("[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")

# Candidate sentence ends: end punctuation or a line break, with the closing quotes,
# brackets and space after it. One character class first keeps the regex scan fast;
# the few candidates are then judged in Python (see split_sentences).
_SENTENCE_END = re.compile("[.!?…؟。！？\n][.!?…؟。！？\n\"'”’»)\\]」』）\\s]*")
_CJK_STOPS = frozenset("。！？")
_LETTER = re.compile(r"[^\W\d_]")
_NOT_LETTERS = re.compile(r"[\W\d_]+")  # the complement of _LETTER
_ASCII_NOT_LETTERS = bytes(b for b in range(128) if not chr(b).isalpha())
_EAST_ASIAN = re.compile(f"[{CJK_CLASS}\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
MAX_SENTENCE_CHARS = 300  # evidence sentences longer than this are cut around the match


def fold(word: str) -> str:
    """Matching key of a word: lower case, no accents, unified letter variants."""
    if word.isascii():
        return word.lower()
    kept = unicodedata.normalize("NFKD", word.casefold()).translate(_DROP_TABLE)
    return unicodedata.normalize("NFKC", kept).translate(_ARABIC_LETTERS)


def has_cjk(text: str) -> bool:
    """True if `text` contains Han ideographs or kana (scripts without spaces)."""
    return _CJK_RE.search(text) is not None


def is_cjk_term(term: str) -> bool:
    """True if every word character of `term` is Han or kana."""
    letters = [ch for ch in term if not ch.isspace()]
    return bool(letters) and all(_CJK_RE.match(ch) for ch in letters)


def words_of(term: str) -> list[str]:
    """The words of a taxonomy or gazetteer term, as the matcher cuts a text."""
    return WORD_RE.findall(term)


@dataclass(frozen=True, slots=True)
class Sentences:
    """Sentence boundaries of a text: sentence i spans [starts[i], ends[i])."""

    starts: list[int]
    ends: list[int]

    def index_of(self, offset: int) -> int:
        return max(bisect_right(self.starts, offset) - 1, 0)

    def __len__(self) -> int:
        return len(self.starts)


def split_sentences(text: str) -> Sentences:
    """Sentence spans, without the surrounding space.

    A sentence ends at a line break, at a CJK full stop, or at end punctuation
    followed by space and then not by a lower-case letter: "U.S. officials" and
    "3.5 million" stay in one sentence.
    """
    if not text.strip():
        return Sentences([0], [len(text)])
    length = len(text)
    starts = [length - len(text.lstrip())]
    ends: list[int] = []
    for match in _SENTENCE_END.finditer(text):
        found = match.group()
        after = match.end()
        if "\n" in found:  # always an end: the sentence stops before the line break
            end = match.start() + len(found[: found.index("\n")].rstrip())
        else:
            kept = found.rstrip()  # found[0] is end punctuation, never space
            if (
                kept[-1] not in _CJK_STOPS
                and found[0] not in _CJK_STOPS
                and (len(kept) == len(found) or (after < length and text[after].islower()))
            ):
                continue
            end = match.start() + len(kept)
        if after >= length:
            break
        ends.append(end)
        starts.append(after)
    ends.append(len(text.rstrip()))
    return Sentences(starts, ends)


def sentence_snippet(text: str, sentences: Sentences, start: int, end: int) -> str:
    """The sentence around text[start:end], cut to MAX_SENTENCE_CHARS around the match.

    Always an exact substring of `text` that contains the match.
    """
    i = sentences.index_of(start)
    lo, hi = sentences.starts[i], max(sentences.ends[i], end)
    lo = min(lo, start)
    if hi - lo > MAX_SENTENCE_CHARS:
        half = (MAX_SENTENCE_CHARS - (end - start)) // 2
        lo = max(lo, start - max(half, 0))
        hi = min(hi, max(end + max(half, 0), lo + MAX_SENTENCE_CHARS))
    return text[lo:hi]


@dataclass(frozen=True, slots=True)
class ScriptCounts:
    """How many characters of each script family a sample holds."""

    han: int
    kana: int
    hangul: int
    letters: int
    # Hiragana outside brackets and quotes: Japanese particles and endings, which Chinese
    # text never has (it may quote a Japanese title: 《君の名は。》).
    hiragana: int = 0


def count_scripts(sample: str) -> ScriptCounts:
    """Counts used to tell Chinese, Japanese and Korean apart by script."""
    if sample.isascii():  # most samples: letters are a-z, A-Z, counted in C
        return ScriptCounts(0, 0, 0, len(sample.encode().translate(None, _ASCII_NOT_LETTERS)))
    if _EAST_ASIAN.search(sample) is None:
        return ScriptCounts(0, 0, 0, len(_NOT_LETTERS.sub("", sample)))
    return ScriptCounts(
        han=len(_HAN.findall(sample)),
        kana=len(_KANA.findall(sample)),
        hiragana=len(_HIRAGANA.findall(_QUOTED.sub("", sample))),
        hangul=len(_HANGUL.findall(sample)),
        letters=len(_LETTER.findall(sample)),
    )
