"""Which addresses Newswire may connect to: public ones, and those an operator allowlists.

Feeds and pages come from anyone, so every URL we fetch (a feed, an article,
robots.txt, each redirect hop) could point at the machine we run on or its
private network: loopback services, cloud metadata at 169.254.169.254, an
admin panel on 10.0.0.1. An address is refused unless it is globally routable
unicast; the categories below say why in the error message. Addresses that
carry an IPv4 address inside an IPv6 one (IPv4-mapped, IPv4-compatible, NAT64,
6to4, Teredo) are judged by the IPv4 address too.

The check runs on the address actually connected to (see transport.py, which
resolves a name once, checks every address and connects to a checked one), so
a name that resolves to a private address, or to a public one first and a
private one later (DNS rebinding), is refused like an IP literal.

Private deployments and the test suite allowlist what they need with
NEWSWIRE_FETCH_ALLOWLIST: networks in CIDR form (10.0.0.0/8, 127.0.0.1) and
host names (intranet.example, or *.corp.example for every name under it).
Nothing is allowlisted by default.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

from workers.errors import RefusedURL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = frozenset({"http", "https"})

# Ports a browser never fetches from (the Fetch standard's "bad ports"): a request
# to them speaks HTTP to a mail, shell or file service (cross-protocol forgery).
BAD_PORTS = frozenset({
    1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95,
    101, 102, 103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161,
    179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563,
    587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060,
    5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
})  # fmt: skip

_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_HOST_PATTERN = re.compile(
    r"^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$"
)


def non_public_reason(address: IPAddress) -> str | None:
    """Why `address` is no public unicast address (loopback, private...), or None if it is."""
    for embedded in _embedded_ipv4(address):
        reason = non_public_reason(embedded)
        if reason is not None:
            return f"{reason}, inside {address}"
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return None  # only a spelling of the IPv4 address, judged above
    checks = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local (cloud metadata lives here)"),
        (address.is_multicast, "multicast"),
        (isinstance(address, ipaddress.IPv4Address) and address in _SHARED, "shared (CGNAT)"),
        (isinstance(address, ipaddress.IPv4Address) and address in _THIS_NETWORK, "this-network"),
        (isinstance(address, ipaddress.IPv6Address) and address.is_site_local, "site-local"),
        (address.is_reserved, "reserved"),
        (address.is_private, "private"),
        (not address.is_global, "special-purpose"),
    )
    return next((reason for matched, reason in checks if matched), None)


def _embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address leads to: mapped, compatible, NAT64, 6to4, Teredo."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    elif address in _IPV4_COMPATIBLE and int(address) > 1:  # not :: or ::1
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if any(address in net for net in _NAT64):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    return found


def ip_literal(host: str) -> IPAddress | None:
    """The address a URL host names without DNS, in every form the C resolver reads.

    Besides the standard forms this reads 2130706433, 0x7f000001, 0177.0.0.1 and
    127.1 as 127.0.0.1, as getaddrinfo would. None for a host name.
    """
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def normalise_host(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


@dataclass(frozen=True)
class Allowlist:
    """Networks and host names an operator lets Newswire fetch from despite the rules."""

    networks: tuple[IPNetwork, ...] = ()
    names: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()  # from "*.example.org": ".example.org"

    @classmethod
    def parse(cls, entries: Iterable[str]) -> Allowlist:
        """Raises ValueError naming the first entry that is neither a network nor a name."""
        networks: list[IPNetwork] = []
        names: set[str] = set()
        suffixes: list[str] = []
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            name = normalise_host(entry)
            if not _HOST_PATTERN.match(name):
                raise ValueError(f"allowlist entry {raw!r} is neither a network nor a host name")
            if name.startswith("*."):
                suffixes.append(name[1:])
            else:
                names.add(name)
        return cls(tuple(networks), frozenset(names), tuple(suffixes))

    def allows_name(self, host: str) -> bool:
        name = normalise_host(host)
        return name in self.names or any(name.endswith(s) for s in self.suffixes)

    def allows_address(self, address: IPAddress) -> bool:
        candidates = [address]
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)
        return any(a.version == n.version and a in n for a in candidates for n in self.networks)


@dataclass(frozen=True)
class AddressPolicy:
    """The rules every URL and every connection of the HTTP client obeys."""

    allowlist: Allowlist = field(default_factory=Allowlist)

    @classmethod
    def of(cls, entries: Iterable[str]) -> AddressPolicy:
        return cls(Allowlist.parse(entries))

    def check_url(self, url: str) -> str:
        """Refuse, before any network use, what the URL alone shows is off limits.

        Non-HTTP schemes, no host, bad or unusual-protocol ports, and hosts written
        as a non-public IP literal in any notation. Names are checked when they are
        resolved, on connection (check_addresses).
        """
        parts = check_url_syntax(url)
        host = parts.hostname or ""
        if self.allowlist.allows_name(host):
            return url
        name = normalise_host(host)
        if name == "localhost" or name.endswith(".localhost"):
            # RFC 6761: these names are loopback wherever they are looked up.
            raise RefusedURL(
                f"refused {url}: {host} names the local host (allow it with "
                "NEWSWIRE_FETCH_ALLOWLIST)",
                reason="private_address",
            )
        literal = ip_literal(host)
        if literal is not None:
            self.check_addresses(host, [literal], url=url)
        return url

    def check_addresses(self, host: str, addresses: Iterable[IPAddress], *, url: str = "") -> None:
        """Refuse a host if any of its addresses is non-public and not allowlisted."""
        if self.allowlist.allows_name(host):
            return
        for address in addresses:
            if self.allowlist.allows_address(address):
                continue
            reason = non_public_reason(address)
            if reason is not None:
                named = "is" if normalise_host(host) == str(address) else f"resolves to {address},"
                raise RefusedURL(
                    f"refused {url or host}: {host} {named} a {reason} address "
                    "(allow it with NEWSWIRE_FETCH_ALLOWLIST)",
                    reason="private_address",
                )


def check_url_syntax(url: str) -> SplitResult:
    """Refuse URLs that are not http(s) with a host and a usable port; the parts otherwise."""
    try:
        parts = urlsplit(url)
        parts.hostname  # noqa: B018 (raises ValueError on a malformed IPv6 literal)
    except ValueError as exc:
        raise RefusedURL(f"malformed URL {url!r}: {exc}", reason="bad_url") from exc
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise RefusedURL(f"refused URL scheme {parts.scheme or '(none)'!r}: {url}", reason="scheme")
    if not parts.hostname:
        raise RefusedURL(f"URL without a host: {url}", reason="no_host")
    try:
        port = parts.port
    except ValueError as exc:
        raise RefusedURL(f"URL with an invalid port: {url}", reason="port") from exc
    if port is not None and (port == 0 or port in BAD_PORTS):
        raise RefusedURL(
            f"refused port {port} (reserved for a non-HTTP service): {url}", reason="port"
        )
    return parts
