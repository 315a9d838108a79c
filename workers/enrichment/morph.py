"""Language-specific word variants: the clitics and particles that stick to words.

Most inflection is handled by the data (lemma forms, stems written with ``*``,
name endings in the gazetteer). Two languages glue short grammatical words onto
the word itself, which no list of forms can cover, so the matcher also looks a
word up with them removed:

- Arabic: proclitics (و "and", ف "so", ب "with", ل "for", ك "as", the article ال
  and their combinations): والأسلحة -> الأسلحة, أسلحة.
- Korean: case and topic particles written after nouns: 북한이 -> 북한, 미사일을 -> 미사일.

Each function takes a *folded* word and returns every variant to look up, the
word itself first.
"""

from __future__ import annotations

from collections.abc import Callable

Variants = Callable[[str], tuple[str, ...]]

# Longest first, so that "وال" is tried before "و". Letters are in folded form.
_AR_PREFIXES = ("وبال", "وال", "فال", "بال", "كال", "ولل", "لل", "ال", "و", "ف", "ب", "ل", "ك")
_KO_PARTICLES = tuple(
    sorted(
        (
            "에서는", "에게서", "으로는", "으로서", "으로써", "에서도", "이라는", "에서", "에게",
            "으로", "까지", "부터", "처럼", "보다", "이나", "이라", "라는", "과의", "와의",
            "와", "과", "은", "는", "이", "가", "을", "를", "의", "에", "로", "도", "만", "께",
        ),
        key=len,
        reverse=True,
    )
)  # fmt: skip


def plain(word: str) -> tuple[str, ...]:
    """No variants: the word itself."""
    return (word,)


def arabic(word: str) -> tuple[str, ...]:
    """The word and the word without each proclitic that leaves at least two letters."""
    out = [word]
    for prefix in _AR_PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 2:
            rest = word[len(prefix) :]
            if rest not in out:
                out.append(rest)
    return tuple(out)


def korean(word: str) -> tuple[str, ...]:
    """The word and the word without its trailing particle (longest match)."""
    for particle in _KO_PARTICLES:
        if word.endswith(particle) and len(word) > len(particle):
            return (word, word[: -len(particle)])
    return (word,)


def variants_for(lang: str | None) -> Variants:
    """The variant generator of a language."""
    if lang == "ar":
        return arabic
    if lang == "ko":
        return korean
    return plain
