"""Server-side request forgery: real connections on loopback, refused before they happen.

Loopback stands in for every private network here: the fixture servers listen
on 127.0.0.1 and 127.0.0.2, and a client that does not allowlist them must
refuse every way of naming them (IP literals in any notation, names that
resolve to them, redirect hops, DNS answers that change between two lookups)
without opening a single connection. Names are resolved by the client's
resolver seam where a test needs a name to answer something chosen (there is
no DNS server here); the connections themselves are real.
"""

from __future__ import annotations

import base64
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from schemas import FeedSource
from tests.support.http_server import FixtureHttpServer
from tests.support.tls import make_certificates
from workers import errors
from workers.dedup.seen import SeenStore
from workers.fetching.http import HttpClient
from workers.fetching.robots import RobotsPolicy
from workers.fetching.transport import Resolver
from workers.keys import Keys
from workers.polling.poll import FeedPoller
from workers.registry.store import FeedRegistry
from workers.settings import Settings

RSS = (
    '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
    "<item><link>https://news.example/1</link></item></channel></rss>"
)


@pytest.fixture
def second_server() -> Iterator[FixtureHttpServer]:
    """Another loopback host: the "internal service" a feed tries to reach."""
    server = FixtureHttpServer(host="127.0.0.2")
    server.start()
    yield server
    server.stop()


def client_with(*allow: str, resolver: Resolver | None = None, **settings: object) -> HttpClient:
    values: dict[str, object] = {
        "fetch_allowlist": allow,
        "http_connect_timeout": 2.0,
        "http_total_deadline": 5.0,
        **settings,
    }
    config = Settings.model_validate(values)
    return HttpClient(config) if resolver is None else HttpClient(config, resolver=resolver)


def fixed_resolver(answers: dict[str, list[str]]) -> Resolver:
    def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError(f"unknown test name {host}")
        return answers[host]

    return resolve


def spellings_of_loopback(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}/feed",
        f"http://localhost:{port}/feed",
        f"http://LOCALHOST.:{port}/feed",
        f"http://feeds.localhost:{port}/feed",  # RFC 6761: loopback by definition
        f"http://2130706433:{port}/feed",  # decimal
        f"http://0x7f000001:{port}/feed",  # hexadecimal
        f"http://0177.0.0.1:{port}/feed",  # octal
        f"http://127.1:{port}/feed",  # short form
        f"http://[::ffff:127.0.0.1]:{port}/feed",  # IPv4-mapped IPv6
        f"http://[::ffff:7f00:1]:{port}/feed",
        f"http://[::1]:{port}/feed",
        f"http://0.0.0.0:{port}/feed",  # Linux connects 0.0.0.0 to the local host
        f"http://0:{port}/feed",
    ]


def test_every_spelling_of_loopback_is_refused_without_connecting(
    http_server: FixtureHttpServer,
) -> None:
    http_server.route("/feed", RSS)
    client = client_with()  # production default: nothing allowlisted
    try:
        for url in spellings_of_loopback(http_server.port):
            with pytest.raises(errors.RefusedURL) as caught:
                client.get(url, max_bytes=10_000)
            assert caught.value.reason == "private_address", url
    finally:
        client.close()
    assert http_server.connections == 0
    assert http_server.requests == []


def test_cloud_metadata_and_private_networks_are_refused_at_once() -> None:
    client = client_with()
    try:
        for url in [
            "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
            "http://[fd00:ec2::254]/latest/meta-data/",
            "http://10.0.0.1/",
            "http://192.168.0.1/admin",
            "http://100.64.0.1/",
            "http://224.0.0.1/",
        ]:
            with pytest.raises(errors.RefusedURL, match="address"):
                client.get(url, max_bytes=1000)
    finally:
        client.close()
    resolving = client_with(
        resolver=fixed_resolver({"metadata.google.internal.": ["169.254.169.254"]})
    )
    try:
        with pytest.raises(errors.RefusedURL, match="link-local") as caught:
            resolving.get("http://metadata.google.internal./computeMetadata/v1/", max_bytes=1000)
        assert caught.value.reason == "private_address"
    finally:
        resolving.close()


def test_allowlisted_loopback_is_fetched_and_nothing_else(
    http_server: FixtureHttpServer, second_server: FixtureHttpServer
) -> None:
    http_server.route("/feed", RSS)
    second_server.route("/feed", RSS)
    client = client_with("127.0.0.1")
    try:
        assert client.get(http_server.url("/feed"), max_bytes=10_000).status == 200
        with pytest.raises(errors.RefusedURL):
            client.get(second_server.url("/feed"), max_bytes=10_000)
    finally:
        client.close()
    by_name = client_with("localhost")
    try:
        port = http_server.port
        assert by_name.get(f"http://localhost:{port}/feed", max_bytes=10_000).status == 200
        with pytest.raises(errors.RefusedURL):  # the name is allowed, not the address
            by_name.get(f"http://127.0.0.1:{port}/feed", max_bytes=10_000)
    finally:
        by_name.close()
    assert second_server.connections == 0


