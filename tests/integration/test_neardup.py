"""Near-duplicates across feeds, on a real Redis: flagged and clustered, never dropped.

The corpus tests gate precision and recall on real articles with the
evaluation of scripts/bench_neardup.py: the ground-truth texts of
article-extraction-benchmark, newspaper4k and Readability (241 articles in 16
languages), and copies of each made the way wire copies differ (a headline
line on top, a credit line at the bottom, a paragraph trimmed at the end or
in the middle).
"""

from __future__ import annotations

import hashlib
import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import py3langid
import pytest
import redis

from schemas import Document, FeedRef
from scripts.bench_neardup import KNOWN_DUPLICATES, NEAR_COPIES, corpus_texts, evaluate
from tests.support.documents import plain_document
from tests.support.streams import read_stream
from workers.dedup.minhash import signature, similarity
from workers.dedup.neardup import NearDupIndex, NearDuplicate, mark_near_duplicates
from workers.dedup.seen import DAY_SECONDS
from workers.keys import Keys
from workers.publishing.streams import StreamPublisher

# Index keys expire at absolute times computed from `now`: it must be the present.
NOW = float(int(time.time()))
PARAGRAPHS = [
    "North Korean leader Kim Jong Un arrived in Russia's Far East on Tuesday for a summit with "
    "President Vladimir Putin, his armoured train crossing the border after a journey of more "
    "than twenty hours, according to Russian state media.",
    "Officials in Washington and Seoul have warned that Moscow is seeking artillery shells and "
    "anti-tank missiles from Pyongyang to replenish stocks depleted by the war in Ukraine, in "
    "breach of United Nations sanctions that Russia itself voted for.",
    "In exchange, analysts say, the North could ask for advanced technology for satellites and "
    "nuclear-powered submarines, food aid and hard currency, as its economy struggles under "
    "years of isolation and border closures during the pandemic.",
    "The Kremlin said the two leaders would discuss sensitive matters that were not meant for "
    "the public, and that the visit would include talks over lunch and a tour of sites in "
    "and around the port city of Vladivostok.",
    "A spokesman for the South Korean foreign ministry urged Moscow to respect its obligations "
    "as a permanent member of the Security Council, saying any arms deal would be met with a "
    "firm response from Seoul and its allies.",
]
WIRE = "\n\n".join(PARAGRAPHS)


def document(doc_id: str, text: str, feed: str = "f") -> Document:
    source = FeedRef(id=feed, url=f"https://{feed}.example/rss")
    return plain_document(doc_id, text, url=f"https://{feed}.example/{doc_id}", feed=source)


@pytest.fixture
def index(redis_client: redis.Redis, keys: Keys) -> NearDupIndex:
    return NearDupIndex(redis_client, keys, window_days=3, min_similarity=0.5)


def test_wire_copies_are_published_and_point_at_the_first(
    index: NearDupIndex, redis_client: redis.Redis, keys: Keys
) -> None:
    publisher = StreamPublisher(redis_client, keys, maxlen=1000)
    copies = [
        ("a" * 32, WIRE, "wire"),
        ("b" * 32, "Kim meets Putin in Vladivostok\n\n" + WIRE, "daily"),  # its own headline
        ("c" * 32, "\n\n".join(PARAGRAPHS[:-1]) + "\n\n(AP) Reporting by J. Doe", "herald"),
        ("d" * 32, "\n\n".join(PARAGRAPHS[:2] + PARAGRAPHS[3:]), "post"),  # middle cut
    ]
    published = []
    for step, (doc_id, text, feed) in enumerate(copies):
        marked = mark_near_duplicates(document(doc_id, text, feed), index, now=NOW + 60 * step)
        published.append(publisher.publish(marked).document)
    first, *others = published
    assert (first.duplicate_of, first.cluster_id, first.duplicate_similarity) == (
        None,
        "a" * 32,
        None,
    )
    for copy in others:
        assert copy.duplicate_of == "a" * 32, copy.id
        assert copy.cluster_id == "a" * 32
        assert copy.duplicate_similarity is not None and copy.duplicate_similarity >= 0.5
    # Nothing was dropped: every copy is on the stream, with its near-duplicate fields.
    entries = read_stream(redis_client, keys.documents_stream)
    on_stream = [Document.model_validate_json(fields[b"doc"]) for _, fields in entries]
    assert [d.id for d in on_stream] == [d.id for d in published]
    assert [d.duplicate_of for d in on_stream] == [None] + ["a" * 32] * 3


def sentences(first: int, last: int) -> str:
    """Sentences `first`..`last`-1 of an endless text in which no two sentences share a word."""
    words = (hashlib.sha256(str(n).encode()).hexdigest()[:7] for n in range(8 * first, 8 * last))
    return " ".join(words)


def test_cluster_id_is_the_founder_even_through_a_chain(
    redis_client: redis.Redis, keys: Keys
) -> None:
    """C is close to B and B to A, but C is not close enough to A: C points at B, in A's cluster."""
    strict = NearDupIndex(redis_client, keys, window_days=3, min_similarity=0.7)
    a, b, c = (signature(sentences(s, s + 40), "en") for s in (0, 4, 8))
    # The chain's premise (Jaccard A-B and B-C 0.82, A-C 0.67), as the signatures see it.
    assert similarity(a.compact(), b.compact()) >= 0.7 <= similarity(b.compact(), c.compact())
    assert similarity(a.compact(), c.compact()) < 0.7
    first = strict.check_and_add("a" * 32, a, now=NOW)
    second = strict.check_and_add("b" * 32, b, now=NOW + 60)
    third = strict.check_and_add("c" * 32, c, now=NOW + 120)
    assert first == NearDuplicate(cluster_id="a" * 32)
    assert second is not None and (second.duplicate_of, second.cluster_id) == ("a" * 32, "a" * 32)
    assert third is not None and (third.duplicate_of, third.cluster_id) == ("b" * 32, "a" * 32)


