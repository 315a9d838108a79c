"""Offline language identification, reconciled with the declared languages.

The detector is py3langid (a naive Bayes model over byte n-grams, shipped with
the package) restricted to ``DETECTOR_LANGUAGES``: the 14 languages Newswire
tags plus the neighbours they are most often confused with, so that Catalan
or Galician text is not forced into Spanish. Its normalised probabilities are
the confidence. It reads the first ``QUICK_CHARS`` characters (the title is put
first), and longer samples only when that look is not conclusive: the cost is
bounded (at most ``LARGE_SAMPLE_CHARS``), whatever the length of the text.
``_NaiveBayes`` scores exactly as py3langid does (same automaton walk, same
probabilities, which a test compares) at half the cost on a short sample.

Chinese, Japanese and Korean are also told apart by script: Hangul means
Korean; Han with kana (a tenth of the Han and kana, or hiragana particles outside
quotes in kanji-heavy text) means Japanese; Han with no more kana than a quoted
Japanese name means Chinese.

Reconciliation with the HTML ``lang`` attribute and the feed's language (both
reduced to their primary subtag, "fr-FR" -> "fr"; common mistakes such as "jp"
or "ua" corrected):

1. Too little text (fewer than ``MIN_LETTERS`` letters): the HTML language, else
   the feed's (source "html"/"feed", confidence ``PRIOR``), else none ("default").
2. The detector is confident (``CONFIDENT``): the text wins. If a declared language
   agrees, the source is "text+html"/"text+feed" and the remaining doubt shrinks.
3. Otherwise a declared language that the detector finds plausible (probability at
   least ``PLAUSIBLE``) wins, HTML before feed (source "text+html"/"text+feed"),
   its confidence combining the detector's probability with the declaration's prior.
4. Otherwise the detector's best guess, with its (low) probability (source "text").
"""

from __future__ import annotations

import math
import re
import unicodedata
from array import array
from collections import Counter
from operator import itemgetter

import numpy as np
import numpy.typing as npt

from schemas.enrichment import LanguageInfo, LanguageSource
from workers.enrichment.text import ScriptCounts, count_scripts

SUPPORTED = ("en", "fr", "de", "es", "it", "pt", "ru", "uk", "ar", "zh", "ja", "ko", "pl", "tr")
# fmt: off
DETECTOR_LANGUAGES = (
    *SUPPORTED,
    # neighbours the 14 are confused with, and other common languages of the press
    "nl", "ca", "gl", "ro", "sv", "da", "no", "fi", "cs", "sk", "sl", "hr", "sr", "bs", "bg",
    "el", "hu", "lt", "lv", "et", "he", "fa", "ur", "hi", "id", "ms", "vi", "th", "be", "mk",
    "sq", "af", "eu", "cy", "ga", "is", "mt", "sw", "tl", "az", "kk", "ky", "uz", "tg", "mn",
    # scripts of their own: named rightly rather than forced into a neighbour
    "hy", "ka", "am", "bn", "ta", "te", "ml", "kn", "gu", "pa", "mr", "ne", "si", "my", "km",
    "lo", "ps", "ku",
)
# fmt: on
QUICK_CHARS = 160  # first look: enough for most news text (the walk costs ~0.5 µs a byte)
QUICK_ACCEPT = 0.99  # the quick look decides when it is this sure...
SAMPLE_CHARS = 800  # ...otherwise a longer one, which decides when at least CONFIDENT...
LARGE_SAMPLE_CHARS = 2000  # ...or else a long one (mixed-language text, lists, tables)
MIN_LETTERS = 20
CONFIDENT = 0.90
PLAUSIBLE = 0.05
PRIOR = {"html": 0.6, "feed": 0.5}  # how much a declared language is worth on its own
SCRIPT_CONFIDENCE = 0.97

_TAG_FIXES = {
    "iw": "he", "in": "id", "ji": "yi", "jp": "ja", "ua": "uk", "cn": "zh", "kr": "ko",
    "gr": "el", "cz": "cs", "dk": "da", "nb": "no", "nn": "no", "zh_cn": "zh",
}  # fmt: skip
_PRIMARY = re.compile(r"^[a-z]{2,3}$")