def test_a_name_resolving_to_a_private_address_is_refused(
    http_server: FixtureHttpServer, second_server: FixtureHttpServer
) -> None:
    second_server.route("/feed", RSS)
    answers = {
        "internal.example": ["127.0.0.2"],
        # One private address among allowed ones refuses the name: no partial trust.
        "mixed.example": ["127.0.0.1", "127.0.0.2"],
    }
    client = client_with("127.0.0.1", resolver=fixed_resolver(answers))
    try:
        for name in answers:
            with pytest.raises(errors.RefusedURL, match=r"127\.0\.0\.2") as caught:
                client.get(f"http://{name}:{second_server.port}/feed", max_bytes=10_000)
            assert caught.value.reason == "private_address"
    finally:
        client.close()
    assert second_server.connections == 0
    assert http_server.connections == 0


def test_redirect_hops_to_private_addresses_are_refused(
    http_server: FixtureHttpServer, second_server: FixtureHttpServer
) -> None:
    internal = second_server.port
    hops = {
        "/to-ip": f"http://127.0.0.2:{internal}/secret",
        "/to-decimal": f"http://2130706434:{internal}/secret",  # 127.0.0.2
        "/to-mapped": f"http://[::ffff:127.0.0.2]:{internal}/secret",
        "/to-name": f"http://internal.example:{internal}/secret",
        "/to-metadata": "http://169.254.169.254/latest/meta-data/",
        "/to-file": "file:///etc/passwd",
        "/to-gopher": f"gopher://127.0.0.1:{internal}/_SET%20x%201",
    }
    for path, location in hops.items():
        http_server.route(path, status=302, headers={"Location": location})
    second_server.route("/secret", "internal data")
    resolver = fixed_resolver({"127.0.0.1": ["127.0.0.1"], "internal.example": ["127.0.0.2"]})
    client = client_with("127.0.0.1", resolver=resolver)
    try:
        for path in hops:
            with pytest.raises(errors.RefusedURL) as caught:
                client.get(http_server.url(path), max_bytes=10_000)
            assert caught.value.reason in {"private_address", "scheme"}, path
    finally:
        client.close()
    assert http_server.hits("/to-ip") == 1  # the public hop was fetched...
    assert second_server.connections == 0  # ...and the internal one never reached


def test_dns_rebinding_cannot_change_the_address_after_the_check(
    http_server: FixtureHttpServer,
) -> None:
    """The name answers an allowed address first and a refused one afterwards.

    A twin server listens on the refused address with the same port: a client that
    checked one lookup and connected after another would reach it. This one
    resolves once per connection and connects to the address it checked.
    """
    twin = FixtureHttpServer(host="127.0.0.2", port=http_server.port)
    twin.start()
    for server in (http_server, twin):
        server.route("/feed", RSS)
    lookups: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"] if len(lookups) % 2 == 1 else ["127.0.0.2"]

    url = f"http://rebind.example:{http_server.port}/feed"
    client = client_with("127.0.0.1", resolver=rebinding)
    try:
        assert client.get(url, max_bytes=10_000).status == 200
        assert lookups == ["rebind.example"]  # one lookup for check and connection
        client.close()
        client = client_with("127.0.0.1", resolver=rebinding)
        with pytest.raises(errors.RefusedURL):  # the second answer is refused
            client.get(url, max_bytes=10_000)
    finally:
        client.close()
        twin.stop()
    assert http_server.hits("/feed") == 1
    assert twin.connections == 0


def test_host_header_sni_and_certificate_keep_the_name(tmp_path: Path) -> None:
    """Connecting to the checked address does not weaken TLS: the certificate must
    still match the URL's host name, which is also the SNI and the Host header."""
    certs = make_certificates(tmp_path, "feeds.newswire.test")
    server = FixtureHttpServer(tls=(str(certs.cert_file), str(certs.key_file)))
    server.route("/feed", RSS)
    server.start()
    trust = ssl.create_default_context(cafile=str(certs.ca_file))
    names = {"feeds.newswire.test": ["127.0.0.1"], "impostor.newswire.test": ["127.0.0.1"]}
    config = Settings(fetch_allowlist=("127.0.0.1",), http_total_deadline=5.0)
    client = HttpClient(config, resolver=fixed_resolver(names), ssl_context=trust)
    try:
        good = f"https://feeds.newswire.test:{server.port}/feed"
        assert client.get(good, max_bytes=10_000).body == RSS.encode()
        assert server.requests[-1].headers["host"] == f"feeds.newswire.test:{server.port}"
        assert server.server_names == ["feeds.newswire.test"]
        with pytest.raises(errors.ConnectError) as caught:  # same address, wrong name
            client.get(f"https://impostor.newswire.test:{server.port}/feed", max_bytes=10_000)
        assert caught.value.reason == "tls"
    finally:
        client.close()
        server.stop()
    assert len(server.requests) == 1


