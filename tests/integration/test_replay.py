"""Dead-letter replay: each entry once, documents start again from the fetch stage."""

from datetime import UTC, datetime
from typing import Any

import redis
from click.testing import CliRunner

from schemas import FeedEntry, FeedRef
from workers.cli.main import cli
from workers.dedup.seen import SeenStore
from workers.errors import FeedParseError, HttpStatusError
from workers.keys import Keys
from workers.publishing.deadletter import DeadLetterSink, dead_letter_for
from workers.publishing.replay import Replayer
from workers.settings import Settings
from workers.tasks import FETCH_ARTICLE

ENTRY = FeedEntry(
    doc_id="cd" * 16,
    feed=FeedRef(id="f", url="https://example.org/feed"),
    url="https://example.org/a",
    canonical_url="https://example.org/a",
    discovered_at=datetime(2026, 1, 1, tzinfo=UTC),
)


def record_failures(client: redis.Redis, keys: Keys) -> DeadLetterSink:
    sink = DeadLetterSink(client, keys, maxlen=1000)
    sink.record(
        dead_letter_for(
            HttpStatusError("gone", status=404),
            stage="fetch",
            task_name=FETCH_ARTICLE,
            task_args={"entry": ENTRY.model_dump(mode="json")},
            attempts=1,
            doc_id=ENTRY.doc_id,
            feed_id="f",
            url=ENTRY.url,
        )
    )
    sink.record(
        dead_letter_for(
            FeedParseError("not a feed"),
            stage="poll",
            task_name="newswire.poll_feed",
            task_args={"feed_id": "f"},
            attempts=1,
            feed_id="f",
        )
    )
    return sink


def test_replay_refetches_documents_and_repolls_feeds_once(
    redis_client: redis.Redis, keys: Keys
) -> None:
    sink = record_failures(redis_client, keys)
    redis_client.zadd(keys.feeds_due, {"f": 10**10})
    redis_client.set(keys.delivery_count(ENTRY.doc_id, "fetch"), 9)
    sent: list[tuple[str, list[Any]]] = []
    replayer = Replayer(redis_client, keys, lambda name, args: sent.append((name, args)))

    outcomes = replayer.replay(sink.latest())
    assert sorted(o.action for o in outcomes) == ["refetch", "repoll"]
    assert sent == [(FETCH_ARTICLE, [ENTRY.model_dump(mode="json")])]
    assert SeenStore(redis_client, keys).unseen([ENTRY.doc_id]) == [ENTRY.doc_id]
    assert not redis_client.exists(keys.delivery_count(ENTRY.doc_id, "fetch"))
    assert redis_client.zscore(keys.feeds_due, "f") == 0

    again = replayer.replay(sink.latest())
    assert {o.action for o in again} == {"skipped: already replayed"}
    assert len(sent) == 1
    assert len(replayer.replay(sink.latest(), force=True)) == 2
    assert len(sent) == 2


def test_cli_lists_and_replays(settings: Settings, redis_client: redis.Redis, keys: Keys) -> None:
    record_failures(redis_client, keys)
    runner = CliRunner()
    listing = runner.invoke(cli, ["deadletter", "list"])
    assert listing.exit_code == 0, listing.output
    assert "http_404" in listing.output and "feed_parse" in listing.output
    refused = runner.invoke(cli, ["deadletter", "replay"])
    assert refused.exit_code == 2
    replayed = runner.invoke(cli, ["deadletter", "replay", "--reason", "http_404"])
    assert replayed.exit_code == 0, replayed.output
    assert replayed.output.strip().endswith("refetch")
    # The fetch task is on the broker's fetch queue, as JSON.
    assert redis_client.llen(f"{keys.prefix}:celery:fetch") == 1
