"""HttpClient against a real HTTP server on loopback."""

import gzip
import itertools
import random
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator

import brotli
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
            fetch_allowlist=LOOPBACK_ALLOWLIST,
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


# --- bombs, endless and lying bodies ------------------------------------------------------

BOMB_BYTES = 100 * 2**20  # what each bomb below decodes to
LIMIT = 2**20


def zeros_compressed(size: int, coding: str) -> bytes:
    """`size` zero bytes compressed as `coding`, made piecewise (never all in memory)."""
    piece = b"\0" * 2**20
    if coding == "br":
        compressor = brotli.Compressor(quality=5)
        body = b"".join(compressor.process(piece) for _ in range(size // len(piece)))
        return body + bytes(compressor.finish())
    wbits = {"gzip": 31, "deflate": 15, "raw-deflate": -15}[coding]
    deflate = zlib.compressobj(9, zlib.DEFLATED, wbits)
    body = b"".join(deflate.compress(piece) for _ in range(size // len(piece)))
    return body + deflate.flush()


def peak_memory_of(call: Callable[[], object]) -> tuple[BaseException | None, int]:
    """The exception `call` raised (or None) and the peak of Python allocations meanwhile."""
    tracemalloc.start()
    try:
        call()
        raised: BaseException | None = None
    except errors.NewswireError as exc:
        raised = exc
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return raised, peak


@pytest.mark.parametrize(
    ("coding", "header"),
    [
        ("gzip", "gzip"),
        ("deflate", "deflate"),
        ("raw-deflate", "deflate"),  # some servers send deflate without its zlib wrapper
        ("br", "br"),
    ],
)
def test_decompression_bombs_are_refused_by_decoded_size_in_bounded_memory(
    client: HttpClient, http_server: FixtureHttpServer, coding: str, header: str
) -> None:
    bomb = zeros_compressed(BOMB_BYTES, coding)
    assert len(bomb) < LIMIT // 4  # small on the wire: only the decoded size gives it away
    http_server.route("/bomb", bomb, headers={"Content-Encoding": header})
    raised, peak = peak_memory_of(lambda: client.get(http_server.url("/bomb"), max_bytes=LIMIT))
    assert isinstance(raised, errors.ResponseTooLarge), raised
    assert "after decoding" in str(raised)
    # Decoded in pieces: memory stays near the limit, not near the 100 MiB of the bomb.
    assert peak < 16 * LIMIT, f"peak {peak / 2**20:.1f} MiB"


def test_stacked_encodings_are_bounded_and_limited(
    client: HttpClient, http_server: FixtureHttpServer
) -> None:
    # gzip, then brotli over it: each layer decoded in pieces, the total still capped.
    inner = zeros_compressed(BOMB_BYTES, "gzip")
    http_server.route("/stacked", brotli.compress(inner), headers={"Content-Encoding": "gzip, br"})
    raised, peak = peak_memory_of(lambda: client.get(http_server.url("/stacked"), max_bytes=LIMIT))
    assert isinstance(raised, errors.ResponseTooLarge), raised
    assert peak < 16 * LIMIT
    # Legitimate stacking decodes; deeper stacks and unknown codings are refused.
    http_server.route("/two", gzip.compress(gzip.compress(b"feed")),
                      headers={"Content-Encoding": "gzip, gzip"})  # fmt: skip
    assert client.get(http_server.url("/two"), max_bytes=LIMIT).body == b"feed"
    thrice = gzip.compress(gzip.compress(gzip.compress(b"feed")))
    http_server.route("/three", thrice, headers={"Content-Encoding": "gzip, gzip, gzip"})
    http_server.route("/zstd", b"\x28\xb5\x2f\xfd", headers={"Content-Encoding": "zstd"})
    http_server.route("/junk", b"not gzip at all", headers={"Content-Encoding": "gzip"})
    for path in ("/three", "/zstd", "/junk"):
        with pytest.raises(errors.DecodeError) as caught:
            client.get(http_server.url(path), max_bytes=LIMIT)
        assert caught.value.reason == "content_encoding", path


def test_a_bomb_behind_a_redirect_is_refused_too(
    client: HttpClient, http_server: FixtureHttpServer
) -> None:
    http_server.route("/feed", status=302, headers={"Location": "/bomb"})
    http_server.route("/bomb", zeros_compressed(BOMB_BYTES, "br"),
                      headers={"Content-Encoding": "br"})  # fmt: skip
    with pytest.raises(errors.ResponseTooLarge):
        client.get(http_server.url("/feed"), max_bytes=LIMIT)


def test_a_compressed_body_over_the_limit_is_refused_before_decoding(
    client: HttpClient, http_server: FixtureHttpServer
) -> None:
    # Incompressible, so 3 MiB on the wire; chunked, so no Content-Length tells in advance.
    packed = gzip.compress(random.Random(7).randbytes(3 * LIMIT))
    http_server.route("/noise", chunks=lambda: iter([packed]), headers={"Content-Encoding": "gzip"})
    with pytest.raises(errors.ResponseTooLarge, match="before decoding"):
        client.get(http_server.url("/noise"), max_bytes=LIMIT)


def test_an_endless_body_is_cut_at_the_size_limit(
    client: HttpClient, http_server: FixtureHttpServer
) -> None:
    http_server.route("/endless", chunks=lambda: itertools.repeat(b"<item/>" * 8192))
    with pytest.raises(errors.ResponseTooLarge):
        client.get(http_server.url("/endless"), max_bytes=LIMIT)


def test_a_slow_endless_body_is_stopped_by_the_total_deadline(
    client: HttpClient, http_server: FixtureHttpServer
) -> None:
    """A kilobyte every 50 ms, forever: no read ever times out and the size limit is far;
    only the total deadline (2 s here) ends it."""

    def trickle() -> Iterator[bytes]:
        while True:
            time.sleep(0.05)
            yield b"x" * 1024

    http_server.route("/trickle", chunks=trickle)
    started = time.monotonic()
    with pytest.raises(errors.FetchTimeout) as caught:
        client.get(http_server.url("/trickle"), max_bytes=100 * LIMIT)
    assert caught.value.reason == "deadline"
    assert time.monotonic() - started < 30  # generous: the deadline is 2 s


def test_an_oversize_content_length_is_refused_before_reading(
    client: HttpClient, http_server: FixtureHttpServer
) -> None:
    """10 GB announced, then a body that never comes: reading it would end in a timeout;
    refusing on the header alone ends in ResponseTooLarge."""

    def never() -> Iterator[bytes]:
        for _ in range(100):
            time.sleep(0.05)
            yield b""

    http_server.route("/huge", chunks=never, chunked=False,
                      headers={"Content-Length": str(10 * 10**9)})  # fmt: skip
    with pytest.raises(errors.ResponseTooLarge, match="Content-Length"):
        client.get(http_server.url("/huge"), max_bytes=LIMIT)


def test_a_body_shorter_than_its_content_length_is_a_typed_error(
    client: HttpClient, http_server: FixtureHttpServer
) -> None:
    http_server.route("/short", chunks=lambda: iter([b"<rss>"]), chunked=False,
                      headers={"Content-Length": "1000"})  # fmt: skip
    with pytest.raises(errors.ConnectError) as caught:
        client.get(http_server.url("/short"), max_bytes=LIMIT)
    assert caught.value.reason == "protocol"
