"""The address policy: which addresses and URLs are refused, in every notation."""

from __future__ import annotations

import ipaddress

import pytest

from workers.errors import RefusedURL
from workers.fetching.addresses import (
    AddressPolicy,
    Allowlist,
    ip_literal,
    non_public_reason,
)
from workers.settings import Settings


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.0.1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "link-local"),  # the cloud metadata service
        ("fe80::1", "link-local"),
        ("100.64.0.1", "shared"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("0.1.2.3", "this-network"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.1", "private"),  # documentation
        ("198.18.0.1", "private"),  # benchmarking
        ("fec0::1", "site-local"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:169.254.169.254", "link-local"),
        ("::127.0.0.1", "loopback"),  # IPv4-compatible (deprecated)
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback"),  # Teredo, client 127.0.0.1
    ],
)
def test_non_public_addresses_are_named(address: str, reason: str) -> None:
    found = non_public_reason(ipaddress.ip_address(address))
    assert found is not None and found.startswith(reason), found


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_addresses_pass(address: str) -> None:
    assert non_public_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "host", ["2130706433", "0x7f000001", "0177.0.0.1", "127.1", "0x7f.1", "[::ffff:7f00:1]"]
)
def test_legacy_ip_notations_are_read_as_the_resolver_reads_them(host: str) -> None:
    literal = ip_literal(host)
    assert literal is not None
    assert non_public_reason(literal) is not None
    if isinstance(literal, ipaddress.IPv6Address):
        literal = literal.ipv4_mapped
    assert literal == ipaddress.IPv4Address("127.0.0.1")


def test_host_names_are_no_ip_literals() -> None:
    assert ip_literal("example.org") is None
    assert ip_literal("localhost") is None


STRICT = AddressPolicy()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/feed",
        "http://127.0.0.1:8080/feed",
        "http://2130706433/feed",
        "http://0x7f000001/feed",
        "http://0177.0.0.1/feed",
        "http://127.1/feed",
        "http://[::1]/feed",
        "http://[::ffff:127.0.0.1]/feed",
        "http://[0:0:0:0:0:ffff:7f00:1]/feed",
        "http://0.0.0.0/feed",
        "http://0/feed",
        "https://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",  # AWS metadata over IPv6 (ULA)
        "http://10.0.0.1/admin",
        "http://192.168.1.1/",
        "http://100.100.100.200/latest/meta-data/",  # Alibaba Cloud metadata (shared space)
        "http://224.0.0.251/",
        "http://[ff02::fb]/",
        "http://255.255.255.255/",
        "http://[64:ff9b::7f00:1]/",
        "http://[2002:a9fe:a9fe::]/",  # 6to4 of 169.254.169.254
    ],
)
def test_urls_naming_non_public_addresses_are_refused_without_any_lookup(url: str) -> None:
    with pytest.raises(RefusedURL) as caught:
        STRICT.check_url(url)
    assert caught.value.reason == "private_address"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "scheme"),
        ("gopher://example.org/1", "scheme"),
        ("ftp://example.org/feed.xml", "scheme"),
        ("data:text/xml,<rss/>", "scheme"),
        ("javascript:alert(1)", "scheme"),
        ("dict://example.org:11211/stats", "scheme"),
        ("/relative/path", "scheme"),
        ("http:///no-host", "no_host"),
        ("http://example.org:25/", "port"),  # SMTP
        ("http://example.org:0/", "port"),
        ("http://example.org:99999/", "port"),
    ],
)
def test_other_schemes_hostless_urls_and_non_http_ports_are_refused(url: str, reason: str) -> None:
    with pytest.raises(RefusedURL) as caught:
        STRICT.check_url(url)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    "url",
    [
        "https://feeds.example.org/rss",
        "http://93.184.215.14/feed",
        "https://[2606:4700::1111]/",
        "http://example.org:8080/feed",
        # Not on the Fetch standard's list of bad ports: a public host may serve HTTP on
        # Redis's port; a private one is refused by its address.
        "http://example.org:6379/",
        "https://user:secret@feeds.example.org/private.xml",
    ],
)
def test_public_urls_pass(url: str) -> None:
    assert STRICT.check_url(url) == url


def test_allowlist_admits_networks_and_names_only() -> None:
    policy = AddressPolicy.of(["10.0.0.0/8", "127.0.0.1", "intranet.example", "*.corp.example"])
    policy.check_url("http://10.20.30.40/feed")
    policy.check_url("http://127.0.0.1:8080/feed")
    policy.check_url("http://[::ffff:127.0.0.1]/feed")  # the same address, mapped
    policy.check_addresses("intranet.example", [ipaddress.ip_address("192.168.1.5")])
    policy.check_addresses("news.corp.example", [ipaddress.ip_address("172.16.0.9")])
    for url in ("http://127.0.0.2/", "http://192.168.1.1/", "http://[::1]/"):
        with pytest.raises(RefusedURL):
            policy.check_url(url)
    with pytest.raises(RefusedURL):
        policy.check_addresses("other.example", [ipaddress.ip_address("192.168.1.5")])
    with pytest.raises(RefusedURL):  # "*.corp.example" is for names under it only
        policy.check_addresses("corp.example", [ipaddress.ip_address("172.16.0.9")])


def test_one_private_address_among_public_ones_refuses_the_name() -> None:
    addresses = [ipaddress.ip_address(a) for a in ("93.184.215.14", "127.0.0.1")]
    with pytest.raises(RefusedURL, match=r"127\.0\.0\.1, a loopback"):
        STRICT.check_addresses("mixed.example", addresses)


def test_nothing_is_allowlisted_by_default() -> None:
    assert Settings.model_fields["fetch_allowlist"].default == ()
    assert AddressPolicy.of(()) == STRICT


def test_allowlist_setting_reads_commas_and_refuses_junk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSWIRE_FETCH_ALLOWLIST", "10.0.0.0/8, intranet.example *.corp.example")
    assert Settings().fetch_allowlist == ("10.0.0.0/8", "intranet.example", "*.corp.example")
    monkeypatch.setenv("NEWSWIRE_FETCH_ALLOWLIST", "10.0.0.0/33")
    with pytest.raises(ValueError, match="neither a network nor a host name"):
        Settings()
    assert Allowlist.parse([" "]) == Allowlist()
