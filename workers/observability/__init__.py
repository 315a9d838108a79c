"""What operators see of a running Newswire: logs, metrics, health and the state in Redis.

- logs.py: one logging setup for workers, beat and the CLI; JSON (one event per line)
  or text, each line carrying the feed, document, task and stage it concerns.
- celery_hooks.py: Celery signals that set that context and time each task, start the
  metrics endpoint in a worker's main process, and configure logging; tasks stay untouched.
- metrics.py: the workers' Prometheus counters and histograms (multiprocess-safe).
- observed.py: the poller, publisher and dead-letter sink as the workers use them,
  counting what they do.
- redis_state.py: queues, streams, consumer-group lag, feeds and recent errors, read
  from Redis; broker.py reads queue depths from the broker in use (Redis or RabbitMQ);
  collector.py exposes both to Prometheus at scrape time and `newswire stats` prints them.
- beat.py: beat's scheduler, writing a heartbeat at every tick; health.py: liveness and
  readiness checks of workers and beat.
"""