def normalise_tag(tag: str | None) -> str | None:
    """Primary language subtag of a BCP 47 tag, or None if it is not one."""
    if not tag:
        return None
    primary = re.split(r"[-_\s]", tag.strip().lower(), maxsplit=1)[0]
    primary = _TAG_FIXES.get(primary, primary)
    return primary if _PRIMARY.match(primary) else None


class _NaiveBayes:
    """py3langid's model, scored exactly as ``LanguageIdentifier.rank`` scores it, faster.

    The byte walk over the model's automaton is the same; the rest avoids what
    costs most on a short sample: the per-call ranking list (a sorted list of
    every language) and gathering rows from a column-sliced, non-contiguous
    table. Probabilities are bit for bit those of py3langid (a unit test
    compares them).
    """

    def __init__(self) -> None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        identifier.set_languages(list(DETECTOR_LANGUAGES))
        self._next = identifier.tk_nextmove
        # Flat arrays rather than lists of int objects: the walk reads one entry of each per
        # byte, and in a worker that also scans text these reads miss the cache.
        self._rowbase = array("l", [row << 8 for row in identifier.tk_row])
        self._output = array("l", identifier.tk_output)
        # The model's float16 table, sliced to our languages, in float32 and C order:
        # numpy's float16 arithmetic is slow, and float16 -> float32 is exact, so the
        # scores are unchanged. 30 MB, less than the two float16 tables it replaces.
        self._table: npt.NDArray[np.float32] = np.ascontiguousarray(
            identifier.nb_ptc, dtype=np.float32
        )
        self._prior: npt.NDArray[np.float32] = identifier.nb_pc
        classes: list[str] = list(identifier.nb_classes)
        first: dict[str, int] = {}
        # columns of a label listed twice (py3langid's script variants): folded into the first
        self._aliases = [
            (first[c], i) for i, c in enumerate(classes) if first.setdefault(c, i) != i
        ]
        self.labels: list[str] = classes
        self.index: dict[str, int] = first

    def probabilities(self, sample: str) -> npt.NDArray[np.float32]:
        """One probability per column of ``labels`` (a label's duplicate columns hold 0)."""
        if sample.isupper():
            sample = sample.lower()
        data = unicodedata.normalize("NFC", sample).encode("utf-8", "surrogatepass")
        counts = self._visit(data)
        if counts:
            idx = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
            hits = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
            scores = np.log1p(hits) @ self._table[idx] + self._prior
        else:
            scores = np.zeros(len(self.labels), dtype=np.float32)
        scores *= 1.0 / math.sqrt(len(data) or 1)  # py3langid's calibration: T = sqrt(bytes)
        np.exp(scores - scores.max(), out=scores)
        scores /= scores.sum()
        for kept, dropped in self._aliases:
            scores[kept] += scores[dropped]
            scores[dropped] = 0.0
        return scores

    def _visit(self, data: bytes) -> Counter[int]:
        """Feature counts: the walk of py3langid's byte n-gram automaton over `data`."""
        nextmove, rowbase, output = self._next, self._rowbase, self._output
        state = 0
        found: list[int] = []
        append = found.append
        for byte in data:
            state = nextmove[rowbase[state] + byte]
            feature = output[state]
            if feature >= 0:
                append(feature)
        return Counter(found)


