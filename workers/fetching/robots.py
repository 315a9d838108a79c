"""robots.txt as RFC 9309 says, for article pages: parse, match, fetch once, cache per origin.

Parsing: the groups whose user-agent names our product token (case-insensitive,
"Newswire" from the User-Agent setting) are merged; with none, the `*` groups;
with none either, everything is allowed. Within them the rule with the longest
pattern that matches the path (and query) wins, an allow winning a tie; `*` matches
any run of characters and a final `$` anchors the end. Paths and patterns are
compared percent-encoding-normalised. Python's urllib.robotparser differs on
several points: it applies the first matching rule in file order, knows no
wildcards, and matches a user-agent line as a substring of the User-Agent.

Fetching (RFC 9309 section 2.3): through the one HttpClient, so robots.txt
requests obey the host's politeness limit and follow up to five redirects. A 2xx
is parsed (its first `robots_max_bytes`); a 4xx means no rules (all allowed); a
5xx, 429 or network failure means "unreachable": the whole site is disallowed for
now, remembered only `robots_error_ttl_seconds`, and fetched again after that.
Verdicts are cached in Redis per origin (scheme, host, port) for at most 24 hours;
one worker fetches while the others wait for its result.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass
from string import ascii_letters, digits
from urllib.parse import urlsplit

import redis

from workers import errors
from workers.fetching.http import HttpClient
from workers.keys import Keys
from workers.settings import Settings

ROBOTS_PATH = "/robots.txt"
_UNRESERVED = frozenset(ascii_letters + digits + "-._~")
_HEX = frozenset("0123456789abcdefABCDEF")
_TOKEN = re.compile(r"[A-Za-z_-]+")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# Pause while another worker fetches the same robots.txt.
_WAIT_STEP_SECONDS = 0.1

_RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


# --- parsing and matching ---------------------------------------------------------------


def normalise(value: str) -> str:
    """Percent-encoding as RFC 9309 compares it.

    Bytes outside printable ASCII are percent-encoded (UTF-8), an escaped
    unreserved character is decoded (%7E -> ~), other escapes get upper-case hex.
    """
    data = value.encode("utf-8")
    out: list[str] = []
    i = 0
    while i < len(data):
        byte = data[i]
        escape = data[i + 1 : i + 3].decode("latin-1") if byte == 0x25 else ""
        if len(escape) == 2 and set(escape) <= _HEX:
            char = chr(int(escape, 16))
            out.append(char if char in _UNRESERVED else "%" + escape.upper())
            i += 3
            continue
        out.append(chr(byte) if 0x21 <= byte <= 0x7E else f"%{byte:02X}")
        i += 1
    return "".join(out)


def pattern_matches(pattern: str, path: str) -> bool:
    """Does a robots.txt path pattern match the start of `path` (both normalised)?"""
    anchored = pattern.endswith("$")
    if anchored:
        pattern = pattern[:-1]
    head, star, _ = pattern.partition("*")
    if not star:
        return path == pattern if anchored else path.startswith(pattern)
    if not path.startswith(head):
        return False  # the cheap test that rules out most patterns
    # Positions in the path reachable after each pattern character: O(len * len),
    # never the exponential backtracking a translated regex can hit.
    positions = [0]
    for char in pattern:
        if char == "*":
            positions = list(range(positions[0], len(path) + 1))
            continue
        positions = [p + 1 for p in positions if p < len(path) and path[p] == char]
        if not positions:
            return False
    return len(path) in positions if anchored else True


@dataclass(frozen=True)
class Rule:
    allow: bool
    pattern: str  # normalised


@dataclass(frozen=True)
class RobotsRules:
    """The rules that apply to us, longest pattern first, allow before disallow at equal length."""

    rules: tuple[Rule, ...] = ()

    @classmethod
    def of(cls, rules: list[Rule]) -> RobotsRules:
        return cls(tuple(sorted(rules, key=lambda r: (-len(r.pattern), not r.allow))))

    def allows(self, path: str) -> bool:
        """`path` is the URL's path and query, as sent (normalised here)."""
        target = normalise(path or "/")
        if target == ROBOTS_PATH:
            return True  # RFC 9309 2.2.2: implicitly allowed
        # Sorted by precedence: the first match is the most specific one.
        for rule in self.rules:
            if pattern_matches(rule.pattern, target):
                return rule.allow
        return True


