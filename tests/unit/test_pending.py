"""Pending entries as the registry stores them: a round trip, and bytes that are not one."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from schemas import FeedEntry, FeedRef
from workers.polling.pending import PendingEntry, decode_all


def entry(number: int) -> FeedEntry:
    return FeedEntry(
        doc_id=f"{number:032x}",
        feed=FeedRef(id="f", url="https://example.org/feed"),
        url=f"https://example.org/news/{number}?utm_source=x",
        canonical_url=f"https://example.org/news/{number}",
        guid=f"news-{number}",
        summary="Résumé : 12 000 obus.",
        published_at=datetime(2026, 11, 24, 8, 30, tzinfo=UTC),
        discovered_at=datetime(2026, 11, 25, 9, 0, tzinfo=UTC),
    )


def test_a_pending_entry_round_trips_with_the_record_it_was_read_with() -> None:
    pending = PendingEntry(entry(1), b"P\x00\x01" + bytes(15))
    assert PendingEntry.decode(pending.encode()) == pending
    assert PendingEntry.decode(PendingEntry(entry(2), b"").encode()).read == b""


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"[]", b'{"read": "zz", "entry": {}}', b'{"read": "", "entry": {}}'],
)
def test_bytes_that_are_no_pending_entry_are_refused(raw: bytes) -> None:
    with pytest.raises(ValueError, match="not a pending entry"):
        PendingEntry.decode(raw)


def test_unreadable_pending_entries_are_logged_and_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    good = PendingEntry(entry(3), b"")
    with caplog.at_level(logging.ERROR):
        decoded = decode_all("f", {"a": good.encode(), "b": b"{broken"})
    assert decoded == {"a": good}
    assert "feed f: pending entry b dropped" in caplog.text