class LanguageDetector:
    """Loaded once per process (the model takes about a second to load)."""

    def __init__(self) -> None:
        self._model = _NaiveBayes()

    def rank(self, sample: str) -> list[tuple[str, float]]:
        """Languages with their probabilities, best first."""
        probs = self._model.probabilities(sample).tolist()
        merged = {label: probs[i] for label, i in self._model.index.items()}
        return sorted(merged.items(), key=itemgetter(1), reverse=True)

    def _best(self, sample: str) -> tuple[str, float, list[float]]:
        """The most probable language of `sample`, its probability, and every column's."""
        probs = self._model.probabilities(sample)
        best = int(probs.argmax())
        return self._model.labels[best], float(probs[best]), probs.tolist()

    def _probability(self, code: str, probs: list[float]) -> float:
        column = self._model.index.get(code)
        return 0.0 if column is None else probs[column]

    def detect(
        self,
        text: str,
        *,
        title: str | None = None,
        html_lang: str | None = None,
        feed_lang: str | None = None,
    ) -> LanguageInfo:
        declared = [
            (code, source)
            for code, source in (
                (normalise_tag(html_lang), "html"),
                (normalise_tag(feed_lang), "feed"),
            )
            if code is not None
        ]
        base = {"html_lang": _raw(html_lang), "feed_lang": _raw(feed_lang)}
        full = f"{title}\n{text}" if title else text
        sample = _sample(full, QUICK_CHARS)
        scripts = count_scripts(sample)
        if _weight(scripts) < MIN_LETTERS:  # mostly digits, symbols or layout: look further
            sample = _sample(full, SAMPLE_CHARS)
            scripts = count_scripts(sample)
        if _weight(scripts) < MIN_LETTERS:
            if declared:
                code, source = declared[0]
                return LanguageInfo(
                    code=code, confidence=PRIOR[source], source=_src(source), **base
                )
            return LanguageInfo(code=None, confidence=0.0, source="default", **base)
        top, prob, probs = self._best(sample)
        for chars, enough in ((SAMPLE_CHARS, QUICK_ACCEPT), (LARGE_SAMPLE_CHARS, CONFIDENT)):
            if prob >= enough or len(full) <= len(sample):
                break
            sample = _sample(full, chars)
            top, prob, probs = self._best(sample)
        top, prob = _by_script(top, prob, scripts)
        detected = top
        if prob >= CONFIDENT:
            agreeing = [source for code, source in declared if code == top]
            if agreeing:
                source = agreeing[0]
                confidence = 1 - (1 - prob) * (1 - PRIOR[source])
                return LanguageInfo(
                    code=top, confidence=_clip(confidence), source=_src(f"text+{source}"),
                    detected=detected, **base,
                )  # fmt: skip
            return LanguageInfo(
                code=top, confidence=_clip(prob), source="text", detected=detected, **base
            )
        for code, source in declared:
            likelihood = prob if code == top else self._probability(code, probs)
            if likelihood >= PLAUSIBLE:
                confidence = 1 - (1 - likelihood) * (1 - PRIOR[source])
                return LanguageInfo(
                    code=code, confidence=_clip(confidence), source=_src(f"text+{source}"),
                    detected=detected, **base,
                )  # fmt: skip
        return LanguageInfo(
            code=top, confidence=_clip(prob), source="text", detected=detected, **base
        )


def _sample(text: str, chars: int) -> str:
    """The first `chars` characters with runs of space collapsed (CJK: a third as many,
    since each one is three bytes for the byte n-gram model)."""
    sample = " ".join(text.lstrip()[: chars * 3].split())[:chars]
    encoded = sample.encode("utf-8", "surrogatepass")
    if len(encoded) > chars * 2:
        sample = encoded[: chars * 2].decode("utf-8", "ignore")
    return sample


def _weight(scripts: ScriptCounts) -> int:
    """Letters of a sample; a Han, kana or Hangul character counts as much as three."""
    return scripts.letters + 2 * (scripts.han + scripts.kana + scripts.hangul)


def _by_script(top: str, prob: float, scripts: ScriptCounts) -> tuple[str, float]:
    """Correct zh/ja/ko by the characters actually used."""
    cjk = scripts.han + scripts.kana + scripts.hangul
    if scripts.letters == 0 or cjk / scripts.letters < 0.3:
        return top, prob
    han_kana = scripts.han + scripts.kana
    if scripts.hangul >= 0.5 * cjk:
        lang = "ko"
    elif scripts.kana >= 0.1 * han_kana or (
        # kanji-heavy Japanese (headlines, officialese) still has its particles (で, へ, の)
        scripts.hiragana >= 2 and scripts.hiragana >= 0.05 * han_kana
    ):
        lang = "ja"
    else:
        lang = "zh"
    if lang == top:
        return top, max(prob, SCRIPT_CONFIDENCE)
    return lang, SCRIPT_CONFIDENCE


def _clip(value: float) -> float:
    return min(max(float(value), 0.0), 1.0)


def _raw(tag: str | None) -> str | None:
    return tag.strip()[:35] or None if tag else None


def _src(value: str) -> LanguageSource:
    sources: dict[str, LanguageSource] = {
        "text": "text", "html": "html", "feed": "feed",
        "text+html": "text+html", "text+feed": "text+feed", "default": "default",
    }  # fmt: skip
    return sources[value]
