"""MinHash signatures of an article's text, for near-duplicate detection across feeds.

The features are shingles (runs of consecutive tokens) of the folded text:
three words for languages written with spaces, four characters for those
written without (Chinese, Japanese, Thai...), where a "word" would be a whole
clause. Two texts' similarity is the Jaccard index of their shingle sets; a
signature of SIGNATURE_SIZE minimum hashes estimates it (Broder 1997), and
its BANDS bands of ROWS values each give the keys of a locality-sensitive
index: texts with Jaccard 0.8 share a band with probability 0.99, unrelated
texts (Jaccard under 0.1) practically never.

MinHash rather than a 64-bit simhash: on the corpus's real articles, a single
simhash moved by more than 7 bits for one copy in six with its last paragraph
trimmed, while unrelated articles came as close as 17 bits, so no Hamming
threshold kept both recall and precision (BENCHMARKS.md, "Near-duplicates").

Everything is derived from keyed BLAKE2b and fixed constants, so a signature
is the same in every process and every version of numpy.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

BANDS = 8
ROWS = 4
SIGNATURE_SIZE = BANDS * ROWS
# Languages written without spaces between words: their tokens are characters.
CHARACTER_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "km", "my", "bo"})
WORD_SHINGLE = 3  # words per shingle
CHARACTER_SHINGLE = 4  # characters per shingle (about two Chinese words)
# With fewer shingles than this, a text is too short for its signature to mean much.
MIN_SHINGLES = 30

# Scripts written without spaces: each character is a token even inside a text
# in another language (a Chinese name quoted in an English article).
_UNSPACED = (
    "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
)
_UNSPACED_CHAR = re.compile(f"([{_UNSPACED}])")
_NOT_WORD = re.compile(r"[^\w\s]+")  # punctuation and symbols, in any script
_CHARACTERS = re.compile(r"[^\W_]")
_KEY = b"newswire-minhash-1"
# Token hashes are memoised across documents (per process; dict access is thread-safe).
_TOKEN_CACHE: dict[str, int] = {}
_TOKEN_CACHE_MAX = 200_000
_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F), np.uint64(0x165667B19E3779F9))


def _constants(label: bytes, count: int) -> npt.NDArray[np.uint64]:
    words = [
        hashlib.blake2b(label + bytes([i]), digest_size=8, key=_KEY).digest() for i in range(count)
    ]
    return np.array([int.from_bytes(w, "little") for w in words], dtype=np.uint64)


# Hash function k of the signature: x -> (A[k] * x + B[k]) mod 2**64, upper 32 bits.
_A = _constants(b"a", SIGNATURE_SIZE) | np.uint64(1)
_B = _constants(b"b", SIGNATURE_SIZE)


@dataclass(frozen=True)
class Signature:
    """The MinHash signature of a text and the number of distinct shingles behind it."""

    values: tuple[int, ...]  # SIGNATURE_SIZE minimum hashes, 32 bits each
    shingles: int

    @property
    def usable(self) -> bool:
        return self.shingles >= MIN_SHINGLES

    def band_keys(self) -> list[int]:
        """One 64-bit key per band: equal keys mean the band's ROWS values are all equal."""
        keys = []
        for band in range(BANDS):
            rows = self.values[band * ROWS : (band + 1) * ROWS]
            data = b"".join(v.to_bytes(4, "little") for v in rows) + bytes([band])
            keys.append(int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little"))
        return keys

    def compact(self) -> bytes:
        """The low 8 bits of each value, 32 bytes: enough to estimate similarity.

        Two different values agree on 8 bits one time in 256, which lifts an
        estimate by less than 0.004: noise next to the estimate's own (about 0.09).
        """
        return bytes(v & 0xFF for v in self.values)


def tokens(text: str, language: str | None = None) -> list[str]:
    """The lower-cased tokens of `text`: characters for unspaced languages, else words.

    Lower case only, no accent folding, and punctuation dropped by one regex
    pass before str.split: copies of one text spell words alike, and this
    costs a quarter of a word regex's findall.
    """
    lowered = text.lower()
    if language in CHARACTER_LANGUAGES:
        return _CHARACTERS.findall(lowered)
    return _UNSPACED_CHAR.sub(r" \1 ", _NOT_WORD.sub(" ", lowered)).split()


def signature(text: str, language: str | None = None) -> Signature:
    """The MinHash signature of `text`'s shingles (language picks words or characters)."""
    width = CHARACTER_SHINGLE if language in CHARACTER_LANGUAGES else WORD_SHINGLE
    shingles = np.unique(shingle_hashes(tokens(text, language), width))
    if len(shingles) == 0:
        return Signature((0,) * SIGNATURE_SIZE, 0)
    # uint64 arithmetic on arrays wraps around modulo 2**64, as the hash family wants.
    hashed = (shingles[:, None] * _A[None, :] + _B[None, :]) >> np.uint64(32)
    return Signature(tuple(int(v) for v in hashed.min(axis=0)), len(shingles))


def similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity of two compact signatures (share of equal values)."""
    left = np.frombuffer(a, dtype=np.uint8)
    right = np.frombuffer(b, dtype=np.uint8)
    if len(left) != len(right) or len(left) == 0:
        return 0.0
    return float(np.count_nonzero(left == right)) / len(left)


def shingle_hashes(words: list[str], width: int) -> npt.NDArray[np.uint64]:
    """One 64-bit hash per run of `width` consecutive tokens (one run if fewer)."""
    base = _token_hashes(words)
    count = max(len(base) - width + 1, 1 if len(base) else 0)
    mixed = np.zeros(count, dtype=np.uint64)
    for offset in range(min(width, len(base))):
        # A multiplier and a rotation per position: "a b c" and "c b a" hash apart.
        mixed ^= base[offset : offset + count] * _MIX[offset % len(_MIX)]
        mixed = (mixed << np.uint64(23)) | (mixed >> np.uint64(41))
    return _finalise(mixed)


def _token_hashes(words: list[str]) -> npt.NDArray[np.uint64]:
    cache = _TOKEN_CACHE
    if len(cache) > _TOKEN_CACHE_MAX:
        cache.clear()  # crude, but words follow Zipf's law: the common ones come back at once
    for word in set(words).difference(cache):
        digest = hashlib.blake2b(word.encode(), digest_size=8, key=_KEY).digest()
        cache[word] = int.from_bytes(digest, "little")
    return np.fromiter(map(cache.__getitem__, words), dtype=np.uint64, count=len(words))


def _finalise(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64's finaliser: every input bit affects every output bit."""
    values = values ^ (values >> np.uint64(30))
    values = values * np.uint64(0xBF58476D1CE4E5B9)
    values = values ^ (values >> np.uint64(27))
    values = values * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))
