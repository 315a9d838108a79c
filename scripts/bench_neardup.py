"""Near-duplicate detection on the real-world corpus: precision, recall, cost.

    PYTHONPATH=. python scripts/bench_neardup.py [--redis-url URL]

Articles: the ground-truth texts of article-extraction-benchmark, newspaper4k
and Readability (read in place from NEWSWIRE_CORPUS). Each is added to the
near-duplicate index as the process stage adds documents; every pair of
distinct articles flagged is a false positive. Then copies of each article
with four or more paragraphs are made the way wire copies differ (a headline
line on top, a credit line at the bottom, the last or a middle paragraph
trimmed) and looked up: a copy not pointed at its original is a miss.
tests/integration/test_neardup.py runs the same evaluation as a gate.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import py3langid
import redis
from lxml import html as lxml_html

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workers.dedup.minhash import signature  # noqa: E402
from workers.dedup.neardup import NearDupIndex  # noqa: E402
from workers.keys import Keys  # noqa: E402
from workers.runtime.embedded_redis import EmbeddedRedis  # noqa: E402
from workers.settings import get_settings  # noqa: E402

# Pairs of the corpus that are one article published twice (checked by reading them):
# finding them is right, not a false positive.
KNOWN_DUPLICATES = {
    frozenset({"aeb:34a73285", "n4k:article_with_divs"}),  # Kate Henshaw, two sources
    frozenset({"n4k:cleveland.com1", "n4k:video_article_01"}),  # Google food searches 2014
}


def paragraphs(text: str) -> list[str]:
    return [p for p in text.split("\n") if p.strip()]


def _trim_middle(text: str) -> str:
    parts = paragraphs(text)
    middle = len(parts) // 2
    return "\n".join(parts[:middle] + parts[middle + 1 :])


NEAR_COPIES: dict[str, Callable[[str], str]] = {
    "headline": lambda t: "Officials confirm the report, sources say\n" + t,
    "credit line": lambda t: t + "\n(Reporting by Jane Doe in Paris; Editing by John Smith)",
    "last paragraph trimmed": lambda t: "\n".join(paragraphs(t)[:-1]),
    "middle paragraph trimmed": _trim_middle,
}


def corpus_texts(corpus: Path) -> dict[str, str]:
    """Ground-truth article texts, by a short name: aeb:<id>, n4k:<name>, rdb:<name>."""
    html = corpus / "html"
    texts = {}
    truth = json.loads((html / "article-extraction-benchmark" / "ground-truth.json").read_text())
    for page_id, item in truth.items():
        texts[f"aeb:{page_id[:8]}"] = item["articleBody"]
    for path in sorted((html / "newspaper4k" / "txt").glob("*.txt")):
        texts[f"n4k:{path.stem}"] = path.read_text(encoding="utf-8")
    for folder in sorted((html / "readability").iterdir()):
        expected = folder / "expected.html"
        if expected.is_file():
            body = lxml_html.fromstring(expected.read_text(encoding="utf-8")).text_content()
            lines = (line.strip() for line in body.splitlines())
            texts[f"rdb:{folder.name}"] = "\n".join(line for line in lines if line)
    return texts


@dataclass
class Evaluation:
    articles: int = 0
    pairs: int = 0
    flagged: set[frozenset[str]] = field(default_factory=set)
    copies: dict[str, int] = field(default_factory=dict)
    missed: dict[str, list[str]] = field(default_factory=dict)
    similarities: dict[str, list[float]] = field(default_factory=dict)
    signature_ms: float = 0.0
    index_ms: float = 0.0  # client CPU of one lookup-and-add (two round trips)

    @property
    def false_positives(self) -> set[frozenset[str]]:
        return self.flagged - KNOWN_DUPLICATES

    def recall(self, kind: str) -> float:
        return 1 - len(self.missed[kind]) / self.copies[kind]


def evaluate(index: NearDupIndex, texts: dict[str, str], now: float) -> Evaluation:
    """Index every article, then look up copies of each; `now` must be the present."""
    result = Evaluation(articles=len(texts), pairs=len(texts) * (len(texts) - 1) // 2)
    ids = {name: f"{n:032x}" for n, name in enumerate(sorted(texts))}
    names = {doc_id: name for name, doc_id in ids.items()}
    languages = {name: py3langid.classify(text[:2000])[0] for name, text in texts.items()}
    signatures = {name: signature(texts[name], languages[name]) for name in sorted(texts)}
    # Timed on a second pass: a worker's token-hash memo is warm after its first documents.
    started = time.process_time()
    for name in sorted(texts):
        signature(texts[name], languages[name])
    result.signature_ms = (time.process_time() - started) * 1000 / len(texts)
    started = time.process_time()
    for name in sorted(texts):
        found = index.check_and_add(ids[name], signatures[name], now=now)
        if found is not None and found.duplicate_of is not None:
            result.flagged.add(frozenset({name, names[found.duplicate_of]}))
    result.index_ms = (time.process_time() - started) * 1000 / len(texts)
    originals = [n for n in sorted(texts) if len(paragraphs(texts[n])) >= 4]
    for step, (kind, make_copy) in enumerate(NEAR_COPIES.items(), start=1):
        result.copies[kind], result.missed[kind], result.similarities[kind] = len(originals), [], []
        for number, name in enumerate(originals):
            sig = signature(make_copy(texts[name]), languages[name])
            found = index.check_and_add(f"{step:04x}{number:028x}", sig, now=now + 60 * step)
            if found is None or found.duplicate_of not in _same_article(name, ids):
                result.missed[kind].append(name)
            elif found.similarity is not None:
                result.similarities[kind].append(found.similarity)
    return result


def _same_article(name: str, ids: dict[str, str]) -> set[str]:
    """The ids a copy of `name` may rightly point at: it, or its known duplicate."""
    twins = {other for pair in KNOWN_DUPLICATES if name in pair for other in pair}
    return {ids[n] for n in twins | {name}}


def report(result: Evaluation) -> None:
    print(f"articles: {result.articles}, pairs of distinct articles: {result.pairs:,}")
    print(f"signature: {result.signature_ms:.2f} ms of CPU per article (mean, warm memo)")
    print(f"index lookup and add: {result.index_ms:.2f} ms of client CPU per article")
    wrong = sorted(sorted(pair) for pair in result.false_positives)
    print(f"false positives: {len(wrong)} pairs {wrong}")
    found = result.flagged & KNOWN_DUPLICATES
    print(f"real duplicates in the corpus found: {len(found)} of {len(KNOWN_DUPLICATES)}")
    print(f"{'copy':26s} {'copies':>6s} {'recall':>7s} {'similarity (median, min)':>26s}")
    for kind in NEAR_COPIES:
        values = result.similarities[kind]
        print(f"{kind:26s} {result.copies[kind]:6d} {result.recall(kind):7.3f} "
              f"{statistics.median(values):>17.3f}, {min(values):.3f}")  # fmt: skip
        if result.missed[kind]:
            print(f"    missed: {', '.join(result.missed[kind])}")


def run(url: str) -> None:
    client = redis.Redis.from_url(url)
    keys = Keys(f"bench-neardup-{uuid.uuid4().hex[:8]}")
    settings = get_settings()
    index = NearDupIndex(
        client, keys, window_days=3, min_similarity=settings.neardup_min_similarity
    )
    try:
        report(evaluate(index, corpus_texts(settings.corpus_dir), now=time.time()))
    finally:
        stale = list(client.scan_iter(match=f"{keys.prefix}:*", count=10_000))
        if stale:
            client.delete(*stale)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", help="an existing Redis (default: start an embedded one)")
    args = parser.parse_args()
    if args.redis_url:
        run(args.redis_url)
        return 0
    with tempfile.TemporaryDirectory() as folder, EmbeddedRedis(Path(folder)) as server:
        run(server.url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
