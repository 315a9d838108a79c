"""XML attacks on the poll stage: served over HTTP, polled by the real poller.

Each attack must end in a typed outcome on the feed's status (entries, or a
FeedParseError), with no entity expanded, no local file read, nothing fetched
from the URLs the document names, and memory and CPU far below what an
expansion would need (an expanded billion laughs is gigabytes; the bounds
below are a few dozen megabytes and seconds, generous for a noisy machine).
"""

from __future__ import annotations

import time
import tracemalloc
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from schemas import FeedEntry, FeedSource
from tests.support.http_server import FixtureHttpServer
from workers.dedup.seen import SeenStore
from workers.fetching.http import HttpClient
from workers.keys import Keys
from workers.polling.poll import FeedPoller, PollResult
from workers.registry.store import FeedRegistry, FeedState
from workers.settings import Settings

PEAK_MEMORY_BOUND = 64 * 2**20
CPU_SECONDS_BOUND = 20.0


@dataclass
class Poll:
    result: PollResult
    state: FeedState
    peak_bytes: int
    cpu_seconds: float


class Attack:
    """Serve a body as a feed, poll it once, measure what the poll cost."""

    def __init__(self, server: FixtureHttpServer, registry: FeedRegistry, poller: FeedPoller):
        self.server = server
        self.registry = registry
        self.poller = poller

    def poll(
        self, body: bytes, content_type: str = "application/rss+xml", *, trace: bool = True
    ) -> Poll:
        """`trace`: measure the peak of Python allocations (tracemalloc slows parsing)."""
        feed_id = f"attack-{uuid.uuid4().hex[:8]}"
        path = f"/{feed_id}.xml"
        self.server.route(path, body, headers={"Content-Type": content_type})
        source = FeedSource.model_validate(
            {"id": feed_id, "url": self.server.url(path), "title": "Attack"}
        )
        self.registry.sync([source], now=0)
        cpu = time.process_time()
        if trace:
            tracemalloc.start()
        try:
            result = self.poller.poll(feed_id, now=1000)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        record = self.registry.get(feed_id)
        assert record is not None
        return Poll(result, record.state, peak, time.process_time() - cpu)


@pytest.fixture
def attack(
    redis_client: redis.Redis, keys: Keys, settings: Settings, http_server: FixtureHttpServer
) -> Iterator[Attack]:
    registry = FeedRegistry(redis_client, keys)
    http = HttpClient(settings)
    yield Attack(
        http_server, registry, FeedPoller(registry, SeenStore(redis_client, keys), http, settings)
    )
    http.close()


def texts_of(entries: list[FeedEntry]) -> list[str]:
    return [t for e in entries for t in (e.title, e.summary, e.url, *e.authors) if t]


def assert_contained(poll: Poll, *, max_text: int = 2000) -> None:
    """A typed outcome, no expansion, bounded resources."""
    assert poll.result.status in {"new_entries", "no_new_entries", "error"}, poll.result.status
    if poll.result.status == "error":
        assert poll.state.last_error_reason == "feed_parse", poll.state.last_error
        assert poll.state.last_error_kind == "parse"
    assert all(len(text) <= max_text for text in texts_of(poll.result.new_entries))
    assert poll.peak_bytes < PEAK_MEMORY_BOUND, f"{poll.peak_bytes / 2**20:.1f} MiB"
    assert poll.cpu_seconds < CPU_SECONDS_BOUND


def rss(doctype: str, title: str, description: str = "x") -> bytes:
    return (
        f'<?xml version="1.0"?>\n{doctype}\n<rss version="2.0"><channel><title>T</title>'
        f"<item><title>{title}</title><link>https://news.example/a</link>"
        f"<description>{description}</description></item></channel></rss>"
    ).encode()


def billion_laughs(levels: int = 10) -> str:
    lines = ['<!ENTITY lol0 "lol">']
    for level in range(1, levels):
        lines.append(f'<!ENTITY lol{level} "{f"&lol{level - 1};" * 10}">')
    return "<!DOCTYPE rss [\n" + "\n".join(lines) + "\n]>"


def test_billion_laughs_expands_nothing(attack: Attack) -> None:
    poll = attack.poll(rss(billion_laughs(), "&lol9;", "&lol9;"))
    assert_contained(poll)
    assert not any("lollollol" in t for t in texts_of(poll.result.new_entries))


