"""HttpClient against a real HTTP server on loopback."""

import gzip
from collections.abc import Iterator

import pytest

from tests.conftest import LOOPBACK_ALLOWLIST
from tests.support.http_server import FixtureHttpServer, unused_port
from workers import errors
from workers.fetching.http import HttpClient, parse_retry_after
from workers.settings import Settings


@pytest.fixture
def client() -> Iterator[HttpClient]:
    http = HttpClient(
        Settings(
            http_total_deadline=2.0,
            http_read_timeout=1.0,
            max_redirects=3,
            fetch_allowlist=(LOOPBACK_ALLOWLIST,),
        )
    )
    yield http
    http.close()


def test_conditional_get_returns_304(client: HttpClient, http_server: FixtureHttpServer) -> None:
    http_server.route("/feed", "<rss/>", etag='"v1"')
    first = client.get(http_server.url("/feed"), max_bytes=1000)
    assert first.status == 200
    assert first.headers["etag"] == '"v1"'
    second = client.get(http_server.url("/feed"), max_bytes=1000, headers={"If-None-Match": '"v1"'})
    assert second.status == 304
    assert second.body == b""


def test_user_agent_names_the_service(client: HttpClient, http_server: FixtureHttpServer) -> None:
    http_server.route("/p", "x")
    client.get(http_server.url("/p"), max_bytes=100)
    assert http_server.requests[-1].headers["user-agent"].startswith("Newswire/")


def test_gzip_is_decoded(client: HttpClient, http_server: FixtureHttpServer) -> None:
    http_server.route("/z", "hello " * 100, gzip=True)
    assert client.get(http_server.url("/z"), max_bytes=10_000).body == b"hello " * 100


def test_gzip_bomb_is_refused_by_decoded_size(
    client: HttpClient, http_server: FixtureHttpServer
) -> None:
    bomb = b"\0" * 5_000_000
    assert len(gzip.compress(bomb)) < 10_000
    http_server.route("/bomb", bomb, gzip=True)
    with pytest.raises(errors.ResponseTooLarge):
        client.get(http_server.url("/bomb"), max_bytes=1_000_000)


def test_declared_length_over_limit_is_refused(
    client: HttpClient, http_server: FixtureHttpServer
) -> None:
    http_server.route("/big", b"x" * 5000)
    with pytest.raises(errors.ResponseTooLarge, match="Content-Length"):
        client.get(http_server.url("/big"), max_bytes=1000)


def test_redirects_are_followed_and_permanent_ones_reported(
    client: HttpClient, http_server: FixtureHttpServer
) -> None:
    http_server.route("/old", status=301, headers={"Location": "/mid"})
    http_server.route("/mid", status=302, headers={"Location": "/new"})
    http_server.route("/new", "here")
    response = client.get(http_server.url("/old"), max_bytes=100)
    assert response.body == b"here"
    assert response.url == http_server.url("/new")
    assert response.permanent_redirect_to == http_server.url("/mid")


def test_redirect_loop_and_bad_scheme_are_refused(
    client: HttpClient, http_server: FixtureHttpServer
) -> None:
    http_server.route("/loop", status=302, headers={"Location": "/loop"})
    with pytest.raises(errors.PermanentError, match="redirects"):
        client.get(http_server.url("/loop"), max_bytes=100)
    http_server.route("/evil", status=302, headers={"Location": "file:///etc/passwd"})
    with pytest.raises(errors.RefusedURL):
        client.get(http_server.url("/evil"), max_bytes=100)


@pytest.mark.parametrize(
    ("status", "error", "reason"),
    [
        (404, errors.HttpStatusError, "http_404"),
        (410, errors.HttpStatusError, "http_410"),
        (503, errors.UpstreamUnavailable, "http_503"),
        (429, errors.UpstreamUnavailable, "http_429"),
    ],
)
def test_status_codes_map_onto_the_error_tree(
    client: HttpClient,
    http_server: FixtureHttpServer,
    status: int,
    error: type[errors.NewswireError],
    reason: str,
) -> None:
    http_server.route("/s", status=status, headers={"Retry-After": "120"})
    with pytest.raises(error) as caught:
        client.get(http_server.url("/s"), max_bytes=100)
    assert caught.value.reason == reason
    if isinstance(caught.value, errors.TransientError):
        assert caught.value.retry_after == 120


def test_dripping_body_is_stopped_by_the_total_deadline(
    client: HttpClient, http_server: FixtureHttpServer
) -> None:
    # 10 bytes every 0.3 s: no single read times out, the whole takes far too long.
    http_server.route("/drip", b"x" * 200, drip_seconds=0.3)
    with pytest.raises(errors.FetchTimeout):
        client.get(http_server.url("/drip"), max_bytes=1000)


def test_connection_refused_is_transient(client: HttpClient) -> None:
    with pytest.raises(errors.ConnectError):
        client.get(f"http://127.0.0.1:{unused_port()}/", max_bytes=100)


def test_retry_after_accepts_dates() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 60) == 60
    assert parse_retry_after("soon") is None
