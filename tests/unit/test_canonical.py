import pytest

from workers.errors import RefusedURL
from workers.polling.canonical import canonical_url, document_id


def test_tracking_parameters_and_fragments_do_not_change_identity() -> None:
    a = canonical_url("https://WWW.Example.com/world/article?utm_source=rss&utm_medium=feed#top")
    b = canonical_url("https://www.example.com/world/article")
    assert a == b
    assert document_id(a) == document_id(b)


def test_meaningful_query_parameters_are_kept() -> None:
    assert canonical_url("https://example.com/a?id=3") != canonical_url(
        "https://example.com/a?id=4"
    )


def test_document_id_is_32_hex() -> None:
    doc_id = document_id("https://example.com/a")
    assert len(doc_id) == 32
    int(doc_id, 16)


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "javascript:alert(1)", "data:text/html,hi", "/relative/path"]
)
def test_non_http_links_are_refused(url: str) -> None:
    with pytest.raises(RefusedURL):
        canonical_url(url)
