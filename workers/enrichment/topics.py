"""Topic decisions from matcher hits: exclusions, co-occurrence rules, scores, evidence.

For each topic of the document's language (see taxonomy.py for the file format):

1. ``exclude.phrase`` hits mask the concept hits they overlap ("arms race" is
   not a weapon); ``exclude.sentence`` hits veto their whole sentence (a
   sentence about a referee sanctioning a player counts for nothing);
   ``exclude.form`` words never count (French "armés" is not "armes");
2. each ``require`` rule is checked sentence by sentence (or in windows of N
   words); every place where all its groups are present is an occurrence;
   the title is one more such place, when the text has concept hits of its own;
3. score = rule weight x occurrences + concept weight x hits (capped at
   ``max_hits`` per concept) + title bonus (+ the weight of the heaviest rule
   the title holds); the topic is tagged when a rule holds (if the topic has
   rules) and the score reaches the threshold;
4. evidence keeps the hits that made rules hold first, then the other hits of
   concepts weighing 1 or more, heaviest first, up to ``max_evidence``; each comes
   with the sentence it sits in (an exact substring of the text), in text order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from schemas.enrichment import Evidence, TopicMatch
from workers.enrichment.lexicon import Hit
from workers.enrichment.taxonomy import SENTENCE, Rule, Taxonomy, Topic, surface_key
from workers.enrichment.text import Sentences, sentence_snippet


class ConceptHit(NamedTuple):
    """A hit that counts for a concept (or a built-in entity concept)."""

    concept: str
    start: int
    end: int
    pos: int
    sentence: int
    key: str = ""  # what it names, for `distinct` rules: an entity id, or the term as written


def _key_of(hit: ConceptHit) -> str:
    return hit.key or hit.concept


class TopicScorer:
    """Applies every topic of the taxonomy to the hits of one document."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self._taxonomy = taxonomy
        self._topics = {t.id: t for t in taxonomy.topics}

    def score(
        self,
        *,
        text: str,
        lang: str | None,
        hits: Sequence[Hit],
        entity_hits: Sequence[ConceptHit],
        sentences: Sentences,
        title: str = "",
        title_hits: Sequence[Hit] = (),
        title_entity_hits: Sequence[ConceptHit] = (),
    ) -> list[TopicMatch]:
        by_topic: dict[str, list[Hit]] = defaultdict(list)
        for hit in hits:
            by_topic[hit.tag.layer].append(hit)
        title_by_topic: dict[str, list[Hit]] = defaultdict(list)
        for hit in title_hits:
            title_by_topic[hit.tag.layer].append(hit)
        matches = []
        for topic_id, topic_hits in by_topic.items():
            topic = self._topics.get(topic_id)
            if topic is None or lang not in topic.languages:
                continue
            found = self._score_topic(
                topic=topic,
                text=text,
                hits=topic_hits,
                entity_hits=entity_hits,
                sentences=sentences,
                title=_Title(title, title_by_topic.get(topic_id, []), title_entity_hits),
                excluded_forms=topic.languages[lang].forms,
            )
            if found is not None:
                matches.append(found)
        matches.sort(key=lambda m: (-m.score, m.id))
        return matches

    def _score_topic(
        self,
        *,
        topic: Topic,
        text: str,
        hits: list[Hit],
        entity_hits: Sequence[ConceptHit],
        sentences: Sentences,
        title: _Title,
        excluded_forms: frozenset[str] = frozenset(),
    ) -> TopicMatch | None:
        vetoed = {sentences.index_of(h.start) for h in hits if h.tag.kind == "veto"}
        concept_hits = _concept_hits(text, hits, sentences, vetoed)
        if excluded_forms:
            concept_hits = [
                h for h in concept_hits if surface_key(text[h.start : h.end]) not in excluded_forms
            ]
        if not concept_hits:
            return None
        pool = concept_hits + [h for h in entity_hits if h.sentence not in vetoed]
        # Only rules whose every group has a hit somewhere can hold: skip the others
        # before looking for occurrences (most topics of most documents stop here).
        present = {h.concept for h in pool}
        title_rule = _title_rule(topic, title, excluded_forms)
        rules = [r for r in topic.rules if not any(map(present.isdisjoint, r.groups))]
        if topic.rules and not rules and title_rule is None:
            return None
        score = 0.0
        counts: dict[str, int] = defaultdict(int)
        for hit in concept_hits:
            if counts[hit.concept] < topic.max_hits:
                counts[hit.concept] += 1
                score += topic.concepts[hit.concept].weight
        supporting: list[ConceptHit] = []
        held = 0
        title_concepts = {h.tag.key for h in title.hits if h.tag.kind == "concept"}
        for rule in rules:
            if rule.if_title and rule.if_title.isdisjoint(title_concepts):
                continue
            for occurrence in _occurrences(rule, pool):
                held += 1
                score += rule.weight
                supporting.extend(occurrence)
        if title_rule is not None:
            held += 1
            score += title_rule.weight
        if topic.rules and not held:
            return None
        score += _title_bonus(topic, title.hits)
        if score < topic.threshold:
            return None
        # after the hits that made rules hold, the telling ones: concepts weighing 1 or more
        others = sorted(
            (h for h in concept_hits if topic.concepts[h.concept].weight >= 1),
            key=lambda h: -topic.concepts[h.concept].weight,
        )
        evidence = _evidence(text, sentences, supporting + others, self._taxonomy.max_evidence)
        return TopicMatch(id=topic.id, score=round(score, 3), evidence=evidence)


