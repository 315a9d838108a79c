"""The `newswire` commands that manage the registry and read streams, on a real Redis."""

from pathlib import Path

import redis
from click.testing import CliRunner

from tests.conftest import REPO_ROOT
from tests.integration.test_publish import document
from workers.cli.main import cli
from workers.keys import Keys
from workers.publishing.streams import StreamPublisher
from workers.settings import Settings


def test_feeds_sync_list_export(
    settings: Settings, redis_client: redis.Redis, keys: Keys, tmp_path: Path
) -> None:
    runner = CliRunner()
    feeds_file = REPO_ROOT / "seeds" / "feeds.yaml"
    first = runner.invoke(cli, ["feeds", "sync", str(feeds_file)])
    assert first.exit_code == 0, first.output
    assert " added, 0 updated" in first.output
    count = redis_client.scard(keys.feed_ids)
    assert count >= 40
    second = runner.invoke(cli, ["feeds", "sync", str(feeds_file)])
    assert f"0 added, 0 updated, {count} unchanged" in second.output
    listing = runner.invoke(cli, ["feeds", "list"])
    assert listing.exit_code == 0 and "lemonde" in listing.output
    exported = runner.invoke(cli, ["feeds", "export"])
    assert exported.output.count("<outline ") == count
    # The export imports back as the very same feeds: OPML import and export agree.
    opml = tmp_path / "export.opml"
    opml.write_text(exported.output, encoding="utf-8")
    again = runner.invoke(cli, ["feeds", "sync", str(opml)])
    assert again.exit_code == 0, again.output
    assert f"0 added, 0 updated, {count} unchanged" in again.output


def test_feeds_sync_reports_bad_files(settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "feeds.yaml"
    bad.write_text("feeds:\n  - id: x\n    title: t\n    url: not-a-url\n")
    result = CliRunner().invoke(cli, ["feeds", "sync", str(bad)])
    assert result.exit_code == 1
    assert "feed #1 (x)" in result.output


def test_tail_prints_and_acknowledges(
    settings: Settings, redis_client: redis.Redis, keys: Keys
) -> None:
    StreamPublisher(redis_client, keys, maxlen=1000).publish(document())
    result = CliRunner().invoke(cli, ["tail", "--count", "1", "--group", "g1"])
    assert result.exit_code == 0, result.output
    assert "0123456789abcdef0123456789abcdef [en] sanctions" in result.output
    pending = redis_client.xpending(keys.documents_stream, "g1")
    assert pending["pending"] == 0