def product_token(user_agent: str) -> str:
    """The product token a robots.txt names us by: "Newswire" in "Newswire/0.1 (+url)"."""
    match = _TOKEN.match(user_agent.strip())
    if match is None:
        raise errors.ConfigurationError(
            f"the user agent {user_agent!r} does not start with a product token (letters, _ or -)"
        )
    return match.group(0)


def _agent_of(value: str) -> str:
    """The product token of a user-agent line ("Newswire/1.0" names "newswire")."""
    value = value.strip()
    if value.startswith("*"):
        return "*"
    match = _TOKEN.match(value)
    return match.group(0).lower() if match else ""


def _records(text: str) -> list[tuple[str, str]]:
    records = []
    for line in _LINE_BREAK.split(text):
        key, colon, value = line.split("#", 1)[0].partition(":")
        if colon:
            records.append((key.strip().lower(), value.strip()))
    return records


def parse_robots(text: str, token: str) -> RobotsRules:
    """The merged rules of the groups for `token`, else of the `*` groups, else none."""
    token = token.lower()
    ours: list[Rule] = []
    anyone: list[Rule] = []
    found_ours = False
    agents: list[str] = []
    rules: list[Rule] = []
    in_rules = False

    def close_group() -> None:
        nonlocal found_ours
        if token in agents:
            found_ours = True
            ours.extend(rules)
        if "*" in agents:
            anyone.extend(rules)

    for key, value in _records(text.lstrip("\ufeff")):
        if key == "user-agent":
            if in_rules:  # a user-agent line after rules starts the next group
                close_group()
                agents, rules, in_rules = [], [], False
            agents.append(_agent_of(value))
        elif key in ("allow", "disallow") and agents:
            in_rules = True
            if value:  # an empty value is no rule
                rules.append(Rule(key == "allow", normalise(value)))
        # Anything else (sitemap, crawl-delay, unknown) neither adds rules nor ends a group.
    close_group()
    return RobotsRules.of(ours if found_ours else anyone)


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    path = parts.path or "/"
    return f"{path}?{parts.query}" if parts.query else path


def origin_of(url: str) -> str:
    """scheme://host:port, with the port written out (the unit a robots.txt covers)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


# --- fetching and caching ---------------------------------------------------------------


@dataclass(frozen=True)
class RobotsVerdict:
    """What an origin's robots.txt says, as cached."""

    rules: RobotsRules
    unreachable: str | None = None  # why the site is off limits for now
    status: int | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "rules": [[int(r.allow), r.pattern] for r in self.rules.rules],
                "unreachable": self.unreachable,
                "status": self.status,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> RobotsVerdict:
        data = json.loads(raw)
        rules = RobotsRules(tuple(Rule(bool(a), p) for a, p in data["rules"]))
        return cls(rules, data.get("unreachable"), data.get("status"))


