"""Inflected forms of taxonomy terms, from simplemma's dictionaries, with a committed cache.

A taxonomy term written in its dictionary form ("arme", "sanction", "поставка")
matches every form that simplemma's dictionary of that language maps back to it
("armes"; "sanctions", "sanctioned"; "поставки", "поставками"...). Matching a
form against a set is a dict lookup, so documents are never lemmatised word by
word; the work is done once, here.

Reading a simplemma dictionary takes seconds (Polish: about ten) and hundreds of
megabytes, far too much for every worker start. The expansions therefore live in
``seeds/taxonomy/forms/<lang>.json``, regenerated after editing the taxonomy with::

    python -m workers.enrichment forms

A term missing from the cache still gets its forms, computed at start-up with a
warning (slow, but never silently wrong); a unit test keeps the committed cache
complete.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterable, Mapping
from importlib.metadata import version
from pathlib import Path

from workers.enrichment.text import WORD_RE, fold

LOG = logging.getLogger(__name__)
FORMS_DIRNAME = "forms"
GENERATOR = "python -m workers.enrichment forms"


def cache_file(taxonomy_dir: Path, lang: str) -> Path:
    return taxonomy_dir / FORMS_DIRNAME / f"{lang}.json"


def read_cache(taxonomy_dir: Path, lang: str) -> dict[str, list[str]]:
    """The cached expansions of a language ({} when there is no cache file)."""
    path = cache_file(taxonomy_dir, lang)
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    forms = data.get("forms", {})
    return {str(k): [str(f) for f in v] for k, v in forms.items()}


def compute_forms(lang: str, lemmas: Iterable[str]) -> dict[str, list[str]]:
    """For each folded lemma, itself plus every folded form simplemma maps to it.

    Languages simplemma does not cover (zh, ja, ko) get each lemma alone.
    """
    wanted = {lemma: {lemma} for lemma in lemmas}
    from simplemma.strategies.dictionaries import DefaultDictionaryFactory

    try:
        dictionary = DefaultDictionaryFactory().get_dictionary(lang)
    except ValueError:
        return {lemma: [lemma] for lemma in wanted}
    for form, lemma in dictionary.items():
        key = fold(lemma)
        bucket = wanted.get(key)
        if bucket is not None:
            folded = fold(form)
            # forms with an apostrophe or a space ("a's") can never equal one word
            if _related(lang, folded, key) and WORD_RE.fullmatch(folded):
                bucket.add(folded)
    return {lemma: sorted(forms) for lemma, forms in wanted.items()}


def _related(lang: str, form: str, lemma: str) -> bool:
    """Filter out simplemma's few mappings between unrelated words (управляемый -> снаряд).

    Real inflections keep the first letter (sold/sell) or contain the lemma's start
    (geliefert/liefern); Arabic broken plurals (أسلحة/سلاح) do neither, so Arabic is exempt.
    """
    return lang == "ar" or form[:1] == lemma[:1] or lemma[:3] in form


def expand(taxonomy_dir: Path, lang: str, lemmas: set[str]) -> dict[str, frozenset[str]]:
    """Forms of every lemma of a language: from the cache, else computed (slowly)."""
    cached = read_cache(taxonomy_dir, lang)
    missing = sorted(lemmas - cached.keys())
    if missing:
        LOG.warning(
            "taxonomy: %d %s term(s) missing from %s (e.g. %r); computing their forms now. "
            "Run `python -m workers.enrichment forms` to refresh the cache.",
            len(missing),
            lang,
            cache_file(taxonomy_dir, lang),
            missing[0],
        )
        cached.update(compute_forms(lang, missing))
    return {lemma: frozenset(cached[lemma]) for lemma in lemmas}


def write_cache(taxonomy_dir: Path, lang: str, forms: Mapping[str, list[str]]) -> Path:
    """Write a language's cache atomically, one lemma a line, so that diffs stay readable."""
    path = cache_file(taxonomy_dir, lang)
    path.parent.mkdir(parents=True, exist_ok=True)
    head = json.dumps({"generated_by": GENERATOR, "simplemma": version("simplemma"), "lang": lang})
    entries = ",\n".join(
        f"  {json.dumps(k, ensure_ascii=False)}: {json.dumps(forms[k], ensure_ascii=False)}"
        for k in sorted(forms)
    )
    text = f'{head[:-1]}, "forms": {{\n{entries}\n}}}}\n'
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path


def regenerate(seeds_dir: Path) -> list[Path]:
    """Recompute the cache of every language of the taxonomy under `seeds_dir`."""
    from workers.enrichment.taxonomy import TAXONOMY_DIRNAME, lemmas_by_language, load_taxonomy

    taxonomy_dir = seeds_dir / TAXONOMY_DIRNAME
    taxonomy = load_taxonomy(seeds_dir, expand_forms=False)
    written = []
    for lang, lemmas in sorted(lemmas_by_language(taxonomy).items()):
        written.append(write_cache(taxonomy_dir, lang, compute_forms(lang, lemmas)))
    return written