def test_credentials_go_to_their_own_host_only(
    http_server: FixtureHttpServer, second_server: FixtureHttpServer
) -> None:
    """A feed URL with user:password authenticates there; a redirect elsewhere drops it."""
    http_server.route("/private.xml", status=302, headers={"Location": second_server.url("/feed")})
    second_server.route("/feed", RSS)
    client = client_with("127.0.0.0/8")
    try:
        url = f"http://reader:s3cret@127.0.0.1:{http_server.port}/private.xml"
        assert client.get(url, max_bytes=10_000).status == 200
    finally:
        client.close()
    expected = "Basic " + base64.b64encode(b"reader:s3cret").decode()
    assert http_server.requests[-1].headers.get("authorization") == expected
    assert "authorization" not in second_server.requests[-1].headers


# --- the stages: poll and article fetch ----------------------------------------------------


def register(registry: FeedRegistry, feed_id: str, url: str) -> None:
    registry.sync([FeedSource.model_validate({"id": feed_id, "url": url, "title": "T"})], now=0)


@pytest.fixture
def strict_settings(settings: Settings) -> Settings:
    """The suite's settings without its loopback allowlist: production's default."""
    return settings.model_copy(update={"fetch_allowlist": ()})


def test_a_feed_on_a_private_address_is_a_typed_error_on_its_status(
    strict_settings: Settings,
    redis_client: redis.Redis,
    keys: Keys,
    http_server: FixtureHttpServer,
) -> None:
    http_server.route("/feed", RSS)
    registry = FeedRegistry(redis_client, keys)
    http = HttpClient(strict_settings)
    poller = FeedPoller(registry, SeenStore(redis_client, keys), http, strict_settings)
    feed_url = f"http://2130706433:{http_server.port}/feed"
    register(registry, "inner", feed_url)
    result = poller.poll("inner", now=100)
    http.close()
    record = registry.get("inner")
    assert result.status == "error" and result.new_entries == []
    assert record is not None
    assert (record.state.last_error_reason, record.state.last_error_kind) == (
        "private_address",
        "refused",
    )
    assert "loopback" in (record.state.last_error or "")
    assert http_server.connections == 0


def test_robots_txt_of_a_privately_resolving_site_refuses_the_article(
    settings: Settings,
    redis_client: redis.Redis,
    keys: Keys,
    second_server: FixtureHttpServer,
) -> None:
    """The robots.txt lookup is no side door: the article is refused (permanent), not
    retried as if robots.txt were merely unreachable."""
    second_server.route("/robots.txt", "User-agent: *\nAllow: /\n")
    second_server.route("/article", "<html><body><p>internal</p></body></html>")
    config = settings.model_copy(update={"fetch_allowlist": ("127.0.0.1",)})
    http = HttpClient(config, resolver=fixed_resolver({"intranet.example": ["127.0.0.2"]}))
    robots = RobotsPolicy(redis_client, keys, http, config)
    url = f"http://intranet.example:{second_server.port}/article"
    try:
        with pytest.raises(errors.RefusedURL) as caught:
            http.get(url, max_bytes=10_000, guard=robots.check)
    finally:
        http.close()
    assert caught.value.reason == "private_address"
    assert second_server.connections == 0
    assert redis_client.get(keys.robots(f"http://intranet.example:{second_server.port}")) is None


def test_a_refused_redirect_never_moves_a_feed(
    settings: Settings, redis_client: redis.Redis, keys: Keys, http_server: FixtureHttpServer
) -> None:
    """A 301 to the metadata service: the poll fails with a typed error, the feed keeps
    its URL, and nothing was requested from the target."""
    http_server.route("/feed", status=301, headers={"Location": "http://169.254.169.254/rss"})
    registry = FeedRegistry(redis_client, keys)
    http = HttpClient(settings)
    poller = FeedPoller(registry, SeenStore(redis_client, keys), http, settings)
    register(registry, "f", http_server.url("/feed"))
    result = poller.poll("f", now=100)
    http.close()
    record = registry.get("f")
    assert record is not None and record.url == http_server.url("/feed")
    assert record.state.moved_url is None
    assert result.error is not None and result.error.reason == "private_address"


def test_a_lookup_that_hangs_gives_up_at_the_connect_timeout_as_a_dns_error() -> None:
    """The C resolver knows no deadline of ours: a dead DNS server would hold a poll
    thread for its own retries. The lookup is abandoned at the connect timeout."""
    released = threading.Event()

    def hanging(host: str, port: int) -> list[str]:
        released.wait(30)
        return ["127.0.0.1"]

    client = client_with("127.0.0.1", resolver=hanging, http_connect_timeout=0.5)
    started = time.monotonic()
    try:
        with pytest.raises(errors.ConnectError, match=r"no answer within 0\.5s") as caught:
            client.get("http://slow-dns.example/feed", max_bytes=1000)
    finally:
        released.set()
        client.close()
    assert caught.value.reason == "dns"
    assert time.monotonic() - started < 3.0