UNRELATED_TAIL = (
    "Separately, the city council approved a new budget for public libraries on Monday, adding "
    "funds for longer opening hours, a mobile library for rural villages and reading clubs for "
    "teenagers, to be paid for by savings on street lighting after the switch to LED lamps, "
    "while librarians asked for more staff and better pay."
)


def test_a_retry_does_not_find_itself_nor_later_copies(index: NearDupIndex) -> None:
    sig = signature(WIRE, "en")
    first = index.check_and_add("a" * 32, sig, now=NOW)
    index.check_and_add("b" * 32, sig, now=NOW + 600)  # a copy, processed later
    again = index.check_and_add("a" * 32, sig, now=NOW + 900)  # the first one, retried
    assert first == again
    assert again is not None and again.duplicate_of is None and again.cluster_id == "a" * 32


def test_copies_processed_at_the_same_instant_make_one_cluster(
    redis_client: redis.Redis, keys: Keys
) -> None:
    """Lookup and addition are one atomic step: racing workers cannot both found a cluster."""
    sig = signature(WIRE, "en")
    ids = [f"{n:032x}" for n in range(1, 9)]

    def add(doc_id: str) -> NearDuplicate | None:
        index = NearDupIndex(redis_client, keys, window_days=3, min_similarity=0.5)
        return index.check_and_add(doc_id, sig, now=NOW)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [r for r in pool.map(add, ids) if r is not None]
    founders = [r for r in results if r.duplicate_of is None]
    assert len(results) == 8 and len(founders) == 1
    assert {r.cluster_id for r in results} == {founders[0].cluster_id}


def test_short_texts_and_unrelated_texts_stay_apart(index: NearDupIndex) -> None:
    assert (
        index.check_and_add("a" * 32, signature("Live: updates to follow.", "en"), now=NOW) is None
    )
    marked = mark_near_duplicates(document("a" * 32, "Live: updates to follow."), index, now=NOW)
    assert marked.cluster_id is None and marked.duplicate_of is None
    index.check_and_add("b" * 32, signature(WIRE, "en"), now=NOW)
    other = index.check_and_add("c" * 32, signature(UNRELATED_TAIL * 3, "en"), now=NOW)
    assert other is not None and other.duplicate_of is None and other.cluster_id == "c" * 32


def test_the_index_forgets_after_its_window(
    index: NearDupIndex, redis_client: redis.Redis, keys: Keys
) -> None:
    sig = signature(WIRE, "en")
    index.check_and_add("a" * 32, sig, now=NOW)
    # Every key of the index expires as a whole, at the end of the next generation.
    generation = int(NOW // DAY_SECONDS) // 3
    ttls = [redis_client.ttl(k) for k in redis_client.scan_iter(match=f"{keys.prefix}:neardup:*")]
    assert len(ttls) == 9 and all(t > 0 for t in ttls)  # 8 bands and the signatures
    assert all(
        f":neardup:{generation}:" in k.decode()
        for k in redis_client.scan_iter(match=f"{keys.prefix}:neardup:*")
    )
    next_window = index.check_and_add("b" * 32, sig, now=NOW + 3 * DAY_SECONDS)
    assert next_window is not None and next_window.duplicate_of == "a" * 32
    two_windows_on = index.check_and_add("c" * 32, sig, now=NOW + 6 * DAY_SECONDS)
    assert two_windows_on is not None and two_windows_on.duplicate_of == "b" * 32
    gone = index.check_and_add("d" * 32, sig, now=NOW + 12 * DAY_SECONDS)
    assert gone is not None and gone.duplicate_of is None


# --- precision and recall on the real-world corpus ---------------------------------------


def test_corpus_precision_and_recall(corpus_dir: Path, index: NearDupIndex) -> None:
    result = evaluate(index, corpus_texts(corpus_dir), now=NOW)
    assert result.articles >= 240
    # Precision: no pair of distinct articles flagged; the corpus's own duplicates found.
    assert result.flagged == KNOWN_DUPLICATES
    # Recall: each kind of copy of each article (with 4+ paragraphs) points at its original.
    for kind in NEAR_COPIES:
        assert result.copies[kind] >= 200
        assert result.recall(kind) >= 0.98, (kind, result.missed[kind])


def test_no_pair_of_distinct_articles_even_shares_a_band(corpus_dir: Path) -> None:
    """A stronger precision check than the threshold: candidates are rare to begin with."""
    texts = corpus_texts(corpus_dir)
    bands = {
        name: set(signature(text, py3langid.classify(text[:2000])[0]).band_keys())
        for name, text in texts.items()
    }
    sharing = {
        frozenset({a, b})
        for a, b in itertools.combinations(sorted(bands), 2)
        if bands[a] & bands[b]
    }
    assert sharing <= KNOWN_DUPLICATES
