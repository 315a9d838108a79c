"""Thin Celery tasks: decode the message, call plain functions, publish, map errors.

Task names are the contract between beat, the workers and `newswire` commands.
"""

DISPATCH_DUE_FEEDS = "newswire.dispatch_due_feeds"
POLL_FEED = "newswire.poll_feed"
FETCH_ARTICLE = "newswire.fetch_article"
PROCESS_ARTICLE = "newswire.process_article"

# Queue of each task: I/O-bound polling and fetching apart from CPU-bound processing.
TASK_QUEUES = {
    DISPATCH_DUE_FEEDS: "feeds",
    POLL_FEED: "feeds",
    FETCH_ARTICLE: "fetch",
    PROCESS_ARTICLE: "process",
}
