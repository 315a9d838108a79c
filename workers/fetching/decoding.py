"""Content-Encoding decoded in bounded pieces, so that a decompression bomb stays small.

httpx's own decoders hand over everything a network read decompresses to, at
once: a few kilobytes of brotli can expand to gigabytes in one call. Here every
decoder yields pieces of at most about PIECE_BYTES, and the caller counts them
against its size limit and stops reading at the first piece over it, so memory
stays near the limit whatever the ratio. Stacked encodings ("gzip, br") are
undone in reverse order, at most MAX_ENCODINGS deep; an encoding we never asked
for is a DecodeError.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from typing import Protocol

import brotli

from workers.errors import DecodeError

PIECE_BYTES = 64 * 1024
MAX_ENCODINGS = 2
ACCEPT_ENCODING = "gzip, deflate, br"


class Decoder(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]:
        """The decoded pieces that `data` completes, none over about PIECE_BYTES."""
        ...

    def finish(self) -> Iterator[bytes]:
        """What is left once the input has ended."""
        ...


class _Identity:
    def feed(self, data: bytes) -> Iterator[bytes]:
        for start in range(0, len(data), PIECE_BYTES):
            yield data[start : start + PIECE_BYTES]

    def finish(self) -> Iterator[bytes]:
        return iter(())


class _Zlib:
    """gzip, or deflate: zlib-wrapped as RFC 9110 says, or raw as some servers send it."""

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS)
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        if not self._started and not self._gzip:
            self._started = True
            try:
                probe = zlib.decompressobj(zlib.MAX_WBITS)
                probe.decompress(data[:64], 1)
            except zlib.error:
                self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate
        pending = data
        while pending and not self._inflate.eof:
            try:
                piece = self._inflate.decompress(pending, PIECE_BYTES)
            except zlib.error as exc:
                raise DecodeError(f"bad compressed body: {exc}", reason="content_encoding") from exc
            if piece:
                yield piece
            if self._inflate.unconsumed_tail == pending and not piece:
                break  # no progress: wait for more input
            pending = self._inflate.unconsumed_tail

    def finish(self) -> Iterator[bytes]:
        try:
            rest = self._inflate.flush()
        except zlib.error as exc:
            raise DecodeError(f"bad compressed body: {exc}", reason="content_encoding") from exc
        yield from _Identity().feed(rest)


class _Brotli:
    def __init__(self) -> None:
        self._brotli = brotli.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            piece = self._brotli.process(data, output_buffer_limit=PIECE_BYTES)
            while piece:
                yield piece
                if self._brotli.is_finished():
                    return
                piece = self._brotli.process(b"", output_buffer_limit=PIECE_BYTES)
        except brotli.error as exc:
            raise DecodeError(f"bad brotli body: {exc}", reason="content_encoding") from exc

    def finish(self) -> Iterator[bytes]:
        return iter(())


def _decoder_for(coding: str) -> Decoder:
    if coding in {"gzip", "x-gzip"}:
        return _Zlib(gzip=True)
    if coding == "deflate":
        return _Zlib(gzip=False)
    if coding == "br":
        return _Brotli()
    raise DecodeError(f"unsupported Content-Encoding {coding!r}", reason="content_encoding")


def decoders_for(content_encoding: str | None) -> list[Decoder]:
    """The decoders to apply, first to last, for a Content-Encoding header."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if len(codings) > MAX_ENCODINGS:
        raise DecodeError(
            f"{len(codings)} stacked content encodings ({content_encoding}); "
            f"at most {MAX_ENCODINGS} are decoded",
            reason="content_encoding",
        )
    return [_decoder_for(c) for c in reversed(codings)]


def decode_stream(chunks: Iterable[bytes], content_encoding: str | None) -> Iterator[bytes]:
    """The decoded body, in pieces of about PIECE_BYTES at most, as the raw chunks arrive."""
    decoders = decoders_for(content_encoding)
    if not decoders:
        for chunk in chunks:
            yield from _Identity().feed(chunk)
        return
    for chunk in chunks:
        yield from _through(decoders, chunk)
    yield from _finish(decoders)


def _through(decoders: list[Decoder], data: bytes) -> Iterator[bytes]:
    first, rest = decoders[0], decoders[1:]
    for piece in first.feed(data):
        if rest:
            yield from _through(rest, piece)
        else:
            yield piece


def _finish(decoders: list[Decoder]) -> Iterator[bytes]:
    first, rest = decoders[0], decoders[1:]
    for piece in first.finish():
        yield from _through(rest, piece) if rest else iter((piece,))
    if rest:
        yield from _finish(rest)
