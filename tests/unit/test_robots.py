"""The robots.txt parser and matcher against RFC 9309: groups, precedence, wildcards, encoding."""

from __future__ import annotations

import pytest

from workers.errors import ConfigurationError
from workers.fetching.robots import (
    RobotsRules,
    normalise,
    parse_robots,
    pattern_matches,
    product_token,
)

TOKEN = "Newswire"

# The example of RFC 9309 section 5.1, whole.
RFC_EXAMPLE = """\
User-Agent: *
Disallow: *.gif$
Disallow: /example/
Allow: /publications/

User-Agent: foobot
Disallow:/
Allow:/example/page.html
Allow:/example/allowed.gif

User-Agent: barbot
User-Agent: bazbot
Disallow: /example/page.html

User-Agent: quxbot

EOF
"""


def rules(text: str, token: str = TOKEN) -> RobotsRules:
    return parse_robots(text, token)


@pytest.mark.parametrize(
    ("token", "path", "allowed"),
    [
        ("foobot", "/example/page.html", True),
        ("foobot", "/example/allowed.gif", True),
        ("foobot", "/example/other.html", False),
        ("foobot", "/", False),
        ("barbot", "/example/page.html", False),
        ("bazbot", "/example/page.html", False),
        ("barbot", "/example/other.html", True),
        ("quxbot", "/example/page.html", True),  # an empty group allows everything
        ("quxbot", "/a.gif", True),
        ("otherbot", "/publications/report.html", True),
        ("otherbot", "/example/page.html", False),
        ("otherbot", "/images/logo.gif", False),
        ("otherbot", "/images/logo.gif?v=2", True),  # $ anchors at the very end
    ],
)
def test_rfc_example(token: str, path: str, allowed: bool) -> None:
    assert rules(RFC_EXAMPLE, token).allows(path) is allowed


@pytest.mark.parametrize("order", ["disallow_first", "allow_first"])
def test_longest_match_wins_whatever_the_order(order: str) -> None:
    # urllib.robotparser applies the first matching line: with the Disallow first
    # it refuses /news/public/x, which RFC 9309 allows (the longer Allow wins).
    lines = ["Disallow: /news/", "Allow: /news/public/"]
    if order == "allow_first":
        lines.reverse()
    parsed = rules("User-agent: *\n" + "\n".join(lines))
    assert parsed.allows("/news/public/x")
    assert not parsed.allows("/news/private/x")
    assert parsed.allows("/sport/")


def test_longer_disallow_beats_shorter_allow() -> None:
    parsed = rules("User-agent: *\nAllow: /news\nDisallow: /news/drafts")
    assert not parsed.allows("/news/drafts/1")
    assert parsed.allows("/news/1")


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ("Disallow: /page\nAllow: /page", "/page"),
        ("Allow: /page\nDisallow: /page", "/page"),
        ("Disallow: /*.html\nAllow: /a.html", "/a.html"),  # patterns of equal length
    ],
)
def test_allow_wins_a_tie(body: str, path: str) -> None:
    assert rules("User-agent: *\n" + body).allows(path)


def test_the_allow_of_a_tie_covers_only_what_it_matches() -> None:
    parsed = rules("User-agent: *\nDisallow: /*.html\nAllow: /a.html")
    assert not parsed.allows("/b.html")
    assert not parsed.allows("/dir/a.html")


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("/*.pdf$", "/docs/a.pdf", True),
        ("/*.pdf$", "/docs/a.pdf?download=1", False),
        ("/*.pdf$", "/docs/a.pdfx", False),
        ("/*.pdf", "/docs/a.pdf?download=1", True),
        ("/private*/", "/private-area/x", True),
        ("/private*/", "/privatex", False),
        ("/$", "/", True),
        ("/$", "/index.html", False),
        ("/a*b*c", "/aXbYc", True),
        ("/a*b*c", "/aXcYb", False),
        ("/a**b", "/ab", True),
        ("*", "/anything", True),
        ("/*?sessionid=", "/page?sessionid=1", True),
        ("/*?sessionid=", "/page?id=1", False),
        ("/fish", "/fish.html", True),
        ("/fish", "/Fish.html", False),  # paths are case-sensitive
        ("/fish/", "/fish", False),
        ("/a$b", "/a$b/c", True),  # only a final $ anchors
    ],
)
def test_pattern_matching(pattern: str, path: str, matches: bool) -> None:
    assert pattern_matches(normalise(pattern), normalise(path)) is matches