def test_billion_laughs_in_atom_expands_nothing(attack: Attack) -> None:
    body = (
        '<?xml version="1.0" encoding="utf-8"?>' + billion_laughs().replace("rss", "feed")
        + '<feed xmlns="http://www.w3.org/2005/Atom"><title>&lol9;</title>'
        '<entry><title>&lol9;</title><id>urn:x</id><link href="https://news.example/b"/>'
        "<summary>&lol9;</summary></entry></feed>"
    ).encode()  # fmt: skip
    assert_contained(attack.poll(body, "application/atom+xml"))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-7"])
def test_quadratic_blowup_expands_nothing_in_any_encoding(attack: Attack, encoding: str) -> None:
    """One 100 kB entity referenced 50,000 times: 5 GB if expanded, from a 250 kB feed.

    UTF-16 and UTF-7 hide `<!ENTITY` from any check on the raw bytes; the
    declarations are disarmed after the document is decoded.
    """
    doctype = '<!DOCTYPE rss [\n<!ENTITY a "' + "A" * 100_000 + '">\n]>'
    text = rss(doctype, "&a;" * 50_000).decode()
    body = text.replace('<?xml version="1.0"?>', "").encode(encoding)
    poll = attack.poll(body, f"application/xml; charset={encoding}")
    assert_contained(poll, max_text=200_000)  # the 50,000 references stay text
    assert "AAAA" not in "".join(texts_of(poll.result.new_entries))
    assert poll.result.new_entries, "the item itself is still read"


def test_external_entities_read_no_local_file(attack: Attack, tmp_path: Path) -> None:
    secret = f"NEWSWIRE-SECRET-{uuid.uuid4().hex}"
    target = tmp_path / "secret.txt"
    target.write_text(secret)
    doctype = f'<!DOCTYPE rss [\n<!ENTITY xxe SYSTEM "{target.as_uri()}">\n]>'
    poll = attack.poll(rss(doctype, "before &xxe; after", "&xxe;"))
    assert_contained(poll)
    assert secret not in repr(poll.result) + repr(poll.state)
    passwd = attack.poll(rss('<!DOCTYPE rss [<!ENTITY p SYSTEM "file:///etc/passwd">]>', "&p;"))
    assert_contained(passwd)
    assert not any("root:" in t for t in texts_of(passwd.result.new_entries))


def test_external_entities_and_dtds_fetch_nothing(attack: Attack) -> None:
    server = attack.server
    for path in ("/xxe", "/evil.dtd", "/param.dtd", "/include"):
        server.route(path, '<!ENTITY leak "LEAKED">')
    doctypes = [
        f'<!DOCTYPE rss [\n<!ENTITY xxe SYSTEM "{server.url("/xxe")}">\n]>',
        f'<!DOCTYPE rss SYSTEM "{server.url("/evil.dtd")}">',
        f'<!DOCTYPE rss PUBLIC "-//Evil//DTD//EN" "{server.url("/evil.dtd")}">',
        f'<!DOCTYPE rss [\n<!ENTITY % remote SYSTEM "{server.url("/param.dtd")}">\n%remote;\n]>',
    ]
    for doctype in doctypes:
        poll = attack.poll(rss(doctype, "&xxe; &leak;", "&leak;"))
        assert_contained(poll)
        assert "LEAKED" not in "".join(texts_of(poll.result.new_entries))
    xinclude = rss(
        "",
        f'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{server.url("/include")}"/>',
    )
    assert_contained(attack.poll(xinclude))
    fetched = [r.path for r in server.requests if not r.path.startswith("/attack-")]
    assert fetched == []


def test_deep_nesting_is_refused_before_feedparser_reads_it(attack: Attack) -> None:
    """Nesting costs feedparser time and memory in proportion (12.9 s of CPU for 4.8 MiB
    of it): refused at libxml2's depth limit, in well under a second, even near the feed
    size limit; a feed nested within the limit is read."""
    depth = 1_200_000  # 8.2 MiB of tags, within the 10 MiB feed size limit
    nested = "<x>" * depth + "deep" + "</x>" * depth
    poll = attack.poll(rss("", "t", nested), trace=False)
    assert_contained(poll)
    assert poll.result.status == "error"
    assert "nested deeper than 256 levels" in (poll.state.last_error or "")
    assert poll.cpu_seconds < 2.0

    within = "<b>" * 200 + "deep" + "</b>" * 200
    assert attack.poll(rss("", "t", within)).result.status == "new_entries"