class RobotsPolicy:
    """Made once per worker process; `check` is the guard of every article request."""

    def __init__(
        self, client: redis.Redis, keys: Keys, http: HttpClient, settings: Settings
    ) -> None:
        self._redis = client
        self._keys = keys
        self._http = http
        self._token = product_token(settings.user_agent)
        self._ttl = settings.robots_cache_seconds
        self._error_ttl = settings.robots_error_ttl_seconds
        self._max_bytes = settings.robots_max_bytes
        self._max_wait = settings.host_max_wait_seconds
        # Outlives the fetch (a wait for the host's slot, then the whole request).
        self._lock_seconds = max(
            1,
            round(
                settings.host_max_wait_seconds
                + settings.http_connect_timeout
                + settings.http_total_deadline
                + settings.http_read_timeout
            ),
        )
        self._release_lock = client.register_script(_RELEASE_LOCK)

    def check(self, url: str) -> None:
        """Return if robots.txt lets us fetch `url`; raise RobotsDisallowed if not.

        An unreachable robots.txt raises UpstreamUnavailable (retried later), a
        robots.txt another worker is fetching right now may raise HostBusy.
        """
        path = _path_of(url)
        if path == ROBOTS_PATH:
            return
        origin = origin_of(url)
        verdict = self.verdict(origin)
        if verdict.unreachable is not None:
            ttl = self._redis.ttl(self._keys.robots(origin))
            raise errors.UpstreamUnavailable(
                f"{url}: {origin}{ROBOTS_PATH} is unreachable ({verdict.unreachable}); "
                "the site is off limits until it answers",
                reason="robots_unreachable",
                retry_after=float(max(int(ttl), 1)),
            )
        if not verdict.rules.allows(path):
            raise errors.RobotsDisallowed(
                f"{url}: disallowed for {self._token} by {origin}{ROBOTS_PATH}"
            )

    def verdict(self, origin: str) -> RobotsVerdict:
        """The cached verdict of an origin, fetched when missing or expired."""
        cached = self._cached(origin)
        if cached is not None:
            return cached
        lock = uuid.uuid4().hex
        lock_key = self._keys.robots_fetch_lock(origin)
        if not self._redis.set(lock_key, lock, nx=True, ex=self._lock_seconds):
            return self._await_other_fetch(origin)
        try:
            verdict = self._fetch(origin)
            ttl = self._error_ttl if verdict.unreachable is not None else self._ttl
            self._redis.set(self._keys.robots(origin), verdict.to_json(), ex=ttl)
            return verdict
        finally:
            self._release_lock(keys=[lock_key], args=[lock])

    def _cached(self, origin: str) -> RobotsVerdict | None:
        raw = self._redis.get(self._keys.robots(origin))
        return None if raw is None else RobotsVerdict.from_json(raw)

    def _await_other_fetch(self, origin: str) -> RobotsVerdict:
        deadline = time.monotonic() + self._max_wait
        while time.monotonic() < deadline:
            time.sleep(_WAIT_STEP_SECONDS)
            cached = self._cached(origin)
            if cached is not None:
                return cached
        raise errors.HostBusy(
            f"{origin}{ROBOTS_PATH} is being fetched by another worker",
            retry_after=max(self._max_wait, 1.0),
        )

    def _fetch(self, origin: str) -> RobotsVerdict:
        url = origin + ROBOTS_PATH
        try:
            response = self._http.get(url, max_bytes=self._max_bytes, truncate=True)
        except (errors.HostBusy, errors.RefusedURL):
            # Not an answer from the site: nothing to cache. A refused address (the
            # site's name resolves to a private one) refuses the page as well.
            raise
        except errors.HttpStatusError as exc:
            return RobotsVerdict(RobotsRules(), status=exc.status)  # 4xx: no rules
        except errors.PermanentError as exc:
            if exc.reason == "redirect_loop":  # RFC 9309 2.3.1.2: MAY count as unavailable
                return RobotsVerdict(RobotsRules())
            return RobotsVerdict(RobotsRules(), unreachable=f"{exc.reason}: {exc.message}")
        except errors.TransientError as exc:
            return RobotsVerdict(RobotsRules(), unreachable=f"{exc.reason}: {exc.message}")
        if not 200 <= response.status < 300:
            return RobotsVerdict(RobotsRules(), status=response.status)
        return RobotsVerdict(self._parse(response.body), status=response.status)

    def _parse(self, body: bytes) -> RobotsRules:
        if len(body) >= self._max_bytes:
            # Cut at the limit: drop the partial last line rather than misread it.
            body = body[: body.rfind(b"\n") + 1]
        return parse_robots(body.decode("utf-8", errors="replace"), self._token)