def test_matching_stays_linear_on_pathological_patterns() -> None:
    # A regex translation of this pattern backtracks for ages on a long path of a's.
    pattern = "/" + "*a" * 12 + "*b"
    assert not pattern_matches(pattern, "/" + "a" * 3000)
    assert pattern_matches(pattern, "/" + "a" * 3000 + "b")


def test_groups_for_our_token_are_merged_and_replace_star() -> None:
    text = """\
User-agent: *
Disallow: /

User-agent: newswire
Disallow: /drafts/

User-agent: otherbot
Disallow: /other/

User-agent: NEWSWIRE
Disallow: /private/
"""
    parsed = rules(text)
    assert not parsed.allows("/drafts/1")
    assert not parsed.allows("/private/1")
    assert parsed.allows("/other/1")  # another bot's group is not ours
    assert parsed.allows("/news/1")  # the * group does not apply once ours exists


@pytest.mark.parametrize(
    ("agent_line", "applies"),
    [
        ("Newswire", True),
        ("newswire", True),
        ("Newswire/2.0", True),  # the version is not part of the product token
        ("Newswire ", True),
        ("News", False),  # urllib.robotparser matches it as a substring: not RFC 9309
        ("NewswireBot", False),
        ("Googlebot", False),
    ],
)
def test_user_agent_lines_match_the_product_token(agent_line: str, applies: bool) -> None:
    parsed = rules(f"User-agent: {agent_line}\nDisallow: /\n")
    assert parsed.allows("/page") is not applies


def test_several_agents_share_one_group() -> None:
    parsed = rules("User-agent: otherbot\nUser-agent: Newswire\nDisallow: /shared/\n")
    assert not parsed.allows("/shared/x")


def test_unknown_lines_are_ignored_and_do_not_split_groups() -> None:
    text = """\
Disallow: /before-any-group/
User-agent: Newswire
Crawl-delay: 10
Sitemap: https://example.org/sitemap.xml
this line has no colon
Unknown-field: value

Disallow: /private/   # trailing comment
# Disallow: /commented/
Allow: /private/ok
"""
    parsed = rules(text)
    assert not parsed.allows("/private/x")
    assert parsed.allows("/private/ok")
    assert parsed.allows("/commented/x")
    assert parsed.allows("/before-any-group/x")  # rules outside a group apply to nobody


def test_empty_disallow_allows_everything() -> None:
    assert rules("User-agent: *\nDisallow:\n").allows("/anything")


def test_no_group_for_us_nor_star_allows_everything() -> None:
    assert rules("User-agent: otherbot\nDisallow: /\n").allows("/page")
    assert rules("").allows("/page")


def test_robots_txt_itself_is_always_allowed() -> None:
    parsed = rules("User-agent: *\nDisallow: /\n")
    assert parsed.allows("/robots.txt")
    assert not parsed.allows("/robots.txt.bak")


def test_line_endings_bom_and_case_of_keys() -> None:
    parsed = rules("\ufeffUSER-AGENT: *\r\nDISALLOW: /a/\rdisallow : /b/\n")
    assert not parsed.allows("/a/1")
    assert not parsed.allows("/b/1")
    assert parsed.allows("/c/1")


@pytest.mark.parametrize(
    ("pattern", "path", "disallowed"),
    [
        ("/foo/bar/ツ", "/foo/bar/%E3%83%84", True),  # non-ASCII is compared encoded
        ("/foo/bar/%E3%83%84", "/foo/bar/ツ", True),
        ("/foo/bar/%e3%83%84", "/foo/bar/%E3%83%84", True),  # hex case does not matter
        ("/foo/bar/%62%61%7A", "/foo/bar/baz", True),  # escaped unreserved = plain
        ("/%7Euser/", "/~user/home", True),
        ("/a%2Fb", "/a/b", False),  # an escaped reserved character stays escaped
        ("/a%2Fb", "/a%2fb", True),
    ],
)
def test_percent_encoding_is_normalised(pattern: str, path: str, disallowed: bool) -> None:
    parsed = rules(f"User-agent: *\nDisallow: {pattern}\n")
    assert parsed.allows(path) is not disallowed


def test_product_token_comes_from_the_user_agent() -> None:
    assert product_token("Newswire/0.1 (+https://example.org/bot)") == "Newswire"
    assert product_token("my-crawler_bot/2") == "my-crawler_bot"
    with pytest.raises(ConfigurationError):
        product_token("/0.1 no token")
