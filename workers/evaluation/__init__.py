"""Measuring the enrichment: the labelled development set, its scores, and quality floors.

    docs = load_devset(seeds_dir / "devset", topic_ids(seeds_dir))    # devset.py, taxonomy.py
    report = evaluate(enricher, docs, split="all", topics=..., corpus_dir=...)  # runner.py
    outcomes = check(report, load_floors(...).floors)                 # floors.py

`newswire eval` prints the report; tests/corpus/test_topic_quality.py fails
when a floor of seeds/devset/floors.yaml is not met.
"""
