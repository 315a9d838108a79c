"""Newswire workers: the Celery app and the plain functions its tasks call, one package per concern.

- registry/    feed sources: feeds.yaml and OPML, the Redis registry and its due-time index
- polling/     conditional GET of a feed, feedparser adapter, canonical URLs, seen-check
- fetching/    safe HTTP client, article pages, raw HTML kept briefly in Redis
- processing/  page decoding, trafilatura extraction, building the document
- enrichment/  language, topics (taxonomy as data), entities
- publishing/  idempotent publication to streams, dead-letter records
- tasks/       thin Celery tasks that call the packages above
- runtime/     embedded Redis, the process supervisor behind `newswire run`
- cli/         the `newswire` command
"""
