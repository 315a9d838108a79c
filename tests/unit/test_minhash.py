"""MinHash signatures: tokens per language, stability across processes, similarity."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REPO_ROOT
from workers.dedup.minhash import (
    BANDS,
    MIN_SHINGLES,
    SIGNATURE_SIZE,
    shingle_hashes,
    signature,
    similarity,
    tokens,
)

ARTICLE = (
    "The defence ministry confirmed on Tuesday that a shipment of artillery shells left the port "
    "of Rason for Vladivostok last week, according to satellite images reviewed by analysts. "
    "Officials in Seoul said the transfer violated several United Nations Security Council "
    "resolutions, and called on Moscow to halt any military cooperation with Pyongyang. "
    "The Kremlin declined to comment on the report, while state media in the North described "
    "the visit of its leader to the Russian Far East as a triumph of friendship between the "
    "two neighbours. Analysts warned that the munitions could prolong the war in Ukraine."
)
UNRELATED = (
    "The city council approved a new budget for public libraries on Monday evening, adding "
    "funds for longer opening hours, a mobile library that will visit rural villages twice a "
    "week, and a programme of reading clubs for teenagers. The mayor said the plan would be "
    "paid for by savings on street lighting after the switch to LED lamps, and promised that "
    "no branch would close this year. Librarians welcomed the decision but asked for more "
    "staff, saying that volunteers could not replace trained professionals in the long run."
)


def test_words_for_spaced_languages_characters_for_unspaced_ones() -> None:
    assert tokens("Kim Jong-un's TRAIN, arrived.") == ["kim", "jong", "un", "s", "train", "arrived"]
    assert tokens("朝鲜领导人抵达", "zh") == list("朝鲜领导人抵达")
    assert tokens("金正恩氏がロシアへ", "ja") == list("金正恩氏がロシアへ")
    # Unspaced script inside another language's text: still one token per character.
    assert tokens("Leader 金正恩 visited", "en") == ["leader", "金", "正", "恩", "visited"]


def test_shingles_depend_on_word_order() -> None:
    forward = shingle_hashes(["a", "b", "c"], 3)
    backward = shingle_hashes(["c", "b", "a"], 3)
    assert len(forward) == 1 and forward[0] != backward[0]
    assert len(shingle_hashes(["a", "b", "c", "d"], 3)) == 2
    assert len(shingle_hashes(["a"], 3)) == 1  # a text shorter than a shingle is one shingle
    assert len(shingle_hashes([], 3)) == 0


def test_signature_shape_and_usability() -> None:
    sig = signature(ARTICLE, "en")
    assert len(sig.values) == SIGNATURE_SIZE and all(0 <= v < 2**32 for v in sig.values)
    assert len(sig.band_keys()) == BANDS and len(set(sig.band_keys())) == BANDS
    assert len(sig.compact()) == SIGNATURE_SIZE
    assert sig.usable
    short = signature("Breaking news: more soon.", "en")
    assert short.shingles < MIN_SHINGLES and not short.usable
    assert signature("", "en").shingles == 0


def test_signature_is_the_same_in_another_process() -> None:
    """Workers compare signatures made by other processes: no per-process hash seed."""
    code = (
        "import json, sys; from workers.dedup.minhash import signature; "
        "print(json.dumps(signature(sys.stdin.read(), 'en').values))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(REPO_ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], input=ARTICLE, capture_output=True, text=True, env=env,
        check=True, cwd=REPO_ROOT,
    )  # fmt: skip
    assert tuple(json.loads(out.stdout)) == signature(ARTICLE, "en").values


def test_similarity_of_copies_and_of_unrelated_texts() -> None:
    original = signature(ARTICLE, "en")
    assert similarity(original.compact(), original.compact()) == 1.0
    credited = signature(ARTICLE + " (Reporting by Jane Doe; Editing by John Smith)", "en")
    assert similarity(original.compact(), credited.compact()) >= 0.7
    assert set(original.band_keys()) & set(credited.band_keys())
    other = signature(UNRELATED, "en")
    assert similarity(original.compact(), other.compact()) < 0.2
    assert not set(original.band_keys()) & set(other.band_keys())
    assert similarity(original.compact(), b"") == 0.0


def test_case_and_punctuation_do_not_matter() -> None:
    shouted = ARTICLE.upper().replace(",", " ;").replace(".", "!")
    assert signature(shouted, "en").values == signature(ARTICLE, "en").values