def _concept_hits(
    text: str, hits: list[Hit], sentences: Sentences, vetoed: set[int]
) -> list[ConceptHit]:
    """Concept hits that survive phrase masks and sentence vetoes, longest per start."""
    masks = [(h.start, h.end) for h in hits if h.tag.kind == "mask"]
    best: dict[tuple[str, int], Hit] = {}
    for hit in hits:
        if hit.tag.kind != "concept":
            continue
        if masks and any(s < hit.end and hit.start < e for s, e in masks):
            continue
        key = (hit.tag.key, hit.start)
        if key not in best or best[key].end < hit.end:
            best[key] = hit
    out = []
    for hit in sorted(best.values(), key=lambda h: (h.start, -h.end)):
        sentence = sentences.index_of(hit.start)
        if sentence not in vetoed:
            surface = text[hit.start : hit.end].lower()
            out.append(ConceptHit(hit.tag.key, hit.start, hit.end, hit.pos, sentence, surface))
    return out


def _occurrences(rule: Rule, hits: list[ConceptHit]) -> Iterator[list[ConceptHit]]:
    """Each place (sentence or window) where every group of the rule has a hit."""
    relevant = [h for h in hits if h.concept in rule.names]
    if rule.within is SENTENCE:
        by_sentence: dict[int, list[ConceptHit]] = defaultdict(list)
        for hit in relevant:
            by_sentence[hit.sentence].append(hit)
        for sentence in sorted(by_sentence):
            chosen = _cover(rule, by_sentence[sentence])
            if chosen is not None:
                yield chosen
        return
    relevant.sort(key=lambda h: h.pos)
    last_end = -1
    for i, anchor in enumerate(relevant):
        if anchor.pos <= last_end:
            continue  # windows do not overlap: one occurrence per stretch of text
        window = []
        for hit in relevant[i:]:
            if hit.pos - anchor.pos > rule.within:
                break
            window.append(hit)
        chosen = _cover(rule, window)
        if chosen is not None:
            last_end = max(h.pos for h in chosen)
            yield chosen


def _cover(rule: Rule, hits: list[ConceptHit]) -> list[ConceptHit] | None:
    """One hit per group of the rule (``distinct`` different ones for the last group),
    or None if a group has too few."""
    chosen = []
    for group in rule.groups[:-1]:
        hit = next((h for h in hits if h.concept in group), None)
        if hit is None:
            return None
        chosen.append(hit)
    last = rule.groups[-1]
    named: dict[str, ConceptHit] = {}
    for hit in hits:
        if hit.concept in last:
            named.setdefault(_key_of(hit), hit)
            if len(named) >= rule.distinct:
                return chosen + list(named.values())
    return None


class _Title(NamedTuple):
    """The title, its hits of one topic, and its entity mentions."""

    text: str
    hits: list[Hit]
    entity_hits: Sequence[ConceptHit]


def _title_rule(topic: Topic, title: _Title, excluded_forms: frozenset[str]) -> Rule | None:
    """The heaviest rule that the title holds on its own (as one sentence)."""
    if not title.hits or not topic.rules or any(h.tag.kind == "veto" for h in title.hits):
        return None
    masks = [(h.start, h.end) for h in title.hits if h.tag.kind == "mask"]
    pool = [
        ConceptHit(h.tag.key, h.start, h.end, h.pos, 0, title.text[h.start : h.end].lower())
        for h in title.hits
        if h.tag.kind == "concept"
        and not any(s < h.end and h.start < e for s, e in masks)
        and surface_key(title.text[h.start : h.end]) not in excluded_forms
    ]
    pool += [h._replace(sentence=0) for h in title.entity_hits]
    # rules that need a title about the topic (if_title) cannot be met by the title alone
    held = [r for r in topic.rules if not r.if_title and next(_occurrences(r, pool), None)]
    return max(held, key=lambda rule: rule.weight, default=None)


def _title_bonus(topic: Topic, title_hits: list[Hit]) -> float:
    if any(h.tag.kind == "veto" for h in title_hits):
        return 0.0
    seen = {h.tag.key for h in title_hits if h.tag.kind == "concept"}
    return sum(topic.concepts[name].weight for name in seen if name in topic.concepts)


def _evidence(
    text: str, sentences: Sentences, ranked: list[ConceptHit], limit: int
) -> list[Evidence]:
    """The first `limit` distinct hits of `ranked`, as evidence in text order."""
    chosen: dict[tuple[str, int], ConceptHit] = {}
    for hit in ranked:
        chosen.setdefault((hit.concept, hit.start), hit)
        if len(chosen) >= limit:
            break
    return [
        Evidence(
            concept=hit.concept,
            term=text[hit.start : hit.end],
            start=hit.start,
            end=hit.end,
            sentence=sentence_snippet(text, sentences, hit.start, hit.end),
        )
        for hit in sorted(chosen.values(), key=lambda h: (h.start, h.concept))
    ]
